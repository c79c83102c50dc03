"""The SQLite connection: WAL mode, numbered migrations tracked with PRAGMA user_version, and
incremental auto-vacuum, so the file gives back what retention deletes (`reclaim_free_pages`).

One aiosqlite connection serves every write and every scan. aiosqlite runs statements one at a
time on its thread, but two coroutines could still interleave statements inside one transaction,
so every use of that connection takes its turn (storage/turns.py: interactive work first).

Point reads (`fetch_one`, `fetch_by_keys`) take a second, read-only connection on the event
loop's own thread instead. Handing a statement to aiosqlite's thread and back costs some 90 us
of CPU; a read by key costs 10 us in SQLite itself, and in WAL mode a reader never waits for a
writer. That reader is opened with no busy timeout: in the rare moment SQLite does answer
SQLITE_BUSY to it (recovering the WAL after a crash), the read goes through the thread, so the
event loop never blocks on a lock. Each read runs to its last row, so the reader never holds a
snapshot open and never delays a checkpoint. A read sees every transaction committed before it.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from storage.turns import Turns

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")

Row = aiosqlite.Row

# PRAGMA auto_vacuum's value for INCREMENTAL (0: none, 1: full).
_INCREMENTAL = 2


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


async def _use_incremental_vacuum(connection: aiosqlite.Connection, path: Path) -> None:
    """Turn on auto_vacuum=INCREMENTAL. A new file takes it before its first table; a file
    made before it existed needs one full VACUUM (a rewrite, once: it takes a while on a big
    file and needs as much free disk again)."""
    cursor = await connection.execute("PRAGMA auto_vacuum")
    row = await cursor.fetchone()
    if row is not None and int(row[0]) == _INCREMENTAL:
        return
    await connection.execute(f"PRAGMA auto_vacuum = {_INCREMENTAL}")
    cursor = await connection.execute("SELECT count(*) FROM sqlite_schema")
    row = await cursor.fetchone()
    if row is not None and int(row[0]) > 0:
        log.info("rewriting %s once, so that it can shrink (auto_vacuum=INCREMENTAL)", path)
        await connection.execute("VACUUM")


def _open_reader(path: Path) -> sqlite3.Connection:
    reader = sqlite3.connect(path, isolation_level=None)
    reader.row_factory = sqlite3.Row
    reader.execute("PRAGMA query_only=ON")
    reader.execute("PRAGMA busy_timeout=0")
    return reader


async def _migrate(connection: aiosqlite.Connection, migrations: Iterable[tuple[int, str]]) -> int:
    cursor = await connection.execute("PRAGMA user_version")
    row = await cursor.fetchone()
    version = int(row[0]) if row else 0
    for number, sql in migrations:
        if number <= version:
            continue
        log.info("applying migration %03d", number)
        # executescript commits first, so wrap the script and the version bump together.
        await connection.executescript(f"BEGIN;\n{sql}\nPRAGMA user_version = {number};\nCOMMIT;")
        version = number
    return version


class Database:
    def __init__(self, connection: aiosqlite.Connection, reader: sqlite3.Connection) -> None:
        self._connection = connection
        self._reader = reader
        # Interactive work first (storage/turns.py).
        self._turns = Turns()

    @classmethod
    async def open(cls, path: Path) -> Database:
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN ourselves, so nothing opens a transaction implicitly.
        connection = await aiosqlite.connect(path, isolation_level=None)
        connection.row_factory = aiosqlite.Row
        await _use_incremental_vacuum(connection, path)
        await connection.execute("PRAGMA journal_mode=WAL")
        await connection.execute("PRAGMA synchronous=NORMAL")
        await connection.execute("PRAGMA foreign_keys=ON")
        await connection.execute("PRAGMA busy_timeout=5000")
        try:
            await _migrate(connection, load_migrations())
        except BaseException:
            await connection.close()
            raise
        # Opened after the migrations: the schema it reads never changes under it.
        return cls(connection, _open_reader(path))

    async def close(self) -> None:
        async with self._turns.turn():
            self._reader.close()
            await self._connection.close()

    async def reclaim_free_pages(self) -> int:
        """Give the pages deleted rows left free back to the file system; return how many.

        The file shrinks at the next checkpoint, which is tried here too (PASSIVE: it never
        waits for a reader, such as a backup in progress; the auto-checkpoint finishes later).
        """
        async with self._turns.turn():
            cursor = await self._connection.execute("PRAGMA freelist_count")
            row = await cursor.fetchone()
            free = int(row[0]) if row else 0
            if free:
                # Run as a script: Python's sqlite3 steps a row-less PRAGMA once, and each
                # step of incremental_vacuum frees a single page.
                await self._connection.executescript("PRAGMA incremental_vacuum;")
                await self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
            return free

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """An IMMEDIATE transaction: the write lock is taken up front, so check-then-write
        is atomic."""
        async with self._turns.turn():
            try:
                await self._connection.execute("BEGIN IMMEDIATE")
                yield self._connection
            except BaseException:
                # Also when the wait for BEGIN itself was cancelled: the BEGIN still runs on
                # aiosqlite's thread, and left open it would swallow every later write of the
                # process into a transaction never committed. The ROLLBACK queues behind it.
                # (When BEGIN failed instead, there is nothing to roll back.)
                with contextlib.suppress(sqlite3.OperationalError):
                    await self._connection.execute("ROLLBACK")
                raise
            else:
                await self._connection.execute("COMMIT")

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        """Run one statement; return how many rows it changed."""
        async with self._turns.turn():
            cursor = await self._connection.execute(sql, tuple(params))
            return cursor.rowcount

    async def insert(self, sql: str, params: Iterable[Any] = ()) -> int | None:
        """Run one INSERT; return the new row id, or None when it inserted nothing."""
        async with self._turns.turn():
            cursor = await self._connection.execute(sql, tuple(params))
            return cursor.lastrowid if cursor.rowcount > 0 else None

    async def write_returning(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        """Run one INSERT, UPDATE or DELETE ... RETURNING; return the rows it returned."""
        return await self._rows_in_thread(sql, params)

    async def fetch_one(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row | None:
        """A read by key, on the event loop's reader (see the module's docstring)."""
        rows = await self.fetch_by_keys(sql, params)
        return rows[0] if rows else None

    async def fetch_by_keys(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        """The few rows an index finds by key, on the event loop's reader. Never a scan: that
        goes to `fetch_all`, off the event loop."""
        values = tuple(params)
        try:
            return self._reader.execute(sql, values).fetchall()
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise
        return await self._rows_in_thread(sql, values)

    async def fetch_summary(self, sql: str, params: Iterable[Any] = ()) -> aiosqlite.Row:
        """The one row of an aggregate that may scan a table, on aiosqlite's thread."""
        rows = await self._rows_in_thread(sql, params)
        return rows[0]

    async def fetch_all(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        """Rows a query may have to scan for, on aiosqlite's thread."""
        return await self._rows_in_thread(sql, params)

    async def _rows_in_thread(self, sql: str, params: Iterable[Any]) -> list[aiosqlite.Row]:
        # One trip to aiosqlite's thread: the statement and all its rows together.
        async with self._turns.turn():
            return list(await self._connection.execute_fetchall(sql, tuple(params)))
