"""Deliver a transcript exactly once, as numbered steps recorded in the job row.

A delivery is planned deterministically from the saved transcript and the job's options, so a
restart plans the same steps. Step 0 edits the status message, which is idempotent (a repeated
edit is "not modified"). Every later step is recorded as done right after it succeeds, so after a
crash only the one step that was in flight can be repeated.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.presentation import texts
from bot.presentation.rendering import OutputOptions, render_transcript, split_text
from bot.stt.types import Transcript
from bot.telegram.gateway import Buttons, ChatGateway
from storage.jobs import Job, JobRepository

log = logging.getLogger(__name__)

MAX_TEXT_MESSAGES = 4


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
    transcript: Transcript,
    options: OutputOptions,
    *,
    buttons: Buttons | None,
    attachments: list[SendFile] | None = None,
) -> list[Step]:
    if transcript.is_empty:
        return [EditStatus(texts.NO_SPEECH, buttons)]
    text = render_transcript(transcript, options)
    parts = split_text(text)
    extra: list[Step] = list(attachments or [])
    steps: list[Step]
    if len(parts) > MAX_TEXT_MESSAGES:
        steps = [
            EditStatus(texts.SENT_AS_FILE),
            SendFile("transcript.txt", text.encode("utf-8"), texts.TRANSCRIPT_FILE_CAPTION),
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


class DeliveryService:
    def __init__(self, gateway: ChatGateway, jobs: JobRepository) -> None:
        self._gateway = gateway
        self._jobs = jobs

    async def post_status(self, job: Job) -> Job:
        message_id = await self._gateway.send_text(
            job.chat_id, texts.TRANSCRIBING, reply_to=job.message_id
        )
        return await self._jobs.set_status_message(job.id, message_id)

    async def run_steps(self, job: Job, steps: list[Step]) -> Job:
        for index in range(job.delivered_parts, len(steps)):
            await self._perform(job, steps[index])
            job = await self._jobs.mark_parts_delivered(job.id, index + 1)
        return job

    async def _perform(self, job: Job, step: Step) -> None:
        if isinstance(step, EditStatus):
            await self._edit_or_send(job, step.text, step.buttons)
        elif isinstance(step, SendText):
            await self._gateway.send_text(
                job.chat_id, step.text, reply_to=job.message_id, buttons=step.buttons
            )
        else:
            await self._gateway.send_document(
                job.chat_id,
                step.filename,
                step.data,
                caption=step.caption,
                reply_to=job.message_id,
                buttons=step.buttons,
            )

    async def _edit_or_send(self, job: Job, text: str, buttons: Buttons | None) -> None:
        if job.status_message_id is not None and await self._gateway.edit_text(
            job.chat_id, job.status_message_id, text, buttons=buttons
        ):
            return
        # The status message is gone (deleted by the user, or never posted): answer anew.
        await self._gateway.send_text(job.chat_id, text, reply_to=job.message_id, buttons=buttons)

    async def tell_failure(self, job: Job, reason: str) -> None:
        await self._edit_or_send(job, texts.failure(reason), None)
