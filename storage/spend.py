"""What the bot as a whole sent to the paid API: the daily ceiling's alerts, per-job cost, totals.

The seconds themselves live in the quota ledger (storage/quota.py), whose reservation counts
them against BUDGET_DAILY_SECONDS in the same transaction as the payer's quota. This module adds
what the API reported a job cost, and the once-a-day alert to the admins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from storage.clock import Clock, to_text, utc_now
from storage.db import Database


@dataclass(frozen=True, slots=True)
class SpendTotals:
    seconds: float  # audio reserved or charged (not refunded) since the window's start
    jobs: int
    credits: float | None  # summed over the jobs the API reported a cost for; None: none did
    usd: float | None


class SpendRepository:
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def claim_alert(self, day: str) -> bool:
        """True the first time it is asked for this UTC day ("YYYY-MM-DD"), then False."""
        inserted = await self._db.insert(
            "INSERT INTO budget_alerts (day, sent_at) VALUES (?, ?) ON CONFLICT (day) DO NOTHING",
            (day, to_text(self._clock())),
        )
        return inserted is not None

    async def record_cost(self, job_id: int, credits: float | None, usd: float | None) -> bool:
        """Store what the API reported a job cost. Set, not added: a job polled again after a
        restart reports the same cost again. False when the job has no ledger row."""
        changed = await self._db.execute(
            "UPDATE quota_ledger SET api_credits = ?, api_usd = ? WHERE job_id = ?",
            (credits, usd, job_id),
        )
        return changed > 0

    async def totals(self, since: datetime) -> SpendTotals:
        row = await self._db.fetch_summary(
            """SELECT COALESCE(SUM(seconds), 0) AS seconds, COUNT(*) AS jobs,
                      SUM(api_credits) AS credits, SUM(api_usd) AS usd
               FROM quota_ledger WHERE state != 'refunded' AND created_at >= ?""",
            (to_text(since),),
        )
        return SpendTotals(
            seconds=float(row["seconds"]),
            jobs=int(row["jobs"]),
            credits=None if row["credits"] is None else float(row["credits"]),
            usd=None if row["usd"] is None else float(row["usd"]),
        )
