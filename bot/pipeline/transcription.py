"""The transcription pipeline: accept a request, then run the job in the background to delivery.

Every step saves its result in the job row before the next starts, so a crash loses nothing:
at start-up `resume_open_jobs` re-polls a saved generation id, or submits again when there is
none or the backend no longer knows it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.pipeline.admission import AdmissionPolicy, NoAdmission
from bot.pipeline.delivery import DeliveryService, plan_delivery
from bot.pipeline.media import MediaKind, MediaRef, Origin
from bot.pipeline.supervisor import TaskSupervisor
from bot.policy.preferences import Choice, PreferencesService
from bot.presentation import texts
from bot.presentation.attachments import attachments_for, with_known_language
from bot.presentation.keyboards import try_another_buttons
from bot.presentation.rendering import OutputOptions
from bot.stt import errors as stt_errors
from bot.stt.backend import SttBackend
from bot.stt.catalogue import build_params, get_model
from bot.stt.types import AudioUpload, JobRequest, Transcript
from bot.telegram.gateway import (
    ChatGateway,
    ChatUnavailableError,
    DownloadError,
    FileTooBigError,
)
from storage.jobs import Job, JobRepository, JobState, NewJob

log = logging.getLogger(__name__)

MAX_SUBMISSIONS = 3
DELIVERY_ATTEMPTS = 4

Clock = Callable[[], datetime]


class _JobFailure(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def failure_reason(error: BaseException) -> str:
    """Map an error to the user-facing reason key in bot.presentation.texts.FAILURES."""
    match error:
        case _JobFailure():
            return error.reason
        case stt_errors.AuthError():
            return "auth"
        case stt_errors.OutOfCreditsError():
            return "out_of_credits"
        case stt_errors.ValidationError():
            return "corrupt"
        case stt_errors.RateLimitedError():
            return "rate_limited"
        case stt_errors.SttTimeoutError() | TimeoutError():
            return "timeout"
        case stt_errors.UnsupportedModelError():
            return "unsupported_model"
        case stt_errors.SttError():
            return "api_error"
        case FileTooBigError():
            return "too_big"
        case DownloadError():
            return "download_failed"
        case _:
            return "internal"


@dataclass(frozen=True, slots=True)
class Accepted:
    job: Job | None  # None: this request already has a job (a redelivered update)
    refused: str | None = None  # a reply text when the request was refused up front


class TranscriptionService:
    def __init__(
        self,
        *,
        jobs: JobRepository,
        backend: SttBackend,
        gateway: ChatGateway,
        delivery: DeliveryService,
        preferences: PreferencesService,
        supervisor: TaskSupervisor,
        max_file_bytes: int,
        job_timeout: float,
        clock: Clock = lambda: datetime.now(UTC),
        admission: AdmissionPolicy | None = None,
    ) -> None:
        # Access, the transcript cache and the quota (bot/pipeline/admission.py); none by default.
        self._admission: AdmissionPolicy = admission or NoAdmission()
        self._jobs = jobs
        self._backend = backend
        self._gateway = gateway
        self._delivery = delivery
        self._preferences = preferences
        self._supervisor = supervisor
        self._max_file_bytes = max_file_bytes
        self._job_timeout = job_timeout
        self._clock = clock

    async def accept(
        self,
        origin: Origin,
        user_id: int | None,
        media: MediaRef,
        *,
        choice: Choice | None = None,
        dedupe_key: str | None = None,
    ) -> Accepted:
        """Persist the job, post the status message, and start the work in the background."""
        gate = await self._admission.screen(origin, user_id)
        if not gate.proceed:
            if gate.reply is not None:
                await self._gateway.send_text(
                    origin.chat_id, gate.reply, reply_to=origin.message_id
                )
            return Accepted(job=None, refused=gate.reply)
        if media.file_size is not None and media.file_size > self._max_file_bytes:
            text = texts.FILE_TOO_BIG.format(
                size_mb=media.file_size / 1e6, limit_mb=self._max_file_bytes / 1e6
            )
            await self._gateway.send_text(origin.chat_id, text, reply_to=origin.message_id)
            return Accepted(job=None, refused=text)
        choice = choice or await self._preferences.choice_for(user_id)
        new_job = NewJob(
            dedupe_key=dedupe_key or f"msg:{origin.chat_id}:{origin.message_id}",
            chat_id=origin.chat_id,
            chat_type=origin.chat_type,
            message_id=origin.message_id,
            user_id=user_id,
            file_id=media.file_id,
            file_unique_id=media.file_unique_id,
            media_kind=media.kind,
            mime_type=media.mime_type,
            file_name=media.file_name,
            duration=media.duration,
            file_size=media.file_size,
            model=choice.model.id,
            language=choice.language,
            options=choice.options.to_dict(),
        )
        cached = await self._admission.cached_text(new_job)
        job = await self._jobs.insert(new_job)
        if job is None:
            log.info("ignoring a repeated request %s", new_job.dedupe_key)
            return Accepted(job=None)
        if cached is not None:
            return await self._answer_from_cache(job, cached)
        refusal = await self._admission.reserve(job)
        if refusal is not None:
            # Refused before anything reached the API: the job ends here, failed and unpaid.
            await self._jobs.mark_failing(job.id, "quota")
            await self._jobs.mark_failed(job.id)
            await self._gateway.send_text(origin.chat_id, refusal, reply_to=origin.message_id)
            return Accepted(job=None, refused=refusal)
        await self._gateway.chat_action(origin.chat_id)
        job = await self._delivery.post_status(job)
        self._start(job)
        return Accepted(job=job)

    async def _answer_from_cache(self, job: Job, text: str) -> Accepted:
        """The same file was transcribed with this model and language lately: answer with that
        text at once, with no API call and no quota charge (the job has no reservation)."""
        transcript = Transcript(text=text, language=job.language)
        job = await self._jobs.mark_transcribed(job.id, transcript.to_json())
        await self._admission.record_cache_hit(job)
        log.info("job %d answered from the transcript cache", job.id)
        self._start(job)
        return Accepted(job=job)

    async def resume_open_jobs(self) -> int:
        jobs = await self._jobs.open_jobs()
        for job in jobs:
            log.info("resuming job %d in state %s", job.id, job.state)
            self._start(job)
        return len(jobs)

    def _start(self, job: Job) -> None:
        self._supervisor.spawn(self._run(job.id), name=f"job-{job.id}")

    async def _run(self, job_id: int) -> None:
        job = await self._jobs.require(job_id)
        try:
            async with asyncio.timeout(self._job_timeout):
                job = await self._transcribe(job)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            reason = failure_reason(error)
            level = logging.ERROR if reason in ("auth", "internal") else logging.WARNING
            log.log(
                level,
                "job %d failed (%s): %s",
                job.id,
                reason,
                _describe(error),
                exc_info=reason == "internal",
            )
            job = await self._jobs.mark_failing(job.id, reason)
        await self._finish(job)

    async def _transcribe(self, job: Job) -> Job:
        """Drive the job to `transcribed` (or leave it `failing`), resuming from its state."""
        while job.state in (JobState.ACCEPTED, JobState.SUBMITTED):
            if job.state == JobState.ACCEPTED:
                if job.submissions >= MAX_SUBMISSIONS:
                    raise _JobFailure("api_error")
                job = await self._submit(job)
            transcript = await self._wait(job)
            if transcript is None:
                job = await self._jobs.reset_to_accepted(job.id)
                continue
            job = await self._jobs.mark_transcribed(job.id, transcript.to_json())
        return job

    def _request(self, job: Job) -> JobRequest:
        spec = get_model(job.model)
        options = OutputOptions.from_dict(job.options)
        return JobRequest(
            model=job.model,
            params=build_params(spec, language=job.language, diarize=options.speakers),
        )

    async def _submit(self, job: Job) -> Job:
        # Nothing reaches the API without a reservation: a job resumed after a crash between
        # insert and reserve, or started outside accept(), reserves here.
        if not await self._admission.ensure_reserved(job):
            raise _JobFailure("quota")
        async with self._supervisor.transfer_slots:
            data = await self._gateway.download(job.file_id)
            if len(data) > self._max_file_bytes:
                raise FileTooBigError(f"{len(data)} bytes")
            # The declared duration is the sender's word; the file may say otherwise.
            if not await self._admission.check_measured(job, data):
                raise _JobFailure("quota")
            filename, mime_type = _media_of(job).upload_name_and_type()
            generation_id = await self._backend.submit(
                AudioUpload(data=data, filename=filename, mime_type=mime_type), self._request(job)
            )
        log.info("job %d submitted as %s", job.id, generation_id)
        return await self._jobs.mark_submitted(job.id, generation_id)

    async def _wait(self, job: Job) -> Transcript | None:
        """The transcript, or None when the backend no longer knows the generation id."""
        assert job.generation_id is not None
        elapsed = 0.0
        if job.submitted_at is not None:
            elapsed = max(0.0, (self._clock() - job.submitted_at).total_seconds())
        try:
            return await self._backend.wait_result(
                job.generation_id, self._request(job), job.duration, elapsed
            )
        except stt_errors.NotFoundError:
            log.info(
                "job %d: generation %s is unknown or expired; submitting again",
                job.id,
                job.generation_id,
            )
            return None

    async def _finish(self, job: Job) -> None:
        """Tell the user: deliver the transcript or the failure, retrying Telegram hiccups."""
        # Settle the quota first: the API's work is done (or failed) whether or not delivery
        # succeeds. Idempotent, so a job finished again after a restart is not charged twice.
        await self._admission.settle(job)
        for attempt in range(1, DELIVERY_ATTEMPTS + 1):
            try:
                if job.state == JobState.TRANSCRIBED:
                    await self._deliver(job)
                elif job.state == JobState.FAILING:
                    await self._delivery.tell_failure(job, job.error or "internal")
                    await self._jobs.mark_failed(job.id)
                return
            except ChatUnavailableError:
                log.warning("job %d: the chat is no longer reachable; dropping the reply", job.id)
                await self._jobs.mark_failed(job.id)
                return
            except Exception as error:  # Telegram and network errors come in many classes
                if attempt == DELIVERY_ATTEMPTS:
                    # The job stays open in the database and is delivered at the next start.
                    log.error(
                        "job %d: delivery failed, will retry at restart: %s",
                        job.id,
                        _describe(error),
                    )
                    return
                await asyncio.sleep(2.0**attempt)
                job = await self._jobs.require(job.id)

    async def _deliver(self, job: Job) -> None:
        assert job.transcript is not None
        options = OutputOptions.from_dict(job.options)
        transcript = with_known_language(
            Transcript.from_json(job.transcript), get_model(job.model), job.language
        )
        # "Try another model" only makes sense where there is another model to try.
        buttons = try_another_buttons(job.id) if len(self._preferences.offered) > 1 else None
        steps = plan_delivery(
            transcript,
            options,
            buttons=buttons,
            attachments=attachments_for(transcript, options),
        )
        job = await self._delivery.run_steps(job, steps)
        await self._jobs.mark_delivered(job.id)
        log.info("job %d delivered in %d step(s)", job.id, len(steps))

    # --- re-transcription ("Try another model") -------------------------------------------

    async def redo_source(self, job_id: int, user_id: int) -> Job:
        """The job whose recording `user_id` wants transcribed again; RedoRefusedError if not."""
        job = await self._jobs.get(job_id)
        if job is None:
            raise RedoRefusedError("gone")
        if not may_redo(job, user_id):
            raise RedoRefusedError("not_yours")
        return job

    async def retranscribe(self, job_id: int, model_id: str, user_id: int) -> Accepted:
        """A new job on the same recording (its stored file_id) with another model.

        It answers the original message, with the user's current language and output options.
        Raises RedoRefusedError, and UnknownModelError / ModelNotOfferedError for a model this
        bot does not offer.
        """
        source = await self.redo_source(job_id, user_id)
        model = self._preferences.offered_model(model_id)
        current = await self._preferences.choice_for(user_id)
        choice = Choice(model=model, language=current.language, options=current.options)
        origin = Origin(source.chat_id, source.chat_type, source.message_id)
        language = choice.language or "auto"
        return await self.accept(
            origin,
            user_id,
            _media_of(source),
            choice=choice,
            dedupe_key=f"redo:{source.chat_id}:{source.message_id}:{model.id}:{language}",
        )


class RedoRefusedError(Exception):
    """A re-transcription is refused; `reason` is a key of texts.REDO_REFUSALS."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def may_redo(job: Job, user_id: int) -> bool:
    # In a group only the sender may spend a transcription on their recording again; in a
    # private chat the chat is the user's own.
    return job.user_id == user_id or (job.chat_type == "private" and job.chat_id == user_id)


def _media_of(job: Job) -> MediaRef:
    return MediaRef(
        kind=MediaKind(job.media_kind),
        file_id=job.file_id,
        file_unique_id=job.file_unique_id,
        duration=job.duration,
        file_size=job.file_size,
        mime_type=job.mime_type,
        file_name=job.file_name,
    )


def _describe(error: BaseException) -> str:
    # Exception text only: tracebacks of HTTP errors can carry URLs, and Telegram's carry the token.
    return f"{type(error).__name__}: {error}"
