"""Every Bot API call the services make goes through here, so retries and quirks live in one place.

Services speak in chat ids, message ids and plain button rows; only this module knows telegram
types. Flood limits (429 RetryAfter) are handled by PTB's AIORateLimiter, configured in the
composition root; this module adds retries of idempotent calls on network errors, and reads the
Bot API's "message is not modified" as success, which makes a repeated edit harmless.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters
from telegram.constants import ChatAction, ChatMemberStatus
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError, TimedOut

log = logging.getLogger(__name__)

T = TypeVar("T")

# A keyboard as rows of (label, callback data), so services need no telegram types.
Buttons = Sequence[Sequence[tuple[str, str]]]


class GatewayError(Exception):
    """A Bot API call failed for good."""


class ChatUnavailableError(GatewayError):
    """The bot cannot write to this chat any more (blocked, kicked, chat deleted)."""


class FileTooBigError(GatewayError):
    """Telegram refuses to hand bots files over 20 MB."""


class DownloadError(GatewayError):
    """The file could not be fetched from Telegram."""


def inline_markup(buttons: Buttons | None) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label, callback_data=data) for label, data in row]
            for row in buttons
        ]
    )


def is_not_modified(error: BadRequest) -> bool:
    """An edit to the content a message already has: harmless, so callers treat it as done."""
    return "not modified" in str(error).lower()


def _reply(message_id: int | None) -> ReplyParameters | None:
    # allow_sending_without_reply: a deleted original must not cost the user their transcript.
    if message_id is None:
        return None
    return ReplyParameters(message_id=message_id, allow_sending_without_reply=True)


class ChatGateway:
    def __init__(self, bot: Bot, *, attempts: int = 3, backoff: float = 1.0) -> None:
        self._bot = bot
        self._attempts = attempts
        self._backoff = backoff

    async def _retrying(self, call: Callable[[], Awaitable[T]], *, idempotent: bool) -> T:
        for attempt in range(1, self._attempts + 1):
            try:
                return await call()
            except Forbidden as error:
                raise ChatUnavailableError(str(error)) from error
            except BadRequest:
                raise
            except TimedOut:
                # A timed-out send may still have arrived: repeating it could duplicate a message.
                if not idempotent or attempt == self._attempts:
                    raise
            except NetworkError:
                if attempt == self._attempts:
                    raise
            await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
        raise AssertionError("unreachable")  # pragma: no cover

    async def send_text(
        self, chat_id: int, text: str, *, reply_to: int | None, buttons: Buttons | None = None
    ) -> int:
        message = await self._retrying(
            lambda: self._bot.send_message(
                chat_id,
                text,
                reply_parameters=_reply(reply_to),
                reply_markup=inline_markup(buttons),
            ),
            idempotent=False,
        )
        return message.message_id

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, *, buttons: Buttons | None = None
    ) -> bool:
        """Edit a message. False when it no longer exists or cannot be edited."""
        try:
            await self._retrying(
                lambda: self._bot.edit_message_text(
                    text,
                    chat_id=chat_id,
                    message_id=message_id,
                    reply_markup=inline_markup(buttons),
                ),
                idempotent=True,
            )
        except BadRequest as error:
            reason = str(error).lower()
            if is_not_modified(error):
                return True
            if "not found" in reason or "can't be edited" in reason:
                return False
            raise
        return True

    async def edit_buttons(self, chat_id: int, message_id: int, buttons: Buttons | None) -> None:
        try:
            await self._retrying(
                lambda: self._bot.edit_message_reply_markup(
                    chat_id=chat_id, message_id=message_id, reply_markup=inline_markup(buttons)
                ),
                idempotent=True,
            )
        except BadRequest as error:
            if not is_not_modified(error):
                raise

    async def send_document(
        self,
        chat_id: int,
        filename: str,
        data: bytes,
        *,
        caption: str | None,
        reply_to: int | None,
        buttons: Buttons | None = None,
    ) -> int:
        message = await self._retrying(
            lambda: self._bot.send_document(
                chat_id,
                document=data,
                filename=filename,
                caption=caption,
                reply_parameters=_reply(reply_to),
                reply_markup=inline_markup(buttons),
            ),
            idempotent=False,
        )
        return message.message_id

    @property
    def bot_id(self) -> int:
        return self._bot.id

    async def is_chat_admin(self, chat_id: int, user_id: int) -> bool:
        """Whether the user is the chat's creator or one of its administrators (getChatMember)."""
        try:
            member = await self._retrying(
                lambda: self._bot.get_chat_member(chat_id, user_id), idempotent=True
            )
        except (BadRequest, ChatUnavailableError):
            return False  # not a member, no such chat, or we were removed from it
        return member.status in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)

    async def bot_can_read_all_group_messages(self) -> bool:
        """getMe's can_read_all_group_messages (privacy mode off), asked afresh each time:
        the operator can change it in BotFather while the bot runs."""
        me = await self._retrying(self._bot.get_me, idempotent=True)
        return bool(me.can_read_all_group_messages)

    async def chat_action(self, chat_id: int, action: str = ChatAction.TYPING) -> None:
        """Best effort: a missing 'typing…' must never fail a job."""
        try:
            await self._bot.send_chat_action(chat_id, action)
        except TelegramError as error:
            log.debug("chat action failed: %s", error)

    async def download(self, file_id: str) -> bytes:
        """Fetch a file's bytes. The download URL holds the bot token: it never leaves here."""
        try:
            file = await self._retrying(lambda: self._bot.get_file(file_id), idempotent=True)
            data = await self._retrying(
                lambda: file.download_as_bytearray(read_timeout=60), idempotent=True
            )
        except BadRequest as error:
            if "too big" in str(error).lower():
                raise FileTooBigError(str(error)) from error
            raise DownloadError(str(error)) from error
        except TelegramError as error:
            raise DownloadError(type(error).__name__) from error
        return bytes(data)
