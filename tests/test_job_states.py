"""Which jobs are open: one definition (storage/jobs.py) for Python, SQL and the index. And
the job each write returns, built rather than read back, is the row as saved."""

from __future__ import annotations

from dataclasses import replace

import pytest

from storage.db import Database
from storage.jobs import OPEN_JOB_SQL, OPEN_STATES, Job, JobRepository, JobState, NewJob
from tests.fakes.clock import FakeClock


def test_open_states_are_every_state_but_delivered_and_failed() -> None:
    assert set(JobState) - set(OPEN_STATES) == {JobState.DELIVERED, JobState.FAILED}
    assert OPEN_JOB_SQL == "state NOT IN ('delivered', 'failed')"


async def test_the_open_jobs_condition_can_use_the_partial_index(database: Database) -> None:
    # INDEXED BY fails with "no query solution" unless the condition implies the index's own
    # WHERE: worded as "state IN (<the open states>)", it would not.
    plan = await database.fetch_all(
        f"EXPLAIN QUERY PLAN SELECT id FROM jobs INDEXED BY jobs_open WHERE {OPEN_JOB_SQL}"
    )
    assert any("jobs_open" in row["detail"] for row in plan), [row["detail"] for row in plan]


def plain_job(message_id: int) -> NewJob:
    return NewJob(
        dedupe_key=f"msg:1:{message_id}",
        chat_id=1,
        chat_type="private",
        message_id=message_id,
        user_id=1,
        file_id="f",
        file_unique_id="u",
        media_kind="voice",
        mime_type=None,
        file_name=None,
        duration=None,
        file_size=None,
        model="#g1_whisper-large",
        language=None,
        options={},
    )


async def saved(jobs: JobRepository, job: Job) -> Job:
    """The job as read back from its row: what every write's answer must equal."""
    row = await jobs.get(job.id)
    assert row is not None
    return row


async def test_each_write_returns_the_job_exactly_as_its_row_reads_back(
    database: Database,
) -> None:
    # Microseconds the row does not keep, so that a job built from the clock would differ.
    clock = FakeClock("2026-12-02T10:00:00.123456+00:00")
    jobs = JobRepository(database, clock)
    job = await jobs.insert(
        replace(
            plain_job(7),
            chat_id=-100,
            chat_type="supergroup",
            mime_type="audio/ogg",
            duration=12.5,
            file_size=48_000,
            language="de",
            options={"timestamps": True, "speakers": False},
            locale="de",
        )
    )
    assert job is not None and job == await saved(jobs, job)
    assert job.state == JobState.ACCEPTED and job.submissions == 0 and job.delivered_parts == 0

    clock.advance(seconds=1.000777)
    job = await jobs.mark_submitted(job, "generation-1")
    assert job == await saved(jobs, job)
    assert job.submissions == 1 and job.submitted_at is not None

    clock.advance(seconds=2)
    job = await jobs.reset_to_accepted(job)
    assert job == await saved(jobs, job)
    job = await jobs.mark_submitted(job, "generation-2")
    assert job == await saved(jobs, job) and job.submissions == 2

    clock.advance(seconds=3)
    job = await jobs.mark_transcribed(job, '{"text": "guten Tag"}')
    assert job == await saved(jobs, job)
    job = await jobs.mark_parts_delivered(job, 1)
    assert job == await saved(jobs, job)

    # The failing step reads the row back: a copy a step behind gets the row as it is.
    failing = await jobs.mark_failing(job.id, "chat_gone")
    assert failing == await saved(jobs, failing)
    assert failing.transcript == '{"text": "guten Tag"}' and failing.error == "chat_gone"


async def test_a_repeated_insert_returns_nothing_and_changes_nothing(database: Database) -> None:
    jobs = JobRepository(database, FakeClock())
    first = await jobs.insert(plain_job(1))
    assert first is not None
    assert await jobs.insert(plain_job(1)) is None
    assert await saved(jobs, first) == first


async def test_a_write_to_a_job_that_is_gone_says_so(database: Database) -> None:
    jobs = JobRepository(database, FakeClock())
    job = await jobs.insert(plain_job(2))
    assert job is not None
    await database.execute("DELETE FROM jobs WHERE id = ?", (job.id,))
    with pytest.raises(LookupError):
        await jobs.mark_submitted(job, "generation-1")
