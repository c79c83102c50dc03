"""Summaries and translations of delivered transcripts, by a language model.

Under a delivered transcript the pipeline asks `buttons` which of Summary and Translate to
offer; the text is kept then (storage/summaries.py), since the job drops its own copy at
delivery. A tap comes to `request`: the request is reserved against the daily quota in one
transaction, keyed by transcript, kind and language, so a second tap or a replay finds the
first; the tap is answered at once, and the model is asked in the background. The answer goes
as a reply to the transcript through recorded sends (bot/pipeline/delivery.py), so it is never
sent twice; a request cut off by a stop is carried out at the next start (`resume_open`).

In a group whose admins asked for it (/groupsummary), `delivered` posts the summary of every
voice note longer than their threshold unasked, paid from the sender's daily quota.

Without a language model, a local Whisper engine can still translate into English: it
transcribes the recording again with Whisper's own translate task (`SpeechTranslator`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from bot.llm.errors import LlmError
from bot.llm.tasks import TranscriptTasks
from bot.log_fields import log_fields
from bot.pipeline.delivery import MAX_TEXT_MESSAGES, DeliveryService, SendFile, SendText
from bot.pipeline.supervisor import TaskSupervisor
from bot.policy.quota import payer_of
from bot.policy.summaries import Ask, GroupSummaries, SummariesUsedUp, SummaryQuota
from bot.presentation import keyboards, replies, texts
from bot.presentation.i18n import Translator, translator
from bot.presentation.rendering import split_text
from bot.stt.languages import primary_code
from bot.stt.types import Transcript
from bot.stt.whisper_languages import WHISPER_LANGUAGE_CODES
from bot.telegram.gateway import Buttons, ChatUnavailableError
from storage.clock import Clock, utc_now
from storage.jobs import Job, JobRepository
from storage.summaries import Existing, Kind, Reserved, SummaryRequest, TranscriptTexts

log = logging.getLogger(__name__)

# The interface language the bot speaks in a chat, to a user (bot/policy/interface_language.py):
# (chat id, user id) -> a locale, "ru", "pt_BR".
InterfaceLanguage = Callable[[int, int | None], Awaitable[str]]
# Requests to the model at once; more wait. A local server answers one at a time anyway.
MAX_CONCURRENT_REQUESTS = 4
ENGLISH = "en"
GROUP_CHATS = ("group", "supergroup")
# English names for the model's instructions: "Russian", not "Русский" (the interface's).
_ENGLISH_NAMES: dict[str, str] = {}
for _name, _code in WHISPER_LANGUAGE_CODES.items():
    _ENGLISH_NAMES.setdefault(_code, _name.title())


def language_for_model(locale: str) -> str:
    """How the model's instructions name a language: "Russian (ru)", "Portuguese (pt-BR)"."""
    code = locale.replace("_", "-")
    name = _ENGLISH_NAMES.get(primary_code(code))
    return f"{name} ({code})" if name else f"the language with the code {code}"


class SpeechTranslator(Protocol):
    """Whisper's own translation into English of a job's recording (the local engine)."""

    async def to_english(self, job: Job) -> str: ...


class TapAnswer(StrEnum):
    """What a tap on Summary or Translate is answered at once."""

    STARTED = "started"
    UNDER_WAY = "under_way"  # asked before, the answer is coming
    ALREADY_SENT = "already_sent"
    GONE = "gone"  # the text is no longer kept, or the button is not this chat's
    OFF = "off"  # no model to ask (any more)
    USED_UP = "used_up"  # the payer's daily limit


_TAP_TEXTS = {
    TapAnswer.STARTED: texts.SUMMARY_WORKING,
    TapAnswer.UNDER_WAY: texts.SUMMARY_UNDER_WAY,
    TapAnswer.ALREADY_SENT: texts.SUMMARY_ALREADY_SENT,
    TapAnswer.GONE: texts.SUMMARY_GONE,
    TapAnswer.OFF: texts.SUMMARY_OFF,
}


@dataclass(frozen=True, slots=True)
class TapReply:
    answer: TapAnswer
    text: str  # the callback's answer (Telegram shows at most 200 characters)

    @property
    def alert(self) -> bool:
        """A refusal stays on screen until dismissed; the rest is a passing notice."""
        return self.answer in (TapAnswer.GONE, TapAnswer.OFF, TapAnswer.USED_UP)


def tap_reply(tr: Translator, outcome: TapAnswer | SummariesUsedUp, now: datetime) -> TapReply:
    if isinstance(outcome, SummariesUsedUp):
        resets = replies.moment(tr, outcome.resets_at, now)
        text = tr.render_plural(texts.SUMMARIES_USED_UP, outcome.limit, resets=resets)
        return TapReply(TapAnswer.USED_UP, text)
    return TapReply(outcome, tr(_TAP_TEXTS[outcome]))


class SummaryService:
    def __init__(
        self,
        *,
        tasks: TranscriptTasks | None,
        speech: SpeechTranslator | None,
        texts_store: TranscriptTexts,
        quota: SummaryQuota,
        groups: GroupSummaries,
        jobs: JobRepository,
        delivery: DeliveryService,
        supervisor: TaskSupervisor,
        interface_language: InterfaceLanguage,
        min_words: int,
        clock: Clock = utc_now,
    ) -> None:
        """`tasks`: the language model's, None without one; `speech`: Whisper's translation
        into English, None unless the backend is the local engine."""
        self._tasks = tasks
        self._speech = speech
        self._texts = texts_store
        self._quota = quota
        self._groups = groups
        self._jobs = jobs
        self._delivery = delivery
        self._supervisor = supervisor
        self._language = interface_language
        self._min_words = min_words
        self._clock = clock
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_REQUESTS)

    @property
    def summaries_enabled(self) -> bool:
        return self._tasks is not None

    @property
    def enabled(self) -> bool:
        return self._tasks is not None or self._speech is not None

    # --- under a transcript --------------------------------------------------------------

    def _offers_summary(self, transcript: Transcript) -> bool:
        return self._tasks is not None and len(transcript.text.split()) >= self._min_words

    def _offers_translation(self, detected: str | None, interface: str) -> bool:
        if detected is None or primary_code(detected) == primary_code(interface):
            return False  # nothing to translate, or no way to tell
        if self._tasks is not None:
            return True
        return self._speech is not None and primary_code(interface) == ENGLISH

    async def buttons(self, job: Job, transcript: Transcript) -> Buttons:
        """Summary and Translate, those that apply to this transcript here; the text is kept
        for a tap on either before the buttons are shown. A failure here costs the buttons,
        never the transcript."""
        try:
            return await self._buttons(job, transcript)
        except Exception:
            log.exception("job %d: no Summary or Translate buttons", job.id)
            return []

    async def delivered(self, job: Job, transcript: Transcript) -> None:
        """After a transcript is out: the group's automatic summary, when it wants one here.
        A failure here is logged: the job itself is done."""
        try:
            await self._auto_summary(job, transcript)
        except Exception:
            log.exception("job %d: no automatic summary", job.id)

    async def _buttons(self, job: Job, transcript: Transcript) -> Buttons:
        if not self.enabled or transcript.is_empty:
            return []
        # The job's own interface language, fixed when it was accepted (its other texts are in
        # it too): whom the transcript was for.
        tr = translator(job.locale)  # English for a job from before there was a choice
        summary = self._offers_summary(transcript)
        translate = self._offers_translation(transcript.language, tr.locale)
        if summary or translate:
            await self._texts.keep(job.id, transcript.text, transcript.language)
        return keyboards.summary_buttons(tr, job.id, summary=summary, translate=translate)

    async def _auto_summary(self, job: Job, transcript: Transcript) -> None:
        if self._tasks is None or job.chat_type not in GROUP_CHATS:
            return
        threshold = await self._groups.min_seconds(job.chat_id)
        # How long members see the note to be (Telegram's figure), else what the backend heard.
        seconds = job.duration or transcript.duration
        if threshold is None or seconds is None or seconds <= threshold:
            return
        if not self._offers_summary(transcript):
            return
        await self._texts.keep(job.id, transcript.text, transcript.language)
        outcome = await self._quota.reserve(
            Ask(
                "summary",
                job.id,
                translator(job.locale).locale,  # the group's language, else the sender's
                payer_id=payer_of(job),
                chat_id=job.chat_id,
                reply_to=job.message_id,
                bulk=True,
            )
        )
        if isinstance(outcome, Reserved):
            self._start(outcome.request)
        elif isinstance(outcome, SummariesUsedUp):
            log.info("job %d: no automatic summary: the sender's daily limit is used", job.id)

    # --- a tap ---------------------------------------------------------------------------

    async def request(
        self, kind: Kind, job_id: int, *, user_id: int, chat_id: int, reply_to: int | None
    ) -> TapReply:
        """Reserve and start a summary or translation of a delivered transcript, asked for in
        `chat_id` by `user_id`, who pays; what to answer the tap with."""
        # The tapper's language (or their group's): of the answer to the tap, and of the text.
        locale = await self._language(chat_id, user_id)
        outcome = await self._request(kind, job_id, locale, user_id, chat_id, reply_to)
        return tap_reply(translator(locale), outcome, self._clock())

    async def _request(
        self,
        kind: Kind,
        job_id: int,
        locale: str,
        user_id: int,
        chat_id: int,
        reply_to: int | None,
    ) -> TapAnswer | SummariesUsedUp:
        if not self._can_do(kind):
            return TapAnswer.OFF
        job = await self._jobs.get(job_id)
        stored = await self._texts.get(job_id)
        # A button only ever asks about its own chat's transcript.
        if job is None or stored is None or job.chat_id != chat_id:
            return TapAnswer.GONE
        # All Whisper can translate into is English.
        language = ENGLISH if self._tasks is None else locale
        outcome = await self._quota.reserve(
            Ask(kind, job_id, language, payer_id=user_id, chat_id=chat_id, reply_to=reply_to)
        )
        if isinstance(outcome, SummariesUsedUp):
            return outcome
        if isinstance(outcome, Existing):
            done = outcome.request.state == "done"
            return TapAnswer.ALREADY_SENT if done else TapAnswer.UNDER_WAY
        self._start(outcome.request)
        return TapAnswer.STARTED

    def _can_do(self, kind: Kind) -> bool:
        if kind == "summary":
            return self._tasks is not None
        return self._tasks is not None or self._speech is not None

    async def resume_open(self) -> int:
        """At start: carry out the requests a stop cut off (their sends are recorded, so
        nothing that went out goes again)."""
        if not self.enabled:
            return 0  # nothing can carry them out (requests of a run with a model wait for one)
        requests = await self._quota.open_requests()
        for request in requests:
            self._start(request)
        return len(requests)

    # --- the work ------------------------------------------------------------------------

    def _start(self, request: SummaryRequest) -> None:
        with log_fields(job_id=request.job_id, chat_id=request.chat_id):
            self._supervisor.spawn(self._carry_out(request), name=f"{request.key}")

    async def _carry_out(self, request: SummaryRequest) -> None:
        job = await self._jobs.get(request.job_id)
        stored = await self._texts.get(request.job_id)
        if (
            job is None
            or stored is None
            or request.chat_id is None
            or not self._can_do(request.kind)
        ):
            # Deleted meanwhile (retention, /forget), or the model was taken away at a restart.
            await self._quota.refund(request)
            return
        try:
            async with self._slots:
                answer = await self._answer(request, job, stored.text)
        except asyncio.CancelledError:
            raise  # a stop: the request stays reserved, and is resumed at the next start
        except Exception as error:
            log.warning(
                "job %d: %s failed: %s",
                job.id,
                request.kind,
                f"{type(error).__name__}: {error}" if isinstance(error, LlmError) else error,
                exc_info=not isinstance(error, LlmError),
            )
            await self._quota.refund(request)
            if not request.bulk:
                text = self._translator(request)(texts.SUMMARY_FAILED[request.kind])
                await self._send(request, job, text, "failed")
            return
        try:
            await self._send(request, job, answer, "answer")
        except asyncio.CancelledError:
            raise
        except Exception as error:  # refused by Telegram as it is: trying again would not help
            log.error("job %d: the %s was not sent: %s", job.id, request.kind, type(error).__name__)
            await self._quota.refund(request)
            return
        await self._quota.done(request)
        log.info("job %d: %s sent", job.id, request.kind)

    def _translator(self, request: SummaryRequest) -> Translator:
        """The answer's: in the language it is written in (English for Whisper's)."""
        return translator(request.language)

    async def _answer(self, request: SummaryRequest, job: Job, text: str) -> str:
        # The heading is translated, the model's text filled in as it is (format, not render:
        # a whole summary needs no isolating from the heading around it).
        tr = self._translator(request)
        if request.kind == "summary":
            assert self._tasks is not None
            summary = await self._tasks.summarise(text, language_for_model(request.language))
            return tr(texts.SUMMARY_ANSWER).format(text=summary)
        if self._tasks is not None:
            translated = await self._tasks.translate(text, language_for_model(request.language))
        else:
            assert self._speech is not None
            translated = await self._speech.to_english(job)
        return tr(texts.TRANSLATION_ANSWER).format(text=translated)

    async def _send(self, request: SummaryRequest, job: Job, text: str, what: str) -> None:
        """The text as a reply, in one or two messages, or else as a file: each a recorded
        send whose key names the request's try, so a new try after a failure is sent anew."""
        assert request.chat_id is not None
        key = f"{request.kind}:{request.language}:{request.attempt}:{what}"
        parts = split_text(text)
        steps: list[SendText | SendFile]
        if len(parts) > MAX_TEXT_MESSAGES:
            filename = f"{request.kind}-{request.language}.txt"
            caption = self._translator(request)(texts.TRANSLATION_FILE_CAPTION)
            steps = [SendFile(filename, text.encode("utf-8"), caption)]
        else:
            steps = [SendText(part) for part in parts]
        try:
            for index, step in enumerate(steps):
                await self._delivery.send_once(
                    job, f"{key}:{index}", step, reply_to=request.reply_to, bulk=request.bulk
                )
        except ChatUnavailableError:
            log.info("job %d: the chat is gone; the %s is not sent", job.id, request.kind)
