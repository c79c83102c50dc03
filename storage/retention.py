"""The deletes that keep the database to what the README promises (bot/pipeline/retention.py
decides when; every rule's SQL is here, in one place, so it can be read against the README).
"""

from __future__ import annotations

from dataclasses import astuple, dataclass
from datetime import datetime

from storage.clock import to_text
from storage.db import Database
from storage.jobs import OPEN_JOB_SQL

# Finished jobs, worded as the complement of the open ones (storage/jobs.py).
_FINISHED_JOB_SQL = f"NOT ({OPEN_JOB_SQL})"
_FINISHED_UPDATE_SQL = "state IN ('done', 'poisoned')"


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """What is old enough to go: rows from before these moments."""

    now: datetime
    cache_before: datetime  # transcript cache entries created before this
    jobs_before: datetime  # finished jobs that finished before this
    updates_before: datetime  # handled inbox rows that finished before this


@dataclass(frozen=True, slots=True)
class Removed:
    cache_entries: int = 0
    jobs: int = 0
    transcripts: int = 0  # texts cleared from finished jobs still kept
    update_payloads: int = 0  # handled updates whose content was cleared
    updates: int = 0
    free_pages: int = 0  # pages given back to the file system

    @property
    def anything(self) -> bool:
        return any(astuple(self))


class RetentionRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def remove_expired(self, cutoffs: Cutoffs) -> Removed:
        """Apply every rule in one transaction, then give the freed pages back."""
        async with self._db.maintenance_transaction() as connection:

            async def run(sql: str, *params: str) -> int:
                return await connection.execute(sql, params)

            # Past its TTL, or past the TTL in force now (a shortened or zero CACHE_TTL_HOURS
            # applies to entries written under the old one).
            cache_entries = await run(
                "DELETE FROM transcript_cache WHERE created_at <= ? OR expires_at <= ?",
                to_text(cutoffs.cache_before),
                to_text(cutoffs.now),
            )
            # Never an open job: it still needs its row to resume. The send journal's rows go
            # with their job (ON DELETE CASCADE).
            jobs = await run(
                f"""DELETE FROM jobs WHERE {_FINISHED_JOB_SQL}
                    AND COALESCE(finished_at, updated_at) <= ?""",
                to_text(cutoffs.jobs_before),
            )
            # A delivered job drops its text at delivery; one that failed after transcription
            # (the chat was gone, delivery gave up) drops it here.
            transcripts = await run(
                f"UPDATE jobs SET transcript = NULL WHERE {_FINISHED_JOB_SQL} "
                "AND transcript IS NOT NULL"
            )
            # A handled update is needed only to recognise it if Telegram sends it again: its
            # id is, its content (names, texts) is not.
            update_payloads = await run(
                f"UPDATE inbox SET payload = '{{}}' WHERE {_FINISHED_UPDATE_SQL} "
                "AND payload != '{}'"
            )
            updates = await run(
                f"DELETE FROM inbox WHERE {_FINISHED_UPDATE_SQL} AND finished_at <= ?",
                to_text(cutoffs.updates_before),
            )
        free_pages = await self._db.reclaim_free_pages()
        return Removed(cache_entries, jobs, transcripts, update_payloads, updates, free_pages)
