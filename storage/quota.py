"""The quota ledger: seconds of audio reserved per job, then committed or refunded.

A reservation is one row keyed by job id. The check and the insert run in one IMMEDIATE
transaction, so concurrent requests cannot both see the same seconds left. Usage is counted
under a keyed hash of the payer's id (the "subject"), never the id itself: /forget clears the
row's user_id, and the usage still counts until its monthly window ends and the row is purged.

The policy (limits, flood caps) is the caller's: it passes a `decide` callable that sees a
snapshot of the payer's usage and returns a refusal, or `Admit` with the part of the seconds
the payer's bought balance pays (storage/payments.py). That part is held from the balance in
the same transaction, so a burst can never spend bought seconds twice, and only the rest
counts against the free quota.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, TypeVar

from storage import payments
from storage.clock import Clock, from_text, to_text, utc_now
from storage.db import Database, Row, Statements

R = TypeVar("R")

Basis = Literal["declared", "measured", "estimated"]
EntryState = Literal["reserved", "committed", "refunded"]


@dataclass(frozen=True, slots=True)
class Windows:
    """The bounds a snapshot counts from, chosen by the caller."""

    day_start: datetime  # a UTC midnight: the whole bot's use is kept per UTC day
    month_start: datetime
    recent_since: datetime  # flood control: admissions since this moment


@dataclass(frozen=True, slots=True)
class LedgerSnapshot:
    day_used: float  # reserved and committed seconds since day_start, bought ones aside
    month_used: float  # ... since month_start
    in_flight: int  # reservations not settled yet
    recent: int  # admissions since recent_since
    oldest_recent: datetime | None
    # Every payer's seconds since day_start (the BUDGET_DAILY_SECONDS ceiling), read in the
    # same transaction as the rest, so a burst cannot overspend it either.
    bot_day_used: float = 0.0
    balance: float = 0.0  # bought seconds the payer has left


@dataclass(frozen=True, slots=True)
class Admit:
    """What `decide` returns to admit: `paid` of the seconds come from the bought balance."""

    paid: float = 0.0


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    job_id: int
    user_id: int | None
    model: str
    seconds: float
    basis: Basis
    state: EntryState
    created_at: datetime


def stats_day(moment: datetime) -> str:
    return moment.astimezone(UTC).date().isoformat()


async def bump_stats(
    connection: Statements,
    day: str,
    model: str,
    *,
    jobs: int = 0,
    failures: int = 0,
    refused: int = 0,
    cached: int = 0,
    seconds: float = 0.0,
) -> None:
    await connection.execute(
        """INSERT INTO usage_stats (day, model, jobs, failures, refused, cached, seconds)
           VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (day, model) DO UPDATE SET
               jobs = jobs + excluded.jobs, failures = failures + excluded.failures,
               refused = refused + excluded.refused, cached = cached + excluded.cached,
               seconds = seconds + excluded.seconds""",
        (day, model, jobs, failures, refused, cached, seconds),
    )


async def bump_user_totals(
    connection: Statements,
    user_id: int,
    model: str,
    *,
    jobs: int = 0,
    cached: int = 0,
    seconds: float = 0.0,
) -> None:
    await connection.execute(
        """INSERT INTO user_totals (user_id, model, jobs, cached, seconds) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (user_id, model) DO UPDATE SET
               jobs = jobs + excluded.jobs, cached = cached + excluded.cached,
               seconds = seconds + excluded.seconds""",
        (user_id, model, jobs, cached, seconds),
    )


def _paid_part(admit: Admit, seconds: float, snapshot: LedgerSnapshot) -> float:
    """What the balance pays, never more than the reservation or the balance itself."""
    return max(0.0, min(admit.paid, seconds, snapshot.balance))


def _entry(row: Row) -> LedgerEntry:
    return LedgerEntry(
        job_id=row["job_id"],
        user_id=row["user_id"],
        model=row["model"],
        seconds=row["seconds"],
        basis=row["basis"],
        state=row["state"],
        created_at=from_text(row["created_at"]),
    )


class QuotaLedger:
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock
        self._salt: bytes | None = None

    async def subject(self, payer_id: int) -> str:
        if self._salt is None:
            row = await self._db.fetch_one("SELECT value FROM app_meta WHERE name = 'subject_salt'")
            if row is None:
                raise RuntimeError("the database has no subject salt (migration 003 missing?)")
            self._salt = bytes.fromhex(row["value"])
        digest = hmac.new(self._salt, str(payer_id).encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    async def _snapshot(
        self,
        connection: Statements,
        subject: str,
        payer_id: int,
        windows: Windows,
        exclude_job: int | None = None,
        probe_job: int | None = None,
    ) -> tuple[LedgerSnapshot, bool]:
        """The payer's usage; with `exclude_job`, as if that job's reservation were released.
        The flag: whether `probe_job` has a row already. One statement, over the payer's rows
        of the month (found by their subject's index)."""
        rows = await connection.fetch_all(
            """SELECT
                 COALESCE(SUM(CASE WHEN state != 'refunded' AND created_at >= :day
                                   THEN seconds - paid_seconds END), 0) AS day_used,
                 COALESCE(SUM(CASE WHEN state != 'refunded' AND created_at >= :month
                                   THEN seconds - paid_seconds END), 0) AS month_used,
                 COUNT(CASE WHEN state = 'reserved' THEN 1 END) AS in_flight,
                 COUNT(CASE WHEN created_at >= :recent THEN 1 END) AS recent,
                 MIN(CASE WHEN created_at >= :recent THEN created_at END) AS oldest_recent,
                 COALESCE((SELECT seconds FROM bot_day_usage WHERE day = :day_name), 0)
                 - COALESCE((SELECT seconds FROM quota_ledger WHERE job_id = :exclude
                               AND state != 'refunded' AND created_at >= :day), 0)
                   AS bot_day_used,
                 EXISTS (SELECT 1 FROM quota_ledger WHERE job_id = :probe) AS probed
               FROM quota_ledger WHERE subject = :subject AND job_id IS NOT :exclude""",
            {
                "day": to_text(windows.day_start),
                "month": to_text(windows.month_start),
                "recent": to_text(windows.recent_since),
                "subject": subject,
                "exclude": exclude_job,
                "probe": probe_job,
                "day_name": windows.day_start.astimezone(UTC).date().isoformat(),
            },
        )
        row = next(iter(rows))  # an aggregate always yields a row
        oldest = row["oldest_recent"]
        balance = await payments.available(connection, payer_id, give_back=exclude_job)
        snapshot = LedgerSnapshot(
            day_used=float(row["day_used"]),
            month_used=float(row["month_used"]),
            in_flight=int(row["in_flight"]),
            recent=int(row["recent"]),
            oldest_recent=from_text(oldest) if oldest else None,
            bot_day_used=float(row["bot_day_used"]),
            balance=balance,
        )
        return snapshot, bool(row["probed"])

    async def snapshot(self, payer_id: int, windows: Windows) -> LedgerSnapshot:
        subject = await self.subject(payer_id)
        async with self._db.transaction() as connection:
            snapshot, _ = await self._snapshot(connection, subject, payer_id, windows)
            return snapshot

    async def reserve(
        self,
        *,
        job_id: int,
        payer_id: int,
        user_id: int | None,
        model: str,
        seconds: float,
        basis: Basis,
        now: datetime,
        windows: Windows,
        decide: Callable[[LedgerSnapshot], R | Admit],
    ) -> R | None:
        """Reserve `seconds` for a job unless `decide` refuses. Returns the refusal, or None.

        Reserving a job that already has a row admits it again without a second charge.
        """
        subject = await self.subject(payer_id)
        async with self._db.transaction() as connection:
            snapshot, reserved_before = await self._snapshot(
                connection, subject, payer_id, windows, probe_job=job_id
            )
            if reserved_before:
                return None
            verdict = decide(snapshot)
            if not isinstance(verdict, Admit):
                await bump_stats(connection, stats_day(now), model, refused=1)
                return verdict
            paid = _paid_part(verdict, seconds, snapshot)
            await connection.execute(
                """INSERT INTO quota_ledger (job_id, subject, user_id, model, seconds, basis,
                                            state, created_at, paid_seconds)
                   VALUES (?, ?, ?, ?, ?, ?, 'reserved', ?, ?)""",
                (job_id, subject, user_id, model, seconds, basis, to_text(now), paid),
            )
            if paid > 0:
                await payments.hold(connection, job_id, payer_id, paid)
            return None

    async def resize(
        self,
        *,
        job_id: int,
        payer_id: int,
        seconds: float,
        basis: Basis,
        windows: Windows,
        decide: Callable[[LedgerSnapshot], R | Admit],
    ) -> R | None:
        """Change an open reservation's size (a measured duration), re-checking the limits
        against everything else the payer has used. On refusal the reservation is unchanged."""
        subject = await self.subject(payer_id)
        async with self._db.transaction() as connection:
            snapshot, _ = await self._snapshot(
                connection, subject, payer_id, windows, exclude_job=job_id
            )
            verdict = decide(snapshot)
            if not isinstance(verdict, Admit):
                return verdict
            paid = _paid_part(verdict, seconds, snapshot)
            resized = await connection.execute(
                """UPDATE quota_ledger SET seconds = ?, basis = ?, paid_seconds = ?
                   WHERE job_id = ? AND state = 'reserved'""",
                (seconds, basis, paid, job_id),
            )
            if resized == 1:
                await payments.release(connection, job_id)
                if paid > 0:
                    await payments.hold(connection, job_id, payer_id, paid)
            return None

    async def get(self, job_id: int) -> LedgerEntry | None:
        row = await self._db.fetch_one("SELECT * FROM quota_ledger WHERE job_id = ?", (job_id,))
        return _entry(row) if row else None

    async def commit(
        self, job_id: int, *, charge: Callable[[float, Basis], tuple[float, float]]
    ) -> bool:
        """Settle a reserved job: `charge(reserved seconds, their basis)` says the seconds to
        charge to the quota and the seconds of audio to count in the statistics. False when the
        job had no open reservation (already settled)."""
        now = self._clock()
        async with self._db.transaction() as connection:
            found = await connection.fetch_all(
                """SELECT seconds, paid_seconds, basis FROM quota_ledger
                   WHERE job_id = ? AND state = 'reserved'""",
                (job_id,),
            )
            if not found:
                return False
            reserved = next(iter(found))
            seconds, billed = charge(reserved["seconds"], reserved["basis"])
            # Charged less than reserved: the bought seconds go back first. Charged more (a
            # measured duration the backend's report exceeds): the free quota takes the rest,
            # as it did before purchases, so a balance can never go below zero.
            paid = max(0.0, reserved["paid_seconds"] - max(0.0, reserved["seconds"] - seconds))
            if paid < reserved["paid_seconds"]:
                await payments.release(connection, job_id, reserved["paid_seconds"] - paid)
            if reserved["paid_seconds"] > 0:  # holds exist only for the bought part
                await payments.settle(connection, job_id)
            updated = await connection.fetch_all(
                """UPDATE quota_ledger
                   SET state = 'committed', seconds = ?, paid_seconds = ?, settled_at = ?
                   WHERE job_id = ? AND state = 'reserved'
                   RETURNING user_id, model""",
                (seconds, paid, to_text(now), job_id),
            )
            row = next(iter(updated))  # the reservation was read in this transaction
            await bump_stats(connection, stats_day(now), row["model"], jobs=1, seconds=billed)
            if row["user_id"] is not None:
                await bump_user_totals(
                    connection, row["user_id"], row["model"], jobs=1, seconds=seconds
                )
            return True

    async def refund(self, job_id: int, *, refused: bool = False) -> bool:
        """Give a job's seconds back: it failed, or (refused) turned out not to fit once
        measured. False when there was no open reservation."""
        now = self._clock()
        async with self._db.transaction() as connection:
            updated = await connection.fetch_all(
                """UPDATE quota_ledger SET state = 'refunded', settled_at = ?
                   WHERE job_id = ? AND state = 'reserved'
                   RETURNING model, paid_seconds""",
                (to_text(now), job_id),
            )
            if not updated:
                return False
            row = next(iter(updated))
            if row["paid_seconds"] > 0:  # holds exist only for the bought part
                await payments.release(connection, job_id)
            counter = {"refused": 1} if refused else {"failures": 1}
            await bump_stats(connection, stats_day(now), row["model"], **counter)
            return True

    async def record_cache_hit(self, user_id: int | None, model: str) -> None:
        now = self._clock()
        async with self._db.transaction() as connection:
            await bump_stats(connection, stats_day(now), model, cached=1)
            if user_id is not None:
                await bump_user_totals(connection, user_id, model, cached=1)

    async def purge(self, before: datetime) -> int:
        """Delete settled rows created before `before` (the start of the current month), and
        the bot's totals of the days before it. A month of rows: off the event loop."""
        async with self._db.maintenance_transaction() as connection:
            purged = await connection.execute(
                "DELETE FROM quota_ledger WHERE state != 'reserved' AND created_at < ?",
                (to_text(before),),
            )
            await connection.execute(
                "DELETE FROM bot_day_usage WHERE day < ?",
                (before.astimezone(UTC).date().isoformat(),),
            )
            return purged
