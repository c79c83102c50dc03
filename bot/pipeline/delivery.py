"""Deliver a job's answer exactly once, as numbered steps recorded in storage.

A delivery is planned deterministically from the saved transcript and the job's options, so a
restart plans the same steps. Every send (the status message, a transcript that cannot be an
edit, a file) goes through the send journal (storage/sends.py): written before each attempt and
after its answer, so a send that may have arrived is never made again, whether its answer was
lost or the process died while waiting for it. A step done by a send is known done from the
journal alone; only a step done by an edit, which leaves no record there, is counted in the job
row (`delivered_parts`): one commit less for every answer sent as a new message. A step found in
the journal is never turned into an edit after a restart. Edits are idempotent and may be
repeated.

Every text is in the job's own language (`job.locale`, fixed when it was accepted), so a plan
made again after a restart says what the first one said.

The plan keeps non-idempotent sends to at most one per transcript: the status message is edited
into the text; a second part, or else one `.txt` file, follows it.

Everything sent here is bulk traffic to the rate limiter: it waits behind any answer a person is
waiting for. The status message is optional, and skipped under pressure (status_policy.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from bot.failures import FailureReason
from bot.pipeline.status_policy import StatusPolicy
from bot.policy.preferences import OutputOptions
from bot.presentation import texts
from bot.presentation.attachments import Attachment
from bot.presentation.i18n import Translator, translator
from bot.presentation.rendering import render_transcript, split_text
from bot.stt.types import Transcript
from bot.telegram.gateway import AmbiguousSendError, AttemptHooks, Buttons, ChatGateway
from storage.jobs import Job, JobRepository
from storage.sends import SendJournal, SendRecord, SendState

log = logging.getLogger(__name__)

# More parts than this and the transcript comes as one file.
MAX_TEXT_MESSAGES = 2
STATUS_STEP = "status"
# The status message is a courtesy: the job never waits long for it.
STATUS_DEADLINE = 10.0


@dataclass(frozen=True, slots=True)
class EditStatus:
    text: str
    buttons: Buttons | None = None


@dataclass(frozen=True, slots=True)
class SendText:
    text: str
    buttons: Buttons | None = None


@dataclass(frozen=True, slots=True)
class SendFile:
    filename: str
    data: bytes
    caption: str | None
    buttons: Buttons | None = None


Step = EditStatus | SendText | SendFile


def plan_delivery(
    tr: Translator,
    transcript: Transcript,
    options: OutputOptions,
    *,
    buttons: Buttons | None,
    attachments: Sequence[Attachment] = (),
) -> list[Step]:
    if transcript.is_empty:
        return [EditStatus(tr(texts.NO_SPEECH), buttons)]
    text = render_transcript(tr, transcript, options)
    parts = split_text(text)
    extra: list[Step] = [SendFile(a.filename, a.data, a.caption) for a in attachments]
    steps: list[Step]
    if len(parts) > MAX_TEXT_MESSAGES:
        steps = [
            EditStatus(tr(texts.SENT_AS_FILE)),
            SendFile("transcript.txt", text.encode("utf-8"), tr(texts.TRANSCRIPT_FILE_CAPTION)),
        ]
        # A .txt attachment would repeat the file we just sent.
        extra = [
            step
            for step in extra
            if not (isinstance(step, SendFile) and step.filename.endswith(".txt"))
        ]
    else:
        steps = [EditStatus(parts[0]), *(SendText(part) for part in parts[1:])]
    steps.extend(extra)
    return _with_buttons_on_last(steps, buttons)


def _with_buttons_on_last(steps: list[Step], buttons: Buttons | None) -> list[Step]:
    if not buttons:
        return steps
    last = steps[-1]
    if isinstance(last, EditStatus):
        steps[-1] = EditStatus(last.text, buttons)
    elif isinstance(last, SendText):
        steps[-1] = SendText(last.text, buttons)
    else:
        steps[-1] = SendFile(last.filename, last.data, last.caption, buttons)
    return steps


class JournalHooks:
    """Records each attempt of one send in the journal (see ChatGateway's AttemptHooks)."""

    def __init__(self, journal: SendJournal, job_id: int, key: str) -> None:
        self._journal = journal
        self._job_id = job_id
        self._key = key

    async def before_attempt(self) -> None:
        await self._journal.begin_attempt(self._job_id, self._key)

    async def not_sent(self) -> None:
        await self._journal.not_sent(self._job_id, self._key)


class DeliveryService:
    def __init__(
        self,
        gateway: ChatGateway,
        jobs: JobRepository,
        journal: SendJournal,
        *,
        patience: float,
        status_policy: StatusPolicy | None = None,
    ) -> None:
        self._gateway = gateway
        self._jobs = jobs
        self._journal = journal
        # How long a transcript waits out Telegram trouble: hours, so outages lose nothing.
        self._patience = patience
        self._status_policy = status_policy or StatusPolicy()
        # Status messages on their way, by chat: a note sent with others needs none of its own.
        self._posting: dict[int, int] = {}

    def start_status(self, job: Job) -> asyncio.Task[None] | None:
        """Post "Transcribing…" under the recording, in the background: best effort, never
        twice, and not at all when the status policy says it is not worth it now (then no task
        is made, and None is returned)."""
        chat = job.chat_id
        skip = self._status_policy.reason_to_skip(job, posting=self._posting.get(chat, 0))
        if skip is not None:
            log.debug("job %d: no status message: %s", job.id, skip)
            return None
        # Counted at once, so that the chat's next note, decided before this task runs, sees
        # it; and uncounted when the task ends however it ends, cancelled before it began too.
        self._posting[chat] = self._posting.get(chat, 0) + 1
        task = asyncio.create_task(self._post_status(job))
        task.add_done_callback(lambda _: self._posted(chat))
        return task

    def _posted(self, chat: int) -> None:
        if self._posting[chat] > 1:
            self._posting[chat] -= 1
        else:
            del self._posting[chat]

    async def _post_status(self, job: Job) -> None:
        try:
            await self._send_once(
                job,
                STATUS_STEP,
                lambda hooks: self._gateway.send_text(
                    job.chat_id,
                    translator(job.locale)(texts.TRANSCRIBING),
                    reply_to=job.message_id,
                    deadline=STATUS_DEADLINE,
                    hooks=hooks,
                    bulk=True,
                ),
            )
        except Exception as error:  # the job goes on: its answer will be a new message
            log.info("job %d: no status message (%s)", job.id, type(error).__name__)

    async def show_progress(self, job: Job, text: str) -> bool:
        """Edit the status message to `text` (how far a long job has got). False when there is
        no status message to edit: never posted, skipped, or deleted by the user."""
        status = await self._journal.get(job.id, STATUS_STEP)
        if status is None or status.state is not SendState.CONFIRMED or status.message_id is None:
            return False
        return await self._gateway.edit_text(
            job.chat_id, status.message_id, text, deadline=STATUS_DEADLINE, bulk=True
        )

    async def run_steps(self, job: Job, steps: list[Step]) -> Job:
        for index in range(job.delivered_parts, len(steps)):
            if not await self._perform(job, f"step{index}", steps[index]):
                # Done by an edit, which the journal does not record: the job row counts it.
                job = await self._jobs.mark_parts_delivered(job, index + 1)
        return job

    async def tell_failure(
        self, job: Job, reason: FailureReason, *, buttons: Buttons | None = None
    ) -> None:
        text = translator(job.locale)(texts.failure(reason))
        await self._edit_or_send(job, "failure", text, buttons)

    async def _perform(self, job: Job, key: str, step: Step) -> bool:
        """Do one step; whether the send journal records it (False: done by an edit)."""
        if isinstance(step, EditStatus):
            return await self._edit_or_send(job, key, step.text, step.buttons)
        await self.send_once(job, key, step, reply_to=job.message_id, bulk=True)
        return True

    async def _edit_or_send(self, job: Job, key: str, text: str, buttons: Buttons | None) -> bool:
        """Edit the status message into `text`, or else send it under `key`; whether the send
        journal records the step (False: the edit did it)."""
        record = await self._journal.get(job.id, key)
        # A step sent (or maybe sent) before a stop is never turned into an edit: that would
        # answer a second time. The send below finds it done, or marks it ambiguous.
        unsent = record is None or record.state is SendState.RETRY_WAIT
        if unsent and await self._edit_status(job, text, buttons):
            return False
        # No status message (never posted, possibly posted, or deleted by the user): answer anew.
        await self._send_recorded(job, key, record, self._send_text(job, text, buttons))
        return True

    async def _edit_status(self, job: Job, text: str, buttons: Buttons | None) -> bool:
        """Edit the job's status message into `text`; False when there is none to edit."""
        status = await self._journal.get(job.id, STATUS_STEP)
        return (
            status is not None
            and status.state is SendState.CONFIRMED
            and status.message_id is not None
            and await self._gateway.edit_text(
                job.chat_id,
                status.message_id,
                text,
                buttons=buttons,
                deadline=self._patience,
                bulk=True,
            )
        )

    def _send_text(
        self, job: Job, text: str, buttons: Buttons | None
    ) -> Callable[[AttemptHooks], Awaitable[int]]:
        """The job's answer `text` as a new message, in reply to the recording."""
        return lambda hooks: self._gateway.send_text(
            job.chat_id,
            text,
            reply_to=job.message_id,
            buttons=buttons,
            deadline=self._patience,
            hooks=hooks,
            bulk=True,
        )

    async def send_once(
        self, job: Job, key: str, step: SendText | SendFile, *, reply_to: int | None, bulk: bool
    ) -> None:
        """One more message about a delivered job (its summary, its translation), recorded
        under `key` like the job's own: never sent twice, whether asked twice or handled again
        after a stop. Bulk: it waits behind the answers people are waiting for."""
        if isinstance(step, SendText):
            await self._send_once(
                job,
                key,
                lambda hooks: self._gateway.send_text(
                    job.chat_id,
                    step.text,
                    reply_to=reply_to,
                    buttons=step.buttons,
                    deadline=self._patience,
                    hooks=hooks,
                    bulk=bulk,
                ),
            )
            return
        await self._send_once(
            job,
            key,
            lambda hooks: self._gateway.send_document(
                job.chat_id,
                step.filename,
                step.data,
                caption=step.caption,
                reply_to=reply_to,
                buttons=step.buttons,
                deadline=self._patience,
                hooks=hooks,
                bulk=bulk,
            ),
        )

    async def _send_once(
        self, job: Job, key: str, send: Callable[[AttemptHooks], Awaitable[int]]
    ) -> None:
        """Make one recorded send, unless the journal says it may already have arrived."""
        await self._send_recorded(job, key, await self._journal.get(job.id, key), send)

    async def _send_recorded(
        self,
        job: Job,
        key: str,
        record: SendRecord | None,
        send: Callable[[AttemptHooks], Awaitable[int]],
    ) -> None:
        """`_send_once`, the journal's `record` of `key` already read."""
        if record is not None:
            if record.state in (SendState.CONFIRMED, SendState.AMBIGUOUS):
                return
            if record.state is SendState.IN_FLIGHT:
                # The process stopped while this send was on the wire: it may have arrived.
                log.warning("job %d: %s was in flight at a stop; not sending it again", job.id, key)
                await self._journal.ambiguous(job.id, key)
                self._gateway.count_ambiguous(key)
                return
        try:
            message_id = await send(JournalHooks(self._journal, job.id, key))
        except AmbiguousSendError:
            await self._journal.ambiguous(job.id, key)
            return
        await self._journal.confirmed(job.id, key, message_id)
