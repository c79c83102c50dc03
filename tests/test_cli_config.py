"""Start-up configuration errors: one line naming the variable, exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_bot(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        env={**base, **env},
        cwd=tmp_path,  # no .env file here
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_missing_token_stops_start_up_with_one_line(tmp_path: Path) -> None:
    result = run_bot({"AIMLAPI_KEY": "k"}, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "TELEGRAM_BOT_TOKEN" in lines[0], result.stderr


def test_invalid_value_names_the_variable(tmp_path: Path) -> None:
    result = run_bot(
        {"TELEGRAM_BOT_TOKEN": "1:x", "AIMLAPI_KEY": "k", "LOG_LEVEL": "LOUD"}, tmp_path
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "stt-bot: configuration error: LOG_LEVEL must be one of: DEBUG, INFO, WARNING, ERROR, "
        "CRITICAL"
    ]


def test_help_lists_the_subcommands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("run", "transcribe", "serve-api"):
        assert command in result.stdout
