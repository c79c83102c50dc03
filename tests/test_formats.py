"""Audio format sniffing, and rendering transcripts as text, SRT, WebVTT and JSON."""

from __future__ import annotations

import json

import pytest

from bot.audio.sniff import sniff_audio
from bot.presentation.file_formats import cues, render, to_json, to_srt, to_vtt
from bot.stt.types import Segment, Transcript, Word

OGG_OPUS_HEAD = b"OggS\x00\x02" + b"\x00" * 20 + b"\x01\x13OpusHead\x01\x01"


@pytest.mark.parametrize(
    ("data", "name", "mime"),
    [
        (OGG_OPUS_HEAD, "ogg/opus", "audio/ogg"),
        (b"OggS\x00\x02" + b"\x00" * 21 + b"\x1e\x01vorbis", "ogg/vorbis", "audio/ogg"),
        (b"OggS" + b"\x00" * 60, "ogg", "audio/ogg"),
        (b"RIFF\x24\x08\x00\x00WAVEfmt ", "wav", "audio/wav"),
        (b"fLaC\x00\x00\x00\x22", "flac", "audio/flac"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "mp3", "audio/mpeg"),
        (b"\xff\xfb\x90\x64\x00", "mp3", "audio/mpeg"),
        (b"\xff\xf1\x50\x80\x02", "aac", "audio/aac"),
        (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00", "m4a", "audio/mp4"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00", "mp4", "video/mp4"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81", "webm", "audio/webm"),
        (b"#!AMR\n", "amr", "audio/amr"),
        (b"FORM\x00\x00\x10\x00AIFFCOMM", "aiff", "audio/aiff"),
    ],
)
def test_formats_are_told_by_their_magic_bytes(data: bytes, name: str, mime: str) -> None:
    sniffed = sniff_audio(data)
    assert sniffed is not None
    assert (sniffed.name, sniffed.mime_type) == (name, mime)


@pytest.mark.parametrize("data", [b"", b"\xff", b"hello world", b"%PDF-1.7", b"\x89PNG\r\n"])
def test_unknown_data_is_not_guessed(data: bytes) -> None:
    assert sniff_audio(data) is None


def test_an_ogg_named_mp3_is_still_ogg() -> None:
    # The docs' own upload example sends whatever it has as ("sample.mp3", ..., "audio/mpeg").
    sniffed = sniff_audio(OGG_OPUS_HEAD)
    assert sniffed is not None and sniffed.extension == "ogg"


SEGMENTED = Transcript(
    text="Hello there. General Kenobi!",
    language="en",
    duration=3725.5,
    segments=(
        Segment("Hello there.", 0.0, 1.5),
        Segment("General  Kenobi!\n", 3723.25, 3725.0),
    ),
    words=(Word("Hello", 0.0, 0.5, confidence=0.9),),
    model="local/base",
)


def test_srt_numbers_cues_and_uses_commas() -> None:
    assert to_srt(SEGMENTED) == (
        "1\n00:00:00,000 --> 00:00:01,500\nHello there.\n"
        "\n"
        "2\n01:02:03,250 --> 01:02:05,000\nGeneral Kenobi!\n"
    )


def test_vtt_has_a_header_dots_and_escaped_markup() -> None:
    transcript = Transcript(
        text="a < b & c --> d", segments=(Segment("a < b & c --> d", 1.0, 2.0004),)
    )
    assert to_vtt(transcript) == "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\na &lt; b &amp; c → d\n"


def test_words_are_grouped_into_short_cues_without_segments() -> None:
    words = tuple(Word(f"w{i}.", i * 0.5, i * 0.5 + 0.4) for i in range(3)) + tuple(
        Word(f"long{i}", 10 + i * 0.5, 10 + i * 0.5 + 0.4) for i in range(20)
    )
    found = cues(Transcript(text="...", words=words))

    assert [c.text for c in found[:3]] == ["w0.", "w1.", "w2."]  # sentence ends split cues
    rest = found[3:]
    assert rest[0].start == 10.0  # the 8.6 s pause started a new cue
    assert all(c.end - c.start <= 7.0 for c in rest)
    assert " ".join(c.text for c in rest) == " ".join(f"long{i}" for i in range(20))
    assert all(len(c.text) <= 84 for c in found)


def test_several_speakers_are_named_in_cues() -> None:
    words = (
        Word("Hi", 0.0, 0.3, speaker=0),
        Word("there", 0.3, 0.6, speaker=0),
        Word("Hello", 0.8, 1.2, speaker=1),
    )
    found = cues(Transcript(text="Hi there Hello", words=words))
    assert [c.text for c in found] == ["Speaker 1: Hi there", "Speaker 2: Hello"]


def test_a_transcript_without_timings_is_one_cue() -> None:
    assert cues(Transcript(text="just text", duration=4.0)) == cues(
        Transcript(text="just  text", duration=4.0)
    )
    (cue,) = cues(Transcript(text="just text", duration=4.0))
    assert (cue.start, cue.end, cue.text) == (0.0, 4.0, "just text")
    (untimed,) = cues(Transcript(text="one two three four"))
    assert untimed.end > untimed.start
    assert to_srt(Transcript(text="  ")) == ""


def test_json_and_text_output() -> None:
    data = json.loads(to_json(SEGMENTED))
    assert data["text"] == SEGMENTED.text
    assert data["model"] == "local/base" and data["language"] == "en"
    assert data["segments"][1] == {
        "start": 3723.25,
        "end": 3725.0,
        "text": "General  Kenobi!\n",
        "speaker": None,
    }
    assert data["words"] == [
        {"word": "Hello", "start": 0.0, "end": 0.5, "confidence": 0.9, "speaker": None}
    ]
    assert render(SEGMENTED, "text") == "Hello there. General Kenobi!\n"
    assert render(SEGMENTED, "srt") == to_srt(SEGMENTED)
    assert render(SEGMENTED, "vtt").startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.500\n")
