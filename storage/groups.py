"""Per-group settings: how the bot behaves in each group chat, and the language it speaks."""

from __future__ import annotations

from storage.clock import Clock, to_text, utc_now
from storage.db import Database


class GroupSettingsRepository:
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def get_mode(self, chat_id: int) -> str | None:
        """The stored mode, or None when the group never set one."""
        row = await self._db.fetch_one(
            "SELECT mode FROM group_settings WHERE chat_id = ?", (chat_id,)
        )
        return None if row is None else str(row["mode"])

    async def set_mode(self, chat_id: int, mode: str) -> None:
        await self._db.execute(
            """INSERT INTO group_settings (chat_id, mode, updated_at) VALUES (?, ?, ?)
               ON CONFLICT (chat_id) DO UPDATE SET
                   mode = excluded.mode, updated_at = excluded.updated_at""",
            (chat_id, mode, to_text(self._clock())),
        )

    async def get_language(self, chat_id: int) -> str | None:
        """The interface language the group's administrators chose, or None."""
        row = await self._db.fetch_one(
            "SELECT language FROM group_languages WHERE chat_id = ?", (chat_id,)
        )
        return None if row is None else str(row["language"])

    async def set_language(self, chat_id: int, language: str | None) -> None:
        """Choose the group's language; None: the bot answers each member in their own."""
        if language is None:
            await self._db.execute("DELETE FROM group_languages WHERE chat_id = ?", (chat_id,))
            return
        await self._db.execute(
            """INSERT INTO group_languages (chat_id, language, updated_at) VALUES (?, ?, ?)
               ON CONFLICT (chat_id) DO UPDATE SET
                   language = excluded.language, updated_at = excluded.updated_at""",
            (chat_id, language, to_text(self._clock())),
        )
