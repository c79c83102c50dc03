"""The send journal: each non-idempotent message a job sends, recorded around every attempt.

Telegram cannot tell us whether a send whose answer was lost arrived. The journal lets the
pipeline never repeat such a send: a step found `in_flight` after a restart, or `ambiguous`,
is treated as possibly delivered.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from storage.clock import Clock, to_text, utc_now
from storage.db import Database


class SendState(StrEnum):
    IN_FLIGHT = "in_flight"  # an attempt is under way, or was when the process stopped
    RETRY_WAIT = "retry_wait"  # the last attempt surely did not arrive: safe to try again
    CONFIRMED = "confirmed"
    AMBIGUOUS = "ambiguous"  # it may have arrived: never sent again


@dataclass(frozen=True, slots=True)
class SendRecord:
    job_id: int
    step: str
    state: SendState
    message_id: int | None
    attempts: int


class SendJournal:
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def get(self, job_id: int, step: str) -> SendRecord | None:
        row = await self._db.fetch_one(
            "SELECT * FROM sends WHERE job_id = ? AND step = ?", (job_id, step)
        )
        if row is None:
            return None
        return SendRecord(
            job_id=row["job_id"],
            step=row["step"],
            state=SendState(row["state"]),
            message_id=row["message_id"],
            attempts=row["attempts"],
        )

    async def begin_attempt(self, job_id: int, step: str) -> None:
        """Written before every attempt: from here until the answer, the send is in flight."""
        await self._db.execute(
            """INSERT INTO sends (job_id, step, state, attempts, updated_at)
               VALUES (?, ?, 'in_flight', 1, ?)
               ON CONFLICT (job_id, step)
               DO UPDATE SET state = 'in_flight', attempts = attempts + 1,
                             updated_at = excluded.updated_at""",
            (job_id, step, to_text(self._clock())),
        )

    async def not_sent(self, job_id: int, step: str) -> None:
        await self._set(job_id, step, SendState.RETRY_WAIT)

    async def confirmed(self, job_id: int, step: str, message_id: int) -> None:
        await self._set(job_id, step, SendState.CONFIRMED, message_id)

    async def ambiguous(self, job_id: int, step: str) -> None:
        await self._set(job_id, step, SendState.AMBIGUOUS)

    async def _set(
        self, job_id: int, step: str, state: SendState, message_id: int | None = None
    ) -> None:
        await self._db.execute(
            """UPDATE sends SET state = ?, message_id = COALESCE(?, message_id), updated_at = ?
               WHERE job_id = ? AND step = ?""",
            (state, message_id, to_text(self._clock()), job_id, step),
        )
