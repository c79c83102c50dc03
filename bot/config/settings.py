"""Settings: one model, read the same way by `run`, `transcribe` and `serve-api`.

Values come from the environment and from a `.env` file (read by pydantic-settings with
python-dotenv's rules: quotes, `export`, inline `# comments`); the environment wins, and an
empty value counts as unset. Every value is checked at start-up: a missing or invalid one raises
`SettingsError`, whose message is one line naming the variable and never a secret's value; the
CLI prints it and exits with status 2.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import AliasGenerator, ValidationError
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.config.sections import (
    AccessSection,
    Backend,
    HttpSection,
    LanguageModelSection,
    LocalEngineSection,
    LoggingSection,
    OpenAiSection,
    PaymentsSection,
    ServerSection,
    SpeechToTextSection,
    SpendSection,
    StorageSection,
    TelegramSection,
    TransferSection,
)
from bot.stt.catalogue import ModelSpec, aiml_models, local_models, openai_models
from bot.stt.openai_client import OPENAI_BASE_URL

DEFAULT_AIML_MODEL = "#g1_whisper-large"
# What the Bot API hands bots: 20 MB from api.telegram.org (its docs' "20MB" is 20,000,000
# bytes, as in PTB's FileSizeLimit), and files of up to 2 GB from a local-mode server.
CLOUD_DOWNLOAD_LIMIT = 20_000_000
LOCAL_DOWNLOAD_LIMIT = 2_000_000_000


class SettingsError(ValueError):
    """A configuration value is missing or invalid. The message names the variable."""


def local_extra_installed() -> bool:
    return importlib.util.find_spec("faster_whisper") is not None


class Settings(
    TelegramSection,
    SpeechToTextSection,
    OpenAiSection,
    LocalEngineSection,
    ServerSection,
    AccessSection,
    PaymentsSection,
    TransferSection,
    StorageSection,
    LoggingSection,
    HttpSection,
    SpendSection,
    LanguageModelSection,
    BaseSettings,
):
    """Every variable of every command; the sections (bases) group them by concern."""

    model_config = SettingsConfigDict(
        frozen=True,
        # Each variable exactly as documented: TELEGRAM_BOT_TOKEN, not telegram_bot_token.
        alias_generator=AliasGenerator(validation_alias=str.upper),
        case_sensitive=True,
        env_ignore_empty=True,
        str_strip_whitespace=True,
        extra="ignore",  # a `.env` may hold other programs' variables too
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # `from_env` hands the environment in as init values, so a test's mapping is the whole
        # environment; it comes first, so it wins over `.env`.
        return (init_settings, dotenv_settings)

    @classmethod
    def from_env(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        dotenv: Path | None = Path(".env"),
        local_engine_available: Callable[[], bool] | None = None,
    ) -> Settings:
        """The settings from `env` (default: os.environ) over `dotenv`, checked throughout.

        The bot token is not required here: only `run` needs it (`require_telegram`).
        """
        environment = os.environ if env is None else env
        # `_env_file` is BaseSettings' own argument, which mypy cannot see without a plugin.
        values: dict[str, Any] = {"_env_file": dotenv, **_variables(environment)}
        try:
            settings = cls(**values)
        except ValidationError as error:
            raise SettingsError(_one_line(error.errors()[0])) from None
        has_local = (local_engine_available or local_extra_installed)()
        settings._check_backend(has_local)
        settings._check_models()
        settings._check_webhook()
        settings._check_payments()
        settings._check_transfers()
        settings._check_language_model()
        return settings

    @property
    def telegram_bot_token(self) -> str:
        if self.telegram_token is None:
            raise SettingsError("TELEGRAM_BOT_TOKEN is required")
        return self.telegram_token.get_secret_value()

    @property
    def max_file_bytes(self) -> int:
        """The largest file accepted: MAX_FILE_BYTES, else what the Bot API server allows."""
        if self.file_bytes_limit is not None:
            return self.file_bytes_limit
        return LOCAL_DOWNLOAD_LIMIT if self.telegram_local_mode else CLOUD_DOWNLOAD_LIMIT

    @property
    def temp_folder(self) -> Path:
        """Where recordings wait on disk: TEMP_DIR, else "tmp" beside the database."""
        return self.temp_dir or self.database_path.parent / "tmp"

    def require_telegram(self) -> Settings:
        """Stop start-up unless the bot token is set: `run` needs it, the other commands do not."""
        _ = self.telegram_bot_token
        return self

    @property
    def backend(self) -> Backend:
        """STT_BACKEND when set; otherwise an OpenAI-compatible server when OPENAI_BASE_URL is
        set, the AIML API with a key, the local engine without."""
        if self.stt_backend is not None:
            return self.stt_backend
        if self.openai_base_url is not None:
            return "openai"
        return "aiml" if self.aimlapi_key else "local"

    @property
    def openai_url(self) -> str:
        """The OpenAI-compatible server's API root: OPENAI_BASE_URL, else OpenAI's."""
        return self.openai_base_url or OPENAI_BASE_URL

    @property
    def offered_models(self) -> tuple[ModelSpec, ...]:
        """Every model of the backend, before ALLOWED_MODELS narrows it."""
        if self.backend == "local":
            return local_models()
        if self.backend == "openai":
            return openai_models(self.openai_models)
        return aiml_models()

    @property
    def default_model(self) -> str:
        """The model until a user picks one: DEFAULT_MODEL, else the backend's own."""
        if self.default_model_id is not None:
            return self.default_model_id
        if self.backend == "openai":
            return self.offered_models[0].id
        return DEFAULT_AIML_MODEL if self.backend == "aiml" else f"local/{self.local_model}"

    def _check_backend(self, has_local: bool) -> None:
        if self.stt_backend == "aiml" and not self.aimlapi_key:
            raise SettingsError("AIMLAPI_KEY is required when STT_BACKEND=aiml")
        if self.stt_backend is None and self.aimlapi_key and self.openai_base_url:
            raise SettingsError(
                "AIMLAPI_KEY and OPENAI_BASE_URL are both set: choose one with "
                "STT_BACKEND=aiml or STT_BACKEND=openai"
            )
        if self.backend == "openai" and self.openai_base_url is None and not self.openai_api_key:
            # A self-hosted server may go without a key; OpenAI's never does.
            raise SettingsError(
                "STT_BACKEND=openai needs OPENAI_BASE_URL, or OPENAI_API_KEY for api.openai.com"
            )
        if self.backend == "local" and not has_local:
            if self.stt_backend == "local":
                raise SettingsError(
                    "STT_BACKEND=local needs the local engine: pip install 'stt-bot[local]'"
                )
            raise SettingsError(
                "no transcription backend: set AIMLAPI_KEY, or install the local engine with "
                "pip install 'stt-bot[local]'"
            )

    def _check_webhook(self) -> None:
        if self.webhook_url is not None and self.webhook_secret is None:
            # Without it anyone who learns the URL could post updates as Telegram.
            raise SettingsError("WEBHOOK_SECRET_TOKEN is required when WEBHOOK_URL is set")

    def _check_models(self) -> None:
        # A model outside the backend would otherwise be dropped silently: users would miss it,
        # or get the first model offered instead of the default.
        offered = {spec.id for spec in self.offered_models}
        foreign = [model_id for model_id in self.allowed_models if model_id not in offered]
        if foreign:
            raise SettingsError(
                f"ALLOWED_MODELS names models the {self.backend} backend does not offer: "
                f"{', '.join(foreign)}"
            )
        chosen = self.default_model_id
        if chosen is None:
            return
        if chosen not in offered:
            kind = {
                "local": "a local model id",
                "aiml": "an AIML model id",
                "openai": "a model the OpenAI-compatible server offers (OPENAI_MODELS)",
            }[self.backend]
            raise SettingsError(
                f"DEFAULT_MODEL {chosen!r} is not {kind}, and the backend is {self.backend}"
            )
        if self.allowed_models and chosen not in self.allowed_models:
            raise SettingsError(f"DEFAULT_MODEL {chosen!r} is not one of ALLOWED_MODELS")

    def _check_transfers(self) -> None:
        if self.telegram_local_mode and self.telegram_api_url == "https://api.telegram.org":
            raise SettingsError(
                "TELEGRAM_LOCAL_MODE=true needs TELEGRAM_API_URL pointing at your own "
                "telegram-bot-api server started with --local"
            )
        if not self.telegram_local_mode and self.max_file_bytes > CLOUD_DOWNLOAD_LIMIT:
            # Telegram would refuse every such download ("file is too big") after the wait.
            raise SettingsError(
                f"MAX_FILE_BYTES above {CLOUD_DOWNLOAD_LIMIT} needs TELEGRAM_LOCAL_MODE=true: "
                "the Bot API hands bots files of up to 20 MB, except a local server"
            )

    @property
    def llm_enabled(self) -> bool:
        """Whether a language model writes summaries and translations (LLM_MODEL is set)."""
        return self.llm_model is not None

    @property
    def llm_url(self) -> str:
        """The chat model's API root: LLM_BASE_URL, else the AIML API's."""
        return self.llm_base_url or self.aimlapi_base_url

    @property
    def llm_api_key(self) -> str | None:
        """LLM_API_KEY for your own server; the AIML API's chat models take AIMLAPI_KEY."""
        if self.llm_base_url is not None:
            return self.llm_api_key_value
        return self.aimlapi_key

    def _check_language_model(self) -> None:
        if self.llm_model is None:
            if self.llm_base_url is not None or self.llm_key is not None:
                raise SettingsError(
                    "LLM_BASE_URL and LLM_API_KEY need LLM_MODEL, the model's name on that server"
                )
            return
        if self.llm_base_url is None and self.llm_key is not None:
            raise SettingsError(
                "LLM_API_KEY needs LLM_BASE_URL; the AIML API's chat models take AIMLAPI_KEY"
            )
        if self.llm_base_url is None and not self.aimlapi_key:
            raise SettingsError(
                "LLM_MODEL needs AIMLAPI_KEY (the AIML API's chat models) or LLM_BASE_URL "
                "(your own OpenAI-compatible server)"
            )

    def _check_payments(self) -> None:
        # Telegram's terms: whoever sells must answer /paysupport and can refund (/refund).
        if self.stars_packs and not self.admin_user_ids:
            raise SettingsError(
                "STARS_PACKS needs ADMIN_USER_IDS: an admin answers /paysupport and refunds"
            )


def _variable_names() -> tuple[str, ...]:
    return tuple(
        str(field.validation_alias or name.upper()) for name, field in Settings.model_fields.items()
    )


def _variables(environment: Mapping[str, str]) -> dict[str, Any]:
    """This model's variables in `environment`; an empty one is unset, as in `.env`."""
    return {
        name: value.strip()
        for name in _variable_names()
        if (value := environment.get(name)) is not None and value.strip()
    }


def _one_line(error: ErrorDetails) -> str:
    name = str(error["loc"][0]) if error["loc"] else "the configuration"
    return f"{name} {_problem(error)}"


_INTEGER_ERRORS = frozenset({"int_parsing", "int_type", "int_from_float"})
_NUMBER_ERRORS = frozenset({"float_parsing", "float_type"})


def _problem(error: ErrorDetails) -> str:
    # pydantic's own wording is phrased for API bodies ("Input should be ..."); these read as
    # a sentence about the variable. None of them repeats the value, which may be a secret.
    kind, context = error["type"], error.get("ctx", {})
    if kind == "missing":
        return "is required"
    if kind == "value_error":
        return error["msg"].removeprefix("Value error, ")
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(context.get("expected", "")))
        return f"must be one of: {', '.join(choices)}"
    if kind in _INTEGER_ERRORS:
        return "must be an integer"
    if kind in _NUMBER_ERRORS:
        return "must be a number"
    if kind == "finite_number":
        return "must be a finite number"
    if kind == "greater_than_equal":
        return f"must be at least {context['ge']:g}"
    if kind == "less_than_equal":
        return f"must be at most {context['le']:g}"
    return f"is invalid: {error['msg'][:1].lower()}{error['msg'][1:]}"
