"""Read-only queries for the admins' /stats and /user."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.clock import to_text
from storage.db import Database


@dataclass(frozen=True, slots=True)
class UsageTotals:
    jobs: int = 0
    failures: int = 0
    refused: int = 0
    cached: int = 0
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class ModelUsage:
    model: str
    jobs: int
    cached: int
    seconds: float


@dataclass(frozen=True, slots=True)
class UserCounts:
    total: int
    active: int  # seen since the given moment


class StatsRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def user_counts(self, active_since: datetime) -> UserCounts:
        row = await self._db.fetch_summary(
            """SELECT COUNT(*) AS total,
                      COUNT(CASE WHEN last_seen >= ? THEN 1 END) AS active
               FROM users""",
            (to_text(active_since),),
        )
        return UserCounts(total=int(row["total"]), active=int(row["active"]))

    async def usage(self, day: str | None = None) -> UsageTotals:
        """Totals for one UTC day ("YYYY-MM-DD"), or for all time when day is None."""
        row = await self._db.fetch_summary(
            """SELECT COALESCE(SUM(jobs), 0) AS jobs, COALESCE(SUM(failures), 0) AS failures,
                      COALESCE(SUM(refused), 0) AS refused, COALESCE(SUM(cached), 0) AS cached,
                      COALESCE(SUM(seconds), 0) AS seconds
               FROM usage_stats WHERE ? IS NULL OR day = ?""",
            (day, day),
        )
        return UsageTotals(
            jobs=int(row["jobs"]),
            failures=int(row["failures"]),
            refused=int(row["refused"]),
            cached=int(row["cached"]),
            seconds=float(row["seconds"]),
        )

    async def by_model(self) -> list[ModelUsage]:
        rows = await self._db.fetch_all(
            """SELECT model, SUM(jobs) AS jobs, SUM(cached) AS cached, SUM(seconds) AS seconds
               FROM usage_stats GROUP BY model
               HAVING SUM(jobs) + SUM(cached) > 0
               ORDER BY SUM(seconds) DESC, model"""
        )
        return [
            ModelUsage(row["model"], int(row["jobs"]), int(row["cached"]), float(row["seconds"]))
            for row in rows
        ]

    async def user_by_model(self, user_id: int) -> list[ModelUsage]:
        rows = await self._db.fetch_all(
            """SELECT model, jobs, cached, seconds FROM user_totals WHERE user_id = ?
               ORDER BY seconds DESC, model""",
            (user_id,),
        )
        return [
            ModelUsage(row["model"], int(row["jobs"]), int(row["cached"]), float(row["seconds"]))
            for row in rows
        ]
