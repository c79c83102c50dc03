"""Which jobs are open: one definition (storage/jobs.py) for Python, SQL and the index."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.db import Database
from storage.jobs import OPEN_JOB_SQL, OPEN_STATES, JobRepository, JobState, NewJob


def test_open_states_are_every_state_but_delivered_and_failed() -> None:
    assert set(JobState) - set(OPEN_STATES) == {JobState.DELIVERED, JobState.FAILED}
    assert OPEN_JOB_SQL == "state NOT IN ('delivered', 'failed')"


async def test_the_open_jobs_condition_can_use_the_partial_index(tmp_path: Path) -> None:
    # INDEXED BY fails with "no query solution" unless the condition implies the index's own
    # WHERE: worded as "state IN (<the open states>)", it would not.
    database = await Database.open(tmp_path / "bot.sqlite3")
    try:
        plan = await database.fetch_all(
            f"EXPLAIN QUERY PLAN SELECT id FROM jobs INDEXED BY jobs_open WHERE {OPEN_JOB_SQL}"
        )
    finally:
        await database.close()
    assert any("jobs_open" in row["detail"] for row in plan), [row["detail"] for row in plan]


async def test_a_job_closes_once_and_a_missing_one_is_an_error(tmp_path: Path) -> None:
    # The last steps write without reading the row back, so they check what they changed.
    database = await Database.open(tmp_path / "bot.sqlite3")
    try:
        jobs = JobRepository(database)
        job = await jobs.insert(_voice_job())
        assert job is not None
        await jobs.mark_transcribed(job.id, '{"text": "words"}')
        await jobs.mark_delivered(job.id)
        closed = await jobs.require(job.id)
        assert closed.state == JobState.DELIVERED
        assert closed.transcript is None and closed.finished_at is not None
        for close in (jobs.mark_delivered, jobs.mark_failed):
            with pytest.raises(LookupError):
                await close(job.id + 1)
    finally:
        await database.close()


def _voice_job() -> NewJob:
    return NewJob(
        dedupe_key="msg:1:1",
        chat_id=1,
        chat_type="private",
        message_id=1,
        user_id=1,
        file_id="file-1",
        file_unique_id="unique-1",
        media_kind="voice",
        mime_type="audio/ogg",
        file_name=None,
        duration=3.0,
        file_size=1000,
        model="#g1_whisper-large",
        language=None,
        options={},
    )
