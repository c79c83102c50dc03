"""Start-up configuration as the commands read it: the environment over `.env`, the same way
for `run`, `transcribe` and `serve-api`; an error is one line naming the variable, exit code 2."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.fakes.stt import FakeStt

ROOT = Path(__file__).resolve().parent.parent

# Each command with the arguments it needs to get as far as reading its settings.
COMMANDS = {
    "run": ["run"],
    "transcribe": ["transcribe", "nowhere.ogg"],
    "serve-api": ["serve-api", "--port", "0"],
}


def base_env(tmp_path: Path) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)}


def stt_bot(
    args: list[str], env: dict[str, str], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env={**base_env(tmp_path), **env},
        cwd=tmp_path,  # where a test's .env goes
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 2, result.stderr
    return result.stderr.strip().splitlines()


def test_missing_token_stops_start_up_with_one_line(tmp_path: Path) -> None:
    lines = error_lines(stt_bot(["run"], {"AIMLAPI_KEY": "k"}, tmp_path))
    assert len(lines) == 1 and "TELEGRAM_BOT_TOKEN" in lines[0], lines


def test_invalid_value_names_the_variable(tmp_path: Path) -> None:
    env = {"TELEGRAM_BOT_TOKEN": "1:x", "AIMLAPI_KEY": "k", "LOG_LEVEL": "LOUD"}
    assert error_lines(stt_bot(["run"], env, tmp_path)) == [
        "stt-bot: configuration error: LOG_LEVEL must be one of: DEBUG, INFO, WARNING, ERROR, "
        "CRITICAL"
    ]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_refuses_an_unknown_default_model(command: str, tmp_path: Path) -> None:
    env = {"TELEGRAM_BOT_TOKEN": "1:x", "AIMLAPI_KEY": "k", "DEFAULT_MODEL": "whisper-large"}
    assert error_lines(stt_bot(COMMANDS[command], env, tmp_path)) == [
        "stt-bot: configuration error: DEFAULT_MODEL 'whisper-large' is not a known model id"
    ]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_reads_dotenv(command: str, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("AIMLAPI_KEY=k\nLOCAL_MODEL=small.en  # not offered\n")
    lines = error_lines(stt_bot(COMMANDS[command], {}, tmp_path))
    assert lines == [
        "stt-bot: configuration error: LOCAL_MODEL must be one of: tiny, base, small, medium, "
        "large-v3"
    ]


def test_the_environment_wins_over_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("LOCAL_MODEL=turbo\n")
    result = stt_bot(
        ["transcribe", "nowhere.ogg"], {"AIMLAPI_KEY": "k", "LOCAL_MODEL": "base"}, tmp_path
    )
    # Past the settings (so the environment's LOCAL_MODEL was used) to the missing file.
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip() == "stt-bot: no such file: nowhere.ogg"


async def test_aimlapi_key_in_dotenv_makes_transcribe_use_the_api(tmp_path: Path) -> None:
    async with FakeStt(api_key="key-from-dotenv-123") as fake:
        # The upload is refused, so the command ends at once; the request is what counts.
        fake.fail_next("create", 400, message="refused by the test")
        (tmp_path / ".env").write_text(
            f"AIMLAPI_KEY=key-from-dotenv-123  # the API\nAIMLAPI_BASE_URL={fake.url}\n"
        )
        (tmp_path / "note.ogg").write_bytes(b"OggS" + bytes(2000))
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "transcribe",
            "note.ogg",
            cwd=tmp_path,
            env=base_env(tmp_path),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 1, stderr.decode()
    assert "refused by the test" in stderr.decode()
    assert "uploading to #g1_whisper-large" in stderr.decode()
    [create] = fake.requests_to("create")
    assert create.auth_ok  # with the key from .env


def test_serve_api_reads_its_keys_from_dotenv(tmp_path: Path) -> None:
    # Keys and --insecure-no-auth conflict: the refusal shows the keys were read from .env.
    (tmp_path / ".env").write_text("STT_SERVER_KEYS=key1,key2 # for the bot\nAIMLAPI_KEY=k\n")
    lines = error_lines(stt_bot(["serve-api", "--insecure-no-auth"], {}, tmp_path))
    assert len(lines) == 1 and "conflicts with STT_SERVER_KEYS" in lines[0], lines


def test_version_prints_the_package_version(tmp_path: Path) -> None:
    result = stt_bot(["--version"], {}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"stt-bot {version('stt-bot')}\n"


def test_help_lists_the_subcommands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("run", "transcribe", "serve-api"):
        assert command in result.stdout
