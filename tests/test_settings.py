from pathlib import Path

import pytest

from bot.config.settings import Settings, SettingsError

BASE = {"TELEGRAM_BOT_TOKEN": "123:abc", "AIMLAPI_KEY": "k" * 32}


def load(env: dict[str, str], *, local: bool = False, dotenv: Path | None = None) -> Settings:
    return Settings.from_env(env, dotenv=dotenv, local_engine_available=lambda: local)


def problem(env: dict[str, str], *, local: bool = False) -> str:
    with pytest.raises(SettingsError) as caught:
        load(env, local=local)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_defaults() -> None:
    settings = load(BASE)
    assert settings.backend == "aiml"
    assert settings.aimlapi_base_url == "https://api.aimlapi.com/v1"
    assert settings.telegram_base_url == "https://api.telegram.org/bot"
    assert settings.telegram_base_file_url == "https://api.telegram.org/file/bot"
    assert settings.database_path == Path("data/bot.sqlite3")
    assert settings.default_model == "#g1_whisper-large"
    assert settings.log_level == "INFO"
    assert settings.quota_daily_seconds == 1800
    assert settings.local_model == "base" and settings.local_model_dir is None
    assert settings.server_keys == frozenset()


def test_the_token_is_required_only_when_asked_for() -> None:
    settings = load({"AIMLAPI_KEY": "x"})  # enough for `transcribe` and `serve-api`
    assert settings.backend == "aiml"
    with pytest.raises(SettingsError, match=r"^TELEGRAM_BOT_TOKEN is required$"):
        settings.require_telegram()
    assert load(BASE).require_telegram().telegram_bot_token == "123:abc"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LOG_LEVEL", "LOUD"),
        ("AIMLAPI_BASE_URL", "ftp://x"),
        ("TELEGRAM_API_URL", "api.telegram.org"),
        ("QUOTA_DAILY_SECONDS", "many"),
        ("QUOTA_MONTHLY_SECONDS", "-1"),
        ("MAX_FILE_BYTES", "0"),
        ("JOB_TIMEOUT_SECONDS", "nan"),
        ("CACHE_TTL_HOURS", "a day"),
        ("ACCESS_MODE", "closed"),
        ("ADMIN_USER_IDS", "1,two"),
        ("STT_BACKEND", "cloud"),
        ("LOCAL_MODEL", "large"),
        ("LOCAL_MODEL", "small.en"),
        ("LOCAL_MODEL", "turbo"),
        ("LOCAL_WORKERS", "0"),
        ("DEFAULT_MODEL", "whisper-large"),
        ("ALLOWED_MODELS", "aai/universal, #g1_whisper-larg"),
    ],
)
def test_invalid_values_name_the_variable(name: str, value: str) -> None:
    assert problem({**BASE, name: value}).startswith(f"{name} ")


def test_messages_read_as_sentences() -> None:
    assert problem({**BASE, "LOCAL_MODEL": "turbo"}) == (
        "LOCAL_MODEL must be one of: tiny, base, small, medium, large-v3"
    )
    assert problem({**BASE, "QUOTA_DAILY_SECONDS": "many"}) == (
        "QUOTA_DAILY_SECONDS must be an integer"
    )
    assert (
        problem({**BASE, "JOB_TIMEOUT_SECONDS": "0.5"}) == "JOB_TIMEOUT_SECONDS must be at least 1"
    )


def test_a_malformed_token_is_refused_without_repeating_it() -> None:
    message = problem({**BASE, "TELEGRAM_BOT_TOKEN": "not a token"})
    assert message.startswith("TELEGRAM_BOT_TOKEN ") and "not a token" not in message


def test_local_model_dir_must_hold_a_model(tmp_path: Path) -> None:
    assert problem({**BASE, "LOCAL_MODEL_DIR": str(tmp_path)}).startswith("LOCAL_MODEL_DIR ")
    (tmp_path / "model.bin").write_bytes(b"weights")
    assert load({**BASE, "LOCAL_MODEL_DIR": str(tmp_path)}).local_model_dir == tmp_path


def test_no_key_and_no_engine_says_which_to_provide() -> None:
    message = problem({"TELEGRAM_BOT_TOKEN": "1:a"})
    assert "AIMLAPI_KEY" in message and "local" in message


def test_no_key_uses_the_local_engine() -> None:
    settings = load({"TELEGRAM_BOT_TOKEN": "1:a"}, local=True)
    assert settings.backend == "local"
    assert settings.default_model == "local/base"
    # An empty value is unset, as in `.env`.
    assert load({"AIMLAPI_KEY": ""}, local=True).backend == "local"


def test_local_model_sets_the_local_default() -> None:
    settings = load({"LOCAL_MODEL": "large-v3"}, local=True)
    assert settings.default_model == "local/large-v3"


def test_forced_backend() -> None:
    assert load({**BASE, "STT_BACKEND": "local"}, local=True).backend == "local"
    assert problem({"TELEGRAM_BOT_TOKEN": "1:a", "STT_BACKEND": "aiml"}, local=True) == (
        "AIMLAPI_KEY is required when STT_BACKEND=aiml"
    )
    assert problem({**BASE, "STT_BACKEND": "LOCAL"}).startswith("STT_BACKEND=local needs")


def test_models_must_belong_to_the_backend_in_use() -> None:
    # Each of these used to be dropped silently, the bot offering its first model instead.
    assert problem({"DEFAULT_MODEL": "#g1_whisper-large"}, local=True).startswith(
        "DEFAULT_MODEL '#g1_whisper-large' is not a local model id"
    )
    assert problem({**BASE, "DEFAULT_MODEL": "local/base"}).startswith(
        "DEFAULT_MODEL 'local/base' is not an AIML model id"
    )
    assert problem({"ALLOWED_MODELS": "local/base,aai/universal"}, local=True) == (
        "ALLOWED_MODELS names models the local backend does not offer: aai/universal"
    )
    assert problem({**BASE, "ALLOWED_MODELS": "aai/universal", "DEFAULT_MODEL": "aai/slam-1"}) == (
        "DEFAULT_MODEL 'aai/slam-1' is not one of ALLOWED_MODELS"
    )
    settings = load({"DEFAULT_MODEL": "local/small", "ALLOWED_MODELS": "local/small"}, local=True)
    assert settings.default_model == "local/small" and settings.allowed_models == ("local/small",)


def test_dotenv_is_read_and_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text('# comment\nTELEGRAM_BOT_TOKEN="9:from-file"\nLOG_LEVEL=debug\n')
    settings = load({"AIMLAPI_KEY": "k", "LOG_LEVEL": "WARNING"}, dotenv=dotenv)
    assert settings.telegram_bot_token == "9:from-file"
    assert settings.log_level == "WARNING"


def test_dotenv_inline_comments_quotes_and_export(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "AIMLAPI_KEY=key-from-file  # the API key\n"
        "export LOCAL_MODEL=small # faster than medium\n"
        "DATABASE_PATH='data/with # hash.sqlite3'\n"
        "ADMIN_USER_IDS=1,2 # two admins\n"
        "OTHER_TOOL_SETTING=ignored\n"
        "MAX_FILE_BYTES=\n"
    )
    settings = load({}, dotenv=dotenv)
    assert settings.aimlapi_key == "key-from-file"
    assert settings.local_model == "small"
    assert settings.database_path == Path("data/with # hash.sqlite3")
    assert settings.admin_user_ids == frozenset({1, 2})
    assert settings.max_file_bytes == 20_000_000  # empty: the default


def test_an_invalid_value_in_dotenv_names_the_variable(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("LOCAL_MODEL=large # the best one\n")
    with pytest.raises(SettingsError, match=r"^LOCAL_MODEL must be one of"):
        load(BASE, dotenv=dotenv)


def test_repr_hides_secrets() -> None:
    settings = load({**BASE, "STT_SERVER_KEYS": "server-key-one,server-key-two"})
    text = repr(settings)
    assert "123:abc" not in text and "k" * 32 not in text and "server-key" not in text
    assert settings.server_keys == frozenset({"server-key-one", "server-key-two"})


def test_ids_are_parsed() -> None:
    settings = load({**BASE, "ADMIN_USER_IDS": "1, 2,3"})
    assert settings.admin_user_ids == frozenset({1, 2, 3})
