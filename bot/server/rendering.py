"""Render a `Transcript` as a Deepgram pre-recorded response: serve-api's result shape.

The bot's own AIML client reads it back with bot/stt/parsing.py's Deepgram parser, so the two
are tested as a round trip.
"""

from __future__ import annotations

import hashlib
import string
import uuid
from datetime import UTC, datetime

from bot.stt.types import Transcript


def _plain_word(text: str) -> str:
    # Deepgram's `word` is lowercase without surrounding punctuation; `punctuated_word` is as-is.
    plain = text.strip(string.punctuation + "«»“”‘’…¿¡").lower()
    return plain or text.lower()


def transcript_to_deepgram(
    transcript: Transcript,
    model_name: str,
    request_id: str,
    *,
    created: datetime | None = None,
) -> dict[str, object]:
    """Render a transcript as a Deepgram pre-recorded response (docs §5.3 and §9).

    `created` is when the job was created (Deepgram's `metadata.created`: the request's time,
    the same on every poll); None means now.

    Deepgram keys `model_info` by a model UUID; we derive a stable one from the model name.
    Deepgram's `sha256` hashes the audio, which we do not have here, so it hashes the
    transcript: still a stable fingerprint of the answer.
    """
    model_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"stt-bot:model:{model_name}"))
    words = transcript.words
    duration = transcript.duration
    if duration is None:
        duration = max((w.end for w in words), default=0.0)
    confidences = [w.confidence for w in words if w.confidence is not None]
    # Mean word confidence; 0 when the engine gave none, rather than inventing certainty.
    confidence = sum(confidences) / len(confidences) if confidences else 0.0

    rendered_words: list[dict[str, object]] = []
    for word in words:
        item: dict[str, object] = {
            "word": _plain_word(word.text),
            "start": word.start,
            "end": word.end,
            "confidence": word.confidence if word.confidence is not None else 0.0,
            "punctuated_word": word.text,
        }
        if word.speaker is not None:
            item["speaker"] = word.speaker
        rendered_words.append(item)

    channel: dict[str, object] = {
        "alternatives": [
            {"transcript": transcript.text, "confidence": confidence, "words": rendered_words}
        ]
    }
    if transcript.language is not None:
        channel["detected_language"] = transcript.language

    results: dict[str, object] = {"channels": [channel]}
    if transcript.segments:
        results["utterances"] = [
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{request_id}:{index}")),
                "start": seg.start,
                "end": seg.end,
                "channel": 0,
                "transcript": seg.text,
                **({"speaker": seg.speaker} if seg.speaker is not None else {}),
            }
            for index, seg in enumerate(transcript.segments)
        ]

    return {
        "metadata": {
            "transaction_key": "deprecated",
            "request_id": request_id,
            "sha256": hashlib.sha256(transcript.to_json().encode()).hexdigest(),
            "created": _timestamp(created or datetime.now(UTC)),
            "duration": duration,
            "channels": 1,
            "models": [model_uuid],
            "model_info": {model_uuid: {"name": model_name, "version": "local", "arch": "whisper"}},
        },
        "results": results,
    }


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
