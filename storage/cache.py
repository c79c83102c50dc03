"""Transcript texts by (file_unique_id, model, language), kept for a limited time (expired
entries are deleted by storage/retention.py)."""

from __future__ import annotations

from datetime import datetime

from storage.clock import to_text
from storage.db import Database


class TranscriptCacheRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(
        self, file_unique_id: str, model: str, language: str | None, now: datetime
    ) -> str | None:
        row = await self._db.fetch_one(
            """SELECT text FROM transcript_cache
               WHERE file_unique_id = ? AND model = ? AND language = ? AND expires_at > ?""",
            (file_unique_id, model, language or "", to_text(now)),
        )
        return None if row is None else str(row["text"])

    async def put(
        self,
        file_unique_id: str,
        model: str,
        language: str | None,
        text: str,
        *,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        """Store a text; a live entry is kept as is, so re-storing never extends its life."""
        await self._db.execute(
            """INSERT INTO transcript_cache (file_unique_id, model, language, text, created_at,
                                             expires_at)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (file_unique_id, model, language) DO UPDATE SET
                   text = excluded.text, created_at = excluded.created_at,
                   expires_at = excluded.expires_at
               WHERE transcript_cache.expires_at <= excluded.created_at""",
            (file_unique_id, model, language or "", text, to_text(now), to_text(expires_at)),
        )
