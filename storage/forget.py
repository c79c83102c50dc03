"""Deleting what we store about one user, in one transaction: all of it or nothing.

Kept: the quota ledger's rows (their user_id cleared; they count under an anonymous key until
their window ends, so forgetting cannot reset a quota) and the admins' access rules. Jobs still
running lose their user id and finish; finished jobs are deleted.
"""

from __future__ import annotations

from storage.db import Database
from storage.jobs import OPEN_JOB_SQL


class ForgetRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def forget(self, user_id: int) -> None:
        async with self._db.transaction() as connection:
            for statement in (
                "DELETE FROM users WHERE user_id = ?",
                "DELETE FROM user_settings WHERE user_id = ?",
                "DELETE FROM user_totals WHERE user_id = ?",
                "DELETE FROM access_notices WHERE subject_id = ?",
                f"DELETE FROM jobs WHERE user_id = ? AND NOT ({OPEN_JOB_SQL})",
                f"UPDATE jobs SET user_id = NULL WHERE user_id = ? AND {OPEN_JOB_SQL}",
                "UPDATE quota_ledger SET user_id = NULL WHERE user_id = ?",
            ):
                await connection.execute(statement, (user_id,))
