"""The deployment examples under deploy/: no Docker engine or systemd runs here, so these check
what can be checked without one: the files parse, and they wire what the README says they do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_the_bot_service_keeps_its_data_in_a_volume_and_is_checked_on_healthz() -> None:
    services = compose()["services"]
    bot = services["bot"]
    assert "profiles" not in bot  # always started
    assert bot["build"]["context"] == ".."
    assert bot["environment"]["DATABASE_PATH"] == "/data/bot.sqlite3"
    assert "bot-data:/data" in bot["volumes"]
    port = bot["environment"]["HTTP_PORT"]
    probe = " ".join(bot["healthcheck"]["test"])
    assert f"http://127.0.0.1:{port}/healthz" in probe
    assert bot["healthcheck"]["test"][0] == "CMD"
    assert f"127.0.0.1:{port}:{port}" in bot["ports"]
    assert bot["stop_signal"] == "SIGTERM"


def test_the_optional_services_sit_behind_profiles_and_every_volume_is_declared() -> None:
    document = compose()
    services = document["services"]
    bot_api = services["telegram-bot-api"]
    assert bot_api["profiles"] == ["bot-api"]
    assert bot_api["environment"]["TELEGRAM_LOCAL"] == "1"  # files up to 2 GB
    assert "bot-api-data:/var/lib/telegram-bot-api" in bot_api["volumes"]
    stt_api = services["stt-api"]
    assert stt_api["profiles"] == ["serve-api"]
    assert stt_api["command"][0] == "serve-api"
    assert stt_api["build"]["args"]["EXTRAS"] == "local"

    used = {
        volume.split(":")[0]
        for service in services.values()
        for volume in service.get("volumes", [])
    }
    assert used == set(document["volumes"])


def unit() -> dict[str, list[tuple[str, str]]]:
    """A systemd unit as [section] -> [(key, value)]; a key may repeat (Environment=)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for raw in (DEPLOY / "stt-bot.service").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
            continue
        key, equals, value = line.partition("=")
        assert equals and current is not None, f"not a unit line: {raw!r}"
        current.append((key, value))
    return sections


def test_the_systemd_unit_runs_the_bot_and_restarts_it_except_on_a_bad_configuration() -> None:
    sections = unit()
    assert set(sections) == {"Unit", "Service", "Install"}
    service = sections["Service"]
    settings = dict(service)
    assert settings["ExecStart"].endswith("/stt-bot run")
    assert settings["KillSignal"] == "SIGTERM"
    assert settings["Restart"] == "on-failure"
    assert settings["RestartPreventExitStatus"] == "2"  # the CLI's configuration-error status
    environment = [value for key, value in service if key == "Environment"]
    assert "DATABASE_PATH=/var/lib/stt-bot/bot.sqlite3" in environment
    assert settings["StateDirectory"] == "stt-bot"  # the database's folder, owned by the user
    assert dict(sections["Install"])["WantedBy"] == "multi-user.target"
