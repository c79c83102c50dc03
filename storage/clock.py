"""Time in storage is UTC, kept as ISO-8601 text. The clock is injectable for tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_text(moment: datetime) -> str:
    if moment.tzinfo is not UTC:  # nearly always UTC already: utc_now's
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="milliseconds")


def from_text(text: str) -> datetime:
    return datetime.fromisoformat(text)
