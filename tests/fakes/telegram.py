"""A fake Telegram Bot API server for end-to-end tests.

A real python-telegram-bot ``Application`` talks to it over real HTTP on 127.0.0.1::

    async with FakeTelegram() as fake:
        app = (
            ApplicationBuilder()
            .token(fake.token)
            .base_url(fake.base_url)            # f"{fake.url}/bot"
            .base_file_url(fake.base_file_url)  # f"{fake.url}/file/bot"
            .build()
        )
        ...
        fake.push_voice(42, b"OggS...")
        await fake.wait_for(lambda: fake.bot_texts(42))

The bot may also run as a subprocess pointed at ``fake.url``; the fake then lives in the test's
event loop and everything below works the same.

What it is faithful to, because the bot's correctness depends on it:

- HTTP status == ``error_code`` on errors, with Telegram's exact descriptions, so PTB raises the
  same exception classes (``BadRequest``, ``RetryAfter``, ``Forbidden``, ...) as in production;
- ``getUpdates`` long polling with real offset confirmation: an update stays queued until a later
  ``getUpdates`` carries a higher offset, so a bot killed mid-batch sees it again on restart;
- parameters arrive the way PTB sends them: form fields whose values are JSON-encoded, except
  plain strings, which are sent raw; files as multipart parts;
- JSON objects follow the Bot API field lists (not PTB's ``to_dict``), so PTB's parser is tested
  against an independent source;
- the bot sends plain text, so a ``parse_mode`` is refused outright rather than half-modelled:
  a bot that starts formatting must teach the fake Telegram's rules first.

Faults, per method (or DOWNLOAD), queued with ``fault_next`` or drawn at a seeded rate with
``set_fault_rate``: a 429 with retry_after, a 5xx, a connection dropped before the server acted,
one dropped after it acted (the message is stored, the bot hears nothing; a download is cut off
half-way), and a slow answer (act, then answer late). ``start_outage`` makes every request
answer 502, or refuses connections, for a while.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import itertools
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypedDict, TypeVar, Unpack

from aiohttp import web

from tests.fakes.activity import Activity
from tests.fakes.faults import Fault, FaultTable
from tests.fakes.webhook import WebhookConfig, WebhookSender

JSON = dict[str, Any]
T = TypeVar("T")

DEFAULT_TOKEN: Final = "123456789:TEST-fake-bot-token"
# Pseudo-method under which file downloads (GET /file/bot<token>/<path>) are recorded, so that
# calls_to(), wait_for_call(), fail_next(), on_call() and set_delay() work for downloads too.
DOWNLOAD: Final = "fileDownload"
MAX_DOWNLOAD_SIZE: Final = 20_000_000  # getFile refuses bigger files (Bot API docs: "20MB")
MAX_UPLOAD_SIZE: Final = 50_000_000
LOCAL_MAX_FILE_SIZE: Final = 2_000_000_000  # what a --local server hands bots
MAX_TEXT_LENGTH: Final = 4096
MAX_CAPTION_LENGTH: Final = 1024
MAX_CALLBACK_DATA_BYTES: Final = 64
# What a request can suffer (see FakeTelegram.fault_next):
#   "429": Too Many Requests with parameters.retry_after; "5xx": an HTTP error (502 by default);
#   "drop_before": the connection closes before the fake acts (nothing happened);
#   "drop_after": the fake acts (a message is stored, an edit applied), then the connection
#       closes without an answer; a download sends half the file, then closes;
#   "slow": the fake acts at once and answers `seconds` later;
#   "garbled": the fake acts, then answers 200 with an empty result object: no message in it.
TELEGRAM_FAULT_KINDS: Final = frozenset(
    {"429", "5xx", "drop_before", "drop_after", "slow", "garbled"}
)
# Call.status of a request whose connection the fake dropped: no HTTP answer was sent.
NO_ANSWER: Final = 0
DEFAULT_GROUP_USER_ID: Final = 1001
# Telegram puts this fake sender in `from` of messages an anonymous group admin sends.
GROUP_ANONYMOUS_BOT: Final[JSON] = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}
NOT_MODIFIED: Final = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
CONFLICT: Final = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
WEBHOOK_CONFLICT: Final = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
    "the webhook first"
)
CHAT_ACTIONS: Final = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
# Without an explicit allowed_updates list Telegram sends every update type but these.
_NOT_SENT_BY_DEFAULT: Final = frozenset(
    {"chat_member", "message_reaction", "message_reaction_count"}
)
# PTB JSON-encodes every parameter except plain strings, which it sends raw. A raw string such as
# text="42" or text="true" must therefore not be JSON-decoded: these parameters stay strings.
_STRING_PARAMS: Final = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "action",
        "callback_query_id",
        "file_id",
        "language_code",
        "url",
        "emoji",
        "business_connection_id",
        "message_effect_id",
        "inline_message_id",
        "title",
        "description",
        "short_description",
        "name",
        "secret_token",
        "ip_address",
        "question",
        "explanation",
        "document",
        "voice",
        "audio",
        "video",
        "video_note",
        "photo",
        "animation",
        "sticker",
        "thumbnail",
        "custom_emoji_id",
        "performer",
    }
)
_FILE_PATH_PREFIX: Final = {
    "voice": ("voice", "oga"),
    "audio": ("music", "mp3"),
    "video_note": ("video_notes", "mp4"),
    "video": ("videos", "mp4"),
    "document": ("documents", "bin"),
}
_COMMAND_RE: Final = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?=\s|$)")
_BOT_COMMAND_NAME_RE: Final = re.compile(r"^[a-z0-9_]{1,32}$")


class ApiError(Exception):
    """A Bot API error answer: HTTP status == error_code, as Telegram does it."""

    def __init__(self, error_code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def body(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def make_user(
    user_id: int,
    first_name: str | None = None,
    *,
    username: str | None = None,
    language_code: str | None = "en",
    is_bot: bool = False,
) -> JSON:
    """A Bot API ``User`` for a human sender."""
    user: JSON = {
        "id": user_id,
        "is_bot": is_bot,
        "first_name": first_name or f"User {user_id}",
        "username": username or f"user{user_id}",
    }
    if language_code is not None:
        user["language_code"] = language_code
    return user


def utf16_len(text: str) -> int:
    """Entity offsets and lengths are counted in UTF-16 code units (Bot API MessageEntity)."""
    return len(text.encode("utf-16-le")) // 2


def command_entities(text: str) -> list[JSON]:
    """The bot_command entities Telegram attaches to a text ("/cmd" and "/cmd@bot" tokens)."""
    return [
        {
            "type": "bot_command",
            "offset": utf16_len(text[: match.start()]),
            "length": utf16_len(match.group(0)),
        }
        for match in _COMMAND_RE.finditer(text)
    ]


def private_message(chat_id: int, message_id: int, **content: object) -> JSON:
    """A private-chat message as Telegram sends it in an update (commands with their entities)."""
    message: JSON = {
        "message_id": message_id,
        "date": 1_750_000_000,
        "chat": {"id": chat_id, "type": "private", "first_name": "A"},
        "from": {"id": chat_id, "is_bot": False, "first_name": "A"},
        **content,
    }
    text = content.get("text")
    if isinstance(text, str):
        message["entities"] = command_entities(text)
    return message


# --------------------------------------------------------------------------------------------
# Recorded state
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request, or a stored file's bytes."""

    filename: str
    data: bytes
    content_type: str


@dataclass(frozen=True)
class LocalMode:
    """How getFile answers in local mode (FakeTelegram.enable_local_mode)."""

    directory: Path
    on_this_disk: bool = True


@dataclass
class StoredFile:
    """A file Telegram would keep: what getFile and the download route serve."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    file_size: int  # declared size; may exceed len(data) to test limits cheaply
    file_name: str | None = None
    mime_type: str | None = None


@dataclass
class Call:
    """One request the bot made. `status` stays None until the fake has answered it.

    A dropped connection leaves status NO_ANSWER (0) and `error` saying whether the fake acted
    first (then `result` holds what it did).
    """

    index: int
    method: str
    params: JSON
    files: dict[str, UploadedFile]
    time: float  # time.monotonic() at arrival
    content_type: str = ""  # of the request's body; "" when it had none
    status: int | None = None
    result: Any = None
    error: str | None = None

    @property
    def answered(self) -> bool:
        return self.status is not None

    @property
    def ok(self) -> bool:
        return self.status == 200

    def describe(self) -> str:
        params = ", ".join(f"{key}={_short(value)}" for key, value in self.params.items())
        files = "".join(
            f", {name}=<{part.filename!r}, {len(part.data)} bytes>"
            for name, part in self.files.items()
        )
        if self.status is None:
            outcome = "(not answered yet)"
        elif self.error is not None:
            outcome = f"-> {self.status} {self.error}"
        else:
            outcome = f"-> {_short(self.result)}"
        return f"#{self.index} {self.method}({params}{files}) {outcome}"


def _short(value: Any, limit: int = 100) -> str:
    text = repr(value) if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class ChatMessage:
    """A message in a chat, as it stands now (edits applied), sent by the bot or pushed."""

    chat: JSON
    message_id: int
    date: int
    from_bot: bool
    sender: JSON | None = None  # the Bot API `from`
    sender_chat: JSON | None = None
    text: str | None = None
    entities: list[JSON] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[JSON] = field(default_factory=list)
    # Attachment fields in Bot API JSON, e.g. {"voice": {...}} or {"document": {...}}.
    content: JSON = field(default_factory=dict)
    # The bytes the bot uploaded with sendDocument (None for other messages).
    document: UploadedFile | None = None
    reply_markup: JSON | None = None
    reply_to: int | None = None  # message_id this message replies to, in the same chat
    forward_origin: JSON | None = None
    edit_date: int | None = None
    text_history: list[str] = field(default_factory=list)  # earlier texts, oldest first

    @property
    def chat_id(self) -> int:
        chat_id: int = self.chat["id"]
        return chat_id


class MessageOptions(TypedDict, total=False):
    """Options shared by the update builders.

    user: the sender; an int makes a user with that id, a dict is used as is, None leaves
        `from` out (pair it with sender_chat). Default: in a private chat the chat's own user
        (private chat id == user id), in a group user DEFAULT_GROUP_USER_ID, in a channel none.
    chat_type: "private", "group", "supergroup" or "channel". Default: the type the chat was
        registered with, else private for a positive id, supergroup for "-100..." ids and group
        for other negative ids.
    reply_to: message_id (same chat) the message replies to.
    sender_chat: chat id sent on behalf of (the group itself for an anonymous admin).
    forward_from: user id or User dict the message is forwarded from.
    """

    user: JSON | int | None
    chat_type: str | None
    reply_to: int | None
    sender_chat: int | None
    forward_from: JSON | int | None


Hook = Callable[[Call], Awaitable[None] | None]


@dataclass
class _Failure:
    error: ApiError
    remaining: int


@dataclass(eq=False)  # identity: the same callback may be registered twice
class _Hook:
    callback: Hook
    once: bool


class _Params:
    """Typed access to a request's parameters, raising Telegram-style 400s."""

    def __init__(self, values: JSON, files: dict[str, UploadedFile]) -> None:
        self.values = values
        self.files = files

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def get_int(self, name: str, default: int | None = None) -> int:
        value = self.values.get(name)
        if value is None:
            if default is None:
                raise bad_request(f"{name} is empty")
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def get_float(self, name: str, default: float) -> float:
        value = self.values.get(name)
        if value is None:
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def get_str(self, name: str) -> str | None:
        value = self.values.get(name)
        return None if value is None else str(value)

    def get_bool(self, name: str) -> bool:
        return self.values.get(name) in (True, "true", "True", 1, "1")

    def get_dict(self, name: str) -> JSON | None:
        value = self.values.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise bad_request(f"can't parse {name} JSON object")
        return value

    def get_list(self, name: str) -> list[Any] | None:
        value = self.values.get(name)
        if value is None:
            return None
        if not isinstance(value, list):
            raise bad_request(f"can't parse {name} JSON array")
        return value


def _decode_value(name: str, value: Any) -> Any:
    if name in _STRING_PARAMS or not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value  # e.g. chat_id="@channelname"


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


def _is_long_poll(request: web.Request) -> bool:
    return request.match_info.get("method", "").lower() == "getupdates"


class FakeTelegram:
    """A Bot API server on 127.0.0.1 with recorded state, update builders and fault injection."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_username: str = "stt_test_bot",
        bot_first_name: str = "STT Test Bot",
        can_join_groups: bool = True,
        can_read_all_group_messages: bool = False,
        supports_inline_queries: bool = False,
        seed: int | None = None,
    ) -> None:
        """seed: for the random fault rates (set_fault_rate), so a run can be repeated."""
        self.token = token
        self.host = host
        self.port = port
        prefix = token.split(":", 1)[0]
        self.bot_user: JSON = {
            "id": int(prefix) if prefix.isdigit() else 123456789,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.can_join_groups = can_join_groups
        self.can_read_all_group_messages = can_read_all_group_messages
        self.supports_inline_queries = supports_inline_queries

        self.calls: list[Call] = []
        self.wrong_token_used = False
        self.wrong_token_paths: list[str] = []  # token part replaced by "<token>"
        self.errors: list[BaseException] = []  # exceptions inside the fake or its hooks
        self.users: dict[int, JSON] = {}
        self.chats: dict[int, JSON] = {}
        self.files: dict[str, StoredFile] = {}  # by file_id
        self.callback_answers: dict[str, JSON] = {}  # callback_query_id -> answer params
        self.blocked_chats: set[int] = set()
        self.local_mode: LocalMode | None = None  # see enable_local_mode
        # Requests being served now, and when the last came or went (the chaos harness); a
        # long poll waiting for updates is no sign of work.
        self.activity = Activity(ignore=_is_long_poll)

        self._url: str | None = None
        self._runner: web.AppRunner | None = None
        self._closing = False
        self._changed = asyncio.Event()
        self._updates: list[JSON] = []
        self._update_ids = itertools.count(100_001)
        self._file_numbers = itertools.count(1)
        self._callback_ids = itertools.count(7_000_001)
        self._poll_generation = 0
        self._allowed_updates: frozenset[str] | None = None
        self._messages: dict[int, dict[int, ChatMessage]] = {}
        self._last_message_id: dict[int, int] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._callback_queries: dict[str, JSON] = {}
        self._member_status: dict[int, dict[int, str]] = {}
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._failures: dict[str, list[_Failure]] = {}
        self._hooks: dict[str, list[_Hook]] = {}
        self._delays: dict[str, float] = {}
        self.faults = FaultTable(TELEGRAM_FAULT_KINDS, seed)
        self._site: web.TCPSite | None = None
        self._outage_until: float | None = None  # time.monotonic() when the outage ends
        self._outage_refuses = False
        self._outage_end: asyncio.Task[None] | None = None
        handlers: dict[str, Callable[[_Params], Awaitable[Any]]] = {
            "getMe": self._get_me,
            "logOut": self._true,
            "close": self._true,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setWebhook": self._set_webhook,
            "getUpdates": self._get_updates,
            "getFile": self._get_file,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "sendDocument": self._send_document,
            "sendChatAction": self._send_chat_action,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "answerCallbackQuery": self._answer_callback_query,
            "getChatMember": self._get_chat_member,
        }
        # Webhook mode (tests/fakes/webhook.py): set by setWebhook, ended by deleteWebhook.
        self.webhook = WebhookSender(self)
        handlers.update(self._init_payments())
        # Telegram matches method names case-insensitively; calls are logged under the
        # canonical spelling.
        self._handlers = {name.lower(): (name, handler) for name, handler in handlers.items()}

    # ---------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("FakeTelegram is not started")
        return self._url

    @property
    def base_url(self) -> str:
        """For ApplicationBuilder.base_url (PTB appends the token)."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """For ApplicationBuilder.base_file_url (PTB appends the token)."""
        return f"{self.url}/file/bot"

    async def start(self) -> str:
        app = web.Application(
            client_max_size=MAX_UPLOAD_SIZE + 1_000_000, middlewares=[self.activity.middleware]
        )
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{file_path:.+}", self._handle_download)
        # No access log: request paths carry the bot token. A short shutdown_timeout: pending
        # handlers are woken by stop() and finish at once.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self._site = site
        address = self._runner.addresses[0]
        self.port = int(address[1])
        self._url = f"http://{self.host}:{self.port}"
        self._closing = False
        return self._url

    async def stop(self) -> None:
        """Answer pending long polls (empty) and delayed calls, then close the server."""
        if self._runner is None:
            return
        self._closing = True
        self._notify()
        await self.webhook.close()
        if self._outage_end is not None:
            self._outage_end.cancel()
            self._outage_end = None
        await self._runner.cleanup()
        self._runner = None
        self._site = None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # ---------------------------------------------------------------- chats and users

    def add_chat(
        self,
        chat_id: int,
        chat_type: str | None = None,
        *,
        title: str | None = None,
        first_name: str | None = None,
        username: str | None = None,
    ) -> JSON:
        """Register a chat (builders do it on first use). Returns the Bot API ``Chat``."""
        chat_type = chat_type or self._default_chat_type(chat_id)
        if chat_type == "private" and chat_id <= 0:
            raise ValueError(f"a private chat needs a positive id (the user's), got {chat_id}")
        if chat_type in {"group", "supergroup", "channel"} and chat_id >= 0:
            raise ValueError(f"a {chat_type} needs a negative id, got {chat_id}")
        chat: JSON = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            user = self.users.get(chat_id) or make_user(chat_id, first_name, username=username)
            self.users.setdefault(chat_id, user)
            chat["first_name"] = first_name or user["first_name"]
            if username or user.get("username"):
                chat["username"] = username or user["username"]
        else:
            chat["title"] = title or ("Test Channel" if chat_type == "channel" else "Test Group")
            if username:
                chat["username"] = username
        self.chats[chat_id] = chat
        return chat

    def set_chat_admins(
        self, chat_id: int, admin_ids: list[int], *, creator_id: int | None = None
    ) -> None:
        """Make getChatMember answer "administrator" for these users and "creator" for one."""
        statuses = self._member_status.setdefault(chat_id, {})
        for user_id in admin_ids:
            statuses[user_id] = "administrator"
        if creator_id is not None:
            statuses[creator_id] = "creator"

    def set_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        """status: creator, administrator, member, left or kicked."""
        if status not in {"creator", "administrator", "member", "left", "kicked"}:
            raise ValueError(f"unsupported chat member status {status!r}")
        self._member_status.setdefault(chat_id, {})[user_id] = status

    def block_chat(self, chat_id: int) -> None:
        """The user blocked the bot: sends to this chat answer 403 like Telegram."""
        self.blocked_chats.add(chat_id)

    # ---------------------------------------------------------------- files

    def register_file(
        self,
        data: bytes,
        *,
        kind: str = "document",
        file_unique_id: str | None = None,
        file_size: int | None = None,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> StoredFile:
        """Store a file the bot can getFile and download.

        kind picks the file_path folder (voice, audio, video_note, video, document).
        file_size is the declared size (default len(data)): declare more than 20_000_000 to
        test the download limit without allocating it. Pass the file_unique_id of an earlier
        file to model the same file seen again (a forwarded voice note).
        """
        number = next(self._file_numbers)
        folder, extension = _FILE_PATH_PREFIX.get(kind, ("documents", "bin"))
        if file_name and "." in file_name:
            extension = file_name.rsplit(".", 1)[1].lower()
        stored = StoredFile(
            file_id=f"FAKE-{kind}-{number:06d}-id",
            file_unique_id=file_unique_id or f"uniq{number:06d}",
            file_path=f"{folder}/file_{number}.{extension}",
            data=data,
            file_size=len(data) if file_size is None else file_size,
            file_name=file_name,
            mime_type=mime_type,
        )
        self.files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    # ---------------------------------------------------------------- update builders

    def push_text(self, chat_id: int, text: str, **options: Unpack[MessageOptions]) -> JSON:
        """A text message; "/cmd" and "/cmd@bot args" get bot_command entities."""
        content: JSON = {"text": text}
        entities = command_entities(text)
        if entities:
            content["entities"] = entities
        return self.push_message(chat_id, content, **options)

    def push_voice(
        self,
        chat_id: int,
        data: bytes,
        *,
        duration: int = 3,
        mime_type: str | None = "audio/ogg",
        file_size: int | None = None,
        file_unique_id: str | None = None,
        caption: str | None = None,
        **options: Unpack[MessageOptions],
    ) -> JSON:
        stored = self.register_file(
            data,
            kind="voice",
            file_unique_id=file_unique_id,
            file_size=file_size,
            mime_type=mime_type,
        )
        voice: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
        }
        if mime_type is not None:
            voice["mime_type"] = mime_type
        voice["file_size"] = stored.file_size
        return self.push_message(chat_id, _with_caption({"voice": voice}, caption), **options)

    def push_audio(
        self,
        chat_id: int,
        data: bytes,
        *,
        duration: int = 30,
        file_name: str | None = "audio.mp3",
        mime_type: str | None = "audio/mpeg",
        title: str | None = None,
        performer: str | None = None,
        file_size: int | None = None,
        file_unique_id: str | None = None,
        caption: str | None = None,
        **options: Unpack[MessageOptions],
    ) -> JSON:
        stored = self.register_file(
            data,
            kind="audio",
            file_unique_id=file_unique_id,
            file_size=file_size,
            file_name=file_name,
            mime_type=mime_type,
        )
        audio: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
        }
        optional = {
            "performer": performer,
            "title": title,
            "file_name": file_name,
            "mime_type": mime_type,
        }
        audio.update({key: value for key, value in optional.items() if value is not None})
        audio["file_size"] = stored.file_size
        return self.push_message(chat_id, _with_caption({"audio": audio}, caption), **options)

    def push_video_note(
        self,
        chat_id: int,
        data: bytes,
        *,
        duration: int = 5,
        length: int = 240,
        file_size: int | None = None,
        file_unique_id: str | None = None,
        **options: Unpack[MessageOptions],
    ) -> JSON:
        """A round video; the Bot API VideoNote has no mime_type (and no caption)."""
        stored = self.register_file(
            data, kind="video_note", file_unique_id=file_unique_id, file_size=file_size
        )
        video_note: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "length": length,
            "duration": duration,
            "file_size": stored.file_size,
        }
        return self.push_message(chat_id, {"video_note": video_note}, **options)

    def push_video(
        self,
        chat_id: int,
        data: bytes,
        *,
        duration: int = 10,
        width: int = 640,
        height: int = 360,
        file_name: str | None = "video.mp4",
        mime_type: str | None = "video/mp4",
        file_size: int | None = None,
        file_unique_id: str | None = None,
        caption: str | None = None,
        **options: Unpack[MessageOptions],
    ) -> JSON:
        stored = self.register_file(
            data,
            kind="video",
            file_unique_id=file_unique_id,
            file_size=file_size,
            file_name=file_name,
            mime_type=mime_type,
        )
        video: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "width": width,
            "height": height,
            "duration": duration,
        }
        if file_name is not None:
            video["file_name"] = file_name
        if mime_type is not None:
            video["mime_type"] = mime_type
        video["file_size"] = stored.file_size
        return self.push_message(chat_id, _with_caption({"video": video}, caption), **options)

    def push_document(
        self,
        chat_id: int,
        data: bytes,
        *,
        file_name: str | None = "file.bin",
        mime_type: str | None = "application/octet-stream",
        file_size: int | None = None,
        file_unique_id: str | None = None,
        caption: str | None = None,
        **options: Unpack[MessageOptions],
    ) -> JSON:
        stored = self.register_file(
            data,
            kind="document",
            file_unique_id=file_unique_id,
            file_size=file_size,
            file_name=file_name,
            mime_type=mime_type,
        )
        return self.push_message(
            chat_id, _with_caption({"document": _document_json(stored)}, caption), **options
        )

    def push_channel_post(self, chat_id: int, text: str, *, title: str | None = None) -> JSON:
        """A channel post: sender_chat is the channel, no `from`."""
        if chat_id not in self.chats:
            self.add_chat(chat_id, "channel", title=title)
        return self.push_text(chat_id, text, chat_type="channel")

    def push_message(self, chat_id: int, content: JSON, **options: Unpack[MessageOptions]) -> JSON:
        """Push a message with arbitrary content fields (e.g. a hand-made {"voice": {...}}).

        Returns the Message JSON as queued. Channel chats produce a channel_post update.
        """
        chat = self._ensure_chat(chat_id, options.get("chat_type"))
        sender = self._resolve_sender(chat, options)
        sender_chat_id = options.get("sender_chat")
        if chat["type"] == "channel" and sender_chat_id is None:
            sender_chat_id = chat_id
        message = ChatMessage(
            chat=chat,
            message_id=self._next_message_id(chat_id),
            date=int(time.time()),
            from_bot=False,
            sender=sender,
            sender_chat=None if sender_chat_id is None else self._ensure_chat(sender_chat_id),
            text=content.get("text"),
            entities=list(content.get("entities", [])),
            caption=content.get("caption"),
            caption_entities=list(content.get("caption_entities", [])),
            content={
                key: value
                for key, value in content.items()
                if key not in {"text", "entities", "caption", "caption_entities"}
            },
            reply_to=self._existing_reply_target(chat_id, options.get("reply_to")),
            forward_origin=self._forward_origin(options.get("forward_from")),
        )
        self._store(message)
        kind = "channel_post" if chat["type"] == "channel" else "message"
        payload = self.message_json(message)
        self._push_update(kind, payload)
        return payload

    def push_edited_message(
        self,
        chat_id: int,
        message_id: int,
        text: str | None = None,
        *,
        caption: str | None = None,
    ) -> JSON:
        """The user edits one of their messages: state changes, edited_message is queued."""
        message = self.message(chat_id, message_id)
        if message.from_bot:
            raise ValueError("push_edited_message edits a user's message; the bot edits its own")
        now = int(time.time())
        if text is not None:
            if message.text is not None:
                message.text_history.append(message.text)
            message.text = text
            message.entities = command_entities(text)
        if caption is not None:
            message.caption = caption
        message.edit_date = now
        kind = "edited_channel_post" if message.chat["type"] == "channel" else "edited_message"
        payload = self.message_json(message)
        self._push_update(kind, payload)
        return payload

    def push_callback_query(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        *,
        user: JSON | int | None = None,
    ) -> JSON:
        """A press on an inline button of one of the bot's messages. Returns the CallbackQuery.

        `message` is the bot message as it stands now, edits included.
        """
        message = self.message(chat_id, message_id)
        options = MessageOptions(user=user) if user is not None else MessageOptions()
        sender = self._resolve_sender(message.chat, options)
        if sender is None:
            raise ValueError("a callback query needs a user")
        query_id = str(next(self._callback_ids))
        query: JSON = {
            "id": query_id,
            "from": sender,
            "message": self.message_json(message),
            "chat_instance": f"instance{abs(chat_id)}",
            "data": data,
        }
        self._callback_queries[query_id] = query
        self._push_update("callback_query", query)
        return query

    def push_update(self, update_type: str, payload: JSON) -> JSON:
        """Queue any other update type as is (e.g. "my_chat_member"). Returns the Update."""
        return self._push_update(update_type, payload)

    def push_raw_update(self, update: JSON) -> JSON:
        """Queue an arbitrary Update dict as is, even one Telegram would never send (e.g. a
        voice without `duration`). An update_id is added when it has none. Returns the Update.

        allowed_updates filters it by its first key other than update_id, like any update;
        nothing checks that its chats or messages exist.
        """
        queued = copy.deepcopy(update)
        if "update_id" not in queued:
            queued["update_id"] = next(self._update_ids)
        self._updates.append(queued)
        self._notify()
        return copy.deepcopy(queued)

    # ---------------------------------------------------------------- state helpers

    def messages(self, chat_id: int, *, include_user: bool = False) -> list[ChatMessage]:
        """The bot's messages in a chat, oldest first (optionally the users' too)."""
        return [
            message
            for message in self._messages.get(chat_id, {}).values()
            if include_user or message.from_bot
        ]

    def message(self, chat_id: int, message_id: int) -> ChatMessage:
        """Any message, the bot's or a user's; KeyError if it never existed."""
        try:
            return self._messages[chat_id][message_id]
        except KeyError:
            raise KeyError(f"no message {message_id} in chat {chat_id}") from None

    def bot_texts(self, chat_id: int) -> list[str]:
        """Current texts of the bot's text messages in the chat, oldest first."""
        return [message.text for message in self.messages(chat_id) if message.text is not None]

    def documents(self, chat_id: int) -> list[UploadedFile]:
        """Files the bot sent with sendDocument to the chat, oldest first."""
        return [
            message.document for message in self.messages(chat_id) if message.document is not None
        ]

    def calls_to(self, method: str) -> list[Call]:
        method = method.lower()
        return [call for call in self.calls if call.method.lower() == method]

    def commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """What setMyCommands stored for a scope (default scope when None)."""
        return list(self._commands.get(_commands_key(scope, language_code), []))

    @property
    def pending_updates(self) -> list[JSON]:
        """Updates queued and not yet confirmed by a getUpdates offset."""
        return list(self._updates)

    def message_json(self, message: ChatMessage, *, with_reply: bool = True) -> JSON:
        """The Bot API Message object for the current state of a message."""
        payload: JSON = {"message_id": message.message_id}
        if message.sender is not None:
            payload["from"] = message.sender
        if message.sender_chat is not None:
            payload["sender_chat"] = message.sender_chat
        payload["date"] = message.date
        payload["chat"] = message.chat
        if message.forward_origin is not None:
            payload["forward_origin"] = message.forward_origin
        if with_reply and message.reply_to is not None:
            replied = self._messages.get(message.chat_id, {}).get(message.reply_to)
            if replied is not None:
                # Telegram never nests reply_to_message inside reply_to_message.
                payload["reply_to_message"] = self.message_json(replied, with_reply=False)
        if message.edit_date is not None:
            payload["edit_date"] = message.edit_date
        if message.text is not None:
            payload["text"] = message.text
            if message.entities:
                payload["entities"] = message.entities
        payload.update(message.content)
        if message.caption is not None:
            payload["caption"] = message.caption
            if message.caption_entities:
                payload["caption_entities"] = message.caption_entities
        if message.reply_markup is not None:
            payload["reply_markup"] = message.reply_markup
        # A copy: callers (and the call log) must not be able to alter the fake's state.
        return copy.deepcopy(payload)

    def describe_recent(self, count: int = 25) -> str:
        lines = [call.describe() for call in self.calls[-count:]] or ["(no calls)"]
        if self.errors:
            lines.append(f"errors inside the fake: {self.errors!r}")
        return "\n".join(lines)

    def assert_no_errors(self) -> None:
        assert not self.errors, f"the fake or one of its hooks failed: {self.errors!r}"

    # ---------------------------------------------------------------- waiting

    async def wait_for(
        self,
        predicate: Callable[[], T],
        timeout: float = 10.0,  # noqa: ASYNC109 - the tests' API: a deadline, not a cancel scope
        *,
        what: str | None = None,
    ) -> T:
        """Wait until predicate() is truthy and return its value.

        Re-checked on every change in the fake (call, answer, push) and every 50 ms, so the
        predicate may also look at state outside the fake (a database, a file). A KeyError or
        IndexError from the predicate counts as "not yet", so
        `lambda: fake.messages(chat)[-1].text == "done"` needs no guard.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last_error: LookupError | None = None
        while True:
            try:
                value = predicate()
            except LookupError as exc:
                last_error = exc
            else:
                if value:
                    return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                error = f" (last lookup error: {last_error!r})" if last_error else ""
                raise AssertionError(
                    f"timed out after {timeout}s waiting for "
                    f"{what or _describe(predicate)}{error}; "
                    f"recent calls:\n{self.describe_recent()}"
                )
            await self._wait_change(min(remaining, 0.05))

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - as in wait_for
        *,
        since: int = 0,
    ) -> Call:
        """Wait for an answered call to `method` (matching predicate) and return it.

        Calls already made count too; pass since=len(fake.calls) taken earlier to wait only
        for newer ones.
        """
        method = method.lower()

        def find() -> Call | None:
            for call in self.calls[since:]:
                if (
                    call.answered
                    and call.method.lower() == method
                    and (predicate is None or predicate(call))
                ):
                    return call
            return None

        what = f"an answered call to {method}" + (
            f" matching {_describe(predicate)}" if predicate else ""
        )
        found = await self.wait_for(find, timeout, what=what)
        assert found is not None
        return found

    # ---------------------------------------------------------------- fault injection

    def fail_next(
        self,
        method: str,
        error_code: int,
        description: str | None = None,
        retry_after: int | None = None,
        count: int = 1,
        *,
        parameters: JSON | None = None,
    ) -> None:
        """Answer the next `count` calls to method with this error (queued after earlier ones).

        description defaults to Telegram's wording for the code; retry_after adds
        parameters.retry_after (PTB raises RetryAfter). Works for DOWNLOAD too.
        """
        if description is None:
            description = {
                400: "Bad Request",
                401: "Unauthorized",
                403: "Forbidden: bot was blocked by the user",
                404: "Not Found",
                409: CONFLICT,
                429: f"Too Many Requests: retry after {retry_after or 1}",
                500: "Internal Server Error",
                502: "Bad Gateway",
            }.get(error_code, "Internal Server Error")
        merged = dict(parameters or {})
        if retry_after is not None:
            merged["retry_after"] = retry_after
        failure = _Failure(ApiError(error_code, description, merged or None), count)
        self._failures.setdefault(method.lower(), []).append(failure)

    def on_call(self, method: str, callback: Hook, *, once: bool = False) -> Callable[[], None]:
        """Run callback(call) when `method` arrives ("*" for any), before the fake answers.

        The callback may be sync or async. The fake answers normally afterwards (Telegram
        would have acted on a request that reached it). Returns a function removing the hook.
        """
        hook = _Hook(callback, once)
        hooks = self._hooks.setdefault(method.lower(), [])
        hooks.append(hook)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                hooks.remove(hook)

        return remove

    def set_delay(self, method: str, seconds: float) -> None:
        """Hold answers to `method` for `seconds` (0 removes the delay). stop() cuts it short."""
        if seconds > 0:
            self._delays[method.lower()] = seconds
        else:
            self._delays.pop(method.lower(), None)

    def fault_next(
        self,
        method: str,
        kind: str,
        *,
        count: int = 1,
        status: int = 502,
        retry_after: float = 1,
        seconds: float = 6.5,
    ) -> None:
        """The next `count` calls to `method` (or DOWNLOAD) suffer a fault of `kind`.

        Kinds: TELEGRAM_FAULT_KINDS. status is the 5xx's code, retry_after the 429's, seconds
        how late a "slow" answer comes. Faults queued with fail_next come first.
        """
        fault = Fault(kind, status=status, retry_after=retry_after, seconds=seconds)
        self.faults.queue(method, fault, count)

    def set_fault_rate(
        self,
        method: str,
        kind: str,
        probability: float,
        *,
        status: int = 502,
        retry_after: float = 1,
        seconds: float = 6.5,
    ) -> None:
        """Each call to `method` ("*": every method without rates of its own) suffers a fault
        of `kind` with this probability, drawn from the seeded generator. 0 removes it."""
        fault = Fault(kind, status=status, retry_after=retry_after, seconds=seconds)
        self.faults.set_rate(method, fault, probability)

    def clear_faults(self) -> None:
        """Drop queued faults (fault_next and fail_next) and every rate; end no outage."""
        self.faults.clear()
        self._failures.clear()

    async def start_outage(self, seconds: float, *, refuse: bool = False) -> None:
        """For `seconds`, every request answers 502 Bad Gateway; with refuse=True, connections
        are refused instead (the port stops listening and requests on open connections are
        dropped unanswered). It ends by itself, or at end_outage()."""
        await self.end_outage()
        self._outage_until = time.monotonic() + seconds
        self._outage_refuses = refuse
        if refuse and self._site is not None:
            await self._site.stop()
            self._site = None
        self._outage_end = asyncio.create_task(self._end_outage_after(seconds))

    async def end_outage(self) -> None:
        if self._outage_end is not None and self._outage_end is not asyncio.current_task():
            self._outage_end.cancel()
        self._outage_end = None
        self._outage_until = None
        if self._site is None and self._runner is not None and not self._closing:
            site = web.TCPSite(self._runner, self.host, self.port)
            await site.start()
            self._site = site
        self._notify()

    @property
    def in_outage(self) -> bool:
        if self._outage_until is None:
            return False
        return time.monotonic() < self._outage_until

    async def _end_outage_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self.end_outage()

    # ---------------------------------------------------------------- HTTP plumbing

    async def _handle_method(self, request: web.Request) -> web.StreamResponse:
        raw_method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return self._unauthorized(f"/bot<token>/{raw_method}")
        try:
            params, files = await _read_params(request)
        except ValueError as exc:
            return _json_response(bad_request(f"can't parse request: {exc}").body(), 400)
        except ConnectionError:
            # The client died while sending (a bot process killed mid-request): nobody is
            # left to answer, and Telegram would never have seen the call.
            return web.Response(status=400)
        name, handler = self._handlers.get(raw_method.lower(), (raw_method, None))

        async def answer(call_params: _Params) -> Any:
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            return await handler(call_params)

        return await self._serve(request, name, params, files, answer)

    async def _handle_download(self, request: web.Request) -> web.StreamResponse:
        file_path = request.match_info["file_path"]
        if request.match_info["token"] != self.token:
            return self._unauthorized(f"/file/bot<token>/{file_path}")
        downloaded: list[bytes] = []

        async def answer(_: _Params) -> Any:
            stored = self._files_by_path.get(file_path)
            if stored is None:
                raise ApiError(404, "Not Found")
            downloaded.append(stored.data)
            return {"file_path": file_path, "bytes": len(stored.data)}

        return await self._serve(
            request, DOWNLOAD, {"file_path": file_path}, {}, answer, body=lambda: downloaded[0]
        )

    async def _serve(
        self,
        request: web.Request,
        method: str,
        params: JSON,
        files: dict[str, UploadedFile],
        answer: Callable[[_Params], Awaitable[Any]],
        *,
        body: Callable[[], bytes] | None = None,
    ) -> web.StreamResponse:
        """Record the call, apply hooks, delays and faults, act, answer.

        `body` makes a successful answer those raw bytes (a download) instead of JSON.
        """
        content_type = request.content_type if request.body_exists else ""
        call = Call(len(self.calls), method, params, files, time.monotonic(), content_type)
        self.calls.append(call)
        self._notify()
        key = method.lower()
        try:
            await self._run_hooks(call)
            if self.in_outage:
                if self._outage_refuses:
                    return await self._drop(request, call, acted=False)
                raise ApiError(502, "Bad Gateway")
            delay = self._delays.get(key)
            if delay:
                await self._sleep_unless_closing(delay)
            failure = self._pop_failure(key)
            if failure is not None:
                raise failure
            fault = self.faults.draw(key)
            kind = fault.kind if fault is not None else None
            if fault is not None and kind in ("429", "5xx"):
                raise _fault_error(fault)
            if kind == "drop_before":
                return await self._drop(request, call, acted=False)
            result = await answer(_Params(params, files))
            if kind == "drop_after":
                call.result = result
                return await self._drop(request, call, acted=True, body=body)
            if fault is not None and kind == "slow":
                await self._sleep_unless_closing(fault.seconds)
            call.status, call.result = 200, result
            if kind == "garbled" and body is None:
                self._notify()
                return _json_response({"ok": True, "result": {}}, 200)
            if body is not None:
                self._notify()
                return web.Response(body=body(), content_type="application/octet-stream")
            answer_body: JSON = {"ok": True, "result": result}
        except ApiError as exc:
            call.status, call.error = exc.error_code, exc.description
            answer_body = exc.body()
        except Exception as exc:  # a bug in the fake or a hook: show it, don't hang the bot
            self.errors.append(exc)
            error = ApiError(500, f"Internal Server Error: fake failed: {exc!r}")
            call.status, call.error = 500, error.description
            answer_body = error.body()
        self._notify()
        return _json_response(answer_body, call.status)

    async def _drop(
        self,
        request: web.Request,
        call: Call,
        *,
        acted: bool,
        body: Callable[[], bytes] | None = None,
    ) -> web.StreamResponse:
        """Close the connection without an answer; a download that acted sends half first."""
        call.status = NO_ANSWER
        call.error = f"connection dropped {'after' if acted else 'before'} the server acted"
        self._notify()
        if acted and body is not None:
            data = body()
            response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
            response.content_length = len(data)
            with contextlib.suppress(ConnectionError):
                await response.prepare(request)
                await response.write(data[: len(data) // 2])
            _close(request)
            return response
        _close(request)
        return web.Response()  # never written: the connection is already closed

    async def _run_hooks(self, call: Call) -> None:
        for key in (call.method.lower(), "*"):
            for hook in list(self._hooks.get(key, [])):
                if hook.once:
                    self._hooks[key].remove(hook)
                outcome = hook.callback(call)
                if inspect.isawaitable(outcome):
                    await outcome

    def _pop_failure(self, key: str) -> ApiError | None:
        queue = self._failures.get(key)
        if not queue:
            return None
        failure = queue[0]
        failure.remaining -= 1
        if failure.remaining <= 0:
            queue.pop(0)
        return failure.error

    def _unauthorized(self, redacted_path: str) -> web.Response:
        self.wrong_token_used = True
        self.wrong_token_paths.append(redacted_path)
        body = {"ok": False, "error_code": 401, "description": "Unauthorized"}
        return _json_response(body, 401)

    def _notify(self) -> None:
        """Wake everyone waiting for a change (long polls, wait_for)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_change(self, seconds: float) -> None:
        changed = self._changed
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await changed.wait()

    async def _sleep_unless_closing(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self._closing and (remaining := deadline - loop.time()) > 0:
            await self._wait_change(remaining)

    # ---------------------------------------------------------------- internal state

    def _default_chat_type(self, chat_id: int) -> str:
        if chat_id > 0:
            return "private"
        return "supergroup" if str(chat_id).startswith("-100") else "group"

    def _ensure_chat(self, chat_id: int, chat_type: str | None = None) -> JSON:
        chat = self.chats.get(chat_id)
        if chat is None:
            return self.add_chat(chat_id, chat_type)
        if chat_type is not None and chat["type"] != chat_type:
            raise ValueError(f"chat {chat_id} is a {chat['type']}, not a {chat_type}")
        return chat

    def _resolve_sender(self, chat: JSON, options: MessageOptions) -> JSON | None:
        if "user" in options:
            user = options["user"]
            if user is None:
                return None
        elif chat["type"] == "private":
            user = chat["id"]
        elif chat["type"] == "channel":
            return None
        else:
            user = DEFAULT_GROUP_USER_ID
        resolved = (self.users.get(user) or make_user(user)) if isinstance(user, int) else user
        self.users.setdefault(resolved["id"], resolved)
        return resolved

    def _forward_origin(self, forward_from: JSON | int | None) -> JSON | None:
        if forward_from is None:
            return None
        user = make_user(forward_from) if isinstance(forward_from, int) else forward_from
        return {"type": "user", "date": int(time.time()) - 3600, "sender_user": user}

    def _existing_reply_target(self, chat_id: int, reply_to: int | None) -> int | None:
        if reply_to is not None:
            self.message(chat_id, reply_to)  # KeyError with a clear text if unknown
        return reply_to

    def _next_message_id(self, chat_id: int) -> int:
        self._last_message_id[chat_id] = self._last_message_id.get(chat_id, 0) + 1
        return self._last_message_id[chat_id]

    def _store(self, message: ChatMessage) -> None:
        self._messages.setdefault(message.chat_id, {})[message.message_id] = message

    def _push_update(self, update_type: str, payload: JSON) -> JSON:
        update = {"update_id": next(self._update_ids), update_type: payload}
        self._updates.append(update)
        self._notify()
        return update

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            # "Negative offset ... retrieve updates starting from -offset update from the end
            # of the updates queue. All previous updates will be forgotten."
            self._updates = self._updates[offset:]

    def _deliverable(self, limit: int) -> list[JSON]:
        allowed = self._allowed_updates
        kept = []
        for update in self._updates:
            # A raw update with no content (None) is delivered as it is.
            update_type = next((key for key in update if key != "update_id"), None)
            if update_type is None or (
                (update_type in allowed) if allowed else update_type not in _NOT_SENT_BY_DEFAULT
            ):
                kept.append(update)
        self._updates = kept  # Telegram never delivers, so drops, filtered-out updates
        return kept[:limit]

    def _chat_param(self, params: _Params, *, sending: bool = False) -> JSON:
        value = params.get("chat_id")
        if value is None or value == "":
            raise bad_request("chat_id is empty")
        chat: JSON | None = None
        if isinstance(value, int):
            chat = self.chats.get(value)
        elif isinstance(value, str) and value.startswith("@"):
            chat = next((c for c in self.chats.values() if c.get("username") == value[1:]), None)
        if chat is None:
            raise bad_request("chat not found")
        if sending and chat["id"] in self.blocked_chats:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _find(self, chat_id: int, message_id: int) -> ChatMessage | None:
        return self._messages.get(chat_id, {}).get(message_id)

    def _reply_target(self, chat_id: int, params: _Params) -> int | None:
        reply = params.get_dict("reply_parameters")
        if reply is None and params.get("reply_to_message_id") is not None:
            reply = {
                "message_id": params.get_int("reply_to_message_id"),
                "allow_sending_without_reply": params.get_bool("allow_sending_without_reply"),
            }
        if reply is None:
            return None
        target_chat = reply.get("chat_id", chat_id)
        message_id = reply.get("message_id")
        if (
            target_chat == chat_id
            and isinstance(message_id, int)
            and self._find(chat_id, message_id) is not None
        ):
            return message_id
        if reply.get("allow_sending_without_reply"):
            return None
        raise bad_request("message to be replied not found")

    def _formatted(self, params: _Params, name: str, entities_name: str) -> tuple[str, list[JSON]]:
        if params.get_str("parse_mode"):
            raise bad_request("can't parse entities: FakeTelegram does not model parse modes")
        return params.get_str(name) or "", list(params.get_list(entities_name) or [])

    def _markup(self, params: _Params) -> JSON | None:
        markup = params.get_dict("reply_markup")
        # Only inline keyboards belong to a message; reply keyboards live in the client.
        if markup is None or "inline_keyboard" not in markup:
            return None
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request(
                "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
            )
        for row in rows:
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
                    raise bad_request("BUTTON_DATA_INVALID")
        # An empty keyboard removes the keyboard.
        return markup if any(rows) else None

    def _new_bot_message(self, chat: JSON, **fields: Any) -> ChatMessage:
        channel = chat["type"] == "channel"
        message = ChatMessage(
            chat=chat,
            message_id=self._next_message_id(chat["id"]),
            date=int(time.time()),
            from_bot=True,
            sender=None if channel else self.bot_user,
            sender_chat=chat if channel else None,
            **fields,
        )
        self._store(message)
        return message

    def _editable(self, params: _Params) -> ChatMessage:
        if params.get("inline_message_id") is not None:
            raise bad_request("inline messages are not supported by FakeTelegram")
        chat = self._chat_param(params, sending=True)  # Telegram answers 403 to edits too
        message = self._find(chat["id"], params.get_int("message_id"))
        if message is None:
            raise bad_request("message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        return message

    # ---------------------------------------------------------------- Bot API methods

    async def _true(self, params: _Params) -> bool:
        return True

    async def _get_me(self, params: _Params) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": self.can_join_groups,
            "can_read_all_group_messages": self.can_read_all_group_messages,
            "supports_inline_queries": self.supports_inline_queries,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _delete_webhook(self, params: _Params) -> bool:
        if params.get_bool("drop_pending_updates"):
            self._updates.clear()
        await self.webhook.delete()
        return True

    # ---------------------------------------------------------------- webhook mode (own block)

    async def _set_webhook(self, params: _Params) -> bool:
        url = params.get_str("url") or ""
        if params.get_bool("drop_pending_updates"):
            self._updates.clear()
        if not url:  # Telegram: an empty URL removes the webhook
            await self.webhook.delete()
            return True
        if not re.fullmatch(r"https?://[^/\s]+(/\S*)?", url):
            raise bad_request("bad webhook: Failed to resolve host: Name or service not known")
        secret = params.get_str("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise bad_request("secret token contains unallowed characters")
        max_connections = params.get_int("max_connections", 40)
        if not 1 <= max_connections <= 100:
            raise bad_request("bad webhook: max_connections must be between 1 and 100")
        allowed = params.get_list("allowed_updates")
        if allowed is not None:  # remembered, as for getUpdates
            self._allowed_updates = frozenset(allowed) or None
        self.webhook.set(WebhookConfig(url, secret, max_connections, allowed))
        return True

    async def _get_webhook_info(self, params: _Params) -> JSON:
        config = self.webhook.config
        info: JSON = {
            "url": config.url if config is not None else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if config is not None:
            info["max_connections"] = config.max_connections
            if config.allowed_updates is not None:
                info["allowed_updates"] = config.allowed_updates
            if self.webhook.last_error is not None:
                info["last_error_date"] = int(time.time())
                info["last_error_message"] = self.webhook.last_error
        return info

    # ---------------------------------------------------------------- end of webhook mode

    # ---------------------------------------------------------------- local mode (own block)
    # A telegram-bot-api server started with --local: getFile names each file by its absolute
    # path on the server's disk (under <dir>/<token>/, as the real one does) and files of up to
    # 2 GB come through. The bot must read them there; the download route is not the way.

    def enable_local_mode(self, directory: Path, *, on_this_disk: bool = True) -> None:
        """From now on getFile answers like a local-mode server whose working directory is
        `directory`. on_this_disk=False: the paths name a directory this machine lacks (a
        server whose disk is not shared with the bot)."""
        self.local_mode = LocalMode(directory, on_this_disk)

    def _local_file(self, stored: StoredFile, mode: LocalMode) -> JSON:
        if stored.file_size > LOCAL_MAX_FILE_SIZE:
            raise bad_request("file is too big")
        path = mode.directory / self.token / stored.file_path
        if mode.on_this_disk:
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(stored.data)
        else:
            path = Path("/nonexistent-bot-api-dir") / self.token / stored.file_path
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.file_size,
            "file_path": str(path),
        }

    # ---------------------------------------------------------------- end of local mode

    async def _get_updates(self, params: _Params) -> list[JSON]:
        if self.webhook.active:
            raise ApiError(409, WEBHOOK_CONFLICT)
        offset = params.get_int("offset", 0)
        limit = min(max(params.get_int("limit", 100), 1), 100)
        timeout = max(0.0, params.get_float("timeout", 0.0))
        allowed = params.get_list("allowed_updates")
        if allowed is not None:  # Telegram remembers the last list given
            self._allowed_updates = frozenset(allowed) or None
        self._confirm(offset)
        # Telegram terminates an older pending getUpdates with 409 when a new one arrives
        # (e.g. the poll of a bot process that was killed and restarted).
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(409, CONFLICT)
            batch = self._deliverable(limit)
            remaining = deadline - loop.time()
            if batch or self._closing or remaining <= 0:
                return batch
            await self._wait_change(remaining)

    async def _get_file(self, params: _Params) -> JSON:
        stored = self.files.get(params.get_str("file_id") or "")
        if stored is None:
            raise bad_request("invalid file_id")
        if self.local_mode is not None:
            return self._local_file(stored, self.local_mode)
        if stored.file_size > MAX_DOWNLOAD_SIZE:
            raise bad_request("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.file_size,
            "file_path": stored.file_path,
        }

    async def _send_message(self, params: _Params) -> JSON:
        chat = self._chat_param(params, sending=True)
        text, entities = self._formatted(params, "text", "entities")
        if not text.strip():
            raise bad_request("message text is empty")
        # Telegram counts this limit in characters (code points), not UTF-16 units.
        if len(text) > MAX_TEXT_LENGTH:
            raise bad_request("message is too long")
        message = self._new_bot_message(
            chat,
            text=text,
            entities=entities,
            reply_markup=self._markup(params),
            reply_to=self._reply_target(chat["id"], params),
        )
        return self.message_json(message)

    async def _edit_message_text(self, params: _Params) -> JSON:
        message = self._editable(params)
        if message.text is None:
            raise bad_request("there is no text in the message to edit")
        text, entities = self._formatted(params, "text", "entities")
        if not text.strip():
            raise bad_request("message text is empty")
        if len(text) > MAX_TEXT_LENGTH:
            raise bad_request("message is too long")
        # Without reply_markup Telegram removes the keyboard, so that counts as a change.
        markup = self._markup(params)
        if (text, entities, markup) == (message.text, message.entities, message.reply_markup):
            raise bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        message.text_history.append(message.text)
        message.text, message.entities, message.reply_markup = text, entities, markup
        message.edit_date = int(time.time())
        return self.message_json(message)

    async def _edit_message_reply_markup(self, params: _Params) -> JSON:
        message = self._editable(params)
        markup = self._markup(params)
        if markup == message.reply_markup:
            raise bad_request(NOT_MODIFIED.removeprefix("Bad Request: "))
        message.reply_markup = markup
        message.edit_date = int(time.time())
        return self.message_json(message)

    async def _send_document(self, params: _Params) -> JSON:
        chat = self._chat_param(params, sending=True)
        upload = params.files.get("document")
        reference = params.get_str("document")
        if upload is None and reference:
            if reference.startswith("attach://"):
                upload = params.files.get(reference.removeprefix("attach://"))
            elif reference in self.files:  # re-sending a known file_id
                known = self.files[reference]
                upload = UploadedFile(
                    known.file_name or "document",
                    known.data,
                    known.mime_type or "application/octet-stream",
                )
            else:
                raise bad_request("wrong file identifier/HTTP URL specified")
        if upload is None:
            raise bad_request("there is no document in the request")
        if not upload.data:
            raise bad_request("file must be non-empty")
        if len(upload.data) > MAX_UPLOAD_SIZE:
            raise ApiError(413, "Request Entity Too Large")
        caption, caption_entities = self._formatted(params, "caption", "caption_entities")
        if len(caption) > MAX_CAPTION_LENGTH:
            raise bad_request("message caption is too long")
        stored = self.register_file(
            upload.data,
            kind="document",
            file_name=upload.filename,
            mime_type=upload.content_type,
        )
        message = self._new_bot_message(
            chat,
            caption=caption or None,
            caption_entities=caption_entities,
            content={"document": _document_json(stored)},
            document=upload,
            reply_markup=self._markup(params),
            reply_to=self._reply_target(chat["id"], params),
        )
        return self.message_json(message)

    async def _send_chat_action(self, params: _Params) -> bool:
        self._chat_param(params, sending=True)
        if params.get_str("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def _set_my_commands(self, params: _Params) -> bool:
        commands = params.get_list("commands")
        if commands is None:
            raise bad_request("commands is empty")
        if len(commands) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not isinstance(command, dict):
                raise bad_request("can't parse BotCommand")
            if not _BOT_COMMAND_NAME_RE.match(str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = _commands_key(params.get_dict("scope"), params.get_str("language_code") or "")
        self._commands[key] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    async def _get_my_commands(self, params: _Params) -> list[JSON]:
        key = _commands_key(params.get_dict("scope"), params.get_str("language_code") or "")
        return list(self._commands.get(key, []))

    async def _delete_my_commands(self, params: _Params) -> bool:
        key = _commands_key(params.get_dict("scope"), params.get_str("language_code") or "")
        self._commands.pop(key, None)
        return True

    async def _answer_callback_query(self, params: _Params) -> bool:
        query_id = params.get_str("callback_query_id") or ""
        if query_id not in self._callback_queries or query_id in self.callback_answers:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        self.callback_answers[query_id] = {
            key: value for key, value in params.values.items() if key != "callback_query_id"
        }
        return True

    async def _get_chat_member(self, params: _Params) -> JSON:
        chat = self._chat_param(params)
        user_id = params.get_int("user_id")
        user = self.bot_user if user_id == self.bot_user["id"] else self.users.get(user_id)
        if user is None:
            user = make_user(user_id)
        status = self._member_status.get(chat["id"], {}).get(user_id, "member")
        member: JSON = {"status": status, "user": user}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(
                {
                    "can_be_edited": False,
                    "is_anonymous": False,
                    "can_manage_chat": True,
                    "can_delete_messages": True,
                    "can_manage_video_chats": True,
                    "can_restrict_members": True,
                    "can_promote_members": False,
                    "can_change_info": True,
                    "can_invite_users": True,
                    "can_post_stories": False,
                    "can_edit_stories": False,
                    "can_delete_stories": False,
                    "can_pin_messages": True,
                }
            )
        elif status == "kicked":
            member["until_date"] = 0
        return member

    # ---------------------------------------------------------------- payments (Telegram Stars)
    #
    # Only what Stars payments for digital goods use: sendInvoice in XTR (empty provider token,
    # exactly one price), the checkout (pre_checkout_query, answerPreCheckoutQuery within
    # PRE_CHECKOUT_TIMEOUT), the payment (a successful_payment message), and refunds
    # (refundStarPayment, which Telegram follows with a refunded_payment message).

    def _init_payments(self) -> dict[str, Callable[[_Params], Awaitable[Any]]]:
        self.invoices: dict[tuple[int, int], SentInvoice] = {}  # by (chat id, message id)
        self.pre_checkout_answers: dict[str, JSON] = {}  # query id -> ok, error_message
        self.star_payments: dict[str, StarPayment] = {}  # by telegram_payment_charge_id
        # Telegram tells the bot of a refund with a refunded_payment message; tests may turn
        # that off to model a refund the bot only learns of from its own call.
        self.emit_refunded_payments = True
        self._pre_checkout_queries: dict[str, tuple[JSON, float]] = {}  # id -> (query, time)
        self._charge_numbers = itertools.count(1)
        self._pre_checkout_ids = itertools.count(9_000_001)
        return {
            "sendInvoice": self._send_invoice,
            "answerPreCheckoutQuery": self._answer_pre_checkout_query,
            "refundStarPayment": self._refund_star_payment,
        }

    def invoice(self, chat_id: int, message_id: int) -> SentInvoice:
        """An invoice the bot sent; KeyError if that message is not one."""
        return self.invoices[(chat_id, message_id)]

    def push_pre_checkout_query(
        self,
        user: JSON | int,
        payload: str,
        total_amount: int,
        *,
        currency: str = "XTR",  # STARS_CURRENCY, defined below the class
    ) -> JSON:
        """The user pressed Pay: Telegram asks the bot to confirm. Returns the query.

        Any payload may be pushed, to model a forged or altered invoice.
        """
        sender = (self.users.get(user) or make_user(user)) if isinstance(user, int) else user
        self.users.setdefault(sender["id"], sender)
        query: JSON = {
            "id": str(next(self._pre_checkout_ids)),
            "from": sender,
            "currency": currency,
            "total_amount": total_amount,
            "invoice_payload": payload,
        }
        self._pre_checkout_queries[query["id"]] = (query, time.monotonic())
        self._push_update("pre_checkout_query", query)
        return query

    def push_successful_payment(
        self,
        chat_id: int,
        payload: str,
        total_amount: int,
        *,
        charge_id: str | None = None,
        currency: str = "XTR",  # STARS_CURRENCY, defined below the class
        **options: Unpack[MessageOptions],
    ) -> JSON:
        """The money moved: a successful_payment service message in the payer's chat.

        A charge id already used models the same payment reported again. Returns the Message.
        """
        charge_id = charge_id or f"stxFAKE{next(self._charge_numbers):08d}"
        payment: JSON = {
            "currency": currency,
            "total_amount": total_amount,
            "invoice_payload": payload,
            "telegram_payment_charge_id": charge_id,
            "provider_payment_charge_id": "",  # Stars have no provider
        }
        message = self.push_message(chat_id, {"successful_payment": payment}, **options)
        payer = message.get("from", {}).get("id", chat_id)
        self.star_payments.setdefault(
            charge_id, StarPayment(charge_id, payer, chat_id, total_amount, payload)
        )
        return message

    def push_refunded_payment(self, charge_id: str) -> JSON:
        """Telegram reports a refund of a payment (made by the bot or by Telegram itself)."""
        payment = self.star_payments[charge_id]
        refunded: JSON = {
            "currency": STARS_CURRENCY,
            "total_amount": payment.total_amount,
            "invoice_payload": payment.payload,
            "telegram_payment_charge_id": charge_id,
        }
        return self.push_message(
            payment.chat_id, {"refunded_payment": refunded}, user=payment.user_id
        )

    async def pay(
        self, chat_id: int, invoice_message_id: int, *, user: int | None = None
    ) -> tuple[JSON, JSON | None]:
        """The user pays an invoice the bot sent: checkout, then, if the bot agreed, the
        successful_payment. Returns (the bot's checkout answer, the payment message or None).
        """
        invoice = self.invoice(chat_id, invoice_message_id)
        payer = chat_id if user is None else user
        query = self.push_pre_checkout_query(payer, invoice.payload, invoice.total_amount)
        await self.wait_for(
            lambda: query["id"] in self.pre_checkout_answers,
            what="an answer to the pre_checkout_query",
        )
        answer = self.pre_checkout_answers[query["id"]]
        if not answer["ok"]:
            return answer, None
        options = MessageOptions(user=payer) if user is not None else MessageOptions()
        message = self.push_successful_payment(
            chat_id, invoice.payload, invoice.total_amount, **options
        )
        return answer, message

    async def _send_invoice(self, params: _Params) -> JSON:
        chat = self._chat_param(params, sending=True)
        title = params.get_str("title") or ""
        description = params.get_str("description") or ""
        payload = params.get_str("payload") or ""
        currency = params.get_str("currency") or ""
        if not 1 <= len(title) <= 32:
            raise bad_request("INVOICE_TITLE_EMPTY" if not title else "INVOICE_TITLE_TOO_LONG")
        if not 1 <= len(description) <= 255:
            raise bad_request("INVOICE_DESCRIPTION_EMPTY")
        if not 1 <= len(payload.encode()) <= 128:
            raise bad_request("INVOICE_PAYLOAD_INVALID")
        if currency != STARS_CURRENCY:
            raise bad_request("CURRENCY_INVALID: FakeTelegram models Telegram Stars only")
        if params.get_str("provider_token"):
            raise bad_request("PAYMENT_PROVIDER_INVALID")  # Stars take an empty token
        prices = params.get_list("prices") or []
        if len(prices) != 1:
            raise bad_request("Stars invoices must contain exactly 1 price label")
        amount = prices[0].get("amount") if isinstance(prices[0], dict) else None
        if not isinstance(amount, int) or amount < 1 or not prices[0].get("label"):
            raise bad_request("CURRENCY_TOTAL_AMOUNT_INVALID")
        message = self._new_bot_message(
            chat,
            content={
                "invoice": {
                    "title": title,
                    "description": description,
                    "start_parameter": params.get_str("start_parameter") or "",
                    "currency": currency,
                    "total_amount": amount,
                }
            },
            reply_markup=self._markup(params),
            reply_to=self._reply_target(chat["id"], params),
        )
        self.invoices[(chat["id"], message.message_id)] = SentInvoice(
            chat_id=chat["id"],
            message_id=message.message_id,
            title=title,
            description=description,
            payload=payload,
            total_amount=amount,
            label=str(prices[0]["label"]),
        )
        return self.message_json(message)

    async def _answer_pre_checkout_query(self, params: _Params) -> bool:
        query_id = params.get_str("pre_checkout_query_id") or ""
        known = self._pre_checkout_queries.get(query_id)
        too_late = known is not None and time.monotonic() - known[1] > PRE_CHECKOUT_TIMEOUT
        if known is None or query_id in self.pre_checkout_answers or too_late:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        ok = params.get_bool("ok")
        error_message = params.get_str("error_message")
        if not ok and not error_message:
            raise bad_request("error_message is empty")
        self.pre_checkout_answers[query_id] = {"ok": ok, "error_message": error_message}
        return True

    async def _refund_star_payment(self, params: _Params) -> bool:
        charge_id = params.get_str("telegram_payment_charge_id") or ""
        payment = self.star_payments.get(charge_id)
        if payment is None or payment.user_id != params.get_int("user_id"):
            raise bad_request("CHARGE_NOT_FOUND")  # the wording of this one is not verified
        if payment.refunded:
            raise bad_request("CHARGE_ALREADY_REFUNDED")
        payment.refunded = True
        if self.emit_refunded_payments:
            self.push_refunded_payment(charge_id)
        return True


# --- payments (Telegram Stars): see FakeTelegram._init_payments ------------------------------

STARS_CURRENCY: Final = "XTR"
PRE_CHECKOUT_TIMEOUT: Final = 10.0  # seconds Telegram waits for answerPreCheckoutQuery


@dataclass(frozen=True)
class SentInvoice:
    """An invoice the bot sent, with the payload Telegram keeps from the user."""

    chat_id: int
    message_id: int
    title: str
    description: str
    payload: str
    total_amount: int
    label: str


@dataclass
class StarPayment:
    """A payment Telegram took (a successful_payment it reported)."""

    charge_id: str
    user_id: int
    chat_id: int
    total_amount: int
    payload: str
    refunded: bool = False


def _with_caption(content: JSON, caption: str | None) -> JSON:
    if caption is not None:
        content["caption"] = caption
    return content


def _document_json(stored: StoredFile) -> JSON:
    document: JSON = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
    if stored.file_name is not None:
        document["file_name"] = stored.file_name
    if stored.mime_type is not None:
        document["mime_type"] = stored.mime_type
    document["file_size"] = stored.file_size
    return document


def _commands_key(scope: JSON | None, language_code: str) -> tuple[str, str]:
    return json.dumps(scope or {"type": "default"}, sort_keys=True), language_code


def _describe(predicate: Callable[..., Any]) -> str:
    name = getattr(predicate, "__qualname__", repr(predicate))
    try:
        source = inspect.getsource(predicate).strip()
    except (OSError, TypeError):
        return name
    return source if len(source) <= 200 else name


def _fault_error(fault: Fault) -> ApiError:
    if fault.kind == "429":
        retry_after = max(1, round(fault.retry_after))  # Telegram sends whole seconds
        return ApiError(
            429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
        )
    descriptions = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
    return ApiError(fault.status, descriptions.get(fault.status, "Internal Server Error"))


def _close(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.close()


def _json_response(body: JSON, status: int) -> web.Response:
    return web.Response(
        text=json.dumps(body, ensure_ascii=False),
        status=status,
        content_type="application/json",
    )


async def _read_params(request: web.Request) -> tuple[JSON, dict[str, UploadedFile]]:
    """Query string and body (urlencoded, multipart or JSON), values decoded as PTB sends them."""
    raw: JSON = dict(request.query)
    files: dict[str, UploadedFile] = {}
    if request.content_type == "application/json":
        if request.can_read_body:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("the JSON body must be an object")
            raw.update(body)
    elif request.content_type in {"application/x-www-form-urlencoded", "multipart/form-data"}:
        form = await request.post()
        for name, value in form.items():
            if isinstance(value, web.FileField):
                files[name] = UploadedFile(
                    filename=value.filename,
                    data=value.file.read(),
                    content_type=value.content_type,
                )
            else:
                raw[name] = value
    return {name: _decode_value(name, value) for name, value in raw.items()}, files
