"""Transcription jobs. Each pipeline step writes its result here before the next one starts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from storage.clock import Clock, from_text, to_text, utc_now
from storage.db import Database, Row


class JobState(StrEnum):
    ACCEPTED = "accepted"  # persisted; nothing sent to the STT backend yet
    SUBMITTED = "submitted"  # the backend has it: generation_id is saved
    TRANSCRIBED = "transcribed"  # the transcript is saved, delivery may be partial
    FAILING = "failing"  # an error is saved, the user is not told yet
    DELIVERED = "delivered"
    FAILED = "failed"


OPEN_STATES = (JobState.ACCEPTED, JobState.SUBMITTED, JobState.TRANSCRIBED, JobState.FAILING)
# The same in SQL. Worded as the complement, exactly like the partial index jobs_open of
# migration 001 ("state NOT IN ('delivered', 'failed')"), so SQLite can use that index.
OPEN_JOB_SQL = "state NOT IN ({})".format(
    ", ".join(f"'{state.value}'" for state in JobState if state not in OPEN_STATES)
)


@dataclass(frozen=True, slots=True)
class NewJob:
    dedupe_key: str
    chat_id: int
    chat_type: str
    message_id: int
    user_id: int | None
    file_id: str
    file_unique_id: str
    media_kind: str
    mime_type: str | None
    file_name: str | None
    duration: float | None
    file_size: int | None
    model: str
    language: str | None
    options: dict[str, Any]
    # The interface language its messages are in (migration 009); None: English, as jobs
    # accepted before there was a choice. Keyword-only, so Job's own fields may follow it.
    locale: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True, slots=True)
class Job(NewJob):
    """A saved job: what was asked (NewJob) and how far it has got."""

    id: int
    state: JobState
    generation_id: str | None
    submitted_at: datetime | None
    status_message_id: int | None
    transcript: str | None
    delivered_parts: int
    error: str | None
    submissions: int
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


def _optional_time(value: str | None) -> datetime | None:
    return from_text(value) if value else None


def _job_from_row(row: Row) -> Job:
    return Job(
        id=row["id"],
        dedupe_key=row["dedupe_key"],
        chat_id=row["chat_id"],
        chat_type=row["chat_type"],
        message_id=row["message_id"],
        user_id=row["user_id"],
        file_id=row["file_id"],
        file_unique_id=row["file_unique_id"],
        media_kind=row["media_kind"],
        mime_type=row["mime_type"],
        file_name=row["file_name"],
        duration=row["duration"],
        file_size=row["file_size"],
        model=row["model"],
        language=row["language"],
        options=json.loads(row["options"]),
        locale=row["locale"],
        state=JobState(row["state"]),
        generation_id=row["generation_id"],
        submitted_at=_optional_time(row["submitted_at"]),
        status_message_id=row["status_message_id"],
        transcript=row["transcript"],
        delivered_parts=row["delivered_parts"],
        error=row["error"],
        submissions=row["submissions"],
        created_at=from_text(row["created_at"]),
        updated_at=from_text(row["updated_at"]),
        finished_at=_optional_time(row["finished_at"]),
    )


class JobRepository:
    """The jobs table. A job's writes return the job as saved, built here rather than read
    back: the caller holds the row as it stands (a job's task starts from the row its insert
    returned and carries each update's on), so a `RETURNING *` and the parsing of its
    28 columns would only repeat what is already known."""

    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    def _now(self) -> datetime:
        """The clock, at the millisecond the row keeps (storage/clock.py), so a job built here
        equals the job read back."""
        now = self._clock()
        return now.replace(microsecond=now.microsecond // 1000 * 1000)

    async def insert(self, job: NewJob) -> Job | None:
        """Persist a new job; None when a job with the same dedupe key already exists."""
        now = self._now()
        options = json.dumps(job.options, sort_keys=True)
        job_id = await self._db.insert(
            """INSERT INTO jobs (dedupe_key, chat_id, chat_type, message_id, user_id, file_id,
                   file_unique_id, media_kind, mime_type, file_name, duration, file_size, model,
                   language, options, state, created_at, updated_at, locale)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (dedupe_key) DO NOTHING""",
            (
                job.dedupe_key,
                job.chat_id,
                job.chat_type,
                job.message_id,
                job.user_id,
                job.file_id,
                job.file_unique_id,
                job.media_kind,
                job.mime_type,
                job.file_name,
                job.duration,
                job.file_size,
                job.model,
                job.language,
                options,
                JobState.ACCEPTED,
                to_text(now),
                to_text(now),
                job.locale,
            ),
        )
        if job_id is None:
            return None
        # The other columns as the table's defaults leave them (migration 001).
        asked = {name.name: getattr(job, name.name) for name in fields(NewJob)}
        asked["options"] = json.loads(options)  # as read back: a copy of its own
        return Job(
            **asked,
            id=job_id,
            state=JobState.ACCEPTED,
            generation_id=None,
            submitted_at=None,
            status_message_id=None,
            transcript=None,
            delivered_parts=0,
            error=None,
            submissions=0,
            created_at=now,
            updated_at=now,
            finished_at=None,
        )

    async def get(self, job_id: int) -> Job | None:
        row = await self._db.fetch_one("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return _job_from_row(row) if row else None

    async def require(self, job_id: int) -> Job:
        job = await self.get(job_id)
        if job is None:
            raise LookupError(f"job {job_id} does not exist")
        return job

    async def get_by_dedupe_key(self, key: str) -> Job | None:
        row = await self._db.fetch_one("SELECT * FROM jobs WHERE dedupe_key = ?", (key,))
        return _job_from_row(row) if row else None

    async def open_jobs(self) -> list[Job]:
        rows = await self._db.fetch_all(f"SELECT * FROM jobs WHERE {OPEN_JOB_SQL} ORDER BY id")
        return [_job_from_row(row) for row in rows]

    def _statement(self, changes: dict[str, Any]) -> tuple[str, list[Any]]:
        """The UPDATE that writes `changes` (columns and their values; `updated_at` is added to
        them) to one job's row, and its values, the job's id to follow. The column names are
        this class's own, never input."""
        changes["updated_at"] = self._now()
        assignments = ", ".join(f"{column} = ?" for column in changes)
        values = [to_text(v) if isinstance(v, datetime) else v for v in changes.values()]
        return f"UPDATE jobs SET {assignments} WHERE id = ?", values

    async def _write(self, job_id: int, **changes: Any) -> dict[str, Any]:
        """Write `changes` to the job's row; what was written, `updated_at` included."""
        sql, values = self._statement(changes)
        if not await self._db.execute(sql, (*values, job_id)):
            raise LookupError(f"job {job_id} does not exist")
        return changes

    async def _update(self, job: Job, **changes: Any) -> Job:
        """`_write`, and the job with what it wrote."""
        return replace(job, **await self._write(job.id, **changes))

    async def mark_submitted(self, job: Job, generation_id: str) -> Job:
        return await self._update(
            job,
            state=JobState.SUBMITTED,
            generation_id=generation_id,
            submitted_at=self._now(),
            submissions=job.submissions + 1,
        )

    async def reset_to_accepted(self, job: Job) -> Job:
        """Forget an expired or unknown generation id, so the job is submitted again."""
        return await self._update(
            job, state=JobState.ACCEPTED, generation_id=None, submitted_at=None
        )

    async def mark_transcribed(self, job: Job, transcript_json: str) -> Job:
        return await self._update(job, state=JobState.TRANSCRIBED, transcript=transcript_json)

    async def mark_parts_delivered(self, job: Job, parts: int) -> Job:
        return await self._update(job, delivered_parts=parts)

    async def mark_delivered(self, job_id: int) -> None:
        # The transcript text is not kept once it is in the chat: we store no more than we need.
        await self._write(
            job_id, state=JobState.DELIVERED, transcript=None, finished_at=self._now()
        )

    async def mark_failing(self, job_id: int, error: str) -> Job:
        """Read back, unlike the steps above: a job fails where its run broke off, and the
        caller's copy may be a step behind the row."""
        sql, values = self._statement({"state": JobState.FAILING, "error": error})
        rows = await self._db.write_returning(f"{sql} RETURNING *", (*values, job_id))
        if not rows:
            raise LookupError(f"job {job_id} does not exist")
        return _job_from_row(rows[0])

    async def mark_failed(self, job_id: int) -> None:
        await self._write(job_id, state=JobState.FAILED, finished_at=self._now())
