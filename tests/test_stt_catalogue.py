from __future__ import annotations

import dataclasses

import pytest

from bot.stt.catalogue import (
    FAMILY_BLURBS,
    ModelSpec,
    UnknownModelError,
    aiml_models,
    all_models,
    build_params,
    get_model,
    language_supported,
    local_models,
    models_by_vendor,
)
from tests.fakes.stt import MODEL_FAMILIES

NOVA2 = [
    "automotive",
    "conversationalai",
    "drivethru",
    "finance",
    "general",
    "medical",
    "meeting",
    "phonecall",
    "video",
    "voicemail",
]
WHISPER = ["tiny", "base", "small", "medium", "large"]
EXPECTED_AIML = {
    "aai/slam-1",
    "aai/universal",
    *(f"#g1_nova-2-{v}" for v in NOVA2),
    *(f"#g1_whisper-{s}" for s in WHISPER),
    "openai/gpt-4o-transcribe",
    "openai/gpt-4o-mini-transcribe",
}


def test_aiml_ids_are_exactly_the_nineteen_documented() -> None:
    ids = [spec.id for spec in aiml_models()]
    assert len(ids) == 19
    assert set(ids) == EXPECTED_AIML


def test_catalogue_families_agree_with_the_fake_api() -> None:
    # The fake spells the list out independently from the docs.
    assert {spec.id: spec.family for spec in aiml_models()} == dict(MODEL_FAMILIES)


def test_local_models() -> None:
    assert [spec.id for spec in local_models()] == [
        "local/tiny",
        "local/base",
        "local/small",
        "local/medium",
        "local/large-v3",
    ]
    assert {spec.family for spec in local_models()} == {"local"}
    assert {spec.vendor for spec in local_models()} == {"Local Whisper"}
    assert all(spec.is_local for spec in local_models())
    assert not any(spec.is_local for spec in aiml_models())
    assert len(all_models()) == 27  # with OpenAI's three oai/ models


@pytest.mark.parametrize(
    ("model_id", "family", "vendor"),
    [
        ("aai/slam-1", "assemblyai", "AssemblyAI"),
        ("aai/universal", "assemblyai", "AssemblyAI"),
        ("#g1_nova-2-medical", "deepgram", "Deepgram"),
        ("#g1_whisper-large", "deepgram", "OpenAI Whisper (hosted by Deepgram)"),
        ("openai/gpt-4o-mini-transcribe", "openai", "OpenAI"),
        ("local/large-v3", "local", "Local Whisper"),
    ],
)
def test_get_model(model_id: str, family: str, vendor: str) -> None:
    spec = get_model(model_id)
    assert spec.id == model_id
    assert spec.family == family
    assert spec.vendor == vendor
    assert spec.display_name


def test_unknown_model_is_a_key_error_naming_the_id() -> None:
    with pytest.raises(UnknownModelError) as info:
        get_model("#g1_nova-3")
    assert isinstance(info.value, KeyError)
    assert info.value.model_id == "#g1_nova-3"
    assert "#g1_nova-3" in str(info.value)


def test_specs_are_immutable_and_hashable() -> None:
    spec = get_model("#g1_whisper-base")
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.id = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        spec.default_params["punctuate"] = False  # type: ignore[index]
    assert len({*all_models()}) == len(all_models())


def test_deepgram_defaults_ask_for_readable_text() -> None:
    for spec in aiml_models():
        if spec.id.startswith("#g1_"):
            assert spec.default_params == {"punctuate": True, "smart_format": True}, spec.id
    assert get_model("aai/universal").default_params == {"punctuate": True, "format_text": True}
    assert dict(get_model("openai/gpt-4o-transcribe").default_params) == {}


def test_capabilities() -> None:
    slam = get_model("aai/slam-1").capabilities
    assert slam.english_only and not slam.language_detection and slam.diarization
    universal = get_model("aai/universal").capabilities
    assert universal.language_detection and universal.language_choice and universal.word_timings
    gpt = get_model("openai/gpt-4o-transcribe").capabilities
    assert not gpt.word_timings and not gpt.diarization
    assert get_model("#g1_whisper-small").capabilities.diarization
    assert get_model("#g1_nova-2-general").capabilities.language_choice
    assert get_model("#g1_nova-2-phonecall").capabilities.english_only
    assert not gpt.reports_language
    assert get_model("aai/universal").capabilities.reports_language


def test_models_by_vendor_keeps_order() -> None:
    groups = models_by_vendor(aiml_models())
    assert list(groups) == [
        "AssemblyAI",
        "Deepgram",
        "OpenAI Whisper (hosted by Deepgram)",
        "OpenAI",
    ]
    assert [s.id for s in groups["OpenAI"]] == [
        "openai/gpt-4o-transcribe",
        "openai/gpt-4o-mini-transcribe",
    ]
    assert len(groups["Deepgram"]) == 10
    assert models_by_vendor([]) == {}


def test_every_family_has_a_blurb() -> None:
    families = {spec.family for spec in all_models()}
    assert set(FAMILY_BLURBS) == families
    assert all(FAMILY_BLURBS[f] and "\n" not in FAMILY_BLURBS[f] for f in families)


def _spec(model_id: str) -> ModelSpec:
    return get_model(model_id)


@pytest.mark.parametrize(
    ("model_id", "language", "diarize", "expected"),
    [
        (
            "#g1_nova-2-general",
            "de",
            True,
            {"punctuate": True, "smart_format": True, "language": "de", "diarize": True},
        ),
        (
            "#g1_whisper-large",
            None,
            False,
            {"punctuate": True, "smart_format": True, "detect_language": True},
        ),
        (
            "#g1_whisper-large",
            "pt-BR",
            False,
            {"punctuate": True, "smart_format": True, "language": "pt-BR"},
        ),
        # A language Nova-2 does not know falls back to detection rather than failing upstream.
        (
            "#g1_nova-2-general",
            "sw",
            False,
            {"punctuate": True, "smart_format": True, "detect_language": True},
        ),
        # English-only: no language field at all, English is the default.
        ("#g1_nova-2-meeting", None, False, {"punctuate": True, "smart_format": True}),
        ("#g1_nova-2-meeting", "en", False, {"punctuate": True, "smart_format": True}),
        (
            "aai/universal",
            "en",
            True,
            {
                "punctuate": True,
                "format_text": True,
                "language_code": "en_us",
                "speaker_labels": True,
            },
        ),
        (
            "aai/universal",
            "en-GB",
            False,
            {"punctuate": True, "format_text": True, "language_code": "en_uk"},
        ),
        (
            "aai/universal",
            "de",
            False,
            {"punctuate": True, "format_text": True, "language_code": "de"},
        ),
        (
            "aai/universal",
            None,
            False,
            {"punctuate": True, "format_text": True, "language_detection": True},
        ),
        # language_detection exists only on universal.
        ("aai/slam-1", None, False, {"punctuate": True, "format_text": True}),
        (
            "aai/slam-1",
            "de",
            True,
            {"punctuate": True, "format_text": True, "speaker_labels": True},
        ),
        ("openai/gpt-4o-transcribe", "de-AT", True, {"language": "de"}),
        ("openai/gpt-4o-mini-transcribe", None, False, {}),
        ("local/small", "fr", True, {"language": "fr"}),
        ("local/small", None, False, {}),
    ],
)
def test_build_params(
    model_id: str, language: str | None, diarize: bool, expected: dict[str, object]
) -> None:
    assert build_params(_spec(model_id), language=language, diarize=diarize) == expected


def test_build_params_returns_a_fresh_dict() -> None:
    spec = _spec("#g1_whisper-tiny")
    params = build_params(spec, language=None, diarize=False)
    params["punctuate"] = False
    assert spec.default_params["punctuate"] is True


@pytest.mark.parametrize(
    ("model_id", "language", "supported"),
    [
        ("aai/slam-1", "de", False),
        ("aai/slam-1", "en", True),
        ("aai/slam-1", "en-US", True),
        ("aai/slam-1", None, True),
        ("#g1_nova-2-drivethru", "fr", False),
        ("#g1_nova-2-general", "fr", True),
        ("#g1_nova-2-general", "pt-BR", True),
        ("#g1_nova-2-general", "sw", False),  # not among Nova-2's languages
        ("#g1_whisper-large", "sw", True),
        ("aai/universal", "ja", True),
        ("openai/gpt-4o-transcribe", None, True),
        ("local/tiny", "uk", True),
    ],
)
def test_language_supported(model_id: str, language: str | None, supported: bool) -> None:
    assert language_supported(_spec(model_id), language) is supported
