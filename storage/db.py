"""The SQLite connection: WAL mode, numbered migrations tracked with PRAGMA user_version.

One aiosqlite connection serves the whole process. aiosqlite runs statements one at a time on
its thread, but two coroutines could still interleave statements inside one transaction, so
every use of the connection goes through one asyncio lock.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import logging
import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")

Row = aiosqlite.Row


def load_migrations() -> list[tuple[int, str]]:
    """Return (number, sql) for every packaged migration, in order."""
    folder = importlib.resources.files("storage") / "migrations"
    found: list[tuple[int, str]] = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    found.sort()
    numbers = [number for number, _ in found]
    if numbers != list(range(1, len(numbers) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps, found {numbers}")
    return found


class Database:
    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: Path) -> Database:
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN ourselves, so nothing opens a transaction implicitly.
        connection = await aiosqlite.connect(path, isolation_level=None)
        connection.row_factory = aiosqlite.Row
        await connection.execute("PRAGMA journal_mode=WAL")
        await connection.execute("PRAGMA synchronous=NORMAL")
        await connection.execute("PRAGMA foreign_keys=ON")
        await connection.execute("PRAGMA busy_timeout=5000")
        database = cls(connection)
        await database.migrate(load_migrations())
        return database

    async def close(self) -> None:
        async with self._lock:
            await self._connection.close()

    async def migrate(self, migrations: Iterable[tuple[int, str]]) -> int:
        async with self._lock:
            cursor = await self._connection.execute("PRAGMA user_version")
            row = await cursor.fetchone()
            version = int(row[0]) if row else 0
            for number, sql in migrations:
                if number <= version:
                    continue
                log.info("applying migration %03d", number)
                # executescript commits first, so wrap the script and the version bump together.
                await self._connection.executescript(
                    f"BEGIN;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;"
                )
                version = number
            return version

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """An IMMEDIATE transaction: the write lock is taken up front, so check-then-write
        is atomic."""
        async with self._lock:
            await self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield self._connection
            except BaseException:
                await self._connection.execute("ROLLBACK")
                raise
            else:
                await self._connection.execute("COMMIT")

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Run one statement; return how many rows it changed."""
        async with self._lock:
            cursor = await self._connection.execute(sql, tuple(params))
            return cursor.rowcount

    async def insert(self, sql: str, params: Iterable[Any] = ()) -> int | None:
        """Run one INSERT; return the new row id, or None when it inserted nothing."""
        async with self._lock:
            cursor = await self._connection.execute(sql, tuple(params))
            return cursor.lastrowid if cursor.rowcount > 0 else None

    async def fetch_one(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        async with self._lock:
            cursor = await self._connection.execute(sql, tuple(params))
            return await cursor.fetchone()

    async def fetch_all(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        async with self._lock:
            cursor = await self._connection.execute(sql, tuple(params))
            return list(await cursor.fetchall())
