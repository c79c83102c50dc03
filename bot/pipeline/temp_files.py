"""The folder where recordings wait on disk between their download and their transcription.

A recording is never held in memory whole: it is downloaded into a file here, measured from its
headers, uploaded (or handed to the local engine) from the file, and deleted when its job stops
needing it, whether it succeeded, failed or was cancelled. A crash can still leave a file
behind, so every start sweeps the folder first (`sweep`), before any job runs.

Only names this module makes (`job-<id>-<random>.audio`) are ever deleted, so a TEMP_DIR that
holds other files by mistake loses none of them.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

_PREFIX = "job-"
_SUFFIX = ".audio"
_OURS = re.compile(r"job-\d+-[0-9a-f]{8}\.audio")


class TempFiles:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def sweep(self) -> int:
        """Create the folder (private to this user) if need be and delete what a previous run
        left in it; return how many files went. Call before any job starts."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        removed = 0
        for entry in self.folder.iterdir():
            if _OURS.fullmatch(entry.name) and entry.is_file():
                entry.unlink(missing_ok=True)
                removed += 1
        if removed:
            log.info("deleted %d recording(s) left in %s by the last run", removed, self.folder)
        return removed

    def leftovers(self) -> list[Path]:
        """The recordings on disk now (for the tests and the operator)."""
        if not self.folder.is_dir():
            return []
        return sorted(p for p in self.folder.iterdir() if _OURS.fullmatch(p.name))

    @contextlib.contextmanager
    def reserve(self, job_id: int) -> Iterator[Path]:
        """A fresh path for one job's recording (not yet created), deleted on leaving the block
        however it is left: success, an exception, or the task's cancellation."""
        path = self.folder / f"{_PREFIX}{job_id}-{secrets.token_hex(4)}{_SUFFIX}"
        try:
            yield path
        finally:
            try:
                path.unlink(missing_ok=True)
            except OSError as error:  # the next start sweeps it
                log.warning("could not delete %s: %s", path.name, error.strerror)
