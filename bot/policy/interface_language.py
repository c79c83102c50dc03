"""Which language the bot speaks to someone: the interface language, not the audio's.

By default a user gets the language of their Telegram app (`language_code`, which Telegram
sends with every update), or English when the bot has no catalogue for it. /settings lets them
choose another. In a group the bot speaks the group's language, which its administrators set,
and else the language of whoever it answers. The transcription language of /language is
another matter entirely (bot/policy/preferences.py's `Choice.language`).
"""

from __future__ import annotations

from dataclasses import replace

from storage.groups import GroupSettingsRepository
from storage.preferences import PreferenceRepository
from storage.users import UserRepository

DEFAULT_LOCALE = "en"
# Every language the interface is translated into: a catalogue each in bot/locales/ (a test
# checks the two agree), in the order /settings offers them.
INTERFACE_LOCALES = (
    "en",
    "es",
    "pt_BR",
    "de",
    "fr",
    "it",
    "ru",
    "uk",
    "tr",
    "id",
    "fa",
    "ar",
)
# Telegram sends IETF tags ("pt-br", "en-gb"); some Android builds still say "in" for Indonesian.
_ALIASES = {"in": "id"}


def negotiate(language_code: str | None) -> str:
    """The interface locale for a Telegram `language_code`: "pt-br" -> "pt_BR", "ru" -> "ru",
    "pt" -> "pt_BR" (the Portuguese we have), anything unknown or missing -> English."""
    if not language_code:
        return DEFAULT_LOCALE
    parts = language_code.strip().replace("_", "-").split("-")
    language = _ALIASES.get(parts[0].lower(), parts[0].lower())
    if len(parts) > 1:
        exact = f"{language}_{parts[-1].upper()}"
        if exact in INTERFACE_LOCALES:
            return exact
    if language in INTERFACE_LOCALES:
        return language
    return next(
        (locale for locale in INTERFACE_LOCALES if locale.split("_")[0] == language),
        DEFAULT_LOCALE,
    )


def parse_locale(raw: str) -> str | None:
    """A locale of INTERFACE_LOCALES named exactly (from a button), or None."""
    return raw if raw in INTERFACE_LOCALES else None


class InterfaceLanguages:
    """The one place that decides the language of a reply.

    `locale_for` is what handlers and other services call: the locale of the answer to a
    request from `user_id` in `chat_id`.
    """

    def __init__(
        self,
        preferences: PreferenceRepository,
        groups: GroupSettingsRepository,
        users: UserRepository,
    ) -> None:
        self._preferences = preferences
        self._groups = groups
        self._users = users

    async def of_user(self, user_id: int, language_code: str | None = None) -> str:
        """The user's own choice in /settings, else their Telegram app's language.

        `language_code`: the one the current update carries, when there is one (fresher than
        the stored one, and there before the user is recorded).
        """
        chosen = (await self._preferences.get(user_id)).interface_language
        if chosen is not None and chosen in INTERFACE_LOCALES:
            return chosen
        if language_code is None:
            record = await self._users.get(user_id)
            language_code = None if record is None else record.language_code
        return negotiate(language_code)

    async def of_group(self, chat_id: int) -> str | None:
        """The language a group's administrators set, or None: each member's own."""
        stored = await self._groups.get_language(chat_id)
        return stored if stored in INTERFACE_LOCALES else None

    async def locale_for(
        self,
        user_id: int | None,
        chat_id: int | None = None,
        *,
        language_code: str | None = None,
    ) -> str:
        """The locale to answer `user_id` in `chat_id` (a private chat's id is the user's).

        A group's language comes first; a message sent on behalf of a chat (no user) gets the
        group's language or English.
        """
        if chat_id is not None and chat_id != user_id:
            group = await self.of_group(chat_id)
            if group is not None:
                return group
        if user_id is None:
            return negotiate(language_code)
        return await self.of_user(user_id, language_code)

    async def for_chat(self, chat_id: int, user_id: int | None) -> str:
        """`locale_for` with the chat first: the shape a job's chat and user come in."""
        return await self.locale_for(user_id, chat_id)

    async def set_for_user(self, user_id: int, locale: str | None) -> None:
        """Choose the interface language; None follows the Telegram app again."""
        stored = await self._preferences.get(user_id)
        chosen = locale if locale in INTERFACE_LOCALES else None
        await self._preferences.save(user_id, replace(stored, interface_language=chosen))
