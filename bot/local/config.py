"""The local engine's configuration, read from Settings or straight from the environment.

The `transcribe` and `serve-api` commands must work without TELEGRAM_BOT_TOKEN, so they cannot
use `Settings.from_env`; they read these few variables through `LocalConfig.from_env`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.config.settings import Settings, SettingsError
from bot.stt.catalogue import local_models

LOCAL_SIZES: tuple[str, ...] = tuple(spec.id.removeprefix("local/") for spec in local_models())


@dataclass(frozen=True, slots=True)
class LocalConfig:
    size: str = "base"  # LOCAL_MODEL
    model_dir: Path | None = None  # LOCAL_MODEL_DIR: a faster-whisper directory for `size`
    workers: int = 1
    queue_size: int = 32

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalConfig:
        return cls(
            size=settings.local_model,
            model_dir=settings.local_model_dir,
            workers=settings.local_workers,
            queue_size=settings.local_queue_size,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LocalConfig:
        directory = env.get("LOCAL_MODEL_DIR", "").strip()
        return cls(
            size=env.get("LOCAL_MODEL", "").strip() or "base",
            model_dir=Path(directory) if directory else None,
            workers=_integer(env, "LOCAL_WORKERS", 1, minimum=1),
            queue_size=_integer(env, "LOCAL_QUEUE_SIZE", 32, minimum=1),
        )


def _integer(env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}")
    return value
