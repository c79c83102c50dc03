"""Which jobs are open: one definition (storage/jobs.py) for Python, SQL and the index."""

from __future__ import annotations

from pathlib import Path

from storage.db import Database
from storage.jobs import OPEN_JOB_SQL, OPEN_STATES, JobState


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
