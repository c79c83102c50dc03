"""A Telegram bot that turns voice messages into text."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def package_version() -> str:
    """The installed stt-bot's version (`--version`, and the start-up log line)."""
    try:
        return version("stt-bot")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "(not installed)"
