"""The health probe's write: proof that the database still takes writes."""

from __future__ import annotations

from storage.clock import Clock, to_text, utc_now
from storage.db import Database


class Heartbeat:
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def beat(self) -> None:
        """Update the one heartbeat row in a transaction of its own; raises when the database
        cannot be written (closed, read-only, locked past its busy timeout, disk full)."""
        async with self._db.transaction() as connection:
            beaten = await connection.execute(
                "UPDATE heartbeat SET beat_at = ? WHERE id = 1", (to_text(self._clock()),)
            )
            if beaten != 1:
                raise RuntimeError("the heartbeat row is missing (migration 006 not applied?)")
