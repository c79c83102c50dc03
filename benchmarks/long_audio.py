"""The local engine on a two-hour recording: peak RSS and time (issue 11: 1.9 GB; target ≤ 600 MB).

    .venv/bin/python benchmarks/long_audio.py [--hours 2] [--sentences 3] [--threads 2]
                                              [--before CHECKOUT] [--workdir DIR]

The recording is made once (kept in --workdir): --sentences espeak-ng sentences (about 3 s each),
then silence to the end of the minute, looped by ffmpeg to --hours and encoded as OGG/Opus at
24 kb/s, like a long voice note. The speech is sparse so that a run takes minutes on two cores,
not the hour dense speech would; memory does not depend on it: the samples of a window, not the
words in it, are what grows with length.

Each checkout (this one, and --before, e.g. `git worktree add /tmp/before11 0c1fa34`) runs in a
child process of its own, pinned with taskset to the CPUs this process may use, with the packaged
Whisper base (int8, beam 5, VAD on, language en): it transcribes the file by its path through
`LocalWhisperEngine` and reports its own peak RSS (VmHWM, which counts CTranslate2's and FFmpeg's
native memory too), the wall time, and the words heard.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SENTENCES = (
    "Please call the dentist tomorrow morning.",
    "Remember to buy milk and eggs on the way home.",
    "Our train leaves from platform four at half past seven.",
    "The library closes early on Sundays during the summer holidays.",
    "Turn left at the traffic lights and the museum is on your right.",
)
MINUTE = 60.0

# Runs in the child, with PYTHONPATH at the checkout under test.
CHILD = """
import asyncio, json, sys, time
from pathlib import Path
from bot.local.engine import EngineOptions, LocalWhisperEngine

async def main() -> None:
    engine = LocalWhisperEngine("base", options=EngineOptions(cpu_threads=int(sys.argv[2])))
    await engine.load()
    loaded = _peak()
    started = time.perf_counter()
    try:
        transcript = await engine.transcribe(Path(sys.argv[1]), language="en")
    finally:
        engine.close()
    print(json.dumps({
        "seconds": time.perf_counter() - started,
        "audio": transcript.duration,
        "words": len(transcript.words),
        "last_word_end": transcript.words[-1].end if transcript.words else None,
        "peak_after_load_mb": loaded,
        "peak_mb": _peak(),
    }))

def _peak() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")

asyncio.run(main())
"""


def make_recording(directory: Path, hours: float, sentences: int) -> Path:
    """The looped minute of speech and silence, as OGG/Opus (made once per shape)."""
    target = directory / f"long-{hours:g}h-{sentences}s.ogg"
    if target.exists():
        return target
    minute = directory / f"minute-{sentences}.wav"
    with wave.open(str(minute), "wb") as out:
        written = 0.0
        for index in range(sentences):
            piece = directory / f"s{index}.wav"
            text = SENTENCES[index % len(SENTENCES)]
            subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(piece), text], check=True)
            with wave.open(str(piece), "rb") as spoken:
                if index == 0:
                    out.setparams(spoken.getparams())
                rate, width = spoken.getframerate(), spoken.getsampwidth()
                frames = spoken.readframes(spoken.getnframes())
            pause = bytes(int(0.5 * rate) * width)
            out.writeframes(frames + pause)
            written += len(frames + pause) / (rate * width)
        if written >= MINUTE:
            raise SystemExit(f"{sentences} sentences do not fit in a minute")
        out.writeframes(bytes(int((MINUTE - written) * rate) * width))
    loops = round(hours * 3600 / MINUTE)
    partial = target.with_suffix(".part.ogg")
    loop = ["-stream_loop", str(loops - 1), "-i", str(minute)]
    opus = ["-c:a", "libopus", "-b:a", "24k", str(partial)]
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *loop, *opus], check=True)
    partial.rename(target)
    return target


def pinned(command: list[str]) -> list[str]:
    taskset = shutil.which("taskset")
    cpus = ",".join(str(cpu) for cpu in sorted(os.sched_getaffinity(0)))
    return [taskset, "-c", cpus, *command] if taskset else command


def measure(checkout: Path, recording: Path, threads: int) -> dict[str, float]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": str(checkout),
        "HF_HUB_OFFLINE": "1",
    }
    if "CT2_FORCE_CPU_ISA" in os.environ:
        env["CT2_FORCE_CPU_ISA"] = os.environ["CT2_FORCE_CPU_ISA"]
    done = subprocess.run(
        pinned([sys.executable, "-c", CHILD, str(recording), str(threads)]),
        env=env,
        cwd=checkout,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the engine failed in {checkout}:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--sentences", type=int, default=3, help="spoken per minute")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--before", type=Path, help="another checkout to measure the same way")
    parser.add_argument("--workdir", type=Path, help="where the recording is kept")
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.gettempdir()) / "stt-long-audio"
    workdir.mkdir(parents=True, exist_ok=True)
    recording = make_recording(workdir, args.hours, args.sentences)
    size_mb = recording.stat().st_size / 1e6
    print(
        f"{recording} ({size_mb:.1f} MB, {args.hours:g} h, {args.sentences} sentences a minute); "
        f"local/base int8, {args.threads} thread(s)"
    )
    checkouts = [("after", ROOT)] + ([("before", args.before)] if args.before else [])
    for label, checkout in checkouts:
        figures = measure(checkout, recording, args.threads)
        print(
            f"{label:>6}: peak RSS {figures['peak_mb']:.0f} MB "
            f"(after the model load {figures['peak_after_load_mb']:.0f} MB); "
            f"{figures['seconds']:.0f} s for {figures['audio']:.0f} s of audio "
            f"(RTF {figures['seconds'] / figures['audio']:.3f}); {figures['words']:.0f} words, "
            f"the last ending at {figures['last_word_end'] or 0:.0f} s",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
