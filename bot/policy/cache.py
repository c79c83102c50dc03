"""Never pay twice for the same audio: transcript texts by file, model and language.

Telegram's file_unique_id is the same for a file however often it is forwarded, and for every
bot, so a forwarded voice note finds the first transcript. Only the text is kept, for
CACHE_TTL_HOURS (0 turns the cache off: nothing is stored), and no entry is linked to a user.
Expired entries are deleted by the retention sweep (bot/pipeline/retention.py).
"""

from __future__ import annotations

from datetime import timedelta

from storage.cache import TranscriptCacheRepository
from storage.clock import Clock, utc_now


class TranscriptCache:
    def __init__(
        self, repository: TranscriptCacheRepository, *, ttl_hours: float, clock: Clock = utc_now
    ) -> None:
        self._repository = repository
        self._ttl = timedelta(hours=ttl_hours)
        self._clock = clock

    @property
    def enabled(self) -> bool:
        return self._ttl > timedelta(0)

    async def get(self, file_unique_id: str, model: str, language: str | None) -> str | None:
        if not self.enabled:
            return None
        return await self._repository.get(file_unique_id, model, language, self._clock())

    async def put(self, file_unique_id: str, model: str, language: str | None, text: str) -> None:
        if not self.enabled:
            return
        now = self._clock()
        await self._repository.put(
            file_unique_id, model, language, text, now=now, expires_at=now + self._ttl
        )
