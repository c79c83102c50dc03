"""FakeTelegram against a real python-telegram-bot Application over real HTTP.

These tests pin the contract other end-to-end tests rely on: PTB can start, poll, download,
reply, edit and stop against the fake, and the fake's errors surface as the same PTB
exception classes Telegram's would.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageOriginUser,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, EndPointNotFound, Forbidden, InvalidToken, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.fakes.telegram import (
    DOWNLOAD,
    GROUP_ANONYMOUS_BOT,
    NOT_MODIFIED,
    Call,
    FakeTelegram,
)

CHAT = 4242
GROUP = -1001234567890


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server
        server.assert_no_errors()


def build_app(fake: FakeTelegram) -> Application:  # type: ignore[type-arg]
    return (
        ApplicationBuilder()
        .token(fake.token)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )


@contextlib.asynccontextmanager
async def running(app: Application) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """The manual lifecycle: the app shares the test's event loop with the fake."""
    async with app:
        await app.updater.start_polling(timeout=1, poll_interval=0)  # type: ignore[union-attr]
        await app.start()
        try:
            yield app
        finally:
            await app.updater.stop()  # type: ignore[union-attr]
            await app.stop()


@contextlib.asynccontextmanager
async def bot_for(fake: FakeTelegram, token: str | None = None) -> AsyncIterator[Bot]:
    async with Bot(
        token or fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url
    ) as bot:
        yield bot


async def test_command_handler_replies_and_updates_are_confirmed(fake: FakeTelegram) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"hello {' '.join(context.args or [])}".strip())

    app = build_app(fake)
    app.add_handler(CommandHandler("start", start))
    async with running(app):
        fake.push_text(CHAT, "/start")
        fake.push_text(CHAT, "/start@stt_test_bot one two")
        fake.push_text(CHAT, "/start@other_bot ignored")  # addressed to another bot
        await fake.wait_for(lambda: len(fake.bot_texts(CHAT)) == 2)
        await fake.wait_for(lambda: not fake.pending_updates, what="offset confirmation")

    assert fake.bot_texts(CHAT) == ["hello", "hello one two"]
    first, second = fake.messages(CHAT)
    assert (first.message_id, second.message_id) == (4, 5)  # one id sequence per chat
    assert first.sender == fake.bot_user
    assert abs(first.date - time.time()) < 5  # Unix seconds
    methods = [call.method for call in fake.calls]
    assert methods[0] == "getMe"
    assert "deleteWebhook" in methods
    assert not fake.wrong_token_used


async def test_voice_is_downloaded_and_answered_in_reply(fake: FakeTelegram) -> None:
    async def on_voice(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.voice is not None
        file = await context.bot.get_file(message.voice.file_id)
        buffer = io.BytesIO()
        await file.download_to_memory(buffer)
        await message.reply_text(
            f"{len(buffer.getvalue())} bytes, {message.voice.mime_type}",
            reply_parameters=ReplyParameters(message_id=message.message_id),
        )

    app = build_app(fake)
    app.add_handler(MessageHandler(filters.VOICE, on_voice))
    audio = b"OggS" + bytes(range(256)) * 8
    async with running(app):
        pushed = fake.push_voice(CHAT, audio, duration=4)
        reply_call = await fake.wait_for_call("sendMessage")

    assert reply_call.params["reply_parameters"] == {"message_id": pushed["message_id"]}
    (reply,) = fake.messages(CHAT)
    assert reply.text == f"{len(audio)} bytes, audio/ogg"
    assert reply.reply_to == pushed["message_id"]
    assert reply_call.result["reply_to_message"]["voice"]["duration"] == 4
    (get_file,) = fake.calls_to("getFile")
    assert get_file.result["file_path"].startswith("voice/file_")
    assert get_file.result["file_path"].endswith(".oga")
    assert fake.calls_to(DOWNLOAD)[0].params == {"file_path": get_file.result["file_path"]}


async def test_callback_query_edit_and_not_modified(fake: FakeTelegram) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Fast", callback_data="model:fast")]])
    outcomes: list[str] = []

    async def menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text("Pick a model", reply_markup=keyboard)

    async def picked(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.message is not None
        outcomes.append(getattr(query.message, "text", ""))
        await query.answer("saved")
        await query.edit_message_text(f"Model: {query.data}")
        try:
            await query.edit_message_text(f"Model: {query.data}")
        except BadRequest as exc:
            outcomes.append(exc.message)

    app = build_app(fake)
    app.add_handler(CommandHandler("model", menu))
    app.add_handler(CallbackQueryHandler(picked))
    async with running(app):
        fake.push_text(CHAT, "/model")
        await fake.wait_for(lambda: fake.bot_texts(CHAT) == ["Pick a model"])
        (menu_message,) = fake.messages(CHAT)
        assert menu_message.reply_markup == keyboard.to_dict()
        query = fake.push_callback_query(CHAT, menu_message.message_id, "model:fast")
        await fake.wait_for(lambda: len(outcomes) == 2)

    assert outcomes[0] == "Pick a model"  # the callback carried the message as it stood
    assert outcomes[1].startswith("Message is not modified")
    assert fake.callback_answers[query["id"]] == {"text": "saved"}
    assert fake.bot_texts(CHAT) == ["Model: model:fast"]
    edited = fake.message(CHAT, menu_message.message_id)
    assert edited.reply_markup is None  # an edit without reply_markup drops the keyboard
    assert edited.text_history == ["Pick a model"]
    assert edited.edit_date is not None


# PTB warns about int retry_after while building the RetryAfter message itself.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_errors_map_to_ptb_exceptions(fake: FakeTelegram) -> None:
    fake.add_chat(CHAT)
    big = fake.register_file(b"tiny", kind="voice", file_size=20_000_001)
    async with bot_for(fake) as bot:
        with pytest.raises(BadRequest, match="File is too big"):
            await bot.get_file(big.file_id)
        with pytest.raises(BadRequest, match="Invalid file_id"):
            await bot.get_file("no-such-file")
        with pytest.raises(BadRequest, match="Message is too long"):
            await bot.send_message(CHAT, "x" * 4097)
        with pytest.raises(BadRequest, match="Message text is empty"):
            await bot.send_message(CHAT, "   ")
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.send_message(999, "hi")
        with pytest.raises(BadRequest, match="Message to edit not found"):
            await bot.edit_message_text("new", chat_id=CHAT, message_id=77)
        with pytest.raises(BadRequest, match="Message to be replied not found"):
            await bot.send_message(CHAT, "hi", reply_parameters=ReplyParameters(message_id=77))
        sent = await bot.send_message(CHAT, "x" * 4096)
        with pytest.raises(BadRequest, match="Message is too long"):
            await bot.edit_message_text("y" * 4097, chat_id=CHAT, message_id=sent.message_id)
        with pytest.raises(BadRequest) as not_modified:
            await bot.edit_message_text("x" * 4096, chat_id=CHAT, message_id=sent.message_id)
        assert not_modified.value.message.lower() in NOT_MODIFIED.lower()

        fake.fail_next("sendMessage", 429, retry_after=7)
        with pytest.raises(RetryAfter, match=r"Retry in (7 seconds|0:00:07)"):
            await bot.send_message(CHAT, "flood")
        fake.block_chat(CHAT)
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_chat_action(CHAT, ChatAction.TYPING)
        with pytest.raises(EndPointNotFound):
            await bot.do_api_request("noSuchMethod")

    with pytest.raises(InvalidToken):
        async with bot_for(fake, token="999:wrong"):
            pass
    assert fake.wrong_token_used
    assert fake.calls_to("sendMessage")[-1].status == 429


async def test_send_document_commands_and_members(fake: FakeTelegram) -> None:
    fake.add_chat(GROUP, "supergroup", title="Team")
    fake.set_chat_admins(GROUP, [7], creator_id=8)
    async with bot_for(fake) as bot:
        await bot.send_chat_action(GROUP, ChatAction.UPLOAD_DOCUMENT)
        sent = await bot.send_document(
            GROUP,
            document=b"transcript text",
            filename="transcript.txt",
            caption="Transcript <plain> & more",
        )
        assert sent.document is not None and sent.document.file_name == "transcript.txt"
        assert sent.caption == "Transcript <plain> & more"
        file = await bot.get_file(sent.document.file_id)
        assert bytes(await file.download_as_bytearray()) == b"transcript text"

        # The bot sends plain text; a parse mode would need the fake to learn Telegram's rules.
        with pytest.raises(BadRequest, match="does not model parse modes"):
            await bot.send_message(GROUP, "1 < 2", parse_mode=ParseMode.HTML)

        await bot.set_my_commands([("start", "Start"), ("model", "Choose a model")])
        assert [c.command for c in await bot.get_my_commands()] == ["start", "model"]
        with pytest.raises(BadRequest):
            await bot.set_my_commands([("Bad-Name", "x")])

        assert (await bot.get_chat_member(GROUP, 7)).status == "administrator"
        assert (await bot.get_chat_member(GROUP, 8)).status == "creator"
        assert (await bot.get_chat_member(GROUP, 9)).status == "member"

    (document,) = fake.documents(GROUP)
    assert (document.filename, document.data) == ("transcript.txt", b"transcript text")
    assert fake.calls_to("sendChatAction")[0].params["action"] == "upload_document"
    assert fake.commands() == [
        {"command": "start", "description": "Start"},
        {"command": "model", "description": "Choose a model"},
    ]


async def test_built_updates_parse_in_ptb(fake: FakeTelegram) -> None:
    voice = fake.push_voice(CHAT, b"a" * 10, file_size=25_000_000)
    fake.push_voice(
        CHAT, b"a" * 10, file_unique_id=voice["voice"]["file_unique_id"], forward_from=555
    )
    video_note = fake.push_video_note(CHAT, b"v" * 5)
    fake.push_audio(CHAT, b"m" * 5, title="Song", performer="Band")
    fake.push_video(CHAT, b"v" * 5)
    fake.push_document(CHAT, b"d" * 5, file_name="memo.ogg", mime_type="audio/ogg")
    anonymous = fake.push_text(GROUP, "hello", user=None, sender_chat=GROUP)
    reply = fake.push_text(GROUP, "/start@stt_test_bot now", reply_to=anonymous["message_id"])
    fake.push_edited_message(GROUP, anonymous["message_id"], "hello again")
    fake.push_channel_post(-1009876543210, "news", title="News")

    # Update.de_json raises TypeError on a missing required field, so parsing is the check.
    bot = Bot(fake.token)
    updates = [Update.de_json(update, bot) for update in fake.pending_updates]

    def message(index: int) -> Message:
        found = updates[index].effective_message
        assert found is not None
        return found

    first, forwarded = message(0).voice, message(1).voice
    assert first is not None and forwarded is not None
    assert first.file_size == 25_000_000
    assert forwarded.file_unique_id == first.file_unique_id
    assert forwarded.file_id != first.file_id
    origin = message(1).forward_origin
    assert isinstance(origin, MessageOriginUser) and origin.sender_user.id == 555
    assert "mime_type" not in video_note["video_note"]
    assert message(2).video_note is not None
    audio, video, document = message(3).audio, message(4).video, message(5).document
    assert audio is not None and audio.title == "Song"
    assert video is not None and video.mime_type == "video/mp4"
    assert document is not None and document.file_name == "memo.ogg"
    sender_chat = message(6).sender_chat
    assert message(6).from_user is None
    assert sender_chat is not None and sender_chat.id == GROUP
    assert message(6).chat.type == "supergroup"
    assert reply["entities"] == [{"type": "bot_command", "offset": 0, "length": 19}]
    replied = message(7).reply_to_message
    assert replied is not None and replied.text == "hello"
    assert updates[8].edited_message is not None
    assert updates[8].edited_message.text == "hello again"
    assert updates[9].channel_post is not None
    assert updates[9].channel_post.sender_chat is not None
    assert updates[9].channel_post.sender_chat.title == "News"
    # The realistic anonymous admin: `from` is Telegram's placeholder bot.
    anonymous_admin = fake.push_text(GROUP, "hi", user=GROUP_ANONYMOUS_BOT, sender_chat=GROUP)
    assert anonymous_admin["from"]["username"] == "GroupAnonymousBot"


async def test_get_updates_long_poll_offset_and_shutdown() -> None:
    """Raw HTTP, to pin the exact getUpdates semantics PTB depends on."""
    async with FakeTelegram(token="1:abc") as fake, aiohttp.ClientSession() as http:
        url = f"{fake.base_url}{fake.token}/getUpdates"
        started = time.monotonic()
        async with http.post(url, data={"timeout": "0"}) as response:
            assert (await response.json()) == {"ok": True, "result": []}
        assert time.monotonic() - started < 0.5

        async def poll(**params: str) -> dict[str, Any]:
            async with http.post(url, data=params) as response:
                body: dict[str, Any] = await response.json()
                return body

        waiting = asyncio.create_task(poll(timeout="5"))
        await asyncio.sleep(0.1)
        first = fake.push_text(CHAT, "one")
        body = await asyncio.wait_for(waiting, 2)
        (update,) = body["result"]
        assert update["message"] == first
        fake.push_text(CHAT, "two")
        fake.push_text(CHAT, "three")
        again = await poll(timeout="0", limit="1")  # not confirmed yet: delivered again
        assert again["result"][0]["update_id"] == update["update_id"]
        rest = await poll(timeout="0", offset=str(update["update_id"] + 1))
        assert [u["message"]["text"] for u in rest["result"]] == ["two", "three"]
        assert len(fake.pending_updates) == 2

        # A newer getUpdates terminates an older pending one with 409, like Telegram.
        confirmed = str(rest["result"][-1]["update_id"] + 1)
        older = asyncio.create_task(poll(timeout="5", offset=confirmed))
        await asyncio.sleep(0.1)
        newer = asyncio.create_task(poll(timeout="5", offset=confirmed))
        assert (await asyncio.wait_for(older, 2))["error_code"] == 409

        # Stopping the server answers the pending long poll at once, empty.
        started = time.monotonic()
        await fake.stop()
        assert (await asyncio.wait_for(newer, 2)) == {"ok": True, "result": []}
        assert time.monotonic() - started < 1.5


async def test_hooks_run_before_the_answer_and_delays_hold_it(fake: FakeTelegram) -> None:
    fake.add_chat(CHAT)
    seen: list[tuple[str, int]] = []

    def before_send(call: Call) -> None:
        seen.append((call.params["text"], len(fake.messages(CHAT))))

    async def async_hook(call: Call) -> None:
        await asyncio.sleep(0)
        seen.append(("async", call.index))

    remove = fake.on_call("sendMessage", before_send)
    fake.on_call("sendMessage", async_hook, once=True)
    fake.set_delay("sendMessage", 0.3)
    async with bot_for(fake) as bot:
        started = time.monotonic()
        await bot.send_message(CHAT, "first")
        assert time.monotonic() - started >= 0.3
        fake.set_delay("sendMessage", 0)
        remove()
        mark = len(fake.calls)
        await bot.send_message(CHAT, "second")
        call = await fake.wait_for_call(
            "sendMessage", lambda c: c.params["text"] == "second", since=mark
        )
    assert call.ok and call.result["text"] == "second"
    assert seen[0] == ("first", 0)  # the hook ran before the message existed
    assert seen[1][0] == "async"
    assert len(seen) == 2

    with pytest.raises(AssertionError, match="recent calls"):
        await fake.wait_for(lambda: False, timeout=0.1)


BOT_SCRIPT = """
import os
from telegram.ext import ApplicationBuilder, CommandHandler

async def start(update, context):
    await update.effective_message.reply_text(f"pid {os.getpid()}")

app = (
    ApplicationBuilder()
    .token(os.environ["FAKE_TOKEN"])
    .base_url(os.environ["FAKE_URL"] + "/bot")
    .base_file_url(os.environ["FAKE_URL"] + "/file/bot")
    .build()
)
app.add_handler(CommandHandler("start", start))
app.run_polling(timeout=1, poll_interval=0)
"""


async def test_bot_subprocess_killed_by_a_hook_then_restarted(
    fake: FakeTelegram, tmp_path: Path
) -> None:
    script = tmp_path / "bot.py"
    script.write_text(BOT_SCRIPT)
    env = {**os.environ, "FAKE_URL": fake.url, "FAKE_TOKEN": fake.token}

    async def spawn() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, str(script), env=env, stderr=asyncio.subprocess.PIPE
        )

    first = await spawn()
    # SIGKILL the bot the moment its reply reaches the fake, before the fake answers.
    fake.on_call("sendMessage", lambda call: first.kill(), once=True)
    fake.push_text(CHAT, "/start")
    await asyncio.wait_for(first.communicate(), 10)
    assert first.returncode == -signal.SIGKILL
    # The request had reached "Telegram", so it took effect although the bot died.
    assert fake.bot_texts(CHAT) == [f"pid {first.pid}"]

    second = await spawn()
    fake.push_text(CHAT, "/start")
    await fake.wait_for(lambda: f"pid {second.pid}" in fake.bot_texts(CHAT))
    second.terminate()  # run_polling stops gracefully and confirms what it fetched
    _, stderr = await asyncio.wait_for(second.communicate(), 10)
    assert second.returncode == 0, stderr.decode()
    assert fake.pending_updates == []
