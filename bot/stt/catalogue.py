"""Every model the bot offers, what each can do, and the request fields each family expects.

This is the single source of truth for model ids: the AIML ones (see docs/aiml-stt-api.md §2),
the local Whisper sizes of the offline engine, and `oai/<name>`: a model of an OpenAI-compatible
transcription server (OpenAI itself, Groq, vLLM, speaches, LocalAI), whatever name it gives it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from bot.stt.languages import primary_code

Family = Literal["deepgram", "assemblyai", "openai", "local", "oai"]
BackendName = Literal["aiml", "local", "openai"]

OPENAI_PREFIX = "oai/"
# What OpenAI itself serves; a self-hosted server names its own (OPENAI_MODELS).
OPENAI_DEFAULT_NAMES = ("whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe")


class UnknownModelError(KeyError):
    """The id names no model in the catalogue."""

    def __init__(self, model_id: str) -> None:
        super().__init__(model_id)
        self.model_id = model_id

    def __str__(self) -> str:
        return f"unknown model: {self.model_id!r}"


@dataclass(frozen=True, slots=True)
class Capabilities:
    language_choice: bool = True  # the user may pick among several languages
    language_detection: bool = True  # it copes without a language hint
    punctuation: bool = True
    diarization: bool = False
    word_timings: bool = False
    english_only: bool = False
    reports_language: bool = True  # the result names the language it heard (or was told)
    # ISO 639-1 codes the model can be told to use; None: whatever the user picks.
    languages: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class ModelSpec:
    id: str
    display_name: str
    vendor: str
    family: Family
    capabilities: Capabilities
    # Request fields sent on every job: a read-only view, kept out of the hash (views have none).
    default_params: Mapping[str, object] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )

    @property
    def is_local(self) -> bool:
        return self.family == "local"

    @property
    def backend(self) -> BackendName:
        """The backend that serves it: the AIML API, the local engine or an OpenAI server."""
        if self.family == "local":
            return "local"
        return "openai" if self.family == "oai" else "aiml"


FAMILY_BLURBS: MappingProxyType[Family, str] = MappingProxyType(
    {
        "deepgram": "Deepgram: fast, word timings and speaker labels; Nova-2 or hosted Whisper.",
        "assemblyai": "AssemblyAI: accurate, punctuated text with speaker labels.",
        "openai": "OpenAI GPT-4o: strong on hard audio; plain text without timings.",
        "local": "Local Whisper: runs on this machine, nothing leaves it.",
        "oai": "OpenAI-compatible server: Whisper with timings; GPT-4o as plain text.",
    }
)

_ENGLISH_ONLY = Capabilities(
    language_choice=False,
    language_detection=False,
    diarization=True,
    word_timings=True,
    english_only=True,
)
_MULTILINGUAL_TIMED = Capabilities(diarization=True, word_timings=True)
# Nova-2 knows 36 languages (Deepgram changelog 2024-05-14); any other language code makes the
# job fail upstream, so such a choice falls back to detection instead.
# fmt: off
_NOVA2_LANGUAGES = frozenset({
    "bg", "ca", "cs", "da", "de", "el", "en", "es", "et", "fi", "fr", "hi", "hu", "id", "it",
    "ja", "ko", "lt", "lv", "ms", "nl", "no", "pl", "pt", "ro", "ru", "sk", "sv", "th", "tr",
    "uk", "vi", "zh",
})
# fmt: on
_NOVA2_GENERAL = Capabilities(diarization=True, word_timings=True, languages=_NOVA2_LANGUAGES)

# Without punctuate/smart_format, Whisper-on-Deepgram answers in lowercase without punctuation.
_DEEPGRAM_DEFAULTS = MappingProxyType({"punctuate": True, "smart_format": True})
_ASSEMBLYAI_DEFAULTS = MappingProxyType({"punctuate": True, "format_text": True})

# Deepgram only offers other languages on nova-2-general; the domain variants are English
# models upstream (inferred: AIML passes the model through to Deepgram).
_NOVA2_VARIANTS = (
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
)
_NOVA2_NAMES = {"conversationalai": "Conversational AI", "drivethru": "Drive-thru"}
_WHISPER_SIZES = ("tiny", "base", "small", "medium", "large")
_LOCAL_SIZES = ("tiny", "base", "small", "medium", "large-v3")


def _catalogue() -> tuple[ModelSpec, ...]:
    nova2 = tuple(
        ModelSpec(
            id=f"#g1_nova-2-{variant}",
            display_name=f"Nova-2 {_NOVA2_NAMES.get(variant, variant.capitalize())}",
            vendor="Deepgram",
            family="deepgram",
            capabilities=_NOVA2_GENERAL if variant == "general" else _ENGLISH_ONLY,
            default_params=_DEEPGRAM_DEFAULTS,
        )
        for variant in _NOVA2_VARIANTS
    )
    whisper = tuple(
        ModelSpec(
            id=f"#g1_whisper-{size}",
            display_name=f"Whisper {size.capitalize()}",
            vendor="OpenAI Whisper (hosted by Deepgram)",
            family="deepgram",
            capabilities=_MULTILINGUAL_TIMED,
            default_params=_DEEPGRAM_DEFAULTS,
        )
        for size in _WHISPER_SIZES
    )
    assemblyai = (
        ModelSpec(
            id="aai/slam-1",
            display_name="Slam-1",
            vendor="AssemblyAI",
            family="assemblyai",
            capabilities=_ENGLISH_ONLY,
            default_params=_ASSEMBLYAI_DEFAULTS,
        ),
        ModelSpec(
            id="aai/universal",
            display_name="Universal",
            vendor="AssemblyAI",
            family="assemblyai",
            capabilities=_MULTILINGUAL_TIMED,
            default_params=_ASSEMBLYAI_DEFAULTS,
        ),
    )
    # GPT-4o detects the language by itself but has no parameter for it and reports none.
    openai_caps = Capabilities(reports_language=False)
    openai = (
        ModelSpec(
            id="openai/gpt-4o-transcribe",
            display_name="GPT-4o Transcribe",
            vendor="OpenAI",
            family="openai",
            capabilities=openai_caps,
        ),
        ModelSpec(
            id="openai/gpt-4o-mini-transcribe",
            display_name="GPT-4o Mini Transcribe",
            vendor="OpenAI",
            family="openai",
            capabilities=openai_caps,
        ),
    )
    local = tuple(
        ModelSpec(
            id=f"local/{size}",
            display_name=f"Whisper {size.capitalize()} (local)",
            vendor="Local Whisper",
            family="local",
            capabilities=Capabilities(word_timings=True),
        )
        for size in _LOCAL_SIZES
    )
    return (
        *assemblyai,
        *nova2,
        *whisper,
        *openai,
        *local,
        *(openai_model(name) for name in OPENAI_DEFAULT_NAMES),
    )


# GPT-4o transcription answers `json` or `text` only: no segments, no words, no language.
_JSON_ONLY_MARKERS = ("gpt-4o",)
# Whisper speaks `verbose_json` (segments, words, the language heard) on OpenAI and on the
# servers that copy its API; a name ending in ".en"/"-en" is an English-only checkpoint
# (distil-whisper-large-v3-en, small.en).
_WHISPER_TIMED = Capabilities(word_timings=True)
_WHISPER_ENGLISH = Capabilities(
    language_choice=False, language_detection=False, word_timings=True, english_only=True
)
_PLAIN_TEXT = Capabilities(reports_language=False)


def openai_model(name: str) -> ModelSpec:
    """The spec of `oai/<name>` on an OpenAI-compatible server (`name` with or without the
    prefix). Capabilities follow the name: what verbose_json gives for it, honestly."""
    name = name.removeprefix(OPENAI_PREFIX)
    lowered = name.lower()
    if any(marker in lowered for marker in _JSON_ONLY_MARKERS):
        capabilities = _PLAIN_TEXT
    elif lowered.endswith((".en", "-en")):
        capabilities = _WHISPER_ENGLISH
    else:
        capabilities = _WHISPER_TIMED
    return ModelSpec(
        id=f"{OPENAI_PREFIX}{name}",
        display_name=name.rsplit("/", 1)[-1],  # "Systran/faster-whisper-small": the last part
        vendor="OpenAI-compatible server",
        family="oai",
        capabilities=capabilities,
    )


def openai_models(names: Iterable[str] = ()) -> tuple[ModelSpec, ...]:
    """The models an OpenAI-compatible server offers: `names` (OPENAI_MODELS), else OpenAI's."""
    chosen = tuple(names) or OPENAI_DEFAULT_NAMES
    return tuple(openai_model(name) for name in chosen)


_MODELS: MappingProxyType[str, ModelSpec] = MappingProxyType(
    {spec.id: spec for spec in _catalogue()}
)


def get_model(model_id: str) -> ModelSpec:
    """The spec of any catalogued id, and of any `oai/<name>`: an OpenAI-compatible server
    names its models itself, so every such name has a spec (whether offered is the
    backend's and the settings' business)."""
    spec = _MODELS.get(model_id)
    if spec is not None:
        return spec
    if model_id.startswith(OPENAI_PREFIX) and model_id.removeprefix(OPENAI_PREFIX).strip():
        return openai_model(model_id)
    raise UnknownModelError(model_id)


def all_models() -> tuple[ModelSpec, ...]:
    return tuple(_MODELS.values())


def aiml_models() -> tuple[ModelSpec, ...]:
    return tuple(spec for spec in _MODELS.values() if spec.backend == "aiml")


def local_models() -> tuple[ModelSpec, ...]:
    return tuple(spec for spec in _MODELS.values() if spec.is_local)


def models_by_vendor(models: Iterable[ModelSpec]) -> dict[str, tuple[ModelSpec, ...]]:
    """Group models by vendor, keeping the order in which vendors and models first appear."""
    groups: dict[str, list[ModelSpec]] = {}
    for spec in models:
        groups.setdefault(spec.vendor, []).append(spec)
    return {vendor: tuple(specs) for vendor, specs in groups.items()}


def language_supported(spec: ModelSpec, language: str | None) -> bool:
    """Whether `language` (None: auto-detect) can be honoured, so callers can warn and fall back.

    An English-only model "supports" auto-detection in the sense that it simply assumes English.
    """
    if language is None:
        return spec.capabilities.language_detection or spec.capabilities.english_only
    if spec.capabilities.english_only:
        return primary_code(language) == "en"
    known = spec.capabilities.languages
    if known is not None and primary_code(language) not in known:
        return False
    return spec.capabilities.language_choice


# AssemblyAI spells English by region; every other language is a bare ISO 639-1 code.
_ASSEMBLYAI_ENGLISH = MappingProxyType({"gb": "en_uk", "uk": "en_uk", "au": "en_au"})


def _assemblyai_language(language: str) -> str:
    parts = language.replace("_", "-").lower().split("-")
    if parts[0] != "en":
        return parts[0]
    region = parts[1] if len(parts) > 1 else "us"
    return _ASSEMBLYAI_ENGLISH.get(region, "en_us")


def build_params(spec: ModelSpec, *, language: str | None, diarize: bool) -> dict[str, object]:
    """The request fields for a job: the model's defaults plus language and diarization.

    `language` None means auto-detect. A language the model cannot honour is dropped (the model
    then uses its own default or detection); check `language_supported` first to warn the user.
    English-only models never get a language field: English is their default anyway.
    """
    caps = spec.capabilities
    params: dict[str, object] = dict(spec.default_params)
    if language is not None and (caps.english_only or not language_supported(spec, language)):
        language = None
    want_diarize = diarize and caps.diarization

    if spec.family == "deepgram":
        if language is not None:
            params["language"] = language
        elif caps.language_detection:
            params["detect_language"] = True
        if want_diarize:
            params["diarize"] = True
    elif spec.family == "assemblyai":
        if language is not None:
            params["language_code"] = _assemblyai_language(language)
        elif caps.language_detection:
            params["language_detection"] = True
        if want_diarize:
            params["speaker_labels"] = True
    elif language is not None:
        # OpenAI and local Whisper take ISO 639-1 and detect by themselves when it is omitted.
        params["language"] = primary_code(language)
    return params
