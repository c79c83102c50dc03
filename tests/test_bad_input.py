"""Bad input from outside (docs/findings.md): a clear, polite reply, nothing lost, no crash."""

from __future__ import annotations

from bot.presentation import texts
from bot.presentation.inputs import ECHO_LIMIT, echo, parse_count, parse_id
from tests.conftest import BotFactory, SettingsFactory
from tests.fakes.stt import FakeStt
from tests.fakes.telegram import FakeTelegram
from tests.flows import command
from tests.metering_flows import ADMIN, AUDIO, final_reply

USER = 31337


def test_ids_are_ascii_int64_only() -> None:
    assert parse_id("42") == 42 and parse_id("-1001234567890") == -1001234567890
    assert parse_id(str(2**63)) is None  # beyond int64: not a Telegram id
    assert parse_id("٤٢") is None and parse_id("²") is None  # other scripts' digits
    assert parse_id("4 2") is None and parse_id("") is None
    assert parse_count("-5") is None and parse_count("7") == 7


def test_echoed_text_is_one_short_line() -> None:
    assert echo("de") == "de"
    clipped = echo("x" * 4000)
    assert len(clipped) == ECHO_LIMIT and clipped.endswith("…")
    assert echo("a\nb\r\nc") == "a b c"


async def test_huge_arguments_get_short_polite_replies(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    async with running_bot(settings_for()):
        model = await command(telegram, USER, "/model " + "m" * 4000)
        language = await command(telegram, USER, "/language " + "q" * 4000)
        digits = await command(telegram, USER, "/language de-٤١٩")
    assert model.text is not None and len(model.text) < 4096
    assert "m" * (ECHO_LIMIT + 1) not in model.text
    assert language.text is not None and len(language.text) < 4096
    assert digits.text is not None and "not a language code" in digits.text


async def test_ids_beyond_int64_are_refused_politely(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    huge = str(2**64)
    async with running_bot(settings_for(ADMIN_USER_IDS=str(ADMIN))):
        user = await command(telegram, ADMIN, f"/user {huge}")
        quota = await command(telegram, ADMIN, f"/quota {huge} 60")
        message = await command(telegram, USER, "/start")
        query = telegram.push_callback_query(USER, message.message_id, f"redo:{huge}")
        await telegram.wait_for(lambda: query["id"] in telegram.callback_answers)
    assert user.text == texts.ADMIN_USAGE["user"]
    assert quota.text == texts.ADMIN_USAGE["quota"]


async def test_an_admin_cannot_ban_an_admin(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    async with running_bot(settings_for(ADMIN_USER_IDS=str(ADMIN))):
        reply = await command(telegram, ADMIN, f"/ban {ADMIN}")
        still = await command(telegram, ADMIN, "/stats")
    assert reply.text == texts.ADMIN_BAN_REFUSED.format(subject_id=ADMIN)
    assert still.text  # not banned: still answered


async def test_a_document_named_with_crlf_is_transcribed(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    async with running_bot(settings_for()):
        original = telegram.push_document(
            USER, AUDIO, file_name="memo\r\nX-Evil: 1.ogg", mime_type="audio/ogg\r\nX: y"
        )["message_id"]
        answer = await final_reply(telegram, USER, original)
    assert answer.text == stt.transcript
    [create] = stt.requests_to("create")
    assert create.audio is not None
    assert "\r" not in (create.audio.filename or "") and "\n" not in (create.audio.filename or "")
    assert create.audio.content_type == "audio/mpeg" or "\r" not in create.audio.content_type


async def test_a_document_without_a_size_is_admitted_and_estimated_from_its_bytes(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    # Telegram may omit file_size; the largest allowed file is no fair guess (it read as
    # "1 h 23 min" and refused everyone with a small quota).
    stored = telegram.register_file(AUDIO, kind="document", mime_type="audio/mpeg")
    document = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_name": "talk.mp3",
        "mime_type": "audio/mpeg",
    }  # no file_size
    async with running_bot(settings_for(QUOTA_DAILY_SECONDS="300")):
        pushed = telegram.push_message(USER, {"document": document})
        answer = await final_reply(telegram, USER, pushed["message_id"])
    assert answer.text == stt.transcript
