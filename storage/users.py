"""Users who wrote to the bot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.clock import Clock, from_text, to_text, utc_now
from storage.db import Database, Row


@dataclass(frozen=True, slots=True)
class UserProfile:
    """What Telegram tells us about a user, as of their latest message."""

    user_id: int
    first_name: str | None
    last_name: str | None
    username: str | None
    language_code: str | None


@dataclass(frozen=True, slots=True)
class UserRecord:
    user_id: int
    first_name: str | None
    last_name: str | None
    username: str | None
    language_code: str | None
    first_seen: datetime
    last_seen: datetime


def _user_from_row(row: Row) -> UserRecord:
    return UserRecord(
        user_id=row["user_id"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        username=row["username"],
        language_code=row["language_code"],
        first_seen=from_text(row["first_seen"]),
        last_seen=from_text(row["last_seen"]),
    )


class UserRepository:
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def touch(self, profile: UserProfile) -> None:
        """Record a user, or refresh their names and last_seen."""
        now = to_text(self._clock())
        await self._db.execute(
            """INSERT INTO users (user_id, first_name, last_name, username, language_code,
                                  first_seen, last_seen)
               VALUES (?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (user_id) DO UPDATE SET
                   first_name = excluded.first_name, last_name = excluded.last_name,
                   username = excluded.username, language_code = excluded.language_code,
                   last_seen = excluded.last_seen""",
            (
                profile.user_id,
                profile.first_name,
                profile.last_name,
                profile.username,
                profile.language_code,
                now,
                now,
            ),
        )

    async def get(self, user_id: int) -> UserRecord | None:
        row = await self._db.fetch_one("SELECT * FROM users WHERE user_id = ?", (user_id,))
        return _user_from_row(row) if row else None
