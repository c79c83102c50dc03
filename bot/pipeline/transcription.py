"""The transcription pipeline: accept a request, then run the job in the background to delivery.

Every step saves its result in the job row before the next starts, so a crash loses nothing:
at start-up `resume_open_jobs` re-polls a saved generation id, submits again when there is none
or the backend no longer knows it, and finishes a delivery where it stopped. A job ends only when
its user has the answer, or the chat is gone: Telegram trouble delays answers, it never drops
them, and a send that may have arrived is never repeated (bot/pipeline/delivery.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TypeVar

from bot.audio.duration import measure_file_duration
from bot.failures import FailureReason
from bot.log_fields import bind_log_fields, log_fields
from bot.pipeline.admission import AdmissionPolicy, NoAdmission
from bot.pipeline.delivery import DeliveryService, plan_delivery
from bot.pipeline.media import MediaKind, MediaRef, Origin
from bot.pipeline.observer import NoObserver, PipelineObserver
from bot.pipeline.progress import (
    MIN_PROGRESS_SECONDS,
    PROGRESS_INTERVAL,
    ProgressReporter,
    elapsed_text,
    progress_text,
)
from bot.pipeline.supervisor import TaskSupervisor
from bot.pipeline.temp_files import TempFiles
from bot.policy.preferences import Choice, OutputOptions, PreferencesService
from bot.presentation import replies, texts
from bot.presentation.attachments import attachments_for, with_known_language
from bot.presentation.i18n import Translator, translator
from bot.stt import errors as stt_errors
from bot.stt.backend import ReportsProgress, SendsAudioAtSubmit, SttBackend
from bot.stt.catalogue import build_params, get_model
from bot.stt.reports import JobReports
from bot.stt.types import SMALL_FILE_BYTES, AudioUpload, JobRequest, Transcript
from bot.telegram.gateway import (
    Buttons,
    ChatGateway,
    ChatUnavailableError,
    DownloadError,
    FileTooBigError,
)
from storage.jobs import Job, JobRepository, JobState, NewJob

log = logging.getLogger(__name__)

MAX_SUBMISSIONS = 3
# A download is a read from Telegram: worth waiting out a few minutes of 429s and 5xx.
DOWNLOAD_DEADLINE = 300.0

Clock = Callable[[], datetime]
# The buttons under a delivered transcript, labelled in the job's language (presentation
# builds them; None: no buttons).
ButtonsFor = Callable[[Translator, int], Buttons | None]


_T = TypeVar("_T")


async def _file_work(size: int, work: Callable[[], _T]) -> _T:
    """Blocking work on a recording of `size` bytes: in a thread, since a local server's file
    may be on a slow disk and a big file's blocks take a while to free; on the event loop for a
    small file (SMALL_FILE_BYTES), just written and in the page cache, where the trip to a
    thread would cost more than the work."""
    if size <= SMALL_FILE_BYTES:
        return work()
    return await asyncio.to_thread(work)


class TranscriptExtras(Protocol):
    """More about a transcript than its text (bot/pipeline/summaries.py): the Summary and
    Translate buttons under it, and what follows its delivery (a group's summary)."""

    async def buttons(self, job: Job, transcript: Transcript) -> Buttons: ...

    async def delivered(self, job: Job, transcript: Transcript) -> None: ...


class _JobFailure(Exception):
    def __init__(self, reason: FailureReason) -> None:
        super().__init__(reason)
        self.reason = reason


def failure_reason(error: BaseException) -> FailureReason:
    """Map an error to the reason stored on the job and shown to the user."""
    match error:
        case _JobFailure():
            return error.reason
        case stt_errors.AuthError():
            return FailureReason.AUTH
        case stt_errors.OutOfCreditsError():
            return FailureReason.OUT_OF_CREDITS
        case stt_errors.PayloadTooLargeError():
            return FailureReason.TOO_BIG
        case stt_errors.ValidationError():
            # The API refused the audio it was given (docs: 400 for unreadable audio too).
            return FailureReason.CORRUPT
        case stt_errors.JobFailedError() if _is_about_the_audio(str(error)):
            # The job ran and could not read the file: the user's problem to fix, not an outage.
            return FailureReason.CORRUPT
        case stt_errors.RateLimitedError():
            return FailureReason.RATE_LIMITED
        case stt_errors.SttTimeoutError() | TimeoutError():
            return FailureReason.TIMEOUT
        case stt_errors.UnsupportedModelError():
            return FailureReason.UNSUPPORTED_MODEL
        case stt_errors.SttError():
            return FailureReason.API_ERROR
        case FileTooBigError():
            return FailureReason.TOO_BIG
        case DownloadError():
            return FailureReason.DOWNLOAD_FAILED
        case _:
            return FailureReason.INTERNAL


# Words the STT services use when a job fails on the file itself (the API documents no error
# codes for it: docs/aiml-stt-api.md §5.6).
_AUDIO_PROBLEMS = ("decode", "corrupt", "unsupported format", "invalid audio", "audio file")


def _is_about_the_audio(message: str) -> bool:
    lowered = message.lower()
    return any(marker in lowered for marker in _AUDIO_PROBLEMS)


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
        temp_files: TempFiles,
        max_audio_seconds: float = 0.0,
        progress_interval: float = PROGRESS_INTERVAL,
        clock: Clock = lambda: datetime.now(UTC),
        admission: AdmissionPolicy | None = None,
        buttons_for: ButtonsFor = lambda tr, job_id: None,
        extras: TranscriptExtras | None = None,
        observer: PipelineObserver | None = None,
        reports: JobReports | None = None,
        one_commit: Callable[[], AbstractAsyncContextManager[object]] = contextlib.nullcontext,
    ) -> None:
        # The operator's metrics, and what the STT API reported about each job (its cost, its
        # polls); neither changes what a job does.
        self._observer: PipelineObserver = observer or NoObserver()
        self._reports = reports
        # Job id -> time.monotonic() of its submission by this process, until its wait ends;
        # then of the API's estimated completion, until the reply is out.
        self._submitted_at: dict[int, float] = {}
        self._completed_at: dict[int, float] = {}
        # Access, the transcript cache and the quota (bot/pipeline/admission.py); none by default.
        self._admission: AdmissionPolicy = admission or NoAdmission()
        self._jobs = jobs
        self._backend = backend
        # What the backend can do, asked once: a runtime-checked Protocol's isinstance walks
        # the protocol's members each time.
        self._progress_source = backend if isinstance(backend, ReportsProgress) else None
        self._deletes_after_submit = (
            isinstance(backend, SendsAudioAtSubmit) and backend.sends_audio_at_submit
        )
        self._gateway = gateway
        self._delivery = delivery
        self._preferences = preferences
        self._supervisor = supervisor
        self._max_file_bytes = max_file_bytes
        # Longer recordings are refused, before the download when Telegram says how long they
        # are, else once measured; 0: any length.
        self._max_audio_seconds = max_audio_seconds
        # Where each recording waits on disk while its job needs it (never in memory whole).
        self._temp_files = temp_files
        self._progress_interval = progress_interval
        self._job_timeout = job_timeout
        self._clock = clock
        self._buttons_for = buttons_for
        self._extras = extras
        # The database's `one_commit`: writes that follow one another, as one commit.
        self._one_commit = one_commit

    async def accept(
        self,
        origin: Origin,
        user_id: int | None,
        media: MediaRef,
        *,
        locale: str,
        choice: Choice | None = None,
        dedupe_key: str | None = None,
    ) -> Accepted:
        """Persist the job and start its work in the background.

        `locale`: the interface language of the answer (bot/policy/interface_language.py),
        kept on the job, so its messages stay in it across a restart.
        Nothing here waits on Telegram for a job that is admitted: the status message is posted
        by the job itself, so a Telegram hiccup cannot fail a job the user will later receive.
        """
        tr = translator(locale)
        gate = await self._admission.screen(origin, user_id, tr)
        if not gate.proceed:
            if gate.reply is not None:
                await self._gateway.send_text(
                    origin.chat_id, gate.reply, reply_to=origin.message_id
                )
            return Accepted(job=None, refused=gate.reply)
        if media.file_size is not None and media.file_size > self._max_file_bytes:
            text = tr.render(
                texts.FILE_TOO_BIG,
                size_mb=tr.number(media.file_size / 1e6, 1),
                limit_mb=tr.number(self._max_file_bytes / 1e6, 0),
            )
            await self._gateway.send_text(origin.chat_id, text, reply_to=origin.message_id)
            return Accepted(job=None, refused=text)
        if self._too_long(media.duration):
            assert media.duration is not None
            text = texts.RECORDING_TOO_LONG.format(
                length=replies.duration(tr, media.duration),
                limit=replies.duration(tr, self._max_audio_seconds),
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
            locale=tr.locale,
        )
        cached = await self._admission.cached_text(new_job)
        job = await self._jobs.insert(new_job)
        if job is None:
            log.info("ignoring a repeated request %s", new_job.dedupe_key)
            return Accepted(job=None)
        # The rest of this update's lines concern this job (LOG_FORMAT=json writes them as fields).
        bind_log_fields(job_id=job.id, chat_id=job.chat_id, model=job.model)
        if cached is not None:
            return await self._answer_from_cache(job, cached)
        refusal = await self._admission.reserve(job, tr)
        if refusal is not None:
            # Refused before anything reached the API: the job ends here, failed and unpaid.
            await self._jobs.mark_failing(job.id, FailureReason.QUOTA)
            await self._jobs.mark_failed(job.id)
            self._observer.job_finished("failed", FailureReason.QUOTA.value, 0.0)
            await self._gateway.send_text(
                origin.chat_id, refusal.reply, reply_to=origin.message_id, buttons=refusal.buttons
            )
            return Accepted(job=None, refused=refusal.reply)
        self._start(job, reserved=True)
        return Accepted(job=job)

    async def _answer_from_cache(self, job: Job, text: str) -> Accepted:
        """The same file was transcribed with this model and language lately: answer with that
        text at once, with no API call and no quota charge (the job has no reservation). It is
        delivered like any other job, through the same recorded steps."""
        transcript = Transcript(text=text, language=job.language)
        job = await self._jobs.mark_transcribed(job, transcript.to_json())
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

    def _start(self, job: Job, *, reserved: bool = False) -> None:
        """Run `job` in the background from its state: `job` must be its row as saved now (the
        task does not read it again). `reserved`: its quota reservation was just made, so the
        job need not look for it before the upload."""
        # The task takes a copy of this context: every line of the job's run carries its fields.
        with log_fields(job_id=job.id, chat_id=job.chat_id, model=job.model):
            self._supervisor.spawn(self._run(job, reserved), name=f"job-{job.id}")

    async def _run(self, job: Job, reserved: bool) -> None:
        status: asyncio.Task[None] | None = None
        if job.state in (JobState.ACCEPTED, JobState.SUBMITTED):
            # Posted while the audio downloads (see _submit); a no-op when already posted.
            status = self._delivery.start_status(job)
        try:
            try:
                async with asyncio.timeout(self._job_timeout):
                    job = await self._transcribe(job, status, reserved)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                reason = failure_reason(error)
                log.log(
                    logging.ERROR if reason.operator_fault else logging.WARNING,
                    "job %d failed (%s): %s",
                    job.id,
                    reason,
                    _describe(error),
                    exc_info=reason is FailureReason.INTERNAL,
                )
                job = await self._jobs.mark_failing(job.id, reason)
            if status is not None:
                await status
            await self._finish(job)
        finally:
            if status is not None and not status.done():
                status.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await status

    def _too_long(self, seconds: float | None) -> bool:
        return (
            bool(self._max_audio_seconds)
            and seconds is not None
            and (seconds > self._max_audio_seconds)
        )

    async def _transcribe(self, job: Job, status: asyncio.Task[None] | None, reserved: bool) -> Job:
        """Drive the job to `transcribed` (or leave it `failing`), resuming from its state.

        The recording waits on disk while the job needs it, and is deleted when this returns,
        however it returns: done, failed, timed out or cancelled (bot/pipeline/temp_files.py).
        """
        with self._temp_files.reserve(job.id) as recording:
            audio_seconds = job.duration
            while job.state in (JobState.ACCEPTED, JobState.SUBMITTED):
                just_submitted = job.state == JobState.ACCEPTED
                if just_submitted:
                    if job.submissions >= MAX_SUBMISSIONS:
                        raise _JobFailure(FailureReason.API_ERROR)
                    job, measured = await self._submit(job, status, recording, reserved)
                    audio_seconds = measured or audio_seconds
                async with self._showing_progress(job, audio_seconds):
                    transcript = await self._wait(job, just_submitted=just_submitted)
                if transcript is None:
                    job = await self._jobs.reset_to_accepted(job)
                    continue
                job = await self._jobs.mark_transcribed(job, transcript.to_json())
        return job

    def _request(self, job: Job) -> JobRequest:
        spec = get_model(job.model)
        options = OutputOptions.from_dict(job.options)
        return JobRequest(
            model=job.model,
            params=build_params(spec, language=job.language, diarize=options.speakers),
        )

    async def _submit(
        self, job: Job, status: asyncio.Task[None] | None, recording: Path, reserved: bool
    ) -> tuple[Job, float | None]:
        """Download the recording into `recording` (or find it in place), check it, and hand
        it to the backend; the job as submitted, and the duration its file measures."""
        # Nothing reaches the API without a reservation: a job resumed after a crash between
        # insert and reserve, or started outside accept(), reserves here. (A resubmission keeps
        # the reservation it had.)
        if not reserved and not await self._admission.ensure_reserved(job):
            raise _JobFailure(FailureReason.QUOTA)
        async with self._supervisor.transfer_slots:
            audio = await self._gateway.download(
                job.file_id,
                target=recording,
                max_bytes=self._max_file_bytes,
                deadline=DOWNLOAD_DEADLINE,
            )
        # The declared duration is the sender's word; the file may say otherwise.
        measured = await _file_work(audio.size, lambda: measure_file_duration(audio.path))
        if self._too_long(measured):
            raise _JobFailure(FailureReason.TOO_LONG)
        if not await self._admission.check_measured(job, seconds=measured, size=audio.size):
            raise _JobFailure(FailureReason.QUOTA)
        if status is not None:
            # The status message settles before the API is asked (a few ms, or its short
            # deadline in an outage), so a stop during a long upload never leaves it in doubt.
            await asyncio.shield(status)
        filename, mime_type = media_of(job).upload_name_and_type()
        # The backend holds a transfer slot for each upload attempt itself, so a hung upload
        # never keeps the others waiting. The upload streams from the file.
        generation_id = await self._backend.submit(
            AudioUpload(data=audio.path, filename=filename, mime_type=mime_type),
            self._request(job),
        )
        if not audio.in_place and self._deletes_after_submit:
            # Uploaded: the API has it now. (Other backends read it while the job runs.)
            await _file_work(audio.size, lambda: recording.unlink(missing_ok=True))
        log.info("job %d submitted as %s", job.id, generation_id)
        self._submitted_at[job.id] = time.monotonic()
        return await self._jobs.mark_submitted(job, generation_id), measured

    @contextlib.asynccontextmanager
    async def _showing_progress(self, job: Job, audio_seconds: float | None) -> AsyncIterator[None]:
        """While the job is transcribed: its progress in the status message, when long."""
        read = self._progress_reader(job, audio_seconds)
        if read is None:
            yield
            return
        reporter = ProgressReporter(
            lambda text: self._delivery.show_progress(job, text),
            read,
            interval=self._progress_interval,
        )
        reporter.start()
        try:
            yield
        finally:
            await reporter.stop()

    def _progress_reader(
        self, job: Job, audio_seconds: float | None
    ) -> Callable[[], str | None] | None:
        """What the status message shows as the job goes; None: nothing worth showing."""
        generation_id = job.generation_id
        backend = self._progress_source
        if generation_id is None:
            return None
        tr = translator(job.locale)
        if backend is not None:

            def engine_progress() -> str | None:
                progress = backend.progress(generation_id)
                if progress is None or progress.total < MIN_PROGRESS_SECONDS:
                    return None
                return progress_text(tr, progress)

            return engine_progress
        if audio_seconds is None or audio_seconds < MIN_PROGRESS_SECONDS:
            return None
        # The API says nothing until the job is done: show the time taken, not a made-up share.
        since = self._submitted_at.get(job.id)
        if since is None:  # resumed after a restart: from the submission the row records
            stored = job.submitted_at or self._clock()
            since = time.monotonic() - max(0.0, (self._clock() - stored).total_seconds())
        started = since
        return lambda: elapsed_text(tr, time.monotonic() - started, audio_seconds)

    async def _wait(self, job: Job, *, just_submitted: bool) -> Transcript | None:
        """The transcript, or None when the backend no longer knows the generation id.

        A job submitted a moment ago waits from 0: the backend then knows it was pending at
        submission, so a first poll that finds it done still teaches the poll schedule. A job
        resumed after a restart passes how long ago it was submitted.
        """
        assert job.generation_id is not None
        elapsed = 0.0
        if not just_submitted and job.submitted_at is not None:
            elapsed = max(0.0, (self._clock() - job.submitted_at).total_seconds())
        try:
            return await self._backend.wait_result(
                job.generation_id, self._request(job), job.duration, elapsed
            )
        except stt_errors.JobFailedError as error:
            # A generation can fail upstream for reasons of its own, and a create whose answer
            # was lost may have left a twin that completed: another try is worth more than a
            # "failed" to a user whose audio is fine. Audio the API cannot read fails at once.
            if _is_about_the_audio(str(error)) or job.submissions >= MAX_SUBMISSIONS:
                raise
            log.warning(
                "job %d: generation %s failed (%s); submitting again",
                job.id,
                job.generation_id,
                error,
            )
            return None
        except stt_errors.NotFoundError:
            log.info(
                "job %d: generation %s is unknown or expired; submitting again",
                job.id,
                job.generation_id,
            )
            return None
        finally:
            await self._take_report(job, job.generation_id)

    async def _take_report(self, job: Job, generation_id: str) -> None:
        """Record what the API reported about this generation: its cost on the job's ledger
        row, its polls and completion for the metrics."""
        submitted_at = self._submitted_at.pop(job.id, None)
        report = self._reports.take(generation_id) if self._reports is not None else None
        if report is None:
            return
        if report.polls:
            self._observer.job_polled(report.polls)
        lag = report.detection_lag
        if lag is None and report.completed and submitted_at is not None:
            # Done at the first poll: it completed between our submission and that poll.
            # (A job resumed after a restart has no such bound, and no latency sample.)
            lag = (time.monotonic() - submitted_at) / 2
        if lag is not None:
            self._completed_at[job.id] = time.monotonic() - lag
        if report.cost.known:
            self._observer.api_cost(report.cost.credits, report.cost.usd)
            await self._admission.record_cost(job, report.cost.credits, report.cost.usd)

    async def _finish(self, job: Job) -> None:
        """Tell the user, then settle the quota and close the job.

        Delivery waits out Telegram trouble for hours (the delivery service's patience); only a
        chat that is gone, or a message Telegram refuses outright, ends it early. The quota is
        settled after the answer is out, off the reply path, and idempotently, so a job finished
        again after a restart is not charged twice.
        """
        undelivered: FailureReason | None = None
        # Read once: delivery, the quota and the metrics each need it, and a long transcript's
        # words make it the biggest thing a job parses.
        transcript = (
            Transcript.from_json(job.transcript)
            if job.state == JobState.TRANSCRIBED and job.transcript is not None
            else None
        )
        try:
            if job.state == JobState.TRANSCRIBED:
                if transcript is None:
                    raise RuntimeError("a transcribed job without its transcript")
                await self._deliver(job, transcript)
            elif job.state == JobState.FAILING:
                reason = FailureReason.parse(job.error)
                # Over the quota: the packs on sale, when there are any, to buy more.
                tr = translator(job.locale)
                offer = self._admission.offer(job, tr) if reason is FailureReason.QUOTA else None
                await self._delivery.tell_failure(job, reason, buttons=offer)
        except ChatUnavailableError:
            log.warning("job %d: the chat is no longer reachable; dropping the reply", job.id)
            undelivered = FailureReason.CHAT_GONE
        except asyncio.CancelledError:
            raise
        except Exception as error:
            # Refused by Telegram as it is, or out of patience: repeating would not help.
            log.error("job %d: could not deliver: %s", job.id, _describe(error))
            undelivered = FailureReason.INTERNAL
        completed_at = self._completed_at.pop(job.id, None)
        delivered = job.state == JobState.TRANSCRIBED and undelivered is None
        # The quota settled and the job closed in one commit: nothing is awaited in between.
        async with self._one_commit():
            await self._admission.settle(job, transcript)
            if delivered:
                await self._jobs.mark_delivered(job.id)
            else:
                if job.state == JobState.TRANSCRIBED and undelivered is not None:
                    await self._jobs.mark_failing(job.id, undelivered)
                await self._jobs.mark_failed(job.id)
        if delivered:
            self._observe_delivered(job, transcript, completed_at)
            return
        reason = undelivered or FailureReason.parse(job.error)
        self._observer.job_finished("failed", reason.value, self._age(job))

    def _age(self, job: Job) -> float:
        return max(0.0, (self._clock() - job.created_at).total_seconds())

    def _observe_delivered(
        self, job: Job, transcript: Transcript | None, completed_at: float | None
    ) -> None:
        self._observer.job_finished("delivered", None, self._age(job))
        if completed_at is not None:
            self._observer.added_latency(max(0.0, time.monotonic() - completed_at))
        if job.generation_id is not None and transcript is not None:
            # Sent to the backend (a cached answer has no generation id): the backend's own
            # figure of the audio's length when it gives one, else the declared duration.
            seconds = transcript.duration or job.duration
            if seconds:
                self._observer.audio_transcribed(job.model, seconds)

    async def _deliver(self, job: Job, stored: Transcript) -> None:
        options = OutputOptions.from_dict(job.options)
        transcript = with_known_language(stored, get_model(job.model), job.language)
        tr = translator(job.locale)
        # "Try another model" only makes sense where there is another model to try.
        buttons = self._buttons_for(tr, job.id) if len(self._preferences.offered) > 1 else None
        if self._extras is not None:
            buttons = [*await self._extras.buttons(job, transcript), *(buttons or [])] or None
        steps = plan_delivery(
            tr,
            transcript,
            options,
            buttons=buttons,
            attachments=attachments_for(tr, transcript, options),
        )
        job = await self._delivery.run_steps(job, steps)
        log.info("job %d delivered in %d step(s)", job.id, len(steps))
        if self._extras is not None:
            await self._extras.delivered(job, transcript)

    # --- re-transcription ("Try another model") -------------------------------------------

    async def redo_source(self, job_id: int, user_id: int) -> Job:
        """The job whose recording `user_id` wants transcribed again; RedoRefusedError if not."""
        job = await self._jobs.get(job_id)
        if job is None:
            raise RedoRefusedError("gone")
        if not may_redo(job, user_id):
            raise RedoRefusedError("not_yours")
        return job

    async def redo(self, job_id: int, model_id: str, user_id: int, *, locale: str) -> Accepted:
        """A new job on the same recording (its stored file_id) with another model.

        It answers the original message, with the user's current language and output options,
        in the interface language `locale`.
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
            media_of(source),
            locale=locale,
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


def media_of(job: Job) -> MediaRef:
    """The recording a job is about, as its message named it (to fetch it again)."""
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
