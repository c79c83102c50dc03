"""Real-time factor and peak memory of the local Whisper engine on synthesised speech.

    .venv/bin/python benchmarks/local_engine.py [--model base] [--beam-size 5] [--no-vad]

Speech comes from espeak-ng (en-us), sentences concatenated up to about 5, 15, 30, 60 and
120 seconds, encoded to OGG/Opus at 32 kb/s like Telegram voice notes. Each clip is
transcribed once through `LocalWhisperEngine` (decoding included). RTF is processing time over
audio duration; peak RSS is the process's ru_maxrss so far (it includes CTranslate2's native
memory, which tracemalloc would not see). WER is against the text espeak was given, after
lower-casing and dropping punctuation; espeak's robotic voice accounts for most errors.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.local.engine import EngineOptions, LocalWhisperEngine

TARGETS = (5.0, 15.0, 30.0, 60.0, 120.0)
SENTENCES = (
    "Please call the dentist tomorrow morning.",
    "Remember to buy milk and eggs on the way home.",
    "The quick brown fox jumps over the lazy dog.",
    "Our train leaves from platform four at half past seven.",
    "Could you send me the report before the meeting on Friday?",
    "The weather will be sunny with a light breeze in the afternoon.",
    "I left my keys on the kitchen table next to the window.",
    "We should book a table for six people at the Italian restaurant.",
    "The library closes early on Sundays during the summer holidays.",
    "Turn left at the traffic lights and the museum is on your right.",
)
GAP_SECONDS = 0.4


def synthesise(text: str, path: Path) -> None:
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(path), text], check=True)


def build_clip(target: float, pieces: list[tuple[str, Path]], directory: Path) -> tuple[Path, str]:
    """Concatenate sentences (with short pauses) until `target` seconds; encode to OGG/Opus."""
    wav_path = directory / f"clip_{int(target)}s.wav"
    spoken: list[str] = []
    with wave.open(str(wav_path), "wb") as out:
        params_set = False
        seconds = 0.0
        index = 0
        while seconds < target:
            text, path = pieces[index % len(pieces)]
            with wave.open(str(path), "rb") as piece:
                if not params_set:
                    out.setparams(piece.getparams())
                    params_set = True
                frames = piece.readframes(piece.getnframes())
                rate, width = piece.getframerate(), piece.getsampwidth()
            gap = b"\x00" * int(GAP_SECONDS * rate) * width
            out.writeframes(frames + gap)
            seconds += len(frames) / (rate * width) + GAP_SECONDS
            spoken.append(text)
            index += 1
    ogg_path = wav_path.with_suffix(".ogg")
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(wav_path),
            "-c:a",
            "libopus",
            "-b:a",
            "32k",
            str(ogg_path),
        ],
        check=True,
    )
    return ogg_path, " ".join(spoken)


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()


def wer(reference: str, hypothesis: str) -> float:
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i in range(1, len(ref) + 1):
        previous, row[0] = row[0], i
        for j in range(1, len(hyp) + 1):
            previous, row[j] = (
                row[j],
                min(row[j] + 1, row[j - 1] + 1, previous + (ref[i - 1] != hyp[j - 1])),
            )
    return row[len(hyp)] / max(1, len(ref))


def peak_rss_mib() -> float:
    # ru_maxrss is in KiB on Linux (bytes on macOS).
    scale = 1 if platform.system() == "Darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


async def run(args: argparse.Namespace) -> None:
    options = EngineOptions(beam_size=args.beam_size, vad_filter=not args.no_vad)
    with tempfile.TemporaryDirectory(prefix="stt-bench-") as temp:
        directory = Path(temp)
        pieces = []
        for number, sentence in enumerate(SENTENCES):
            path = directory / f"s{number}.wav"
            synthesise(sentence, path)
            pieces.append((sentence, path))
        clips = [build_clip(target, pieces, directory) for target in TARGETS]

        engine = LocalWhisperEngine(
            args.model, cache_dir=Path(args.cache_dir) if args.cache_dir else None, options=options
        )
        rss_before = peak_rss_mib()
        started = time.perf_counter()
        await engine.load()
        load_seconds = time.perf_counter() - started

        print(
            f"local/{args.model}, beam {args.beam_size}, VAD {'off' if args.no_vad else 'on'}, "
            f"{os.cpu_count()} CPU threads, {platform.machine()}, "
            f"Python {platform.python_version()}"
        )
        print(
            f"model load: {load_seconds:.2f}s; peak RSS before load {rss_before:.0f} MiB, "
            f"after {peak_rss_mib():.0f} MiB"
        )
        print()
        header = (
            f"{'target':>7} {'audio s':>8} {'time s':>7} {'RTF':>6} {'peak RSS MiB':>13} {'WER':>6}"
        )
        print(header)
        print("-" * len(header))
        try:
            for target, (clip, reference) in zip(TARGETS, clips, strict=True):
                started = time.perf_counter()
                transcript = await engine.transcribe(clip, language=args.language)
                elapsed = time.perf_counter() - started
                duration = transcript.duration or 0.0
                print(
                    f"{target:>6.0f}s {duration:>8.1f} {elapsed:>7.2f} {elapsed / duration:>6.3f} "
                    f"{peak_rss_mib():>13.0f} {wer(reference, transcript.text):>6.1%}",
                    flush=True,
                )
        finally:
            engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="base", help="local Whisper size (default: base)")
    parser.add_argument("--beam-size", type=int, default=5)
    parser.add_argument("--no-vad", action="store_true")
    parser.add_argument("--language", default="en", help="'auto' to detect (default: en)")
    parser.add_argument("--cache-dir", help="where to assemble the packaged weights")
    args = parser.parse_args()
    if args.language == "auto":
        args.language = None
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
