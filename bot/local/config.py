"""The local engine's configuration: plain values, filled in from the settings by the caller.

bot/local depends on nothing above bot.stt, so it never reads the settings itself; the
composition root and the CLI commands build a `LocalConfig` from theirs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.stt.catalogue import local_models

LOCAL_SIZES: tuple[str, ...] = tuple(spec.id.removeprefix("local/") for spec in local_models())


@dataclass(frozen=True, slots=True)
class LocalConfig:
    size: str = "base"  # LOCAL_MODEL
    model_dir: Path | None = None  # LOCAL_MODEL_DIR: a faster-whisper directory for `size`
    workers: int = 1  # LOCAL_WORKERS
    queue_size: int = 32  # LOCAL_QUEUE_SIZE
