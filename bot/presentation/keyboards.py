"""The texts and inline keyboards of /model, /language, /settings and "Try another model".

Pure functions of the catalogue, a user's choice and their `Translator` (`tr`, first), so
they can be tested without Telegram.
Callback data carries model ids rather than catalogue positions: a keyboard sent before a
deploy that reorders the catalogue still means what it showed. The longest datum,
"redo:<job id>:openai/gpt-4o-mini-transcribe", stays far below Telegram's 64 bytes.

"Try another model" is called redo throughout: `redo:<job id>` on the button under a
transcript opens the menu, `redo:<job id>:<model id>` in that menu starts the new job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.policy.interface_language import INTERFACE_LOCALES
from bot.policy.preferences import TOGGLES, Choice
from bot.presentation import replies, texts
from bot.presentation.i18n import Translator
from bot.presentation.inputs import echo, parse_count
from bot.stt.catalogue import ModelSpec, language_supported, models_by_vendor
from bot.stt.languages import AUTO, COMMON_LANGUAGES, primary_code
from storage.summaries import Kind

# Rows of (label, callback data): the plain shape ChatGateway and handlers/menus.py send, so
# keyboards are built and tested without telegram types.
Buttons = Sequence[Sequence[tuple[str, str]]]

MODEL_PREFIX = "model:"
LANGUAGE_PREFIX = "lang:"
SETTING_PREFIX = "set:"
ATTACH_PREFIX = "set:attach:"
# The interface language: "ui:menu" opens the list, "ui:<locale>" chooses, "ui:auto" follows
# the Telegram app again. In a group, "glang:<locale>" or "glang:members" (admins only).
INTERFACE_PREFIX = "ui:"
INTERFACE_MENU_DATA = "ui:menu"
INTERFACE_AUTO_DATA = "ui:auto"
GROUP_LANGUAGE_PREFIX = "glang:"
GROUP_LANGUAGE_MEMBERS_DATA = "glang:members"
REDO_PREFIX = "redo:"
# Summary and Translate under a transcript: "sum:<job id>", "tr:<job id>".
SUMMARY_PREFIX = "sum:"
TRANSLATE_PREFIX = "tr:"
# Buttons sent before the feature had one name say "again:<job id>"; they stay in chats for
# good, so a tap on one still opens the redo menu.
LEGACY_REDO_BUTTON_PREFIX = "again:"
NOOP = "noop"  # vendor headers: buttons that only label a group

ATTACH_CHOICES = ("none", "srt", "txt")
MAX_CALLBACK_BYTES = 64
_MODELS_PER_ROW = 2
_LANGUAGES_PER_ROW = 3


@dataclass(frozen=True, slots=True)
class Menu:
    text: str
    buttons: Buttons


def _rows(items: Sequence[tuple[str, str]], per_row: int) -> list[list[tuple[str, str]]]:
    return [list(items[i : i + per_row]) for i in range(0, len(items), per_row)]


def _marked(label: str, current: bool) -> str:
    return f"{texts.CURRENT_MARK}{label}" if current else label


def model_buttons(
    offered: Sequence[ModelSpec], current: str, data: Callable[[ModelSpec], str]
) -> list[list[tuple[str, str]]]:
    """Models grouped under a header row per vendor; the current one is marked."""
    rows: list[list[tuple[str, str]]] = []
    for vendor, specs in models_by_vendor(offered).items():
        rows.append([(texts.VENDOR_HEADER.format(vendor=vendor), NOOP)])
        buttons = [(_marked(spec.display_name, spec.id == current), data(spec)) for spec in specs]
        rows.extend(_rows(buttons, _MODELS_PER_ROW))
    return rows


def family_lines(tr: Translator, offered: Sequence[ModelSpec]) -> str:
    """One line per family offered, in catalogue order."""
    families = dict.fromkeys(spec.family for spec in offered)
    return "\n".join(tr(texts.FAMILY_BLURBS[family]) for family in families)


def model_menu(
    tr: Translator, offered: Sequence[ModelSpec], choice: Choice, *, note: str | None = None
) -> Menu:
    text = tr(texts.MODEL_MENU).format(
        current=tr.isolate(replies.model_label(choice.model)), families=family_lines(tr, offered)
    )
    if note:
        text = f"{note}\n\n{text}"
    return Menu(text, model_buttons(offered, choice.model.id, lambda s: MODEL_PREFIX + s.id))


def model_set_text(tr: Translator, choice: Choice) -> str:
    """Confirmation of a new model, with a warning when it cannot honour the language."""
    text = tr.render(texts.MODEL_SET, model=replies.model_label(choice.model))
    warning = language_warning(tr, choice.model, choice.language)
    return f"{text}\n\n{warning}" if warning else text


def find_offered(typed: str, offered: Sequence[ModelSpec]) -> ModelSpec | None:
    """The offered model a typed id names, ignoring case ("#G1_Whisper-Large" is fine)."""
    wanted = typed.strip().casefold()
    return next((spec for spec in offered if spec.id.casefold() == wanted), None)


def model_name(model_id: str, offered: Sequence[ModelSpec]) -> str:
    return next((spec.display_name for spec in offered if spec.id == model_id), model_id)


def unknown_model_text(tr: Translator, model_id: str, offered: Sequence[ModelSpec]) -> str:
    ids = "\n".join(tr.isolate(spec.id) for spec in offered)
    return tr(texts.MODEL_UNKNOWN).format(model_id=tr.isolate(echo(model_id)), ids=ids)


def language_label(tr: Translator, language: str | None) -> str:
    if language is None:
        return tr(texts.LANGUAGE_AUTO)
    name = texts.LANGUAGE_NAMES.get(language) or texts.LANGUAGE_NAMES.get(primary_code(language))
    return f"{name} ({language})" if name else language


def language_warning(tr: Translator, spec: ModelSpec, language: str | None) -> str | None:
    """A warning when `spec` cannot honour `language`; the job then falls back, never fails."""
    if language_supported(spec, language):
        return None
    fallback = (
        texts.FALLBACK_ENGLISH if spec.capabilities.english_only else texts.FALLBACK_DETECTION
    )
    return tr.render(
        texts.LANGUAGE_WARNING,
        model=spec.display_name,
        language=language_label(tr, language),
        fallback=tr(fallback),
    )


def language_menu(tr: Translator, choice: Choice) -> Menu:
    current = choice.language
    auto = [(_marked(tr(texts.LANGUAGE_AUTO_BUTTON), current is None), LANGUAGE_PREFIX + AUTO)]
    buttons = [
        (_marked(texts.LANGUAGE_NAMES[code], current == code), LANGUAGE_PREFIX + code)
        for code in COMMON_LANGUAGES
    ]
    text = tr.render(texts.LANGUAGE_MENU, current=language_label(tr, current))
    return Menu(text, [auto, *_rows(buttons, _LANGUAGES_PER_ROW)])


def language_set_text(tr: Translator, choice: Choice) -> str:
    text = tr.render(texts.LANGUAGE_SET, language=language_label(tr, choice.language))
    warning = language_warning(tr, choice.model, choice.language)
    return f"{text}\n\n{warning}" if warning else text


def limitations(tr: Translator, offered: Sequence[ModelSpec]) -> list[str]:
    """One line per offered family that cannot honour some output option, saying which."""
    lines: list[str] = []
    for family, specs in _by_family(offered).items():
        missing: list[str] = []
        if not all(spec.capabilities.word_timings for spec in specs):
            missing.append(tr(texts.MISSING_TIMINGS))
        if not all(spec.capabilities.diarization for spec in specs):
            missing.append(tr(texts.MISSING_SPEAKERS))
        if not all(spec.capabilities.reports_language for spec in specs):
            missing.append(tr(texts.MISSING_LANGUAGE))
        if missing:
            name = tr(texts.FAMILY_NAMES.get(family, family))
            lines.append(texts.SETTINGS_LIMIT_LINE.format(family=name, missing=", ".join(missing)))
    return lines


def _by_family(offered: Sequence[ModelSpec]) -> dict[str, list[ModelSpec]]:
    groups: dict[str, list[ModelSpec]] = {}
    for spec in offered:
        groups.setdefault(spec.family, []).append(spec)
    return groups


def settings_menu(tr: Translator, offered: Sequence[ModelSpec], choice: Choice) -> Menu:
    """The output options, and a button to the interface language (`tr`'s, shown by name)."""
    options = choice.options
    text = tr.render(
        texts.SETTINGS,
        model=replies.model_label(choice.model),
        language=language_label(tr, choice.language),
    )
    limits = limitations(tr, offered)
    if limits:
        text = "\n".join([text, "", tr(texts.SETTINGS_LIMITS), *limits])
    rows: list[list[tuple[str, str]]] = []
    for option in TOGGLES:
        label = tr(texts.TOGGLE_LABELS[option])
        template = texts.TOGGLE_ON if getattr(options, option) else texts.TOGGLE_OFF
        rows.append([(template.format(label=label), SETTING_PREFIX + option)])
    attach = options.attach or "none"
    rows.append(
        [
            (_marked(tr(texts.ATTACH_LABELS[value]), value == attach), ATTACH_PREFIX + value)
            for value in ATTACH_CHOICES
        ]
    )
    language = texts.INTERFACE_LANGUAGE_NAMES[tr.locale]
    rows.append([(tr.render(texts.INTERFACE_BUTTON, language=language), INTERFACE_MENU_DATA)])
    return Menu(text, rows)


def _locale_buttons(current: str | None, prefix: str) -> list[list[tuple[str, str]]]:
    buttons = [
        (_marked(texts.INTERFACE_LANGUAGE_NAMES[locale], locale == current), prefix + locale)
        for locale in INTERFACE_LOCALES
    ]
    return _rows(buttons, _LANGUAGES_PER_ROW)


def interface_menu(tr: Translator, chosen: str | None) -> Menu:
    """The interface languages; `chosen`: the user's choice, None when they follow Telegram.
    `tr` speaks the language in force, which names it in the text."""
    current = tr(texts.INTERFACE_AUTO) if chosen is None else texts.INTERFACE_LANGUAGE_NAMES[chosen]
    auto = [(_marked(tr(texts.INTERFACE_AUTO_BUTTON), chosen is None), INTERFACE_AUTO_DATA)]
    back = [(tr(texts.BACK_BUTTON), SETTING_PREFIX + "menu")]
    text = tr.render(texts.INTERFACE_MENU, current=current)
    return Menu(text, [auto, *_locale_buttons(chosen, INTERFACE_PREFIX), back])


@dataclass(frozen=True, slots=True)
class LocaleChoice:
    """A tapped language button. `locale` None: follow the Telegram app (a user's), or each
    member's own language (a group's)."""

    locale: str | None


def _parse_locale(data: str, prefix: str, default_data: str) -> LocaleChoice | None:
    if data == default_data:
        return LocaleChoice(None)
    locale = data.removeprefix(prefix)
    if data.startswith(prefix) and locale in INTERFACE_LOCALES:
        return LocaleChoice(locale)
    return None


def parse_interface_choice(data: str) -> LocaleChoice | None:
    return _parse_locale(data, INTERFACE_PREFIX, INTERFACE_AUTO_DATA)


def group_language_label(tr: Translator, locale: str | None) -> str:
    if locale is None:
        return tr(texts.GROUP_LANGUAGE_MEMBERS)
    return texts.INTERFACE_LANGUAGE_NAMES[locale]


def group_language_menu(tr: Translator, chosen: str | None) -> Menu:
    """A group's language; `chosen`: the admins' choice, None: each member's own."""
    members = [
        (
            _marked(tr(texts.GROUP_LANGUAGE_MEMBERS_BUTTON), chosen is None),
            GROUP_LANGUAGE_MEMBERS_DATA,
        )
    ]
    text = tr.render(texts.GROUP_LANGUAGE_MENU, current=group_language_label(tr, chosen))
    return Menu(text, [members, *_locale_buttons(chosen, GROUP_LANGUAGE_PREFIX)])


def parse_group_language(data: str) -> LocaleChoice | None:
    return _parse_locale(data, GROUP_LANGUAGE_PREFIX, GROUP_LANGUAGE_MEMBERS_DATA)


def redo_button(tr: Translator, job_id: int) -> Buttons:
    """The "Try another model" button under a delivered transcript."""
    return [[(tr(texts.REDO_BUTTON), f"{REDO_PREFIX}{job_id}")]]


def redo_menu(tr: Translator, offered: Sequence[ModelSpec], job_id: int, job_model: str) -> Menu:
    text = tr.render(texts.REDO_MENU, model=model_name(job_model, offered))
    return Menu(text, model_buttons(offered, job_model, lambda s: f"{REDO_PREFIX}{job_id}:{s.id}"))


def parse_redo_button(data: str) -> int | None:
    """The job id from a redo button's data (today's "redo:12" or a legacy "again:12")."""
    for prefix in (REDO_PREFIX, LEGACY_REDO_BUTTON_PREFIX):
        if data.startswith(prefix):
            job = parse_count(data.removeprefix(prefix))
            if job is not None:
                return job
    return None


def parse_redo_choice(data: str) -> tuple[int, str] | None:
    """(job id, model id) from a redo menu's data; model ids may hold ':' as well as '/', '#'."""
    if not data.startswith(REDO_PREFIX):
        return None
    raw_job, _, model = data.removeprefix(REDO_PREFIX).partition(":")
    job = parse_count(raw_job)
    return (job, model) if job is not None and model else None


def summary_buttons(tr: Translator, job_id: int, *, summary: bool, translate: bool) -> Buttons:
    """Summary and Translate under a transcript, those offered, side by side (no row when
    neither is)."""
    row: list[tuple[str, str]] = []
    if summary:
        row.append((tr(texts.SUMMARY_BUTTON), f"{SUMMARY_PREFIX}{job_id}"))
    if translate:
        row.append((tr(texts.TRANSLATE_BUTTON), f"{TRANSLATE_PREFIX}{job_id}"))
    return [row] if row else []


def parse_summary_button(data: str) -> tuple[Kind, int] | None:
    """("summary" or "translation", job id) from a Summary or Translate button's data."""
    prefixes: tuple[tuple[str, Kind], ...] = (
        (SUMMARY_PREFIX, "summary"),
        (TRANSLATE_PREFIX, "translation"),
    )
    for prefix, kind in prefixes:
        if data.startswith(prefix):
            job = parse_count(data.removeprefix(prefix))
            return None if job is None else (kind, job)
    return None
