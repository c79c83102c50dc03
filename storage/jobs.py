"""Transcription jobs. Each pipeline step writes its result here before the next one starts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def insert(self, job: NewJob) -> Job | None:
        """Persist a new job; None when a job with the same dedupe key already exists."""
        now = to_text(self._clock())
        rows = await self._db.write_returning(
            """INSERT INTO jobs (dedupe_key, chat_id, chat_type, message_id, user_id, file_id,
                   file_unique_id, media_kind, mime_type, file_name, duration, file_size, model,
                   language, options, state, created_at, updated_at, locale)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (dedupe_key) DO NOTHING
               RETURNING *""",
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
                json.dumps(job.options, sort_keys=True),
                JobState.ACCEPTED,
                now,
                now,
                job.locale,
            ),
        )
        return _job_from_row(rows[0]) if rows else None

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

    async def _update(self, job_id: int, assignments: str, params: tuple[Any, ...]) -> Job:
        rows = await self._db.write_returning(
            f"UPDATE jobs SET {assignments}, updated_at = ? WHERE id = ? RETURNING *",
            (*params, to_text(self._clock()), job_id),
        )
        if not rows:
            raise LookupError(f"job {job_id} does not exist")
        return _job_from_row(rows[0])

    async def set_status_message(self, job_id: int, message_id: int) -> Job:
        return await self._update(job_id, "status_message_id = ?", (message_id,))

    async def mark_submitted(self, job_id: int, generation_id: str) -> Job:
        return await self._update(
            job_id,
            "state = ?, generation_id = ?, submitted_at = ?, submissions = submissions + 1",
            (JobState.SUBMITTED, generation_id, to_text(self._clock())),
        )

    async def reset_to_accepted(self, job_id: int) -> Job:
        """Forget an expired or unknown generation id, so the job is submitted again."""
        return await self._update(
            job_id,
            "state = ?, generation_id = NULL, submitted_at = NULL",
            (JobState.ACCEPTED,),
        )

    async def mark_transcribed(self, job_id: int, transcript_json: str) -> Job:
        return await self._update(
            job_id, "state = ?, transcript = ?", (JobState.TRANSCRIBED, transcript_json)
        )

    async def mark_parts_delivered(self, job_id: int, parts: int) -> Job:
        return await self._update(job_id, "delivered_parts = ?", (parts,))

    async def _close(self, job_id: int, assignments: str, params: tuple[Any, ...]) -> None:
        """`_update` for the last step of a job, whose row nobody reads back."""
        changed = await self._db.execute(
            f"UPDATE jobs SET {assignments}, updated_at = ? WHERE id = ?",
            (*params, to_text(self._clock()), job_id),
        )
        if not changed:
            raise LookupError(f"job {job_id} does not exist")

    async def mark_delivered(self, job_id: int) -> None:
        # The transcript text is not kept once it is in the chat: we store no more than we need.
        now = to_text(self._clock())
        await self._close(
            job_id, "state = ?, transcript = NULL, finished_at = ?", (JobState.DELIVERED, now)
        )

    async def mark_failing(self, job_id: int, error: str) -> Job:
        return await self._update(job_id, "state = ?, error = ?", (JobState.FAILING, error))

    async def mark_failed(self, job_id: int) -> None:
        now = to_text(self._clock())
        await self._close(job_id, "state = ?, finished_at = ?", (JobState.FAILED, now))
