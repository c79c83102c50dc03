"""A clock the test moves by hand: pass it wherever a `Clock` (a `() -> datetime`) is taken."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FakeClock:
    def __init__(self, start: datetime | str = "2025-06-10T12:00:00+00:00") -> None:
        self.now = datetime.fromisoformat(start) if isinstance(start, str) else start
        if self.now.tzinfo is None:
            self.now = self.now.replace(tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def set(self, moment: str) -> datetime:
        self.now = datetime.fromisoformat(moment)
        return self.now
