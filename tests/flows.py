"""Steps the end-to-end tests of models, languages, settings and re-transcription share."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bot.app import BotRuntime
from bot.presentation import texts
from tests.fakes.stt import FakeStt, RecordedRequest
from tests.fakes.telegram import JSON, ChatMessage, FakeTelegram

AUDIO = b"OggS" + bytes(range(256)) * 4  # the fake API does not decode audio

# Request fields every job of a family carries (as multipart text), before language/diarization.
DEEPGRAM_DEFAULTS = {"punctuate": "true", "smart_format": "true"}
ASSEMBLYAI_DEFAULTS = {"punctuate": "true", "format_text": "true"}


def buttons(message: ChatMessage) -> list[tuple[str, str]]:
    """The (label, callback data) of every inline button on a message, row by row."""
    rows = (message.reply_markup or {}).get("inline_keyboard", [])
    return [(button["text"], button.get("callback_data", "")) for row in rows for button in row]


def marked(message: ChatMessage) -> list[str]:
    return [label for label, _ in buttons(message) if label.startswith(texts.CURRENT_MARK)]


async def command(
    telegram: FakeTelegram, chat_id: int, text: str, *, user: int | None = None
) -> ChatMessage:
    """Send a command and return the bot's answer: the next message it posts in the chat."""
    before = len(telegram.messages(chat_id))
    if user is None:
        telegram.push_text(chat_id, text)
    else:
        telegram.push_text(chat_id, text, user=user)
    await telegram.wait_for(
        lambda: len(telegram.messages(chat_id)) > before, what=f"an answer to {text!r}"
    )
    return telegram.messages(chat_id)[before]


async def tap(
    telegram: FakeTelegram,
    message: ChatMessage,
    data: str,
    *,
    user: int | None = None,
    until: Callable[[], object] | None = None,
) -> JSON:
    """Press a button; wait for the answer to the callback query (and `until`, if given)."""
    assert data in [d for _, d in buttons(message)], f"no button {data!r} on the message"
    query = telegram.push_callback_query(message.chat_id, message.message_id, data, user=user)
    # An answer without text or alert is an empty (falsy) dict: wait for the key.
    await telegram.wait_for(
        lambda: query["id"] in telegram.callback_answers, what=f"an answer to a tap on {data}"
    )
    if until is not None:
        await telegram.wait_for(until, what=f"the effect of a tap on {data}")
    return telegram.callback_answers[query["id"]]


@dataclass(frozen=True)
class Tapped:
    answer: JSON  # what answerCallbackQuery carried
    message: ChatMessage  # the message the button sat on, after the edit
    edit_status: int | None  # HTTP status of the edit: 400 for "message is not modified"


async def tap_edit(
    telegram: FakeTelegram, message: ChatMessage, data: str, *, user: int | None = None
) -> Tapped:
    """Press a button that edits its own message; wait for the edit to be answered."""
    since = len(telegram.calls)
    answer = await tap(telegram, message, data, user=user)
    edit = await telegram.wait_for_call(
        "editMessageText",
        lambda call: call.params.get("message_id") == message.message_id,
        since=since,
    )
    return Tapped(answer, telegram.message(message.chat_id, message.message_id), edit.status)


def replies_to(telegram: FakeTelegram, chat_id: int, message_id: int) -> list[ChatMessage]:
    return [m for m in telegram.messages(chat_id) if m.reply_to == message_id]


async def transcripts(
    telegram: FakeTelegram, chat_id: int, original: int, count: int = 1
) -> list[ChatMessage]:
    """Wait for `count` answers to `original` to show their final text: a status message
    edited into its transcript, or a transcript sent as a new reply (the status message is
    skipped when the answer is expected within a couple of seconds)."""

    def done() -> list[ChatMessage] | None:
        final = [
            m
            for m in replies_to(telegram, chat_id, original)
            if m.from_bot and m.text is not None and m.text != texts.TRANSCRIBING
        ]
        return final if len(final) >= count else None

    found = await telegram.wait_for(done, what=f"{count} transcript(s) of message {original}")
    assert found is not None
    return found


async def voice_transcript(
    telegram: FakeTelegram, runtime: BotRuntime, chat_id: int, *, user: int | None = None
) -> ChatMessage:
    """Send a voice note and return the transcript message once delivery is complete."""
    if user is None:
        original = telegram.push_voice(chat_id, AUDIO)["message_id"]
    else:
        original = telegram.push_voice(chat_id, AUDIO, user=user)["message_id"]
    [transcript] = await transcripts(telegram, chat_id, original)
    await idle(runtime)
    return telegram.message(chat_id, transcript.message_id)


async def idle(runtime: BotRuntime) -> None:
    assert runtime.services is not None
    await runtime.services.supervisor.wait_idle(10)


def creates_by_model(stt: FakeStt) -> Mapping[str, list[RecordedRequest]]:
    found: dict[str, list[RecordedRequest]] = {}
    for request in stt.requests_to("create"):
        found.setdefault(request.model or "", []).append(request)
    return found
