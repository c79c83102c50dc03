from pathlib import Path

import pytest

from bot.config.settings import Settings, SettingsError

BASE = {"TELEGRAM_BOT_TOKEN": "123:abc", "AIMLAPI_KEY": "k" * 32}


def load(env: dict[str, str], *, local: bool = False) -> Settings:
    return Settings.from_env(env, dotenv=None, local_engine_available=lambda: local)


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


def test_missing_token_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="TELEGRAM_BOT_TOKEN"):
        load({"AIMLAPI_KEY": "x"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LOG_LEVEL", "LOUD"),
        ("AIMLAPI_BASE_URL", "ftp://x"),
        ("QUOTA_DAILY_SECONDS", "many"),
        ("ACCESS_MODE", "closed"),
        ("ADMIN_USER_IDS", "1,two"),
        ("STT_BACKEND", "cloud"),
    ],
)
def test_invalid_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load({**BASE, name: value})


def test_no_key_and_no_engine_says_which_to_provide() -> None:
    with pytest.raises(SettingsError) as caught:
        load({"TELEGRAM_BOT_TOKEN": "1:a"})
    assert "AIMLAPI_KEY" in str(caught.value) and "local" in str(caught.value)


def test_no_key_uses_the_local_engine() -> None:
    settings = load({"TELEGRAM_BOT_TOKEN": "1:a"}, local=True)
    assert settings.backend == "local"
    assert settings.default_model == "local/base"


def test_forced_backend() -> None:
    assert load({**BASE, "STT_BACKEND": "local"}, local=True).backend == "local"
    with pytest.raises(SettingsError, match="AIMLAPI_KEY"):
        load({"TELEGRAM_BOT_TOKEN": "1:a", "STT_BACKEND": "aiml"}, local=True)


def test_dotenv_is_read_and_environment_wins(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text('# comment\nTELEGRAM_BOT_TOKEN="9:from-file"\nLOG_LEVEL=debug\n')
    settings = Settings.from_env(
        {"AIMLAPI_KEY": "k", "LOG_LEVEL": "WARNING"},
        dotenv=dotenv,
        local_engine_available=lambda: False,
    )
    assert settings.telegram_bot_token == "9:from-file"
    assert settings.log_level == "WARNING"


def test_repr_hides_secrets() -> None:
    settings = load(BASE)
    assert "123:abc" not in repr(settings) and "k" * 32 not in repr(settings)


def test_ids_are_parsed() -> None:
    settings = load({**BASE, "ADMIN_USER_IDS": "1, 2,3"})
    assert settings.admin_user_ids == frozenset({1, 2, 3})
