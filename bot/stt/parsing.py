"""Turn each result family's JSON into a `Transcript`.

Result shapes are described in docs/aiml-stt-api.md §5.3-5.5 and §9. Everything read from the
wire goes through the small checked accessors below, so a surprise in the payload surfaces as
`MalformedResponseError` and never as a bare KeyError/TypeError/IndexError.
"""

from __future__ import annotations

import logging
import math
import string
from collections.abc import Callable, Mapping, Sequence
from typing import TypeGuard

from bot.stt.errors import JobFailedError, MalformedResponseError
from bot.stt.segmentation import segments_from_words
from bot.stt.types import Segment, Transcript, Word
from bot.stt.whisper_languages import language_code

logger = logging.getLogger(__name__)


# --- checked accessors -------------------------------------------------------------------------


def _obj(value: object, where: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise MalformedResponseError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _opt_obj(value: object, where: str) -> Mapping[str, object] | None:
    return None if value is None else _obj(value, where)


def _list(value: object, where: str) -> Sequence[object]:
    """A JSON array; null or absent counts as empty."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise MalformedResponseError(f"{where}: expected an array, got {type(value).__name__}")
    return value


def _num(value: object, where: str) -> float:
    # bool is an int subclass, but a boolean time is nonsense.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedResponseError(f"{where}: expected a number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise MalformedResponseError(f"{where}: not a finite number")
    return number


def _opt_num(value: object, where: str) -> float | None:
    return None if value is None else _num(value, where)


def _str(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise MalformedResponseError(f"{where}: expected a string, got {type(value).__name__}")
    return value


def _opt_str(value: object, where: str) -> str | None:
    return None if value is None else _str(value, where)


def _opt_speaker_int(value: object, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedResponseError(f"{where}: expected an integer speaker")
    return value


# --- Deepgram (also the local API server's shape) ----------------------------------------------


def _plain_number(value: object) -> TypeGuard[int | float]:
    """A finite JSON number: what `_num` accepts, told without building its error location."""
    return type(value) is int or (type(value) is float and math.isfinite(value))


def _plain_deepgram_word(raw: object) -> Word | None:
    """The word, when every field is as it should be; None sends it to `_deepgram_word`, which
    says what is wrong. A transcript has a word every half second or so, and the checked path
    builds five error locations for each: this one builds none."""
    if type(raw) is not dict:
        return None
    text = raw.get("punctuated_word")
    if text is None:
        text = raw.get("word")
    start, end = raw.get("start"), raw.get("end")
    speaker, confidence = raw.get("speaker"), raw.get("confidence")
    if (
        type(text) is str
        and _plain_number(start)
        and _plain_number(end)
        and (speaker is None or type(speaker) is int)
        and (confidence is None or _plain_number(confidence))
    ):
        sure = None if confidence is None else float(confidence)
        return Word(text, float(start), float(end), speaker, sure)
    return None


def _deepgram_word(raw: object, where: str) -> Word:
    item = _obj(raw, where)
    text = _opt_str(item.get("punctuated_word"), f"{where}.punctuated_word")
    if text is None:
        text = _str(item.get("word"), f"{where}.word")
    return Word(
        text=text,
        start=_num(item.get("start"), f"{where}.start"),
        end=_num(item.get("end"), f"{where}.end"),
        speaker=_opt_speaker_int(item.get("speaker"), f"{where}.speaker"),
        confidence=_opt_num(item.get("confidence"), f"{where}.confidence"),
    )


def _deepgram_paragraphs(raw: object, where: str) -> list[Segment]:
    # Deepgram sends {transcript, paragraphs: [...]}; AIML's schema documents a list of such
    # objects instead (docs §5.3), so accept both.
    containers = _list(raw, where) if isinstance(raw, list) else [raw]
    segments: list[Segment] = []
    for c_index, container in enumerate(containers):
        box = _opt_obj(container, f"{where}[{c_index}]")
        if box is None:
            continue
        for p_index, para_raw in enumerate(_list(box.get("paragraphs"), f"{where}.paragraphs")):
            p_where = f"{where}.paragraphs[{p_index}]"
            para = _obj(para_raw, p_where)
            sentences = [
                _str(_obj(s, f"{p_where}.sentences[]").get("text"), f"{p_where}.sentences[].text")
                for s in _list(para.get("sentences"), f"{p_where}.sentences")
            ]
            text = " ".join(s for s in sentences if s)
            if not text:
                continue
            segments.append(
                Segment(
                    text=text,
                    start=_num(para.get("start"), f"{p_where}.start"),
                    end=_num(para.get("end"), f"{p_where}.end"),
                    speaker=_opt_speaker_int(para.get("speaker"), f"{p_where}.speaker"),
                )
            )
    return segments


def _deepgram_utterances(raw: object, where: str) -> list[Segment]:
    segments: list[Segment] = []
    for index, utt_raw in enumerate(_list(raw, where)):
        u_where = f"{where}[{index}]"
        utt = _obj(utt_raw, u_where)
        segments.append(
            Segment(
                text=_str(utt.get("transcript"), f"{u_where}.transcript"),
                start=_num(utt.get("start"), f"{u_where}.start"),
                end=_num(utt.get("end"), f"{u_where}.end"),
                speaker=_opt_speaker_int(utt.get("speaker"), f"{u_where}.speaker"),
            )
        )
    return segments


def _deepgram_model_name(metadata: Mapping[str, object] | None) -> str | None:
    if metadata is None:
        return None
    info = _opt_obj(metadata.get("model_info"), "metadata.model_info")
    if not info:
        return None
    names: list[str] = []
    for key, entry in info.items():
        name = _opt_str(_obj(entry, f"metadata.model_info.{key}").get("name"), "model_info.name")
        if name and name not in names:
            names.append(name)
    return "+".join(names) or None


def _parse_deepgram(payload: object) -> Transcript:
    root = _obj(payload, "result")
    metadata = _opt_obj(root.get("metadata"), "metadata")
    results = _obj(root.get("results"), "results")
    channels_raw = results.get("channels")
    # AIML's schema types `channels` as an object (docs §5.3); Deepgram sends an array.
    channels = [channels_raw] if isinstance(channels_raw, Mapping) else _list(channels_raw, "")
    if not channels:
        raise MalformedResponseError("results.channels is empty")
    channel = _obj(channels[0], "results.channels[0]")
    alternatives = _list(channel.get("alternatives"), "results.channels[0].alternatives")
    if not alternatives:
        raise MalformedResponseError("results.channels[0].alternatives is empty")
    where = "results.channels[0].alternatives[0]"
    alt = _obj(alternatives[0], where)

    text = _opt_str(alt.get("transcript"), f"{where}.transcript") or ""
    words = tuple(
        _plain_deepgram_word(w) or _deepgram_word(w, f"{where}.words[{i}]")
        for i, w in enumerate(_list(alt.get("words"), f"{where}.words"))
    )
    segments = _deepgram_utterances(results.get("utterances"), "results.utterances")
    if not segments:
        segments = _deepgram_paragraphs(alt.get("paragraphs"), f"{where}.paragraphs")

    language = _opt_str(channel.get("detected_language"), "detected_language")
    if language is None:
        languages = _list(alt.get("languages"), f"{where}.languages")
        language = _opt_str(languages[0], f"{where}.languages[0]") if languages else None

    return Transcript(
        text=text.strip(),
        language=language,
        duration=_opt_num(metadata.get("duration"), "metadata.duration") if metadata else None,
        words=words,
        segments=tuple(segments) or segments_from_words(words),
        model=_deepgram_model_name(metadata),
    )


# --- AssemblyAI --------------------------------------------------------------------------------


class _SpeakerNumbers:
    """AssemblyAI labels speakers "A", "B", ...; we number them 0, 1, ... like Deepgram."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def __call__(self, value: object, where: str) -> int | None:
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        label = _str(value, where).strip()
        if len(label) == 1 and label in string.ascii_uppercase:
            return ord(label) - ord("A")
        if label.isdigit():
            return int(label)
        # Anything else is numbered after the letters, in order of appearance.
        return self._seen.setdefault(label, 26 + len(self._seen))


def _ms(value: object, where: str) -> float:
    return _num(value, where) / 1000.0


def _parse_assemblyai(payload: object) -> Transcript:
    root = _obj(payload, "result")
    if root.get("status") == "error":
        # The upstream transcript can fail inside an envelope that says "completed".
        message = _opt_str(root.get("error"), "error") or "transcription failed"
        raise JobFailedError(message)
    if "text" not in root:
        raise MalformedResponseError("result.text is missing")
    text = _opt_str(root.get("text"), "result.text") or ""
    speaker = _SpeakerNumbers()

    words: list[Word] = []
    for index, raw in enumerate(_list(root.get("words"), "result.words")):
        where = f"result.words[{index}]"
        item = _obj(raw, where)
        words.append(
            Word(
                text=_str(item.get("text"), f"{where}.text"),
                start=_ms(item.get("start"), f"{where}.start"),
                end=_ms(item.get("end"), f"{where}.end"),
                speaker=speaker(item.get("speaker"), f"{where}.speaker"),
                confidence=_opt_num(item.get("confidence"), f"{where}.confidence"),
            )
        )

    segments: list[Segment] = []
    for index, raw in enumerate(_list(root.get("utterances"), "result.utterances")):
        where = f"result.utterances[{index}]"
        item = _obj(raw, where)
        segments.append(
            Segment(
                text=_str(item.get("text"), f"{where}.text"),
                start=_ms(item.get("start"), f"{where}.start"),
                end=_ms(item.get("end"), f"{where}.end"),
                speaker=speaker(item.get("speaker"), f"{where}.speaker"),
            )
        )

    language = _opt_str(root.get("language_code"), "result.language_code")
    model = _opt_str(root.get("speech_model"), "result.speech_model")
    return Transcript(
        text=text.strip(),
        # AssemblyAI's codes ("en_us", "en_uk") are its own; keep the ISO 639-1 part.
        language=language.split("_")[0].lower() if language else None,
        duration=_opt_num(root.get("audio_duration"), "result.audio_duration"),
        words=tuple(words),
        segments=tuple(segments) or segments_from_words(words),
        model=model,
    )


# --- OpenAI ------------------------------------------------------------------------------------


def _parse_openai(payload: object) -> Transcript:
    root = _obj(payload, "result")
    text = _str(root.get("text"), "result.text")
    usage = _opt_obj(root.get("usage"), "result.usage")
    duration = None
    # Token-billed models report tokens; duration-billed ones (whisper-1) report seconds.
    if usage is not None and usage.get("type") == "duration":
        duration = _opt_num(usage.get("seconds"), "result.usage.seconds")
    return Transcript(text=text.strip(), duration=duration)


# --- an OpenAI-compatible server: `json` and `verbose_json` ---------------------------------


def _oai_timed_items(raw: object, where: str, text_key: str) -> list[tuple[str, float, float]]:
    items: list[tuple[str, float, float]] = []
    for index, item_raw in enumerate(_list(raw, where)):
        item = _obj(item_raw, f"{where}[{index}]")
        items.append(
            (
                _str(item.get(text_key), f"{where}[{index}].{text_key}"),
                _num(item.get("start"), f"{where}[{index}].start"),
                _num(item.get("end"), f"{where}[{index}].end"),
            )
        )
    return items


def _parse_oai(payload: object) -> Transcript:
    """`json` is `{"text"}` (plus `usage`); `verbose_json` adds `language` (a name such as
    "english", or a code), `duration`, `segments` and, when asked for, `words`."""
    root = _obj(payload, "result")
    text = _str(root.get("text"), "result.text")
    words = tuple(
        Word(text=word.strip(), start=start, end=end)
        for word, start, end in _oai_timed_items(root.get("words"), "result.words", "word")
        if word.strip()
    )
    segments = tuple(
        Segment(text=seg.strip(), start=start, end=end)
        for seg, start, end in _oai_timed_items(root.get("segments"), "result.segments", "text")
        if seg.strip()
    )
    duration = _opt_num(root.get("duration"), "result.duration")
    if duration is None:
        duration = _parse_openai(payload).duration  # `usage` of a duration-billed model
    return Transcript(
        text=text.strip(),
        language=language_code(_opt_str(root.get("language"), "result.language")),
        duration=duration,
        words=words,
        # Words alone (timestamp_granularities=["word"]) still make lines.
        segments=segments or segments_from_words(words),
    )


_PARSERS: Mapping[str, Callable[[object], Transcript]] = {
    "deepgram": _parse_deepgram,
    # The local API server answers in Deepgram's shape (bot/server/rendering.py).
    "local": _parse_deepgram,
    "assemblyai": _parse_assemblyai,
    "openai": _parse_openai,
    "oai": _parse_oai,
}


def parse_result(family: str, payload: object) -> Transcript:
    """Parse a completed job's `result` for a model family ("deepgram", "assemblyai", ...).

    Raises `MalformedResponseError` when the payload cannot be read, and `JobFailedError` when an
    AssemblyAI result reports its own failure.
    """
    parser = _PARSERS.get(family)
    if parser is None:
        raise ValueError(f"unknown result family: {family!r}")
    try:
        return parser(payload)
    except (KeyError, TypeError, IndexError, ValueError, AttributeError) as exc:
        # A last line of defence: a shape the accessors did not anticipate.
        logger.debug("unreadable %s result", family, exc_info=True)
        raise MalformedResponseError(f"unreadable {family} result: {exc!r}") from exc
