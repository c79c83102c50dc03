"""The update inbox: raw Telegram updates, saved before they are confirmed to Telegram."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from storage.clock import Clock, to_text, utc_now
from storage.db import Database

JSON = dict[str, Any]

_ROWS_PER_INSERT = 500


class InboxState(StrEnum):
    RECEIVED = "received"  # saved; no handler has started on it
    STARTED = "started"  # a handler started; if the process died, it may have half-run
    DONE = "done"
    POISONED = "poisoned"  # cannot be parsed, or failed too often: skipped for good


@dataclass(frozen=True, slots=True)
class InboxEntry:
    update_id: int
    payload: JSON
    state: InboxState
    attempts: int


class InboxRepository:
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def save(self, updates: Sequence[JSON]) -> list[int]:
        """Store raw updates; return the ids that were new.

        An update seen before (Telegram sends it again until the offset moves past it, and
        retries a webhook that got no answer) is kept as it was.
        """
        now = to_text(self._clock())
        fresh: list[int] = []
        # getUpdates gives at most 100 at a time; a webhook, one. The chunks only keep a
        # statement's parameters far below SQLite's limit of 32,766.
        for start in range(0, len(updates), _ROWS_PER_INSERT):
            chunk = updates[start : start + _ROWS_PER_INSERT]
            params: list[Any] = []
            for update in chunk:
                params += (int(update["update_id"]), json.dumps(update, separators=(",", ":")), now)
            # One statement, so one trip to the database's thread and one commit for the
            # chunk; RETURNING names the rows it inserted, the new ones.
            rows = await self._db.write_returning(
                f"""INSERT INTO inbox (update_id, payload, received_at)
                    VALUES {", ".join("(?, ?, ?)" for _ in chunk)}
                    ON CONFLICT (update_id) DO NOTHING RETURNING update_id""",
                params,
            )
            fresh += (int(row["update_id"]) for row in rows)
        return fresh

    async def pending(self) -> list[InboxEntry]:
        """Every update not yet done, oldest first (handled again after a restart)."""
        rows = await self._db.fetch_all(
            """SELECT update_id, payload, state, attempts FROM inbox
               WHERE state IN ('received', 'started') ORDER BY update_id"""
        )
        return [
            InboxEntry(
                update_id=row["update_id"],
                payload=json.loads(row["payload"]),
                state=InboxState(row["state"]),
                attempts=row["attempts"],
            )
            for row in rows
        ]

    async def mark_started(self, update_id: int) -> None:
        await self._db.execute(
            "UPDATE inbox SET state = 'started', attempts = attempts + 1 WHERE update_id = ?",
            (update_id,),
        )

    async def mark_done(self, update_id: int, note: str | None = None) -> None:
        await self._finish(update_id, InboxState.DONE, note)

    async def mark_poisoned(self, update_id: int, error: str) -> None:
        await self._finish(update_id, InboxState.POISONED, error)

    async def _finish(self, update_id: int, state: InboxState, note: str | None) -> None:
        await self._db.execute(
            "UPDATE inbox SET state = ?, error = ?, finished_at = ? WHERE update_id = ?",
            (state, note, to_text(self._clock()), update_id),
        )

    async def backlog(self) -> int:
        row = await self._db.fetch_summary(
            "SELECT COUNT(*) FROM inbox WHERE state IN ('received', 'started')"
        )
        return int(row[0])
