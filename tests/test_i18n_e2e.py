"""The interface language end to end, through the real Application and the fake Telegram."""

from __future__ import annotations

from bot.policy.interface_language import INTERFACE_LOCALES
from bot.presentation import replies, texts
from bot.presentation.i18n import ENGLISH, Translator, translator
from storage.db import Database
from storage.jobs import JobRepository
from tests.conftest import BotFactory, SettingsFactory
from tests.fakes.stt import FakeStt
from tests.fakes.telegram import ChatMessage, FakeTelegram, make_user
from tests.flows import AUDIO, command, tap, tap_edit

RU_USER = 7001
AR_USER = 7002
GROUP = -100777
GROUP_ADMIN = 7003


async def final_reply(
    telegram: FakeTelegram, chat_id: int, original: int, tr: Translator
) -> ChatMessage:
    """The answer to `original` once it is no longer the status message (in `tr`'s words)."""

    def find() -> ChatMessage | None:
        for message in telegram.messages(chat_id):
            if message.reply_to == original and message.text not in (
                None,
                tr(texts.TRANSCRIBING),
            ):
                return message
        return None

    found = await telegram.wait_for(find, what=f"a final reply to message {original}")
    assert found is not None
    return found


async def check_a_speaker_of(
    locale: str,
    user_id: int,
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
) -> list[str]:
    """/start, /usage and a failed transcript for a user whose Telegram speaks `locale`;
    returns /usage's text."""
    tr = translator(locale)
    user = make_user(user_id, language_code=locale.replace("_", "-").lower())
    settings = settings_for(QUOTA_DAILY_SECONDS="120", QUOTA_MONTHLY_SECONDS="600")
    stt.job_error = ("failed", "the model crashed")
    async with running_bot(settings):
        start = await command(telegram, user_id, "/start", user=user)
        usage = await command(telegram, user_id, "/usage", user=user)
        original = telegram.push_voice(user_id, AUDIO, user=user)["message_id"]
        failure = await final_reply(telegram, user_id, original, tr)
    assert start.text == tr(texts.START)
    assert failure.text == tr(texts.failure("api_error"))
    # The status message was in the same language before it became the failure.
    assert failure.text_history[0] == tr(texts.TRANSCRIBING)
    assert usage.text is not None and usage.text.startswith(tr(texts.USAGE).split("\n")[0])
    return usage.text.splitlines()


async def test_a_russian_speaker_gets_every_reply_in_russian(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    lines = await check_a_speaker_of("ru", RU_USER, telegram, stt, settings_for, running_bot)
    assert lines[0] == "Ваш расход"
    assert lines[2] == "Сегодня: израсходовано 0 с из 2 мин, осталось 2 мин."
    assert lines[5] == "В этом месяце: израсходовано 0 с из 10 мин, осталось 10 мин."
    assert lines[3].startswith("Обновится ") and "UTC (через " in lines[3]


async def test_an_arabic_speaker_gets_every_reply_in_arabic_with_its_plural_forms(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    lines = await check_a_speaker_of("ar", AR_USER, telegram, stt, settings_for, running_bot)
    assert lines[0] == "استهلاكك"
    # Two minutes take the dual, ten the plural of 3 to 10.
    assert lines[2] == "اليوم: استهلكت 0 ثانية من دقيقتان، ويتبقى دقيقتان."
    assert lines[5] == "هذا الشهر: استهلكت 0 ثانية من 10 دقائق، ويتبقى 10 دقائق."


async def test_the_job_keeps_the_language_it_was_accepted_in(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    settings = settings_for()
    user = make_user(RU_USER, language_code="ru")
    async with running_bot(settings):
        original = telegram.push_voice(RU_USER, AUDIO, user=user)["message_id"]
        await final_reply(telegram, RU_USER, original, translator("ru"))
    database = await Database.open(settings.database_path)
    try:
        job = await JobRepository(database).get(1)
    finally:
        await database.close()
    assert job is not None and job.locale == "ru"


async def test_commands_are_registered_in_every_interface_language(
    telegram: FakeTelegram, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    async with running_bot(settings_for()):
        pass
    english = [(c["command"], c["description"]) for c in telegram.commands()]
    assert english == replies.command_menu(ENGLISH, payments=False)
    for locale in INTERFACE_LOCALES:
        if locale == "en":
            continue
        code = locale.split("_")[0]
        registered = [(c["command"], c["description"]) for c in telegram.commands(None, code)]
        assert registered == replies.command_menu(translator(locale), payments=False), locale
    assert telegram.commands(None, "ru")[0]["description"] == "Что умеет этот бот"


async def test_settings_choose_an_interface_language_apart_from_the_telegram_app(
    telegram: FakeTelegram, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    ru, de = translator("ru"), translator("de")
    user = make_user(RU_USER, language_code="ru")
    async with running_bot(settings_for()):
        menu = await command(telegram, RU_USER, "/settings", user=user)
        languages = await tap_edit(telegram, menu, "ui:menu", user=user)
        assert languages.message.text == ru.render(
            texts.INTERFACE_MENU, current=ru(texts.INTERFACE_AUTO)
        )
        chosen = await tap_edit(telegram, languages.message, "ui:de", user=user)
        settings_after = chosen.message.text or ""  # the message is edited again below
        start = await command(telegram, RU_USER, "/start", user=user)
        back = await tap_edit(telegram, chosen.message, "ui:menu", user=user)
        auto = await tap_edit(telegram, back.message, "ui:auto", user=user)
        again = await command(telegram, RU_USER, "/start", user=user)
    assert chosen.answer["text"] == de.render(texts.INTERFACE_SET, language="Deutsch")
    assert settings_after.startswith(de(texts.SETTINGS).split("\n")[0])
    assert start.text == de(texts.START)
    assert auto.answer["text"] == ru.render(texts.INTERFACE_SET, language="Русский")
    assert again.text == ru(texts.START)


async def test_a_group_speaks_the_language_its_admins_chose_else_each_members(
    telegram: FakeTelegram, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    telegram.set_chat_admins(GROUP, [GROUP_ADMIN])
    admin = make_user(GROUP_ADMIN, language_code="en")
    russian = make_user(RU_USER, language_code="ru")
    async with running_bot(settings_for()):
        before = await command(telegram, GROUP, "/start", user=russian)
        menu = await command(telegram, GROUP, "/grouplanguage", user=admin)
        refused = await tap(telegram, menu, "glang:tr", user=russian)
        chosen = await tap_edit(telegram, menu, "glang:tr", user=admin)
        after = await command(telegram, GROUP, "/start", user=russian)
        private = await command(telegram, RU_USER, "/start", user=russian)
    assert before.text == translator("ru")(texts.START)  # no group language: the sender's
    assert refused["text"] == translator("ru")(texts.GROUP_MODE_NOT_ADMIN)
    assert chosen.answer["text"] == translator("tr").render(
        texts.GROUP_LANGUAGE_SET, language="Türkçe"
    )
    assert after.text == translator("tr")(texts.START)
    assert private.text == translator("ru")(texts.START)  # the group's choice stays there
