from __future__ import annotations

import pytest

from bot.policy.preferences import Choice, OutputOptions
from bot.presentation import keyboards, replies, texts
from bot.presentation.i18n import ENGLISH
from bot.presentation.keyboards import Buttons
from bot.stt.catalogue import FAMILY_BLURBS, aiml_models, get_model, local_models

AIML = aiml_models()


def choice(model: str, language: str | None = None, **options: object) -> Choice:
    return Choice(get_model(model), language, OutputOptions(**options))  # type: ignore[arg-type]


def flat(buttons: Buttons) -> list[tuple[str, str]]:
    return [button for row in buttons for button in row]


def test_model_keyboard_groups_by_vendor_and_marks_the_current_model() -> None:
    menu = keyboards.model_menu(ENGLISH, AIML, choice("aai/universal"))
    buttons = flat(menu.buttons)
    headers = [label for label, data in buttons if data == keyboards.NOOP]
    assert headers == [
        "— AssemblyAI —",
        "— Deepgram —",
        "— OpenAI Whisper (hosted by Deepgram) —",
        "— OpenAI —",
    ]
    models = [(label, data) for label, data in buttons if data != keyboards.NOOP]
    assert [data.removeprefix("model:") for _, data in models] == [spec.id for spec in AIML]
    marked = [label for label, _ in models if label.startswith(texts.CURRENT_MARK)]
    assert marked == [texts.CURRENT_MARK + "Universal"]
    # A header sits alone on its row, so a vendor's models never share a row with another's.
    assert all(len(row) == 1 for row in menu.buttons if row[0][1] == keyboards.NOOP)
    assert "Universal (aai/universal)" in menu.text
    for family in ("deepgram", "assemblyai", "openai"):
        assert FAMILY_BLURBS[family] in menu.text
    assert FAMILY_BLURBS["local"] not in menu.text


def test_every_callback_datum_fits_telegrams_limit() -> None:
    huge_job = 2**63 - 1
    data = [d for _, d in flat(keyboards.redo_menu(ENGLISH, AIML, huge_job, "aai/slam-1").buttons)]
    data += [d for _, d in flat(keyboards.model_menu(ENGLISH, AIML, choice("aai/slam-1")).buttons)]
    data += [d for _, d in flat(keyboards.language_menu(ENGLISH, choice("aai/slam-1")).buttons)]
    data += [
        d for _, d in flat(keyboards.settings_menu(ENGLISH, AIML, choice("aai/slam-1")).buttons)
    ]
    data += [d for _, d in flat(keyboards.redo_button(ENGLISH, huge_job))]
    assert max(len(d.encode()) for d in data) <= keyboards.MAX_CALLBACK_BYTES
    actions = [d for d in data if d != keyboards.NOOP]
    assert len(set(actions)) == len(actions)  # no two buttons mean the same thing


def test_redo_callback_data_round_trips_every_model() -> None:
    menu = keyboards.redo_menu(ENGLISH, AIML, 77, "#g1_whisper-large")
    parsed = [keyboards.parse_redo_choice(d) for _, d in flat(menu.buttons) if d != keyboards.NOOP]
    assert parsed == [(77, spec.id) for spec in AIML]
    assert "Whisper Large" in menu.text
    assert keyboards.parse_redo_choice("redo:x:aai/slam-1") is None
    assert keyboards.parse_redo_choice("redo:5:") is None
    assert keyboards.parse_redo_choice("redo:5") is None  # the button, not a choice


def test_redo_buttons_parse_and_legacy_again_buttons_still_do() -> None:
    [[(label, data)]] = keyboards.redo_button(ENGLISH, 12)
    assert (label, data) == (texts.REDO_BUTTON, "redo:12")
    assert keyboards.parse_redo_button(data) == 12
    assert keyboards.parse_redo_button("again:12") == 12  # sent before the rename
    assert keyboards.parse_redo_button("again:12x") is None
    assert keyboards.parse_redo_button("redo:12:aai/slam-1") is None  # a choice, not the button


def test_a_model_is_named_the_same_in_every_menu_and_reply() -> None:
    spec = get_model("#g1_whisper-large")
    label = replies.model_label(spec)
    assert label == "Whisper Large (#g1_whisper-large)"
    current = choice("#g1_whisper-large")
    assert label in keyboards.model_menu(ENGLISH, AIML, current).text
    assert label in keyboards.settings_menu(ENGLISH, AIML, current).text
    assert keyboards.model_set_text(ENGLISH, current).startswith(
        texts.MODEL_SET.format(model=label)
    )


def test_find_offered_ignores_case_but_not_unknown_ids() -> None:
    assert keyboards.find_offered("#G1_Whisper-Large", AIML) == get_model("#g1_whisper-large")
    assert keyboards.find_offered("whisper-large", AIML) is None
    assert keyboards.find_offered("local/base", AIML) is None
    text = keyboards.unknown_model_text(ENGLISH, "nova-3", AIML)
    assert "nova-3" in text
    assert all(spec.id in text for spec in AIML)


@pytest.mark.parametrize(
    ("model", "language", "fallback"),
    [
        ("aai/slam-1", "de", texts.FALLBACK_ENGLISH),
        ("#g1_nova-2-finance", "fr", texts.FALLBACK_ENGLISH),
        ("#g1_nova-2-general", "ar", texts.FALLBACK_DETECTION),
    ],
)
def test_language_warning_names_the_fallback(model: str, language: str, fallback: str) -> None:
    warning = keyboards.language_warning(ENGLISH, get_model(model), language)
    assert warning is not None
    assert get_model(model).display_name in warning and fallback in warning
    assert keyboards.model_set_text(ENGLISH, choice(model, language)).endswith(warning)
    assert keyboards.language_set_text(ENGLISH, choice(model, language)).endswith(warning)


@pytest.mark.parametrize(
    ("model", "language"),
    [
        ("aai/slam-1", None),
        ("aai/slam-1", "en-GB"),
        ("aai/universal", "de"),
        ("#g1_nova-2-general", "pt-BR"),
        ("openai/gpt-4o-transcribe", "ar"),
    ],
)
def test_no_warning_when_the_model_can_honour_the_language(
    model: str, language: str | None
) -> None:
    assert keyboards.language_warning(ENGLISH, get_model(model), language) is None


def test_language_keyboard_marks_auto_or_the_chosen_language() -> None:
    auto = flat(keyboards.language_menu(ENGLISH, choice("aai/universal")).buttons)
    assert auto[0] == (texts.CURRENT_MARK + texts.LANGUAGE_AUTO_BUTTON, "lang:auto")
    german = flat(keyboards.language_menu(ENGLISH, choice("aai/universal", "de")).buttons)
    assert (texts.CURRENT_MARK + "Deutsch", "lang:de") in german
    assert german[0] == (texts.LANGUAGE_AUTO_BUTTON, "lang:auto")
    assert keyboards.language_label(ENGLISH, "pt-BR") == "Português (pt-BR)"
    assert keyboards.language_label(ENGLISH, "sw") == "sw"
    assert keyboards.language_label(ENGLISH, None) == texts.LANGUAGE_AUTO


def test_settings_state_each_limitation_once() -> None:
    menu = keyboards.settings_menu(ENGLISH, AIML, choice("aai/universal"))
    lines = menu.text.splitlines()
    limits = lines[lines.index(texts.SETTINGS_LIMITS) + 1 :]
    assert limits == [
        "• OpenAI GPT-4o: "
        f"{texts.MISSING_TIMINGS}, {texts.MISSING_SPEAKERS}, {texts.MISSING_LANGUAGE}."
    ]
    # Local Whisper gives timings and the language, but no speakers.
    local = keyboards.settings_menu(ENGLISH, local_models(), choice("local/base")).text
    assert f"• Local Whisper: {texts.MISSING_SPEAKERS}." in local
    # Nothing to say when every offered model can do everything.
    only_deepgram = [get_model("#g1_nova-2-general")]
    assert (
        texts.SETTINGS_LIMITS
        not in keyboards.settings_menu(ENGLISH, only_deepgram, choice("#g1_nova-2-general")).text
    )


def test_settings_keyboard_shows_the_state_of_each_option() -> None:
    off = keyboards.settings_menu(ENGLISH, AIML, choice("aai/universal"))
    assert flat(off.buttons) == [
        ("▫️ Timestamps", "set:timestamps"),
        ("▫️ Speaker labels", "set:speakers"),
        ("▫️ Show the language", "set:show_language"),
        (texts.CURRENT_MARK + "No file", "set:attach:none"),
        (".srt file", "set:attach:srt"),
        (".txt file", "set:attach:txt"),
        ("🌐 Bot language: English", "ui:menu"),
    ]
    on = keyboards.settings_menu(
        ENGLISH,
        AIML,
        choice("aai/universal", timestamps=True, speakers=True, show_language=True, attach="srt"),
    )
    labels = [label for label, _ in flat(on.buttons)]
    assert labels[:3] == ["✅ Timestamps", "✅ Speaker labels", "✅ Show the language"]
    assert labels[3:6] == ["No file", texts.CURRENT_MARK + ".srt file", ".txt file"]
