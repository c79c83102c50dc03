"""Settings: one frozen dataclass, built once from the environment and an optional `.env` file.

A missing or invalid value raises `SettingsError` whose message is one line naming the variable;
the CLI prints it and exits with status 2.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from bot.stt.catalogue import aiml_models

Backend = Literal["aiml", "local"]
AccessMode = Literal["open", "allowlist"]

DEFAULT_AIML_MODEL = "#g1_whisper-large"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

T = TypeVar("T")


class SettingsError(ValueError):
    """A configuration value is missing or invalid. The message names the variable."""


@dataclass(frozen=True, slots=True)
class Settings:
    telegram_bot_token: str
    aimlapi_key: str | None
    aimlapi_base_url: str
    telegram_api_url: str
    database_path: Path
    default_model: str
    log_level: str
    backend: Backend
    # Models users may pick; empty means every model of the backend.
    allowed_models: tuple[str, ...]
    local_model: str
    local_model_dir: Path | None
    local_workers: int
    local_queue_size: int
    max_file_bytes: int
    max_concurrent_transfers: int
    job_timeout_seconds: float
    # Quotas, access and flood control (seconds of audio; 0 means unlimited).
    quota_daily_seconds: int
    quota_monthly_seconds: int
    access_mode: AccessMode
    allowed_user_ids: frozenset[int]
    allowed_chat_ids: frozenset[int]
    admin_user_ids: frozenset[int]
    max_jobs_in_flight: int
    max_jobs_per_minute: int
    cache_ttl_hours: float

    @property
    def telegram_base_url(self) -> str:
        return f"{self.telegram_api_url}/bot"

    @property
    def telegram_base_file_url(self) -> str:
        return f"{self.telegram_api_url}/file/bot"

    def __repr__(self) -> str:
        # Keep secrets out of any accidental log line or traceback.
        return f"Settings(backend={self.backend!r}, database_path={str(self.database_path)!r})"

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        dotenv: Path | None = Path(".env"),
        local_engine_available: Callable[[], bool] | None = None,
    ) -> Settings:
        values = dict(read_dotenv(dotenv)) if dotenv is not None else {}
        values.update(os.environ if env is None else env)
        reader = _Reader(values)
        has_local = (local_engine_available or local_extra_installed)()

        key = reader.optional("AIMLAPI_KEY")
        backend = _choose_backend(reader.optional("STT_BACKEND"), key, has_local)
        local_model = reader.text("LOCAL_MODEL", "base")
        default_model = reader.text(
            "DEFAULT_MODEL", DEFAULT_AIML_MODEL if backend == "aiml" else f"local/{local_model}"
        )
        local_dir = reader.optional("LOCAL_MODEL_DIR")
        allowed_models = reader.csv("ALLOWED_MODELS")
        if backend == "aiml":
            _check_aiml_models(default_model, allowed_models)
        return cls(
            telegram_bot_token=reader.required("TELEGRAM_BOT_TOKEN"),
            aimlapi_key=key,
            aimlapi_base_url=reader.url("AIMLAPI_BASE_URL", "https://api.aimlapi.com/v1"),
            telegram_api_url=reader.url("TELEGRAM_API_URL", "https://api.telegram.org"),
            database_path=Path(reader.text("DATABASE_PATH", "data/bot.sqlite3")),
            default_model=default_model,
            log_level=reader.choice("LOG_LEVEL", "INFO", LOG_LEVELS, upper=True),
            backend=backend,
            allowed_models=allowed_models,
            local_model=local_model,
            local_model_dir=Path(local_dir) if local_dir else None,
            local_workers=reader.integer("LOCAL_WORKERS", 1, minimum=1),
            local_queue_size=reader.integer("LOCAL_QUEUE_SIZE", 32, minimum=1),
            max_file_bytes=reader.integer("MAX_FILE_BYTES", 20_000_000, minimum=1),
            max_concurrent_transfers=reader.integer("MAX_CONCURRENT_TRANSFERS", 4, minimum=1),
            job_timeout_seconds=reader.number("JOB_TIMEOUT_SECONDS", 900.0, minimum=1.0),
            quota_daily_seconds=reader.integer("QUOTA_DAILY_SECONDS", 1800, minimum=0),
            quota_monthly_seconds=reader.integer("QUOTA_MONTHLY_SECONDS", 18000, minimum=0),
            access_mode=reader.choice("ACCESS_MODE", "open", ("open", "allowlist")),  # type: ignore[arg-type]
            allowed_user_ids=reader.ids("ALLOWED_USER_IDS"),
            allowed_chat_ids=reader.ids("ALLOWED_CHAT_IDS"),
            admin_user_ids=reader.ids("ADMIN_USER_IDS"),
            max_jobs_in_flight=reader.integer("MAX_JOBS_IN_FLIGHT", 3, minimum=1),
            max_jobs_per_minute=reader.integer("MAX_JOBS_PER_MINUTE", 10, minimum=1),
            cache_ttl_hours=reader.number("CACHE_TTL_HOURS", 24.0, minimum=0.0),
        )


def _check_aiml_models(default_model: str, allowed: tuple[str, ...]) -> None:
    # A mistyped id would otherwise be dropped silently, and users would miss a model.
    known = {spec.id for spec in aiml_models()}
    unknown = [model_id for model_id in allowed if model_id not in known]
    if unknown:
        raise SettingsError(f"ALLOWED_MODELS names unknown model ids: {', '.join(unknown)}")
    if default_model not in known:
        raise SettingsError(f"DEFAULT_MODEL {default_model!r} is not an AIML model id")


def local_extra_installed() -> bool:
    return importlib.util.find_spec("faster_whisper") is not None


def _choose_backend(forced: str | None, key: str | None, has_local: bool) -> Backend:
    if forced is not None:
        if forced not in ("aiml", "local"):
            raise SettingsError("STT_BACKEND must be 'aiml' or 'local'")
        if forced == "aiml" and not key:
            raise SettingsError("AIMLAPI_KEY is required when STT_BACKEND=aiml")
        if forced == "local" and not has_local:
            raise SettingsError(
                "STT_BACKEND=local needs the local engine: pip install 'stt-bot[local]'"
            )
        return forced  # type: ignore[return-value]
    if key:
        return "aiml"
    if has_local:
        return "local"
    raise SettingsError(
        "no transcription backend: set AIMLAPI_KEY, or install the local engine with "
        "pip install 'stt-bot[local]'"
    )


def read_dotenv(path: Path | None) -> dict[str, str]:
    """Read KEY=VALUE lines; `#` comments and surrounding quotes are allowed."""
    if path is None or not path.is_file():
        return {}
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name.strip()] = value
    return values


class _Reader:
    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = values

    def optional(self, name: str) -> str | None:
        value = self._values.get(name, "").strip()
        return value or None

    def required(self, name: str) -> str:
        value = self.optional(name)
        if value is None:
            raise SettingsError(f"{name} is required")
        return value

    def text(self, name: str, default: str) -> str:
        return self.optional(name) or default

    def url(self, name: str, default: str) -> str:
        value = self.text(name, default).rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise SettingsError(f"{name} must be an http:// or https:// URL")
        return value

    def choice(
        self, name: str, default: str, allowed: tuple[str, ...], *, upper: bool = False
    ) -> str:
        value = self.text(name, default)
        value = value.upper() if upper else value.lower()
        if value not in allowed:
            raise SettingsError(f"{name} must be one of: {', '.join(allowed)}")
        return value

    def _parsed(self, name: str, default: T, parse: Callable[[str], T], what: str) -> T:
        value = self.optional(name)
        if value is None:
            return default
        try:
            return parse(value)
        except ValueError:
            raise SettingsError(f"{name} must be {what}") from None

    def integer(self, name: str, default: int, *, minimum: int) -> int:
        value = self._parsed(name, default, int, "an integer")
        if value < minimum:
            raise SettingsError(f"{name} must be at least {minimum}")
        return value

    def number(self, name: str, default: float, *, minimum: float) -> float:
        value = self._parsed(name, default, float, "a number")
        if value < minimum:
            raise SettingsError(f"{name} must be at least {minimum:g}")
        return value

    def csv(self, name: str) -> tuple[str, ...]:
        value = self.optional(name) or ""
        return tuple(item.strip() for item in value.split(",") if item.strip())

    def ids(self, name: str) -> frozenset[int]:
        return self._parsed(
            name,
            frozenset(),
            lambda raw: frozenset(int(item) for item in self.csv(name)),
            "a comma-separated list of numeric ids",
        )
