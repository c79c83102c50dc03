"""What a poll schedule has learnt, as a JSON object per schedule name."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from storage.clock import Clock, to_text, utc_now
from storage.db import Database

log = logging.getLogger(__name__)


class ScheduleStateRepository:
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def load(self, name: str) -> dict[str, object] | None:
        """The saved state, or None when there is none or it is no JSON object."""
        row = await self._db.fetch_one("SELECT state FROM poll_schedule WHERE name = ?", (name,))
        if row is None:
            return None
        try:
            state = json.loads(row["state"])
        except ValueError:
            # A damaged row costs what was learnt, never the start-up.
            log.warning("the saved poll schedule %r is not JSON; starting from the prior", name)
            return None
        if not isinstance(state, dict):
            log.warning("the saved poll schedule %r is no JSON object; ignored", name)
            return None
        return state

    async def save(self, name: str, state: Mapping[str, object]) -> None:
        """Replace the saved state. It must be JSON-able, without NaN or infinities."""
        text = json.dumps(state, allow_nan=False, separators=(",", ":"))
        await self._db.execute(
            """INSERT INTO poll_schedule (name, state, updated_at) VALUES (?, ?, ?)
               ON CONFLICT (name) DO UPDATE SET
                   state = excluded.state, updated_at = excluded.updated_at""",
            (name, text, to_text(self._clock())),
        )
