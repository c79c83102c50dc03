"""A consistent copy of the live database, taken with SQLite's online backup API while the bot
runs (`stt-bot backup PATH`, bot/cli/backup.py).

The copy is made in one backup step, inside one read transaction: in WAL mode a reader sees a
fixed snapshot and never blocks the bot's writes, which go on into the WAL meanwhile. (A copy in
several steps would have to start over whenever the bot wrote between two of them, which a busy
bot does all the time.) It is written next to PATH under a temporary name, checked with
`PRAGMA integrity_check`, and only then renamed to PATH, so PATH is never a partial copy.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path


class BackupError(Exception):
    """The backup cannot be made; the message is one line for the operator."""


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    size: int  # bytes
    pages: int


def _connect_existing(path: Path) -> sqlite3.Connection:
    # mode=rw: a missing file is an error, never a new empty database. Not mode=ro: a reader
    # of a WAL database must be able to use its -shm file like the bot does.
    uri = f"{path.resolve().as_uri()}?mode=rw"
    try:
        connection = sqlite3.connect(uri, uri=True, isolation_level=None)
        connection.execute("PRAGMA busy_timeout=5000")
        connection.execute("SELECT count(*) FROM sqlite_schema").fetchone()
    except sqlite3.Error as error:
        raise BackupError(f"cannot open the database at {path}: {error}") from None
    return connection


def back_up(source: Path, target: Path) -> BackupResult:
    """Copy the database at `source` to the new file `target`; raise BackupError on failure."""
    if target.exists():
        raise BackupError(f"{target} already exists; choose a new file name")
    if not target.parent.is_dir():
        raise BackupError(f"the folder {target.parent} does not exist")
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    live = _connect_existing(source)
    try:
        copy = sqlite3.connect(partial, isolation_level=None)
        try:
            live.backup(copy)  # pages=-1: the whole file in one step (see above)
            # The copy holds every page in its main file: one self-contained file to keep.
            copy.execute("PRAGMA journal_mode=DELETE")
            verdict = copy.execute("PRAGMA integrity_check").fetchone()
            pages = int(copy.execute("PRAGMA page_count").fetchone()[0])
        finally:
            copy.close()
    except sqlite3.Error as error:
        partial.unlink(missing_ok=True)
        raise BackupError(f"the backup failed: {error}") from None
    finally:
        live.close()
    if verdict is None or verdict[0] != "ok":
        partial.unlink(missing_ok=True)
        raise BackupError(f"the copy failed its integrity check: {verdict}")
    if target.exists():  # made while we copied: never overwrite a file
        partial.unlink()
        raise BackupError(f"{target} already exists; choose a new file name")
    os.replace(partial, target)
    return BackupResult(target, target.stat().st_size, pages)
