"""Summaries and translations: the texts under the buttons, the requests (the daily quota and
the dedupe of taps), and the groups that want a summary under every long voice note.

A request is reserved like audio seconds (storage/quota.py): the count and the insert run in
one IMMEDIATE transaction, so a burst of taps cannot pass the daily limit, and its key
(`<kind>:<job id>:<language>`) is unique, so a second tap, or the same tap handled again, finds
the first request instead of starting another.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeVar

from storage.clock import Clock, to_text, utc_now
from storage.db import Database, Row
from storage.quota import QuotaLedger

R = TypeVar("R")

Kind = Literal["summary", "translation"]
RequestState = Literal["reserved", "done", "refunded"]


@dataclass(frozen=True, slots=True)
class StoredText:
    job_id: int
    text: str
    language: str | None


@dataclass(frozen=True, slots=True)
class SummaryRequest:
    key: str
    job_id: int
    kind: Kind
    language: str
    chat_id: int | None  # where the answer goes; None once settled
    reply_to: int | None
    bulk: bool
    attempt: int
    state: RequestState


@dataclass(frozen=True, slots=True)
class Reserved:
    """The request is this caller's to carry out (a new one, or a new try after a failure)."""

    request: SummaryRequest


@dataclass(frozen=True, slots=True)
class Existing:
    """Someone asked already: it is under way (reserved) or answered (done)."""

    request: SummaryRequest


def request_key(kind: Kind, job_id: int, language: str) -> str:
    return f"{kind}:{job_id}:{language}"


def _request(row: Row) -> SummaryRequest:
    return SummaryRequest(
        key=row["request_key"],
        job_id=row["job_id"],
        kind=row["kind"],
        language=row["language"],
        chat_id=row["chat_id"],
        reply_to=row["reply_to"],
        bulk=bool(row["bulk"]),
        attempt=row["attempt"],
        state=row["state"],
    )


class TranscriptTexts:
    """The text of a transcript offered a Summary or Translate button; deleted with its job."""

    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def keep(self, job_id: int, text: str, language: str | None) -> None:
        await self._db.execute(
            """INSERT INTO transcript_texts (job_id, text, language, created_at)
               VALUES (?, ?, ?, ?) ON CONFLICT (job_id) DO NOTHING""",
            (job_id, text, language, to_text(self._clock())),
        )

    async def get(self, job_id: int) -> StoredText | None:
        row = await self._db.fetch_one(
            "SELECT job_id, text, language FROM transcript_texts WHERE job_id = ?", (job_id,)
        )
        return None if row is None else StoredText(row["job_id"], row["text"], row["language"])


class SummaryRequests:
    def __init__(self, db: Database, ledger: QuotaLedger, clock: Clock = utc_now) -> None:
        self._db = db
        # Its keyed hash of a payer's id: one subject for audio seconds and summaries.
        self._ledger = ledger
        self._clock = clock

    async def reserve(
        self,
        *,
        kind: Kind,
        job_id: int,
        language: str,
        payer_id: int,
        chat_id: int,
        reply_to: int | None,
        bulk: bool,
        day_start: datetime,
        decide: Callable[[int], R | None],
    ) -> Reserved | Existing | R:
        """Reserve a request unless one with its key is open or done, or `decide` (shown how
        many requests the payer made since `day_start`) refuses: then its refusal."""
        key = request_key(kind, job_id, language)
        subject = await self._ledger.subject(payer_id)
        now = to_text(self._clock())
        async with self._db.transaction() as connection:
            found = await connection.fetch_one(
                "SELECT * FROM summary_requests WHERE request_key = ?", (key,)
            )
            if found is not None and found["state"] != "refunded":
                return Existing(_request(found))
            row = await connection.fetch_one(
                """SELECT COUNT(*) FROM summary_requests
                   WHERE subject = ? AND state != 'refunded' AND created_at >= ?""",
                (subject, to_text(day_start)),
            )
            refusal = decide(int(row[0]) if row else 0)
            if refusal is not None:
                return refusal
            # A new try after a failure takes the row over, counted today, with its own
            # attempt number (the keys of its sends).
            inserted = await connection.fetch_one(
                """INSERT INTO summary_requests (request_key, job_id, kind, language, subject,
                       chat_id, reply_to, bulk, attempt, state, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, 'reserved', ?)
                   ON CONFLICT (request_key) DO UPDATE SET
                       subject = excluded.subject, chat_id = excluded.chat_id,
                       reply_to = excluded.reply_to, bulk = excluded.bulk,
                       attempt = attempt + 1, state = 'reserved',
                       created_at = excluded.created_at, settled_at = NULL
                   RETURNING *""",
                (key, job_id, kind, language, subject, chat_id, reply_to, int(bulk), now),
            )
            assert inserted is not None
            return Reserved(_request(inserted))

    async def settle(self, key: str, state: Literal["done", "refunded"]) -> None:
        """Done (it counts) or refunded (it does not, and may be asked again); where it was to
        go is no longer needed."""
        await self._db.execute(
            """UPDATE summary_requests
               SET state = ?, settled_at = ?, chat_id = NULL, reply_to = NULL
               WHERE request_key = ? AND state = 'reserved'""",
            (state, to_text(self._clock()), key),
        )

    async def open_requests(self) -> list[SummaryRequest]:
        """Requests reserved and not settled: under way, or cut off by a stop."""
        rows = await self._db.fetch_all(
            "SELECT * FROM summary_requests WHERE state = 'reserved' ORDER BY created_at"
        )
        return [_request(row) for row in rows]

    async def used_since(self, payer_id: int, since: datetime) -> int:
        subject = await self._ledger.subject(payer_id)
        row = await self._db.fetch_one(
            """SELECT COUNT(*) FROM summary_requests
               WHERE subject = ? AND state != 'refunded' AND created_at >= ?""",
            (subject, to_text(since)),
        )
        return int(row[0]) if row else 0

    async def purge(self, before: datetime) -> int:
        """Delete settled requests made before `before`: no daily window counts them. Maybe
        many rows: off the event loop."""
        async with self._db.maintenance_transaction() as connection:
            return await connection.execute(
                "DELETE FROM summary_requests WHERE state != 'reserved' AND created_at < ?",
                (to_text(before),),
            )


class GroupSummarySettings:
    """Groups whose admins want a summary under every voice note longer than N seconds."""

    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def min_seconds(self, chat_id: int) -> int | None:
        row = await self._db.fetch_one(
            "SELECT min_seconds FROM group_summaries WHERE chat_id = ?", (chat_id,)
        )
        return None if row is None else int(row["min_seconds"])

    async def set_min_seconds(self, chat_id: int, seconds: int | None) -> None:
        """None turns the automatic summaries off."""
        if seconds is None:
            await self._db.execute("DELETE FROM group_summaries WHERE chat_id = ?", (chat_id,))
            return
        await self._db.execute(
            """INSERT INTO group_summaries (chat_id, min_seconds, updated_at) VALUES (?, ?, ?)
               ON CONFLICT (chat_id) DO UPDATE SET
                   min_seconds = excluded.min_seconds, updated_at = excluded.updated_at""",
            (chat_id, seconds, to_text(self._clock())),
        )
