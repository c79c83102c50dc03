"""The SQLite database: WAL mode, numbered migrations tracked with PRAGMA user_version, and
incremental auto-vacuum, so the file gives back what retention deletes (`reclaim_free_pages`).

Three connections, each for what it does best:

- **The writer**, on the event loop's own thread, runs every write and every transaction. A
  write by key costs SQLite some tens of microseconds; handing it to a thread and back cost
  some 90 more in CPU (two wake-ups, on one core two context switches), and with a backlog, a
  wait in line. In WAL mode with synchronous=NORMAL a commit is a write to the WAL file, with
  no fsync, so it never blocks for long: a SIGKILL cannot lose it (the page cache keeps it), a
  power cut may lose the last moments. The writer's busy timeout is 0: when another process
  holds SQLite's write lock (a tool, a stuck copy), SQLite answers SQLITE_BUSY at once and the
  writer waits for the lock here, asleep, up to `LOCK_WAIT_SECONDS`, instead of in SQLite's
  busy handler, which would block the loop. Our own work on the thread that takes the write
  lock (maintenance transactions, vacuum, checkpoints) holds the writer's turn instead, so the
  writer queues for it without a limit. The writer never checkpoints (wal_autocheckpoint=0):
  the fsyncs of a checkpoint happen on the thread, every `CHECKPOINT_EVERY_COMMITS` commits.
- **The reader**, on the event loop's thread too, runs reads by key (`fetch_one`,
  `fetch_by_keys`). In WAL mode a reader never waits for a writer. It has no busy timeout either:
  in the rare moment SQLite answers it SQLITE_BUSY (recovering the WAL after a crash), the read
  goes to the thread. Each read runs to its last row, so it never holds a snapshot open.
- **aiosqlite's thread** runs what may take long: scans and aggregates over whole tables
  (`fetch_all`, `fetch_summary`), maintenance transactions that may delete many rows
  (`maintenance_transaction`), the migrations, checkpoints and vacuum.

Statements on the event loop must find their rows through an index, by key or over one user's
range: a scan there would stall every chat.
Work on each connection takes its turn (storage/turns.py: interactive work first), so two
coroutines never interleave statements inside one transaction.

Writes that follow one another with nothing awaited between them can share one commit
(`one_commit`): a commit costs a write as much again as the write itself (WAL frames, file
locks), and a finished job's last writes are three commits otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import logging
import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from storage.turns import Turns

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")

Row = sqlite3.Row
# Positional values, or named ones for :name placeholders.
Params = Sequence[Any] | Mapping[str, Any]

# PRAGMA auto_vacuum's value for INCREMENTAL (0: none, 1: full).
_INCREMENTAL = 2
# SQLite's answers when another connection holds the lock a statement needs.
_LOCKED_OUT = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)

# How long a write waits for another connection's write lock before it fails (on the thread's
# connection, SQLite's busy_timeout).
LOCK_WAIT_SECONDS = 5.0
# The writer's waits between two tries: short at first (a lock is usually held for a
# statement's length), never long enough to let a freed lock sit idle.
_FIRST_PAUSE, _LONGEST_PAUSE = 0.001, 0.05
# SQLite's own auto-checkpoint comes at 1,000 pages of WAL; a commit of ours writes 2 to 4.
CHECKPOINT_EVERY_COMMITS = 300


class Statements(ABC):
    """The statements of one open transaction (`Database.transaction`, on the event loop, or
    `Database.maintenance_transaction`, on aiosqlite's thread)."""

    @abstractmethod
    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return how many rows it changed."""

    @abstractmethod
    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        """Run one SELECT, or a write with RETURNING; return all its rows."""

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        """The first row of `fetch_all`, or None."""
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None


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


def _values(params: Params | Iterable[Any]) -> Params:
    if type(params) is tuple or type(params) is dict:  # nearly always: skips the ABC check
        return params
    return params if isinstance(params, Mapping) else tuple(params)


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


async def _open_thread_connection(path: Path, lock_wait_seconds: float) -> aiosqlite.Connection:
    # isolation_level=None, here and below: we issue BEGIN ourselves, so nothing opens a
    # transaction implicitly.
    connection = await aiosqlite.connect(path, isolation_level=None)
    connection.row_factory = sqlite3.Row
    try:
        await _use_incremental_vacuum(connection, path)
        await connection.execute("PRAGMA journal_mode=WAL")
        await connection.execute("PRAGMA synchronous=NORMAL")
        await connection.execute("PRAGMA foreign_keys=ON")
        await connection.execute(f"PRAGMA busy_timeout={round(lock_wait_seconds * 1000)}")
        await _migrate(connection, load_migrations())
    except BaseException:
        await connection.close()
        raise
    return connection


def _open_writer(path: Path) -> sqlite3.Connection:
    writer = sqlite3.connect(path, isolation_level=None)
    writer.row_factory = sqlite3.Row
    for pragma in ("synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=0"):
        writer.execute(f"PRAGMA {pragma}")
    writer.execute("PRAGMA wal_autocheckpoint=0")  # checkpoints run on the thread
    return writer


def _open_reader(path: Path) -> sqlite3.Connection:
    reader = sqlite3.connect(path, isolation_level=None)
    reader.row_factory = sqlite3.Row
    reader.execute("PRAGMA query_only=ON")
    reader.execute("PRAGMA busy_timeout=0")
    return reader


class _Writer:
    """The writer connection, its statements run on the event loop."""

    def __init__(self, connection: sqlite3.Connection, lock_wait_seconds: float) -> None:
        self.connection = connection
        self._lock_wait_seconds = lock_wait_seconds

    async def run(self, sql: str, params: Params = ()) -> sqlite3.Cursor:
        """One statement, waiting asleep while another connection holds the write lock."""
        values = _values(params)
        pause, waited = _FIRST_PAUSE, 0.0
        while True:
            try:
                return self.connection.execute(sql, values)
            except sqlite3.OperationalError as error:
                if error.sqlite_errorcode not in _LOCKED_OUT or waited >= self._lock_wait_seconds:
                    raise
            await asyncio.sleep(pause)
            waited += pause
            pause = min(pause * 2, _LONGEST_PAUSE)

    def roll_back(self) -> None:
        if self.connection.in_transaction:
            self.connection.execute("ROLLBACK")


class _WriterStatements(Statements):
    """A transaction's statements on the writer."""

    def __init__(self, writer: _Writer) -> None:
        self._writer = writer

    async def execute(self, sql: str, params: Params = ()) -> int:
        return (await self._writer.run(sql, params)).rowcount

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        return (await self._writer.run(sql, params)).fetchall()


class _ThreadStatements(Statements):
    """A maintenance transaction's statements, on aiosqlite's thread."""

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection

    async def execute(self, sql: str, params: Params = ()) -> int:
        cursor = await self._connection.execute(sql, _values(params))
        return cursor.rowcount

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        return list(await self._connection.execute_fetchall(sql, _values(params)))


class Database:
    def __init__(
        self,
        writer: sqlite3.Connection,
        reader: sqlite3.Connection,
        thread_connection: aiosqlite.Connection,
        *,
        lock_wait_seconds: float = LOCK_WAIT_SECONDS,
    ) -> None:
        self._writer = _Writer(writer, lock_wait_seconds)
        self._reader = reader
        self._thread_connection = thread_connection
        # Interactive work first (storage/turns.py), on each connection that can be busy.
        self._writer_turns = Turns()
        self._thread_turns = Turns()
        self._commits_since_checkpoint = 0
        self._checkpoint: asyncio.Task[None] | None = None
        # The task whose writes now go into one transaction (`one_commit`), holding the
        # writer's turn; None when there is none.
        self._one_commit_task: asyncio.Task[Any] | None = None

    @classmethod
    async def open(cls, path: Path, *, lock_wait_seconds: float = LOCK_WAIT_SECONDS) -> Database:
        path.parent.mkdir(parents=True, exist_ok=True)
        thread_connection = await _open_thread_connection(path, lock_wait_seconds)
        # The others open after the migrations: the schema they use never changes under them.
        try:
            return cls(
                _open_writer(path),
                _open_reader(path),
                thread_connection,
                lock_wait_seconds=lock_wait_seconds,
            )
        except BaseException:
            await thread_connection.close()
            raise

    async def close(self) -> None:
        async with self._writer_turns.turn():
            # A checkpoint not done yet waits for this turn: it has not begun, and the close
            # below checkpoints everything anyway.
            if self._checkpoint is not None:
                self._checkpoint.cancel()
                await asyncio.gather(self._checkpoint, return_exceptions=True)
            async with self._thread_turns.turn():
                self._writer.connection.close()
                self._reader.close()
                # The last to close checkpoints the whole WAL into the file: off the loop.
                await self._thread_connection.close()

    # --- writes, on the event loop ------------------------------------------------------

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Statements]:
        """An IMMEDIATE transaction on the writer: the write lock is taken up front, so
        check-then-write is atomic. Its statements must find their rows through an index.
        Inside `one_commit` it is a savepoint of that transaction instead, committed with it."""
        if self._inside_one_commit():
            async with self._savepoint() as statements:
                yield statements
            return
        async with self._writer_turns.turn():
            # Waiting for the lock can be cancelled; then nothing has begun.
            await self._writer.run("BEGIN IMMEDIATE")
            try:
                yield _WriterStatements(self._writer)
            except BaseException:
                self._writer.roll_back()
                raise
            try:
                await self._writer.run("COMMIT")
            except BaseException:
                self._writer.roll_back()  # a COMMIT that failed (disk full) leaves it open
                raise
            self._committed()

    @asynccontextmanager
    async def one_commit(self) -> AsyncIterator[None]:
        """Run the block's writes (statements alone and transactions alike) as one transaction,
        committed when it ends, or rolled back whole if it raises.

        For writes that follow one another with nothing else awaited between them: the block
        holds the writer's turn, so every other write waits for it to end. Reads by key inside
        it see its writes. Only the task that opened it writes into it (a task it starts
        writes on its own), and what runs on aiosqlite's thread is refused inside it. A block
        inside another one joins it.
        """
        task = asyncio.current_task()
        if task is not None and task is self._one_commit_task:
            yield
            return
        async with self._writer_turns.turn():
            await self._writer.run("BEGIN IMMEDIATE")
            self._one_commit_task = task
            try:
                yield
            except BaseException:
                self._one_commit_task = None
                self._writer.roll_back()
                raise
            self._one_commit_task = None
            try:
                await self._writer.run("COMMIT")
            except BaseException:
                self._writer.roll_back()
                raise
            self._committed()

    def _inside_one_commit(self) -> bool:
        owner = self._one_commit_task
        return owner is not None and owner is asyncio.current_task()  # None: the usual case

    def _refuse_inside_one_commit(self, what: str) -> None:
        if self._inside_one_commit():
            # It would wait for the writer's turn this block holds, or not see its writes.
            raise RuntimeError(f"{what} cannot run inside one_commit")

    @asynccontextmanager
    async def _savepoint(self) -> AsyncIterator[Statements]:
        """A transaction within `one_commit`'s: undone alone when its block raises."""
        await self._writer.run("SAVEPOINT nested")
        try:
            yield _WriterStatements(self._writer)
        except BaseException:
            await self._writer.run("ROLLBACK TO nested")
            await self._writer.run("RELEASE nested")
            raise
        await self._writer.run("RELEASE nested")

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return how many rows it changed."""
        return (await self._write_alone(sql, params)).rowcount

    async def insert(self, sql: str, params: Params = ()) -> int | None:
        """Run one INSERT; return the new row id, or None when it inserted nothing."""
        cursor = await self._write_alone(sql, params)
        return cursor.lastrowid if cursor.rowcount > 0 else None

    async def write_returning(self, sql: str, params: Params = ()) -> list[Row]:
        """Run one INSERT, UPDATE or DELETE ... RETURNING; return the rows it returned."""
        # The change is made at the first row, all at once; and nothing runs between the
        # statement and this read, which does not wait.
        return (await self._write_alone(sql, params)).fetchall()

    async def _write_alone(self, sql: str, params: Params) -> sqlite3.Cursor:
        """One statement, a transaction of its own, in a turn on the writer. The caller reads
        the cursor before it next waits: nothing else can run on the writer until then.
        Inside `one_commit`, it is one more statement of that transaction."""
        if self._inside_one_commit():
            return await self._writer.run(sql, params)
        turns = self._writer_turns
        if turns.take_if_free():  # nearly always: the statement runs without waiting
            try:
                cursor = await self._writer.run(sql, params)
            finally:
                turns.release()
        else:
            async with turns.turn():
                cursor = await self._writer.run(sql, params)
        self._committed()
        return cursor

    def _committed(self) -> None:
        """Count a commit; every so many, checkpoint the WAL on the thread (see above)."""
        self._commits_since_checkpoint += 1
        if self._commits_since_checkpoint < CHECKPOINT_EVERY_COMMITS:
            return
        if self._checkpoint is None or self._checkpoint.done():
            self._commits_since_checkpoint = 0
            self._checkpoint = asyncio.create_task(self._checkpoint_wal(), name="wal-checkpoint")

    async def _checkpoint_wal(self) -> None:
        # The writer waits meanwhile (a few milliseconds): a checkpoint copies the WAL up to
        # where it ended when it began, and only a WAL copied to its end starts over from its
        # first page at the next write; with writes going on, it would grow without end.
        try:
            async with self._writer_turns.turn(), self._thread_turns.turn():
                await self._thread_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as error:
            log.warning("WAL checkpoint failed: %s", error)

    # --- reads by key, on the event loop ------------------------------------------------

    async def fetch_one(self, sql: str, params: Params = ()) -> Row | None:
        """A read by key, on the event loop's reader (see the module's docstring)."""
        rows = await self.fetch_by_keys(sql, params)
        return rows[0] if rows else None

    async def fetch_by_keys(self, sql: str, params: Params = ()) -> list[Row]:
        """The few rows an index finds by key, on the event loop's reader. Never a scan: that
        goes to `fetch_all`, off the event loop."""
        values = _values(params)
        if self._inside_one_commit():
            return (await self._writer.run(sql, values)).fetchall()  # it sees the block's writes
        try:
            return self._reader.execute(sql, values).fetchall()
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode not in _LOCKED_OUT:
                raise
        return await self._rows_in_thread(sql, values)

    # --- what may take long, on aiosqlite's thread ---------------------------------------

    async def fetch_summary(self, sql: str, params: Params = ()) -> Row:
        """The one row of an aggregate that may scan a table, on aiosqlite's thread."""
        rows = await self._rows_in_thread(sql, params)
        return rows[0]

    async def fetch_all(self, sql: str, params: Params = ()) -> list[Row]:
        """Rows a query may have to scan for, on aiosqlite's thread."""
        return await self._rows_in_thread(sql, params)

    @asynccontextmanager
    async def maintenance_transaction(self) -> AsyncIterator[Statements]:
        """An IMMEDIATE transaction on aiosqlite's thread, for deletes that may touch many
        rows (retention). It holds the writer's turn too: the writer's statements queue for it
        meanwhile, however long it takes, instead of spinning on SQLite's lock until their lock
        wait runs out (that wait is for other processes)."""
        self._refuse_inside_one_commit("a maintenance transaction")
        connection = self._thread_connection
        async with self._writer_turns.turn(), self._thread_turns.turn():
            try:
                await connection.execute("BEGIN IMMEDIATE")
                yield _ThreadStatements(connection)
            except BaseException:
                # Also when the wait for BEGIN itself was cancelled: the BEGIN still runs on
                # aiosqlite's thread, and left open it would swallow every later statement on
                # that connection. The ROLLBACK queues behind it. (When BEGIN failed instead,
                # there is nothing to roll back.)
                with contextlib.suppress(sqlite3.OperationalError):
                    await connection.execute("ROLLBACK")
                raise
            else:
                await connection.execute("COMMIT")

    async def reclaim_free_pages(self) -> int:
        """Give the pages deleted rows left free back to the file system; return how many.

        The file shrinks at the next checkpoint, which is tried here too (PASSIVE: it never
        waits for a reader, such as a backup in progress). The vacuum takes SQLite's write
        lock, so it holds the writer's turn, as a maintenance transaction does.
        """
        self._refuse_inside_one_commit("reclaiming free pages")
        async with self._writer_turns.turn(), self._thread_turns.turn():
            cursor = await self._thread_connection.execute("PRAGMA freelist_count")
            row = await cursor.fetchone()
            free = int(row[0]) if row else 0
            if free:
                # Run as a script: Python's sqlite3 steps a row-less PRAGMA once, and each
                # step of incremental_vacuum frees a single page.
                await self._thread_connection.executescript("PRAGMA incremental_vacuum;")
                await self._thread_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
            return free

    async def _rows_in_thread(self, sql: str, params: Params) -> list[Row]:
        # One trip to aiosqlite's thread: the statement and all its rows together.
        self._refuse_inside_one_commit("a read on aiosqlite's thread")
        async with self._thread_turns.turn():
            return list(await self._thread_connection.execute_fetchall(sql, _values(params)))
