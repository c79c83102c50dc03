"""Every Bot API call the services make goes through here, so retries and quirks live in one place.

Services speak in chat ids, message ids and plain button rows; only this package knows telegram
types. One retry policy serves every call (bot/retry.py); what a failure means comes from
`outcomes.classify`:

- a call Telegram surely did not act on is retried, honouring its `retry_after`;
- an idempotent call (edits, reads, downloads) is retried even when it may have acted;
- a send that may have arrived is never repeated: it raises `AmbiguousSendError`, and the caller
  records it as possibly delivered.

How long to keep trying is the caller's choice (`deadline`): seconds for an answer to a command,
hours for a transcript, so a Telegram outage delays answers and loses none. So is the traffic
class (`bulk`): the pipeline's messages wait their turn in the rate limiter
(bot/telegram/rate_limiter.py), and everything else, an answer a person waits for, goes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import aiohttp
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.constants import ChatAction, ChatMemberStatus
from telegram.error import BadRequest, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import ExtBot
from telegram.warnings import PTBUserWarning

from bot.retry import RetryPolicy
from bot.telegram.flood_schedule import Traffic
from bot.telegram.outcomes import Outcome, classify
from bot.telegram.rate_limiter import Dispatch, Marking

log = logging.getLogger(__name__)

T = TypeVar("T")

# A keyboard as rows of (label, callback data), so services need no telegram types.
Buttons = Sequence[Sequence[tuple[str, str]]]

# How long an answer to a person waits out Telegram trouble before giving up.
INTERACTIVE_DEADLINE = 20.0


class GatewayError(Exception):
    """A Bot API call failed for good."""


class ChatUnavailableError(GatewayError):
    """The bot cannot write to this chat any more (blocked, kicked, chat deleted)."""


class AmbiguousSendError(GatewayError):
    """The send may or may not have arrived; it must not be sent again."""


class FileTooBigError(GatewayError):
    """Telegram refuses to hand bots files over its download limit."""


class DownloadError(GatewayError):
    """The file could not be fetched from Telegram."""


class AttemptHooks(Protocol):
    """Told around each attempt of a send, so a journal can record what may have arrived."""

    async def before_attempt(self) -> None: ...

    async def not_sent(self) -> None: ...


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


def _api_kwargs(**values: object) -> dict[str, object]:
    """A Bot API call's parameters, the unset ones left out as python-telegram-bot does."""
    return {name: value for name, value in values.items() if value is not None}


# The gateway's raw calls (do_api_request) take their objects as the JSON the Bot API reads:
# python-telegram-bot's objects would be built, checked and frozen on every send only to be
# turned back into these dicts.


def _markup(buttons: Buttons | None) -> dict[str, object] | None:
    """An InlineKeyboardMarkup as JSON."""
    if not buttons:
        return None
    return {
        "inline_keyboard": [
            [{"text": label, "callback_data": data} for label, data in row] for row in buttons
        ]
    }


def _reply(message_id: int | None) -> dict[str, object] | None:
    """ReplyParameters as JSON. allow_sending_without_reply: a deleted original must not cost
    the user their transcript."""
    if message_id is None:
        return None
    return {"message_id": message_id, "allow_sending_without_reply": True}


def _traffic(bulk: bool) -> Traffic | None:
    # Unmarked requests are interactive to the rate limiter.
    return Traffic.BULK if bulk else None


def _marking(bulk: bool, hooks: AttemptHooks | None) -> Marking | None:
    """What a send tells the rate limiter: its class and, for a recorded send, the journal
    write that must come the moment it leaves (after its turn, not before the wait)."""
    if hooks is None:
        return _traffic(bulk)
    return Dispatch(Traffic.BULK if bulk else Traffic.INTERACTIVE, hooks.before_attempt)


class ChatGateway:
    def __init__(
        self,
        bot: ExtBot[Any],
        policy: RetryPolicy,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_ambiguous: Callable[[str], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        download_session: aiohttp.ClientSession | None = None,
        local_mode: bool = False,
    ) -> None:
        self._bot = bot
        # Downloads stream through this session (None: one per download); a local-mode Bot
        # API server's files are read in place instead.
        self._download_session = download_session
        self._local_mode = local_mode
        self._policy = policy
        self._sleep = sleep
        # Counted by the operator's metrics: each one is a message that may be missing.
        self._on_ambiguous = on_ambiguous
        # Told the kind (the exception's class) of every failed Bot API call, for the metrics.
        self._on_error = on_error
        # The pipeline's sends, edits, files and getFile go through do_api_request, which
        # warns that they have methods of their own: those parse Telegram's answer, the sent
        # message and the one it replies to, into objects nobody reads, half of what a send
        # costs in CPU (benchmarks/transport.py: 1.19 against 0.56 ms). Only the fields used
        # are read here.
        warnings.filterwarnings(
            "ignore",
            message=r"Please use 'Bot\.(sendMessage|editMessageText|sendDocument|getFile)'",
            category=PTBUserWarning,
        )

    def _sent_message_id(self, what: str, answer: object) -> int:
        """The message id in Telegram's answer to a send. The send was taken whatever the
        answer says, so one that names no message is ambiguous, never retried."""
        if isinstance(answer, dict):
            message_id = answer.get("message_id")
            if isinstance(message_id, int) and not isinstance(message_id, bool):
                return message_id
        log.warning("%s: Telegram's answer names no message; it may have arrived", what)
        self.count_ambiguous(what)
        raise AmbiguousSendError(f"{what}: Telegram's answer names no message")

    def count_ambiguous(self, what: str) -> None:
        """A send that may or may not have arrived, and will not be repeated."""
        if self._on_ambiguous is not None:
            self._on_ambiguous(what)

    async def _call(
        self,
        what: str,
        call: Callable[[], Awaitable[T]],
        *,
        idempotent: bool,
        deadline: float,
        hooks: AttemptHooks | None = None,
    ) -> T:
        started = time.monotonic()
        attempt = 0
        while True:
            # A recorded send's `before_attempt` runs inside the rate limiter, when the
            # request leaves (see _marking): a stop while it waits its turn cannot make it
            # ambiguous.
            try:
                return await call()
            except TelegramError as error:
                if self._on_error is not None:
                    self._on_error(type(error).__name__)
                failure = classify(error)
                if failure.outcome is Outcome.CHAT_GONE:
                    raise ChatUnavailableError(str(error)) from error
                if failure.outcome is Outcome.MAYBE_SENT and not idempotent:
                    log.warning("%s: no answer after sending; it may have arrived", what)
                    self.count_ambiguous(what)
                    raise AmbiguousSendError(f"{what}: {type(error).__name__}") from error
                if failure.outcome in (Outcome.REJECTED, Outcome.UNAUTHORIZED):
                    raise
                delay = self._policy.next_delay(
                    attempt,
                    time.monotonic() - started,
                    retry_after=failure.retry_after,
                    deadline=deadline,
                )
                if delay is None:
                    raise
                if hooks is not None:
                    await hooks.not_sent()
                log.info(
                    "%s failed (%s: %s); retry %d in %.1fs",
                    what,
                    type(error).__name__,
                    error,
                    attempt + 1,
                    delay,
                )
                await self._sleep(delay)
                attempt += 1

    async def send_text(
        self,
        chat_id: int,
        text: str,
        *,
        reply_to: int | None,
        buttons: Buttons | None = None,
        deadline: float = INTERACTIVE_DEADLINE,
        hooks: AttemptHooks | None = None,
        bulk: bool = False,
    ) -> int:
        answer = await self._call(
            "sendMessage",
            lambda: self._bot.do_api_request(
                "sendMessage",
                _api_kwargs(
                    chat_id=chat_id,
                    text=text,
                    reply_parameters=_reply(reply_to),
                    reply_markup=_markup(buttons),
                ),
                rate_limit_args=_marking(bulk, hooks),
            ),
            idempotent=False,
            deadline=deadline,
            hooks=hooks,
        )
        return self._sent_message_id("sendMessage", answer)

    async def edit_text(
        self,
        chat_id: int,
        message_id: int,
        text: str,
        *,
        buttons: Buttons | None = None,
        deadline: float = INTERACTIVE_DEADLINE,
        bulk: bool = False,
    ) -> bool:
        """Edit a message. False when it no longer exists or cannot be edited."""
        try:
            await self._call(
                "editMessageText",
                lambda: self._bot.do_api_request(
                    "editMessageText",
                    _api_kwargs(
                        chat_id=chat_id,
                        message_id=message_id,
                        text=text,
                        reply_markup=_markup(buttons),
                    ),
                    rate_limit_args=_traffic(bulk),
                ),
                idempotent=True,
                deadline=deadline,
            )
        except BadRequest as error:
            reason = str(error).lower()
            if is_not_modified(error):
                return True
            if "not found" in reason or "can't be edited" in reason:
                return False
            raise
        return True

    async def send_document(
        self,
        chat_id: int,
        filename: str,
        data: bytes,
        *,
        caption: str | None,
        reply_to: int | None,
        buttons: Buttons | None = None,
        deadline: float = INTERACTIVE_DEADLINE,
        hooks: AttemptHooks | None = None,
        bulk: bool = False,
    ) -> int:
        answer = await self._call(
            "sendDocument",
            lambda: self._bot.do_api_request(
                "sendDocument",
                _api_kwargs(
                    chat_id=chat_id,
                    document=InputFile(data, filename=filename),
                    caption=caption,
                    reply_parameters=_reply(reply_to),
                    reply_markup=_markup(buttons),
                ),
                rate_limit_args=_marking(bulk, hooks),
            ),
            idempotent=False,
            deadline=deadline,
            hooks=hooks,
        )
        return self._sent_message_id("sendDocument", answer)

    @property
    def bot_id(self) -> int:
        return self._bot.id

    async def is_chat_admin(self, chat_id: int, user_id: int) -> bool:
        """Whether the user is the chat's creator or one of its administrators (getChatMember)."""
        try:
            member = await self._call(
                "getChatMember",
                lambda: self._bot.get_chat_member(chat_id, user_id),
                idempotent=True,
                deadline=INTERACTIVE_DEADLINE,
            )
        except (BadRequest, ChatUnavailableError):
            return False  # not a member, no such chat, or we were removed from it
        return member.status in (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)

    async def bot_can_read_all_group_messages(self) -> bool:
        """getMe's can_read_all_group_messages (privacy mode off), asked afresh each time:
        the operator can change it in BotFather while the bot runs."""
        me = await self._call(
            "getMe", self._bot.get_me, idempotent=True, deadline=INTERACTIVE_DEADLINE
        )
        return bool(me.can_read_all_group_messages)

    async def refund_star_payment(self, user_id: int, charge_id: str) -> bool:
        """Give a Telegram Stars payment back (refundStarPayment). False when Telegram says it
        already was: a second refund is refused, which also makes a retry of one that may have
        acted safe. Any other refusal raises."""
        try:
            await self._call(
                "refundStarPayment",
                lambda: self._bot.refund_star_payment(user_id, charge_id),
                idempotent=True,
                deadline=INTERACTIVE_DEADLINE,
            )
        except BadRequest as error:
            if "already_refunded" in str(error).lower():
                return False
            raise
        return True

    async def chat_action(self, chat_id: int, action: str = ChatAction.TYPING) -> None:
        """Best effort: a missing 'typing…' must never fail a job. Bulk: it may wait."""
        try:
            await self._bot.send_chat_action(chat_id, action, rate_limit_args=Traffic.BULK)
        except TelegramError as error:
            log.debug("chat action failed: %s", error)

    async def download(
        self, file_id: str, *, target: Path, max_bytes: int, deadline: float
    ) -> DownloadedFile:
        """Fetch a file onto disk, in chunks: never whole into memory.

        From api.telegram.org (or a Bot API server not in local mode) the file is streamed into
        `target`, which the caller owns and deletes. From a local-mode server (`local_mode`),
        getFile names the file on this disk: it is read where it lies, with no copy, and
        `target` stays untouched. FileTooBigError past `max_bytes`.

        The download URL holds the bot token, and so does a local server's path: neither leaves
        here, not even in a log line or an error. Both steps are reads, so any failure Telegram
        may recover from (429, 5xx, a dropped connection) is retried; a fresh getFile each
        time, since its link can expire.
        """

        async def fetch() -> DownloadedFile:
            # Telegram's answer read raw (see _markup): a File object would only be taken apart.
            answer = await self._bot.do_api_request("getFile", {"file_id": file_id})
            file = answer if isinstance(answer, dict) else {}
            declared = file.get("file_size")
            if isinstance(declared, int) and declared > max_bytes:
                raise FileTooBigError(f"{declared} bytes")
            file_path = file.get("file_path")
            if not isinstance(file_path, str) or not file_path:
                raise DownloadError("getFile named no file path")
            if Path(file_path).is_absolute():
                in_place = self._local_file(file_path)
                size = in_place.stat().st_size
                if size > max_bytes:
                    raise FileTooBigError(f"{size} bytes")
                return DownloadedFile(in_place, size, in_place=True)
            # A relative path is fetched over HTTP, from a local-mode server too (it still
            # answers so for some files).
            url = f"{self._bot.base_file_url}/{file_path}"
            size = await self._stream(url, target, max_bytes)
            return DownloadedFile(target, size, in_place=False)

        try:
            return await self._call("download", fetch, idempotent=True, deadline=deadline)
        except BadRequest as error:
            if "too big" in str(error).lower():
                raise FileTooBigError(str(error)) from error
            raise DownloadError(str(error)) from error
        except (TelegramError, ChatUnavailableError) as error:
            raise DownloadError(type(error).__name__) from error
        except OSError as error:  # the temporary folder: full, gone, not writable
            raise DownloadError(f"cannot write the download: {error.strerror}") from error

    def _local_file(self, file_path: str) -> Path:
        """The file a Bot API server named by its absolute path: read where it lies."""
        if not self._local_mode:
            # Not a URL to fetch: the server runs with --local and the bot was not told.
            raise DownloadError(
                "the Bot API server named a file on its disk: set TELEGRAM_LOCAL_MODE=true"
            )
        path = Path(file_path)
        if not path.is_file():
            # The server's working directory must be mounted at the same path here (see
            # README, "Files up to 2 GB").
            raise DownloadError(
                "the local Bot API server's file is not on this disk "
                "(mount its --dir at the same path here)"
            )
        return path

    async def _stream(self, url: str, target: Path, max_bytes: int) -> int:
        """GET `url` into `target` chunk by chunk; the bytes written. Failures are raised as
        the TelegramErrors PTB would raise for them, so one retry policy covers both steps."""
        if self._download_session is not None:
            return await _stream_to_file(self._download_session, url, target, max_bytes)
        async with aiohttp.ClientSession() as session:
            return await _stream_to_file(session, url, target, max_bytes)


@dataclass(frozen=True, slots=True)
class DownloadedFile:
    path: Path
    size: int
    # A local Bot API server's own file, read where it lies: never ours to delete.
    in_place: bool


# A chunk at a time: what one download holds in memory, whatever the file's size.
DOWNLOAD_CHUNK = 64 * 1024
# Between two chunks; a stalled download is retried rather than waited on.
DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=None, connect=10.0, sock_read=60.0)


async def _stream_to_file(
    session: aiohttp.ClientSession, url: str, target: Path, max_bytes: int
) -> int:
    written = 0
    try:
        async with session.get(url, timeout=DOWNLOAD_TIMEOUT) as response:
            if response.status != 200:
                raise await _download_refusal(response)
            with target.open("wb") as out:
                async for chunk in response.content.iter_chunked(DOWNLOAD_CHUNK):
                    written += len(chunk)
                    if written > max_bytes:
                        raise FileTooBigError(f"over {max_bytes} bytes")
                    # A write of one chunk lands in the page cache: too short to hand to a thread.
                    out.write(chunk)
    except TimeoutError as error:
        raise TimedOut("file download timed out") from error
    except aiohttp.ClientError as error:
        # The type only: aiohttp's messages carry the URL, and with it the token.
        raise NetworkError(f"file download failed: aiohttp.{type(error).__name__}") from None
    return written


async def _download_refusal(response: aiohttp.ClientResponse) -> TelegramError:
    """The TelegramError PTB raises for the same answer (see docs/ptb-and-bot-api.md §1.5)."""
    status = response.status
    retry_after: float | None = None
    with contextlib.suppress(ValueError, aiohttp.ClientError, TypeError, AttributeError):
        parameters = (await response.json(content_type=None)).get("parameters") or {}
        retry_after = float(parameters["retry_after"]) if "retry_after" in parameters else None
    if status == 429 or retry_after is not None:
        return RetryAfter(int(retry_after if retry_after is not None else 1))
    if status >= 500:
        return NetworkError(f"file download: HTTP {status}")  # Telegram's trouble: retried
    return BadRequest(f"file download: HTTP {status}")
