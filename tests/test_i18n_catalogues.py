"""The catalogues: complete, true to the English placeholders, and renderable in every form.

The message ids come from the source, extracted by Babel with the keywords of the command at
the top of bot/presentation/texts.py, so a text added there fails here until every catalogue
has it.
"""

from __future__ import annotations

import gettext
import io
import re
import string
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po, write_po

from bot.policy.interface_language import DEFAULT_LOCALE, INTERFACE_LOCALES, negotiate
from bot.policy.preferences import Choice, OutputOptions
from bot.policy.quota import TooManyInFlight
from bot.presentation import i18n, keyboards, replies, texts
from bot.presentation.i18n import ENGLISH, Plural, compile_catalogue, translator
from bot.stt.catalogue import FAMILY_BLURBS, aiml_models

ROOT = Path(__file__).resolve().parent.parent
# The keywords of `pybabel extract` (texts.py's docstring): N_("...") and Plural("...", "...").
KEYWORDS = {"N_": None, "Plural": (1, 2)}
TRANSLATED = [locale for locale in INTERFACE_LOCALES if locale != DEFAULT_LOCALE]
Message = str | tuple[str, str]


def extracted() -> set[Message]:
    found: set[Message] = set()
    for package in ("bot", "handlers"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for _, message, _, _ in extract_from_file("python", str(path), keywords=KEYWORDS):
                found.add(message if isinstance(message, str) else (message[0], message[1]))
    return found


SOURCE = extracted()


def catalogue(locale: str) -> Catalog:
    with i18n.catalogue_path(locale).open("rb") as file:
        return read_po(file, locale=locale)


def entries(catalog: Catalog) -> dict[Message, str | tuple[str, ...]]:
    found: dict[Message, str | tuple[str, ...]] = {}
    for message in catalog:
        if not message.id:
            continue  # the header
        key = message.id if isinstance(message.id, str) else (message.id[0], message.id[1])
        found[key] = message.string if isinstance(message.string, str) else tuple(message.string)
    return found


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def test_the_source_marks_texts_and_the_template_is_current() -> None:
    assert len(SOURCE) > 100  # the extraction found the texts at all
    with (ROOT / "bot" / "locales" / "messages.pot").open("rb") as file:
        template = read_po(file)
    assert set(entries(template)) == SOURCE, "run the pybabel extract of texts.py's docstring"


def test_there_is_a_catalogue_for_each_interface_language_and_no_other() -> None:
    folders = {path.name for path in (ROOT / "bot" / "locales").iterdir() if path.is_dir()}
    assert folders == set(TRANSLATED)  # English is the source: its texts are the message ids


@pytest.mark.parametrize("locale", TRANSLATED)
def test_every_text_is_translated_with_the_english_placeholders(locale: str) -> None:
    catalog = catalogue(locale)
    found = entries(catalog)
    missing = SOURCE - set(found)
    assert not missing, f"{locale} lacks {sorted(map(str, missing))[:3]}"
    assert not set(found) - SOURCE, f"{locale} has texts the source no longer has"
    fuzzy = [message.id for message in catalog if message.id and message.fuzzy]
    assert not fuzzy, f"{locale} has fuzzy entries: {fuzzy[:3]}"
    for msgid in SOURCE:
        translation = found[msgid]
        if isinstance(msgid, str):
            assert isinstance(translation, str) and translation.strip(), (locale, msgid)
            assert fields(translation) == fields(msgid), (locale, msgid, translation)
            # A text appended to another keeps its leading line breaks.
            assert translation.startswith("\n") == msgid.startswith("\n"), (locale, msgid)
        else:
            assert isinstance(translation, tuple), (locale, msgid)
            assert all(form.strip() for form in translation), (locale, msgid)
            for form in translation:
                # A form may say "one" or "two" in words (Arabic does) instead of {n}.
                assert fields(form) - {"n"} == fields(msgid[1]) - {"n"}, (locale, msgid, form)


@pytest.mark.parametrize("locale", TRANSLATED)
def test_each_catalogue_has_its_languages_plural_rule(locale: str) -> None:
    expected = get_plural(locale)
    assert catalogue(locale).num_plurals == expected.num_plurals
    plural_forms = {"ru": 3, "uk": 3, "ar": 6, "id": 1, "de": 2}
    if locale in plural_forms:
        assert expected.num_plurals == plural_forms[locale]


def counts_for_every_form(locale: str) -> dict[int, int]:
    """A count that selects each plural form of `locale` (form index -> n)."""
    rule = gettext.c2py(get_plural(locale).plural_expr)
    chosen: dict[int, int] = {}
    for n in range(0, 2_000_001):
        chosen.setdefault(rule(n), n)
        if len(chosen) == get_plural(locale).num_plurals or n > 1000:
            break
    if len(chosen) < get_plural(locale).num_plurals:
        chosen.setdefault(rule(1_000_000), 1_000_000)  # es, fr, it, pt: "many" is for millions
    return chosen


def samples(text: str) -> dict[str, object]:
    return {name: f"«{name}»" for name in fields(text)}


def rendered_texts(locale: str) -> Iterator[str]:
    tr = translator(locale)
    for msgid in sorted(SOURCE, key=str):
        if isinstance(msgid, str):
            yield tr.render(msgid, **samples(msgid))
        else:
            forms = Plural(*msgid)
            for n in counts_for_every_form(locale).values():
                values = samples(forms.plural)
                values.pop("n", None)
                yield tr.render_plural(forms, n, **values)


@pytest.mark.parametrize("locale", INTERFACE_LOCALES)
def test_every_text_renders_in_every_language_and_every_plural_form(locale: str) -> None:
    tr = translator(locale)
    assert tr.locale == locale
    assert len(counts_for_every_form(locale)) == get_plural(locale).num_plurals
    texts_seen = list(rendered_texts(locale))
    assert texts_seen
    for text in texts_seen:
        assert not re.search(r"\{\w*\}", text), (locale, text)  # every placeholder filled in
    if locale != DEFAULT_LOCALE:
        # Translated, not the English fallback: most texts differ from the source.
        english = list(rendered_texts(DEFAULT_LOCALE))
        same = sum(1 for here, there in zip(texts_seen, english, strict=False) if here == there)
        assert same < len(english) / 4, f"{locale}: {same} texts are still English"


def test_russian_and_arabic_pick_the_form_each_count_needs() -> None:
    ru, ar = translator("ru"), translator("ar")
    flood = [replies.quota_refusal(ru, TooManyInFlight(limit=n), NOW) for n in (1, 3, 5, 21)]
    assert [text.split(".")[0] for text in flood] == [
        "У вас уже расшифровывается 1 запись",
        "У вас уже расшифровываются 3 записи",
        "У вас уже расшифровывается 5 записей",
        "У вас уже расшифровывается 21 запись",
    ]
    days = [replies.duration(ar, n * 86_400) for n in (1, 2, 3, 11, 100)]
    assert days == ["يوم واحد", "يومان", "3 أيام", "11 يومًا", "100 يوم"]
    assert replies.duration(ar, 120) == "دقيقتان"
    assert replies.duration(ar, 0) == "0 ثانية"


NOW = datetime(2025, 6, 1, 21, 47, tzinfo=UTC)


def test_dates_numbers_and_durations_are_written_the_readers_way() -> None:
    resets = datetime(2025, 6, 2, tzinfo=UTC)
    assert replies.moment(ENGLISH, resets, NOW) == "2 June 2025, 00:00 UTC (in 2 h 13 min)"
    assert replies.moment(translator("ru"), resets, NOW) == (
        "2 июня 2025\u202fг., 00:00 UTC (через 2 ч 13 мин)"
    )
    assert replies.moment(translator("pt_BR"), resets, NOW).startswith("2 de junho de 2025")
    assert replies.duration(ENGLISH, 9.5) == "9.5 s"
    assert replies.duration(translator("de"), 9.5) == "9,5 Sek."
    assert translator("de").number(1200) == "1.200"


def test_values_in_right_to_left_texts_are_isolated() -> None:
    label = "Whisper Large (#g1_whisper-large)"
    arabic = translator("ar").render(texts.MODEL_SET, model=label)
    assert f"\u2068{label}\u2069" in arabic
    assert translator("fa").right_to_left and not translator("ru").right_to_left
    assert ENGLISH.render(texts.MODEL_SET, model=label) == f"Model set to {label}."


@pytest.mark.parametrize("locale", INTERFACE_LOCALES)
def test_menus_render_in_every_language(locale: str) -> None:
    tr = translator(locale)
    settings = keyboards.settings_menu(tr, aiml_models(), _choice())
    assert settings.buttons[-1] == [
        (
            tr.render(texts.INTERFACE_BUTTON, language=texts.INTERFACE_LANGUAGE_NAMES[locale]),
            keyboards.INTERFACE_MENU_DATA,
        ),
    ]
    menu = keyboards.interface_menu(tr, locale)
    labels = [label for row in menu.buttons for label, _ in row]
    assert texts.CURRENT_MARK + texts.INTERFACE_LANGUAGE_NAMES[locale] in labels
    commands = replies.command_menu(tr, payments=True)
    assert commands[0] == ("start", tr(texts.COMMAND_DESCRIPTIONS[0][1]))
    assert [name for name, _ in commands][-2:] == ["buy", "paysupport"]


def _choice() -> Choice:
    return Choice(model=aiml_models()[0], language=None, options=OutputOptions())


@pytest.mark.parametrize(
    ("code", "locale"),
    [
        ("ru", "ru"),
        ("pt-br", "pt_BR"),
        ("pt", "pt_BR"),
        ("en-GB", "en"),
        ("es-419", "es"),
        ("in", "id"),
        ("fa", "fa"),
        ("zh-hans", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_telegram_language_codes_map_to_an_interface_language(
    code: str | None, locale: str
) -> None:
    assert negotiate(code) == locale


def test_the_model_menus_blurbs_are_the_catalogue_ones_in_english() -> None:
    assert dict(FAMILY_BLURBS) == texts.FAMILY_BLURBS


def test_a_catalogue_without_a_compiled_file_is_compiled_when_loaded(tmp_path: Path) -> None:
    source = tmp_path / "messages.po"
    catalog = Catalog(locale="de")
    catalog.add("Saved.", "Gespeichert.")
    with source.open("wb") as file:
        write_po(file, catalog)
    loaded = gettext.GNUTranslations(io.BytesIO(compile_catalogue(source, "de")))
    assert loaded.gettext("Saved.") == "Gespeichert."
    assert translator("de")(texts.SETTINGS_SAVED) == "Gespeichert."
