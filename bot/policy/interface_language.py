"""The language the bot speaks to a user, or in a chat: what summaries and translations are
written in.

For now it is the user's Telegram `language_code`, as last seen, falling back to English. The
translated interface (issue 12, items 1-2: a choice in /settings, a group's own language) will
decide it for every text; this is the one place to point at it then.
"""

from __future__ import annotations

from bot.stt.languages import InvalidLanguageError, parse_language
from storage.users import UserRepository

DEFAULT_LANGUAGE = "en"


class InterfaceLanguages:
    def __init__(self, users: UserRepository) -> None:
        self._users = users

    async def for_user(self, user_id: int | None) -> str:
        """A language code ("ru", "pt-BR"): the user's Telegram language, else English."""
        if user_id is None:
            return DEFAULT_LANGUAGE
        record = await self._users.get(user_id)
        code = None if record is None else record.language_code
        if not code:
            return DEFAULT_LANGUAGE
        try:
            return parse_language(code) or DEFAULT_LANGUAGE
        except InvalidLanguageError:
            return DEFAULT_LANGUAGE

    async def for_chat(self, chat_id: int, user_id: int | None) -> str:
        """The language to answer in, in a chat: the user's (a group's own language setting
        comes with the translated interface)."""
        return await self.for_user(user_id)
