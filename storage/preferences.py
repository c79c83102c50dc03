"""Per-user settings: the chosen model, language, output options and interface language."""

from __future__ import annotations

from dataclasses import dataclass

from storage.clock import Clock, to_text, utc_now
from storage.db import Database


@dataclass(frozen=True, slots=True)
class StoredPreferences:
    model: str | None = None  # None: the operator's default applies
    language: str | None = None  # None: detect where the model can
    timestamps: bool = False
    speakers: bool = False
    attach: str | None = None
    show_language: bool = False
    interface_language: str | None = None  # None: the language of the user's Telegram app


_COLUMNS = (
    "model",
    "language",
    "timestamps",
    "speakers",
    "attach",
    "show_language",
    "interface_language",
)


class PreferenceRepository:
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def get(self, user_id: int) -> StoredPreferences:
        row = await self._db.fetch_one(
            f"SELECT {', '.join(_COLUMNS)} FROM user_settings WHERE user_id = ?", (user_id,)
        )
        if row is None:
            return StoredPreferences()
        return StoredPreferences(
            model=row["model"],
            language=row["language"],
            timestamps=bool(row["timestamps"]),
            speakers=bool(row["speakers"]),
            attach=row["attach"],
            show_language=bool(row["show_language"]),
            interface_language=row["interface_language"],
        )

    async def save(self, user_id: int, preferences: StoredPreferences) -> None:
        values = (
            preferences.model,
            preferences.language,
            int(preferences.timestamps),
            int(preferences.speakers),
            preferences.attach,
            int(preferences.show_language),
            preferences.interface_language,
        )
        updates = ", ".join(f"{column} = excluded.{column}" for column in _COLUMNS)
        await self._db.execute(
            f"""INSERT INTO user_settings (user_id, {", ".join(_COLUMNS)}, updated_at)
                VALUES (?, {", ".join("?" for _ in _COLUMNS)}, ?)
                ON CONFLICT (user_id) DO UPDATE SET {updates}, updated_at = excluded.updated_at""",
            (user_id, *values, to_text(self._clock())),
        )

    async def delete(self, user_id: int) -> None:
        await self._db.execute("DELETE FROM user_settings WHERE user_id = ?", (user_id,))
