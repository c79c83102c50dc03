"""Rules an admin set for a user or a chat: quota overrides, ban, allow or deny.

Ids of users are positive and ids of groups negative, so one table holds both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from storage.clock import Clock, to_text, utc_now
from storage.db import Database, Row


@dataclass(frozen=True, slots=True)
class AccessRule:
    subject_id: int
    daily_seconds: int | None = None  # None: the operator's default applies
    monthly_seconds: int | None = None
    banned: bool = False
    allowed: bool | None = None  # None: the environment decides


def _rule(row: Row) -> AccessRule:
    allowed = row["allowed"]
    return AccessRule(
        subject_id=row["subject_id"],
        daily_seconds=row["daily_seconds"],
        monthly_seconds=row["monthly_seconds"],
        banned=bool(row["banned"]),
        allowed=None if allowed is None else bool(allowed),
    )


class AccessRuleRepository:
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def get(self, subject_id: int) -> AccessRule:
        row = await self._db.fetch_one(
            "SELECT * FROM access_rules WHERE subject_id = ?", (subject_id,)
        )
        return _rule(row) if row else AccessRule(subject_id)

    async def get_many(self, subject_ids: Iterable[int]) -> dict[int, AccessRule]:
        ids = sorted(set(subject_ids))
        found = {subject_id: AccessRule(subject_id) for subject_id in ids}
        if ids:
            marks = ", ".join("?" for _ in ids)
            rows = await self._db.fetch_by_keys(
                f"SELECT * FROM access_rules WHERE subject_id IN ({marks})", ids
            )
            found.update({row["subject_id"]: _rule(row) for row in rows})
        return found

    async def _set(self, subject_id: int, column: str, value: int | None) -> None:
        # `column` is one of ours, never user input.
        await self._db.execute(
            f"""INSERT INTO access_rules (subject_id, {column}, updated_at) VALUES (?, ?, ?)
                ON CONFLICT (subject_id) DO UPDATE SET
                    {column} = excluded.{column}, updated_at = excluded.updated_at""",
            (subject_id, value, to_text(self._clock())),
        )

    async def set_quota(self, subject_id: int, daily: int | None, monthly: int | None) -> None:
        await self._db.execute(
            """INSERT INTO access_rules (subject_id, daily_seconds, monthly_seconds, updated_at)
               VALUES (?, ?, ?, ?)
               ON CONFLICT (subject_id) DO UPDATE SET
                   daily_seconds = excluded.daily_seconds,
                   monthly_seconds = excluded.monthly_seconds,
                   updated_at = excluded.updated_at""",
            (subject_id, daily, monthly, to_text(self._clock())),
        )

    async def set_banned(self, subject_id: int, banned: bool) -> None:
        await self._set(subject_id, "banned", int(banned))

    async def set_allowed(self, subject_id: int, allowed: bool | None) -> None:
        await self._set(subject_id, "allowed", None if allowed is None else int(allowed))

    async def claim_notice(self, subject_id: int, now: datetime, not_since: datetime) -> bool:
        """Record that `subject_id` is told now, unless they were told after `not_since`.

        One statement, so two messages arriving together produce one notice.
        """
        changed = await self._db.execute(
            """INSERT INTO access_notices (subject_id, notified_at) VALUES (?, ?)
               ON CONFLICT (subject_id) DO UPDATE SET notified_at = excluded.notified_at
               WHERE access_notices.notified_at < ?""",
            (subject_id, to_text(now), to_text(not_since)),
        )
        return changed > 0
