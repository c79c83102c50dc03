"""Telegram Stars payments and the bought seconds they add to a user's balance.

A payment is one row keyed by Telegram's charge id, so crediting it twice is impossible: the
second insert finds the row. Its seconds are spent oldest payment first, by the quota ledger
(storage/quota.py), inside the ledger's own transaction: the functions taking a connection are
for that. A reservation *holds* seconds (counted as spent at once, so a burst cannot spend them
twice); a failed job releases its holds, a charged one settles them. A refund revokes what is
still unspent; seconds held or charged stay recorded as spent, and seconds a job releases after
its payment was refunded are revoked rather than given back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from storage.clock import Clock, from_text, to_text, utc_now
from storage.db import Database, Row, Statements

RefundedBy = Literal["admin", "telegram"]

# Sums of float seconds drift by ulps: a remainder this small is nothing.
EPSILON = 1e-6


@dataclass(frozen=True, slots=True)
class NewPayment:
    charge_id: str
    user_id: int
    stars: int
    seconds: float


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    charge_id: str
    user_id: int
    stars: int
    seconds: float
    spent: float
    revoked: float
    paid_at: datetime
    refunded_at: datetime | None
    refunded_by: RefundedBy | None

    @property
    def left(self) -> float:
        return max(0.0, self.seconds - self.spent - self.revoked)

    @property
    def refunded(self) -> bool:
        return self.refunded_at is not None


@dataclass(frozen=True, slots=True)
class Credit:
    record: PaymentRecord
    new: bool  # False: this charge id was credited (or refunded) before


@dataclass(frozen=True, slots=True)
class Revocation:
    record: PaymentRecord
    new: bool  # False: the payment was already refunded


@dataclass(frozen=True, slots=True)
class PaymentTotals:
    payments: int = 0
    stars: int = 0
    seconds: float = 0.0  # bought
    spent: float = 0.0  # used by jobs, refunded payments included
    left: float = 0.0  # the balances of all users together
    refunds: int = 0
    refunded_stars: int = 0
    revoked: float = 0.0  # taken back unspent by refunds


def _record(row: Row) -> PaymentRecord:
    refunded_at = row["refunded_at"]
    return PaymentRecord(
        charge_id=row["charge_id"],
        user_id=row["user_id"],
        stars=row["stars"],
        seconds=row["seconds"],
        spent=row["spent"],
        revoked=row["revoked"],
        paid_at=from_text(row["paid_at"]),
        refunded_at=from_text(refunded_at) if refunded_at else None,
        refunded_by=row["refunded_by"],
    )


# --- the balance, inside the quota ledger's transaction ------------------------------------


async def available(connection: Statements, user_id: int, *, give_back: int | None = None) -> float:
    """The user's bought seconds not spent, held or revoked; with `give_back`, as if that job's
    holds were released (holds on refunded payments give nothing back)."""
    rows = await connection.fetch_all(
        """SELECT
             (SELECT COALESCE(SUM(seconds - spent - revoked), 0) FROM star_payments
               WHERE user_id = ? AND refunded_at IS NULL) AS left,
             (SELECT COALESCE(SUM(h.seconds), 0) FROM balance_holds h
               JOIN star_payments p ON p.id = h.payment_id
               WHERE h.job_id IS ? AND p.refunded_at IS NULL) AS held""",
        (user_id, give_back),
    )
    row = next(iter(rows))
    return max(0.0, float(row["left"])) + float(row["held"])


async def hold(connection: Statements, job_id: int, user_id: int, seconds: float) -> None:
    """Hold `seconds` of the user's balance for a job, oldest payment first. The caller has
    checked, in this transaction, that the balance covers them."""
    payments = await connection.fetch_all(
        """SELECT id, seconds - spent - revoked AS left FROM star_payments
           WHERE user_id = ? AND refunded_at IS NULL AND seconds - spent - revoked > ?
           ORDER BY id""",
        (user_id, EPSILON),
    )
    remaining = seconds
    for payment in payments:
        if remaining <= EPSILON:
            break
        take = min(float(payment["left"]), remaining)
        await connection.execute(
            "UPDATE star_payments SET spent = spent + ? WHERE id = ?", (take, payment["id"])
        )
        await connection.execute(
            """INSERT INTO balance_holds (job_id, payment_id, seconds) VALUES (?, ?, ?)
               ON CONFLICT (job_id, payment_id)
               DO UPDATE SET seconds = seconds + excluded.seconds""",
            (job_id, payment["id"], take),
        )
        remaining -= take
    if remaining > EPSILON:
        # Raised inside the transaction, so nothing of the reservation is kept.
        raise RuntimeError(f"job {job_id}: the balance does not cover {seconds:.3f} s")


async def release(connection: Statements, job_id: int, seconds: float | None = None) -> None:
    """Give back `seconds` (all when None) of a job's holds, newest payment first."""
    holds = await connection.fetch_all(
        """SELECT h.payment_id, h.seconds, p.refunded_at FROM balance_holds h
           JOIN star_payments p ON p.id = h.payment_id
           WHERE h.job_id = ? ORDER BY h.payment_id DESC""",
        (job_id,),
    )
    remaining = float("inf") if seconds is None else seconds
    for held in holds:
        if remaining <= EPSILON:
            break
        give = min(float(held["seconds"]), remaining)
        if held["refunded_at"]:
            # A refunded payment's unspent seconds were taken back: what a job returns is too.
            await connection.execute(
                """UPDATE star_payments SET spent = MAX(0, spent - ?), revoked = revoked + ?
                   WHERE id = ?""",
                (give, give, held["payment_id"]),
            )
        else:
            await connection.execute(
                "UPDATE star_payments SET spent = MAX(0, spent - ?) WHERE id = ?",
                (give, held["payment_id"]),
            )
        if give >= float(held["seconds"]) - EPSILON:
            await connection.execute(
                "DELETE FROM balance_holds WHERE job_id = ? AND payment_id = ?",
                (job_id, held["payment_id"]),
            )
        else:
            await connection.execute(
                """UPDATE balance_holds SET seconds = seconds - ?
                   WHERE job_id = ? AND payment_id = ?""",
                (give, job_id, held["payment_id"]),
            )
        remaining -= give


async def settle(connection: Statements, job_id: int) -> None:
    """A charged job's holds are spent for good: only the payments' counters remember them."""
    await connection.execute("DELETE FROM balance_holds WHERE job_id = ?", (job_id,))


# --- payments and refunds --------------------------------------------------------------------


class PaymentRepository:
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock
        self._key: bytes | None = None

    async def invoice_key(self) -> bytes:
        if self._key is None:
            row = await self._db.fetch_one("SELECT value FROM app_meta WHERE name = 'invoice_key'")
            if row is None:
                raise RuntimeError("the database has no invoice key (migration 007 missing?)")
            self._key = bytes.fromhex(row["value"])
        return self._key

    async def credit(self, payment: NewPayment) -> Credit:
        """Add a payment's seconds to its user's balance, unless its charge id is known."""
        async with self._db.transaction() as connection:
            inserted = await connection.execute(
                """INSERT INTO star_payments (charge_id, user_id, stars, seconds, paid_at)
                   VALUES (?, ?, ?, ?, ?) ON CONFLICT (charge_id) DO NOTHING""",
                (
                    payment.charge_id,
                    payment.user_id,
                    payment.stars,
                    payment.seconds,
                    to_text(self._clock()),
                ),
            )
            new = inserted == 1
            record = await self._get(connection, payment.charge_id)
        assert record is not None
        return Credit(record, new)

    async def revoke(
        self, charge_id: str, *, by: RefundedBy, unknown: NewPayment | None = None
    ) -> Revocation | None:
        """Record a refund: the payment's unspent seconds leave the balance.

        A refund of a payment we never credited (`unknown`, from Telegram's refunded_payment)
        is recorded as a refunded payment; without it, an unknown charge id gives None.
        """
        now = to_text(self._clock())
        async with self._db.transaction() as connection:
            record = await self._get(connection, charge_id)
            if record is None and unknown is None:
                return None
            if record is None:
                assert unknown is not None
                await connection.execute(
                    """INSERT INTO star_payments (charge_id, user_id, stars, seconds, revoked,
                                                  paid_at, refunded_at, refunded_by)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                    (
                        charge_id,
                        unknown.user_id,
                        unknown.stars,
                        unknown.seconds,
                        unknown.seconds,
                        now,
                        now,
                        by,
                    ),
                )
            elif record.refunded:
                return Revocation(record, new=False)
            else:
                await connection.execute(
                    """UPDATE star_payments
                       SET revoked = revoked + MAX(0, seconds - spent - revoked),
                           refunded_at = ?, refunded_by = ?
                       WHERE charge_id = ?""",
                    (now, by, charge_id),
                )
            revoked = await self._get(connection, charge_id)
        assert revoked is not None
        return Revocation(revoked, new=True)

    @staticmethod
    async def _get(connection: Statements, charge_id: str) -> PaymentRecord | None:
        row = await connection.fetch_one(
            "SELECT * FROM star_payments WHERE charge_id = ?", (charge_id,)
        )
        return _record(row) if row else None

    async def get(self, charge_id: str) -> PaymentRecord | None:
        row = await self._db.fetch_one(
            "SELECT * FROM star_payments WHERE charge_id = ?", (charge_id,)
        )
        return _record(row) if row else None

    async def of_user(self, user_id: int, limit: int) -> list[PaymentRecord]:
        """The user's latest payments, newest first."""
        rows = await self._db.fetch_all(
            "SELECT * FROM star_payments WHERE user_id = ? ORDER BY id DESC LIMIT ?",
            (user_id, limit),
        )
        return [_record(row) for row in rows]

    async def balance(self, user_id: int) -> float:
        row = await self._db.fetch_one(
            """SELECT COALESCE(SUM(seconds - spent - revoked), 0) AS left FROM star_payments
               WHERE user_id = ? AND refunded_at IS NULL""",
            (user_id,),
        )
        return 0.0 if row is None else max(0.0, float(row["left"]))

    async def totals(self) -> PaymentTotals:
        row = await self._db.fetch_summary(
            """SELECT COUNT(*) AS payments, COALESCE(SUM(stars), 0) AS stars,
                      COALESCE(SUM(seconds), 0) AS seconds, COALESCE(SUM(spent), 0) AS spent,
                      COALESCE(SUM(MAX(0, seconds - spent - revoked)), 0) AS left,
                      COUNT(refunded_at) AS refunds,
                      COALESCE(SUM(CASE WHEN refunded_at IS NOT NULL THEN stars END), 0)
                          AS refunded_stars,
                      COALESCE(SUM(revoked), 0) AS revoked
               FROM star_payments"""
        )
        return PaymentTotals(
            payments=int(row["payments"]),
            stars=int(row["stars"]),
            seconds=float(row["seconds"]),
            spent=float(row["spent"]),
            left=float(row["left"]),
            refunds=int(row["refunds"]),
            refunded_stars=int(row["refunded_stars"]),
            revoked=float(row["revoked"]),
        )
