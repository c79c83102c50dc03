"""Summary and Translate under transcripts, through the real Application: the buttons, the taps,
the answers in the user's language from the fake chat server, the daily quota, double taps,
failures, and a group's automatic summaries."""

from __future__ import annotations

import asyncio

from bot.app import BotRuntime
from bot.presentation import texts
from bot.presentation.i18n import Translator, translator
from tests.conftest import LLM_KEY, BotFactory, SettingsFactory, llm_environment
from tests.fakes.llm import FakeLlm
from tests.fakes.stt import FakeStt
from tests.fakes.telegram import ChatMessage, FakeTelegram, make_user
from tests.flows import AUDIO, buttons, idle, replies_to, tap, voice_transcript

RUSSIAN = 71
ALICE = 72
GROUP = -100700
ADMIN = 73
MEMBER = 74
# Deepgram's Nova-2 reports the language it heard; the fake says "en".
DETECTING_MODEL = "#g1_nova-2-general"


def words(n: int) -> str:
    tokens = [f"word{i}" for i in range(n)]
    return " ".join(" ".join(tokens[i : i + 10]) + "." for i in range(0, n, 10))


LONG = words(80)  # past SUMMARY_MIN_WORDS (60)
SHORT = words(20)


def labels(message: ChatMessage) -> list[str]:
    return [label for label, _ in buttons(message)]


def data_of(message: ChatMessage, label: str) -> str:
    return next(data for text, data in buttons(message) if text == label)


def answers(telegram: FakeTelegram, chat_id: int, message_id: int, prefix: str) -> list[str]:
    return [
        m.text or ""
        for m in replies_to(telegram, chat_id, message_id)
        if (m.text or "").startswith(prefix)
    ]


EN = translator("en")
RU = translator("ru")


def russian_user(telegram: FakeTelegram) -> None:
    telegram.users[RUSSIAN] = make_user(RUSSIAN, "Ivan", language_code="ru")


async def delivered(
    telegram: FakeTelegram,
    runtime: BotRuntime,
    chat_id: int,
    original: int,
    tr: Translator = EN,
) -> ChatMessage:
    """The transcript of `original` once delivered: its status message ("Transcribing…" in
    `tr`'s words) edited into the text, with its buttons."""

    def done() -> ChatMessage | None:
        return next(
            (
                m
                for m in replies_to(telegram, chat_id, original)
                if m.text_history[:1] == [tr(texts.TRANSCRIBING)]
                and m.text != tr(texts.TRANSCRIBING)
            ),
            None,
        )

    found = await telegram.wait_for(done, what=f"the transcript of message {original}")
    assert found is not None
    await idle(runtime)
    return telegram.message(chat_id, found.message_id)


async def russian_transcript(telegram: FakeTelegram, runtime: BotRuntime) -> ChatMessage:
    original = telegram.push_voice(RUSSIAN, AUDIO)["message_id"]
    return await delivered(telegram, runtime, RUSSIAN, original, RU)


async def test_summary_and_translation_come_in_the_user_s_language(
    telegram: FakeTelegram,
    stt: FakeStt,
    llm: FakeLlm,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
) -> None:
    russian_user(telegram)
    stt.transcript = LONG
    settings = settings_for(**llm_environment(llm), DEFAULT_MODEL=DETECTING_MODEL)
    async with running_bot(settings) as runtime:
        transcript = await russian_transcript(telegram, runtime)
        # In the user's interface language, and in that language the answers come.
        assert labels(transcript)[:2] == ["📝 Сводка", "🌐 Перевести"]
        summary_data = data_of(transcript, RU(texts.SUMMARY_BUTTON))
        started = await tap(
            telegram,
            transcript,
            summary_data,
            until=lambda: answers(telegram, RUSSIAN, transcript.message_id, "📝"),
        )
        translated = await tap(
            telegram,
            transcript,
            data_of(transcript, RU(texts.TRANSLATE_BUTTON)),
            until=lambda: answers(telegram, RUSSIAN, transcript.message_id, "🌐"),
        )
        await idle(runtime)

    assert started == {"text": "Уже делаю: отвечу на расшифровку."}
    assert translated == {"text": RU(texts.SUMMARY_WORKING)}
    [summary] = answers(telegram, RUSSIAN, transcript.message_id, "📝")
    assert summary == "📝 Сводка\n\n• summary (ru) of 80 words"
    [translation] = answers(telegram, RUSSIAN, transcript.message_id, "🌐")
    assert translation == RU(texts.TRANSLATION_ANSWER).format(text=f"[ru] {LONG}")
    asked = [r for r in llm.requests if r.status == 200]
    assert [r.task for r in asked] == ["summary", "translation"]
    assert all(r.transcript == LONG for r in asked)
    assert all(r.model == "test-chat-model" and r.auth == f"Bearer {LLM_KEY}" for r in asked)
    assert "Write in Russian (ru)" in asked[0].system


async def test_the_buttons_show_only_where_they_apply(
    telegram: FakeTelegram,
    stt: FakeStt,
    llm: FakeLlm,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
) -> None:
    russian_user(telegram)
    settings = settings_for(**llm_environment(llm), DEFAULT_MODEL=DETECTING_MODEL)
    async with running_bot(settings) as runtime:
        stt.transcript = SHORT
        short_for_russian = await russian_transcript(telegram, runtime)
        stt.transcript = LONG
        long_for_english = await voice_transcript(telegram, runtime, ALICE)

    # Too short to summarise, in another language than the user's: Translate only.
    assert labels(short_for_russian) == [RU(texts.TRANSLATE_BUTTON), RU(texts.REDO_BUTTON)]
    # Long, and in the user's own language: Summary only.
    assert texts.SUMMARY_BUTTON in labels(long_for_english)
    assert texts.TRANSLATE_BUTTON not in labels(long_for_english)
    assert llm.requests == []  # nothing is sent to the model until someone taps


async def test_without_a_model_there_are_no_buttons(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    russian_user(telegram)
    stt.transcript = LONG
    async with running_bot(settings_for(DEFAULT_MODEL=DETECTING_MODEL)) as runtime:
        transcript = await russian_transcript(telegram, runtime)
        assert runtime.services is not None
        assert not runtime.services.summaries.enabled
    assert labels(transcript) == [RU(texts.REDO_BUTTON)]


async def test_a_second_tap_finds_the_first_request(
    telegram: FakeTelegram,
    stt: FakeStt,
    llm: FakeLlm,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
) -> None:
    stt.transcript = LONG
    llm.delay = 0.5
    async with running_bot(settings_for(**llm_environment(llm))) as runtime:
        transcript = await voice_transcript(telegram, runtime, ALICE)
        data = data_of(transcript, texts.SUMMARY_BUTTON)
        first = await tap(telegram, transcript, data)
        second = await tap(telegram, transcript, data)  # the model is still thinking
        await telegram.wait_for(lambda: answers(telegram, ALICE, transcript.message_id, "📝"))
        await idle(runtime)
        third = await tap(telegram, transcript, data)
        await idle(runtime)

    assert first == {"text": texts.SUMMARY_WORKING}
    assert second == {"text": texts.SUMMARY_UNDER_WAY}
    assert third == {"text": texts.SUMMARY_ALREADY_SENT}
    assert len(answers(telegram, ALICE, transcript.message_id, "📝")) == 1
    assert len(llm.requests) == 1


async def test_a_burst_of_taps_cannot_pass_the_daily_quota(
    telegram: FakeTelegram,
    stt: FakeStt,
    llm: FakeLlm,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
) -> None:
    stt.transcript = LONG
    settings = settings_for(**llm_environment(llm), QUOTA_DAILY_SUMMARIES="2")
    async with running_bot(settings) as runtime:
        shown = [await voice_transcript(telegram, runtime, ALICE) for _ in range(4)]
        queries = [
            telegram.push_callback_query(
                ALICE, message.message_id, data_of(message, texts.SUMMARY_BUTTON)
            )
            for message in shown
        ]
        await telegram.wait_for(
            lambda: all(q["id"] in telegram.callback_answers for q in queries),
            what="answers to four taps",
        )
        await idle(runtime)

    replies = [telegram.callback_answers[q["id"]] for q in queries]
    started = [r for r in replies if r == {"text": texts.SUMMARY_WORKING}]
    refused = [r for r in replies if r.get("show_alert")]
    assert len(started) == 2 and len(refused) == 2
    assert all(r["text"].startswith("You have had your 2 summaries") for r in refused)
    assert len(llm.requests) == 2


async def test_a_failed_request_is_told_refunded_and_can_be_asked_again(
    telegram: FakeTelegram,
    stt: FakeStt,
    llm: FakeLlm,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
) -> None:
    stt.transcript = LONG
    llm.fail_next(500, count=3)  # every try the retry policy makes
    settings = settings_for(**llm_environment(llm), QUOTA_DAILY_SUMMARIES="1")
    async with running_bot(settings) as runtime:
        transcript = await voice_transcript(telegram, runtime, ALICE)
        data = data_of(transcript, texts.SUMMARY_BUTTON)
        await tap(
            telegram,
            transcript,
            data,
            until=lambda: replies_to(telegram, ALICE, transcript.message_id),
        )
        await idle(runtime)
        again = await tap(
            telegram,
            transcript,
            data,
            until=lambda: answers(telegram, ALICE, transcript.message_id, "📝"),
        )
        await idle(runtime)

    [failure, summary] = replies_to(telegram, ALICE, transcript.message_id)
    assert failure.text == texts.SUMMARY_FAILED["summary"]
    assert again == {"text": texts.SUMMARY_WORKING}  # the failure did not use the one a day
    assert summary.text == texts.SUMMARY_ANSWER.format(text="• summary (en) of 80 words")


async def test_a_transcript_no_longer_kept_cannot_be_summarised(
    telegram: FakeTelegram,
    stt: FakeStt,
    llm: FakeLlm,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
) -> None:
    stt.transcript = LONG
    settings = settings_for(**llm_environment(llm), JOB_RETENTION_DAYS="0")
    async with running_bot(settings) as runtime:
        transcript = await voice_transcript(telegram, runtime, ALICE)
        assert runtime.retention is not None
        removed = await runtime.retention.sweep()  # the finished job goes, and its text with it
        answer = await tap(telegram, transcript, data_of(transcript, texts.SUMMARY_BUTTON))

    assert removed.jobs == 1
    assert answer == {"text": texts.SUMMARY_GONE, "show_alert": True}
    assert llm.requests == []


async def test_a_summary_cut_off_by_a_stop_is_sent_once_after_the_restart(
    telegram: FakeTelegram,
    stt: FakeStt,
    llm: FakeLlm,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
) -> None:
    stt.transcript = LONG
    settings = settings_for(**llm_environment(llm))
    llm.delay = 30.0  # the stop comes while the model is thinking
    async with running_bot(settings) as runtime:
        transcript = await voice_transcript(telegram, runtime, ALICE)
        await tap(telegram, transcript, data_of(transcript, texts.SUMMARY_BUTTON))
        await telegram.wait_for(lambda: llm.requests, what="the request to the model")
    llm.delay = 0.0
    async with running_bot(settings) as runtime:
        await telegram.wait_for(lambda: answers(telegram, ALICE, transcript.message_id, "📝"))
        await idle(runtime)
    async with running_bot(settings) as runtime:  # a third start finds nothing left to do
        await asyncio.sleep(0.2)
        await idle(runtime)

    assert len(answers(telegram, ALICE, transcript.message_id, "📝")) == 1
    assert len([r for r in llm.requests if r.status == 200]) == 1


async def test_admins_can_have_long_group_voice_notes_summarised_unasked(
    telegram: FakeTelegram,
    stt: FakeStt,
    llm: FakeLlm,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
) -> None:
    telegram.add_chat(GROUP, "supergroup", title="Team")
    telegram.set_chat_admins(GROUP, [ADMIN])
    russian_user(telegram)
    stt.transcript = LONG
    async with running_bot(settings_for(**llm_environment(llm))) as runtime:
        before = len(telegram.messages(GROUP))
        telegram.push_text(GROUP, "/groupsummary 60", user=MEMBER)
        telegram.push_text(GROUP, "/groupsummary 60", user=ADMIN)
        await telegram.wait_for(lambda: len(telegram.messages(GROUP)) >= before + 2)
        refused, done = (m.text for m in telegram.messages(GROUP)[before:])

        long_note = telegram.push_voice(GROUP, AUDIO, duration=90, user=RUSSIAN)["message_id"]
        await delivered(telegram, runtime, GROUP, long_note, RU)
        await telegram.wait_for(lambda: answers(telegram, GROUP, long_note, "📝"))
        short_note = telegram.push_voice(GROUP, AUDIO, duration=45, user=RUSSIAN)["message_id"]
        await delivered(telegram, runtime, GROUP, short_note, RU)

    assert refused == texts.GROUP_MODE_NOT_ADMIN
    assert (
        done
        == "Done. Summaries of long voice notes here: under every voice note longer than 1 min."
    )
    # Under the voice note, in the sender's language (the group has not chosen one).
    assert answers(telegram, GROUP, long_note, "📝") == ["📝 Сводка\n\n• summary (ru) of 80 words"]
    assert answers(telegram, GROUP, short_note, "📝") == []
    assert len(llm.requests) == 1
