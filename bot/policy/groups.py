"""How the bot behaves in a group: transcribe every recording, only those asked for, or none.

What the bot sees decides what it can do. With privacy mode on (BotFather's default) Telegram
delivers to a bot in a group only commands meant for it, replies to its own messages and
service messages, so ordinary voice notes never arrive: auto mode needs privacy mode off or
admin rights. Mention mode works either way: a /transcribe reply carries the voice note in
reply_to_message.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from storage.groups import GroupSettingsRepository


class GroupMode(StrEnum):
    AUTO = "auto"  # every voice note, audio and video note posted in the group
    MENTION = "mention"  # only those someone replies to with /transcribe or a mention
    OFF = "off"


DEFAULT_MODE = GroupMode.AUTO


@dataclass(frozen=True, slots=True)
class ModeChange:
    allowed: bool  # False: the requester is not an administrator of the group
    mode: GroupMode  # the mode in force afterwards
    blind: bool = False  # auto mode, but the bot cannot see ordinary group messages


class ChatMembership(Protocol):
    """What the group rules ask Telegram (bot/telegram/gateway.py's ChatGateway answers)."""

    @property
    def bot_id(self) -> int: ...

    async def is_chat_admin(self, chat_id: int, user_id: int) -> bool: ...

    async def bot_can_read_all_group_messages(self) -> bool: ...


class GroupService:
    def __init__(self, repository: GroupSettingsRepository, gateway: ChatMembership) -> None:
        self._repository = repository
        self._gateway = gateway

    async def mode(self, chat_id: int) -> GroupMode:
        stored = await self._repository.get_mode(chat_id)
        return GroupMode(stored) if stored else DEFAULT_MODE

    async def transcribes_everything(self, chat_id: int) -> bool:
        return await self.mode(chat_id) == GroupMode.AUTO

    async def answers_requests(self, chat_id: int) -> bool:
        """Whether /transcribe and mentions are answered (in auto and mention mode)."""
        return await self.mode(chat_id) != GroupMode.OFF

    async def is_group_admin(
        self, chat_id: int, user_id: int | None, sender_chat_id: int | None
    ) -> bool:
        if sender_chat_id == chat_id:
            # Sent as the group itself: only an anonymous administrator can do that.
            return True
        if user_id is None:
            return False  # on behalf of another chat (a linked channel): not an admin of this one
        return await self._gateway.is_chat_admin(chat_id, user_id)

    async def can_see_group_messages(self, chat_id: int) -> bool:
        if await self._gateway.bot_can_read_all_group_messages():
            return True
        return await self._gateway.is_chat_admin(chat_id, self._gateway.bot_id)

    async def set_mode(
        self,
        chat_id: int,
        mode: GroupMode,
        *,
        user_id: int | None,
        sender_chat_id: int | None,
    ) -> ModeChange:
        if not await self.is_group_admin(chat_id, user_id, sender_chat_id):
            return ModeChange(allowed=False, mode=await self.mode(chat_id))
        await self._repository.set_mode(chat_id, mode)
        blind = mode == GroupMode.AUTO and not await self.can_see_group_messages(chat_id)
        return ModeChange(allowed=True, mode=mode, blind=blind)

    async def set_language(
        self,
        chat_id: int,
        language: str | None,
        *,
        user_id: int | None,
        sender_chat_id: int | None,
    ) -> bool:
        """Set the language the bot answers in here (None: each member's own), if the one
        asking is an administrator; False when they are not. `language` is one of the
        interface's locales (bot/policy/interface_language.py), checked by the caller."""
        if not await self.is_group_admin(chat_id, user_id, sender_chat_id):
            return False
        await self._repository.set_language(chat_id, language)
        return True
