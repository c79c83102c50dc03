"""The sections of the settings: each groups the variables of one concern and checks each value.

A field's environment variable is its name in upper case (TELEGRAM_API_URL for
`telegram_api_url`) unless it names one itself. Checks that involve several sections (which
backend runs, whether DEFAULT_MODEL belongs to it) live in `bot.config.settings`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, SecretStr
from pydantic_settings import NoDecode

from bot.stt.catalogue import OPENAI_PREFIX, all_models, local_models

Backend = Literal["aiml", "local", "openai"]
AccessMode = Literal["open", "allowlist"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LogFormat = Literal["text", "json"]

# The Whisper sizes the local engine offers: those the catalogue names `local/<size>`.
LOCAL_MODEL_SIZES: tuple[str, ...] = tuple(
    spec.id.removeprefix("local/") for spec in local_models()
)


def _items(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


# A keyboard of packs stays readable under a refusal; Telegram itself would take more.
MAX_STARS_PACKS = 6


def _stars_packs(value: object) -> object:
    """'600:50,3600:250' (seconds of audio : price in Stars) as ((600, 50), (3600, 250))."""
    if not isinstance(value, str):
        return value
    packs: list[tuple[int, int]] = []
    for item in _items(value):
        seconds, colon, stars = item.partition(":")
        if not (colon and seconds.strip().isdigit() and stars.strip().isdigit()):
            raise ValueError(
                "must be a comma-separated list of <seconds>:<stars> pairs, e.g. 600:50,3600:250"
            )
        packs.append((int(seconds), int(stars)))
    if any(seconds < 1 or stars < 1 for seconds, stars in packs):
        raise ValueError("needs at least 1 second and 1 Star in every pack")
    if len({seconds for seconds, _ in packs}) < len(packs):
        raise ValueError("names the same number of seconds twice")
    if len(packs) > MAX_STARS_PACKS:
        raise ValueError(f"may name at most {MAX_STARS_PACKS} packs")
    return tuple(sorted(packs))


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


def _is_known(model_id: str) -> bool:
    # An OpenAI-compatible server names its own models: any oai/<name> is a model id.
    return model_id in _MODEL_IDS or model_id.startswith(OPENAI_PREFIX)


def _known_model(model_id: str) -> str:
    if not _is_known(model_id):
        raise ValueError(f"{model_id!r} is not a known model id")
    return model_id


def _known_models(model_ids: tuple[str, ...]) -> tuple[str, ...]:
    unknown = [model_id for model_id in model_ids if not _is_known(model_id)]
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


def _model_name(name: str) -> str:
    # Servers name models freely ("gpt-4o-mini", "qwen2.5:7b", "meta-llama/Llama-3.1-8B"), but
    # never with spaces: a space is a pasting mistake, which the server would answer with 404.
    if any(character.isspace() for character in name):
        raise ValueError("must be a model name without spaces, as the server names it")
    return name


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
StarsPacks = Annotated[tuple[tuple[int, int], ...], NoDecode, BeforeValidator(_stars_packs)]
Count = Annotated[int, Field(ge=1)]


class TelegramSection(BaseModel):
    """Where the bot talks to Telegram. Only `run` needs the token (see `require_telegram`)."""

    telegram_token: Annotated[SecretStr, AfterValidator(_bot_token)] | None = Field(
        default=None, validation_alias="TELEGRAM_BOT_TOKEN"
    )
    telegram_api_url: HttpUrl = "https://api.telegram.org"
    # TELEGRAM_API_URL is a telegram-bot-api server started with --local on this machine:
    # getFile names files on its disk, read in place, and files of up to 2 GB come through.
    telegram_local_mode: bool = False
    # Off only for benchmarks of the bot's own cost against a fake: Telegram itself answers an
    # unthrottled bot with 429s (see "Under load" in README.md).
    telegram_rate_limit: bool = True
    # No "Transcribing…" status message when the transcript is expected within this many
    # seconds; 0: post it unless Telegram's queue is long (bot/pipeline/status_policy.py).
    quick_answer_seconds: float = Field(default=2.0, ge=0.0, allow_inf_nan=False)

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


def _model_names(value: object) -> object:
    # "oai/whisper-large-v3" and "whisper-large-v3" name the same model.
    if isinstance(value, str):
        return tuple(item.removeprefix(OPENAI_PREFIX) for item in _items(value))
    return value


class OpenAiSection(BaseModel):
    """An OpenAI-compatible transcription server: OpenAI, Groq, vLLM, speaches, LocalAI.

    OPENAI_BASE_URL selects it (or STT_BACKEND=openai, which alone means api.openai.com).
    OPENAI_MODELS lists the models the server runs, as it names them; unset: OpenAI's own.
    """

    openai_base_url: HttpUrl | None = None
    openai_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    openai_models: Annotated[tuple[str, ...], NoDecode, BeforeValidator(_model_names)] = ()

    @property
    def openai_api_key(self) -> str | None:
        return None if self.openai_key is None else self.openai_key.get_secret_value()


class LocalEngineSection(BaseModel):
    """The offline Whisper engine (`pip install 'stt-bot[local]'`)."""

    local_model: Annotated[str, AfterValidator(_local_size)] = "base"
    # A faster-whisper directory for `local_model`, loaded instead of the packaged or hub one.
    local_model_dir: Annotated[Path, AfterValidator(_model_directory)] | None = None
    local_workers: Count = 1
    local_queue_size: Count = 32


def _server_models(model_ids: tuple[str, ...]) -> tuple[str, ...]:
    foreign = [
        model_id
        for model_id in model_ids
        if model_id not in _MODEL_IDS or not model_id.startswith(("#g1_whisper-", "local/"))
    ]
    if foreign:
        raise ValueError(
            f"names models serve-api does not offer: {', '.join(foreign)} "
            "(it offers #g1_whisper-<size> and local/<size>)"
        )
    return model_ids


class ServerSection(BaseModel):
    """`stt-bot serve-api`: the keys its clients must send, and what each key may do."""

    stt_server_keys: Secrets = frozenset()
    # The model ids offered; empty: AIML's Whisper ids (served by the sizes at hand) and the
    # local sizes that load without a model hub. Name local/large-v3 to let clients load it.
    server_models: Annotated[ModelIds, AfterValidator(_server_models)] = ()
    server_max_audio_seconds: Seconds = 3 * 3600  # 0: any length
    server_key_jobs_per_minute: Count = 60
    server_key_jobs_in_flight: Count = 8

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


class PaymentsSection(BaseModel):
    """Quota top-ups bought with Telegram Stars. Unset: nothing is sold, nothing is shown."""

    stars_packs: StarsPacks = ()  # (seconds of audio, price in Stars), fewest seconds first


class TransferSection(BaseModel):
    """How large and how long one recording may be, and how many move at once."""

    # Unset: what the Bot API server hands bots (Settings.max_file_bytes).
    file_bytes_limit: Count | None = Field(default=None, validation_alias="MAX_FILE_BYTES")
    # Longer recordings are refused (before the download when Telegram says how long); 0: any.
    max_audio_seconds: Seconds = 3 * 3600
    max_concurrent_transfers: Count = 4
    job_timeout_seconds: float = Field(default=900.0, ge=1.0, allow_inf_nan=False)


# Telegram's rule for setWebhook's secret_token: 1-256 characters of A-Z, a-z, 0-9, _ and -.
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
# Paths the operator's HTTP server answers itself; the webhook must not take one of them.
OPERATOR_PATHS = frozenset({"/healthz", "/metrics"})


def _webhook_url(value: str) -> str:
    # http:// too: a local Bot API server (TELEGRAM_API_URL) accepts plain-HTTP webhooks, and
    # api.telegram.org refuses them itself, with an error the start-up reports.
    if urlsplit(value).path in OPERATOR_PATHS:
        raise ValueError(f"must not have the path of {' or '.join(sorted(OPERATOR_PATHS))}")
    return value


def _secret_token(token: SecretStr) -> SecretStr:
    # The rule only, never the value, in the message.
    if not _SECRET_TOKEN.fullmatch(token.get_secret_value()):
        raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
    return token


class HttpSection(BaseModel):
    """Webhook mode, and the operator's HTTP server (/healthz, /metrics, the webhook).

    WEBHOOK_URL switches from polling to webhook mode; the server listens whenever HTTP_PORT is
    set, and always in webhook mode (on 8080 unless HTTP_PORT says otherwise).
    """

    webhook_url: Annotated[HttpUrl, AfterValidator(_webhook_url)] | None = None
    webhook_secret: Annotated[SecretStr, AfterValidator(_secret_token)] | None = Field(
        default=None, validation_alias="WEBHOOK_SECRET_TOKEN"
    )
    webhook_max_connections: int = Field(default=40, ge=1, le=100)  # Telegram's range
    http_host: str = "0.0.0.0"
    # 0: any free port (the tests use it); the bound port is logged.
    http_port: int | None = Field(default=None, ge=0, le=65535)

    @property
    def webhook_secret_token(self) -> str | None:
        return None if self.webhook_secret is None else self.webhook_secret.get_secret_value()

    @property
    def webhook_path(self) -> str | None:
        if self.webhook_url is None:
            return None
        return urlsplit(self.webhook_url).path or "/"

    @property
    def serving_port(self) -> int | None:
        """Where the operator's HTTP server listens; None: it does not run."""
        if self.http_port is not None:
            return self.http_port
        return DEFAULT_HTTP_PORT if self.webhook_url is not None else None


DEFAULT_HTTP_PORT = 8080


class SpendSection(BaseModel):
    """The bot-wide ceiling on what is sent to the paid API."""

    # Seconds of audio the whole bot may send in a UTC day; 0: no ceiling.
    budget_daily_seconds: Seconds = 0


class StorageSection(BaseModel):
    """The SQLite file, and how long what it holds is kept (bot/pipeline/retention.py)."""

    database_path: Path = Path("data/bot.sqlite3")
    # Where recordings wait on disk between download and transcription; unset: a "tmp" folder
    # beside the database. Emptied of the bot's own files at every start.
    temp_dir: Path | None = None
    # How long a transcript answers the same file again; 0: no text is kept once delivered.
    cache_ttl_hours: float = Field(default=24.0, ge=0.0, allow_inf_nan=False)
    # How long a finished job's row (what was sent, when, how it ended) is kept.
    job_retention_days: float = Field(default=7.0, ge=0.0, allow_inf_nan=False)


class LoggingSection(BaseModel):
    log_level: Annotated[LogLevel, _case(str.upper)] = "INFO"
    # text: one readable line per record; json: one JSON object per line, for log collectors.
    log_format: Annotated[LogFormat, _case(str.lower)] = "text"


class LanguageModelSection(BaseModel):
    """Summaries and translations of transcripts by a language model (README, "Summaries and
    translations"), reached at any OpenAI-compatible `/chat/completions`: the AIML API's with
    AIMLAPI_KEY, or LLM_BASE_URL (llama.cpp, Ollama, vLLM) with LLM_API_KEY if it wants one.
    LLM_MODEL unset: no model, and no Summary or Translate buttons."""

    llm_model: Annotated[str, AfterValidator(_model_name)] | None = None
    llm_base_url: HttpUrl | None = None
    llm_key: SecretStr | None = Field(default=None, validation_alias="LLM_API_KEY")
    # The model's context (prompt and answer, in tokens): longer transcripts go in pieces.
    llm_context_tokens: int = Field(default=8192, ge=2048, le=10_000_000)
    # How long one answer may take: a local model on a CPU writes a few tokens a second.
    llm_timeout_seconds: float = Field(default=120.0, ge=1.0, allow_inf_nan=False)
    # Summary is offered under transcripts of at least this many words.
    summary_min_words: Count = 60
    # Summaries and translations per user and UTC day; 0: unlimited.
    quota_daily_summaries: int = Field(default=20, ge=0)
    # "/groupsummary on": a summary under voice notes longer than this (the bounds of
    # bot/policy/summaries.py: 30 s to a day).
    group_summary_seconds: int = Field(default=120, ge=30, le=86_400)

    @property
    def llm_api_key_value(self) -> str | None:
        return None if self.llm_key is None else self.llm_key.get_secret_value()
