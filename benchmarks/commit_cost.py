"""What a commit of its own costs a write, against writes grouped into one transaction: the
figure behind "group commit" (one transaction for the writes of many notes), an idea for
cutting the CPU per note that this measures before anyone builds it.

    .venv/bin/python benchmarks/commit_cost.py [--writes N] [--group K] [--runs N]
                                               [--between-kib K]

It opens a real SQLite file through storage.db, with the bot's pragmas (WAL,
synchronous=NORMAL, checkpoints on aiosqlite's thread every so many commits), and upserts
users by key as `UserRepository.touch` does: `--writes` of them each in its own commit
(`Database.execute`, as the bot writes now), then the same number `--group` to a transaction
(`Database.transaction`). Both yield to the event loop after each commit, as the bot's steps
do, so the WAL checkpoints that commits call for run meanwhile, on aiosqlite's thread. Each
figure is CPU time of this process (user and system, both threads) per write, the median of
`--runs` runs. A note makes 9 commits (`load.py --profile`: the calls of `_committed`).

`--between-kib K` writes K KiB of memory between two writes, as the bot's other work does
between its statements, so that SQLite's pages and code are no longer in the CPU's caches;
that work is left out of the figures (each write, or each transaction, is timed alone).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storage.db import Database  # noqa: E402

USERS = 2_000
# UserRepository.touch's statement.
UPSERT = """INSERT INTO users (user_id, first_name, last_name, username, language_code,
                              first_seen, last_seen)
           VALUES (?, 'Ada', NULL, 'ada', 'en', '2026-12-01T00:00:00.000+00:00', ?)
           ON CONFLICT (user_id) DO UPDATE SET last_seen = excluded.last_seen"""


def _values(n: int) -> tuple[int, str]:
    return (n % USERS + 1, f"2026-12-01T00:00:{n % 60:02d}.000+00:00")


def _other_work(scratch: bytearray) -> None:
    """Touch every page of `scratch`, as other work would between two statements."""
    for offset in range(0, len(scratch), 4096):
        scratch[offset] = (scratch[offset] + 1) & 0xFF


async def each_committed(db: Database, writes: int, scratch: bytearray) -> float:
    spent = 0.0
    for n in range(writes):
        _other_work(scratch)
        started = time.process_time()
        await db.execute(UPSERT, _values(n))
        await asyncio.sleep(0)
        spent += time.process_time() - started
    return spent / writes


async def grouped(db: Database, writes: int, group: int, scratch: bytearray) -> float:
    spent = 0.0
    for first in range(0, writes, group):
        _other_work(scratch)
        started = time.process_time()
        async with db.transaction() as statements:
            for n in range(first, min(first + group, writes)):
                await statements.execute(UPSERT, _values(n))
        await asyncio.sleep(0)
        spent += time.process_time() - started
    return spent / writes


async def one_run(writes: int, group: int, between_kib: int) -> tuple[float, float]:
    """Microseconds of CPU per write: (each in its own commit, `group` to a commit)."""
    scratch = bytearray(between_kib * 1024)
    with tempfile.TemporaryDirectory() as folder:
        db = await Database.open(Path(folder) / "commits.sqlite3")
        try:
            # Every user exists: the writes below are updates.
            await grouped(db, USERS, 100, bytearray())
            alone = await each_committed(db, writes, scratch)
            together = await grouped(db, writes, group, scratch)
        finally:
            await db.close()
    return alone * 1e6, together * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=20_000)
    parser.add_argument("--group", type=int, default=20, help="writes to a transaction")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--between-kib", type=int, default=0, help="memory written between two writes, KiB"
    )
    args = parser.parse_args()
    runs = [await one_run(args.writes, args.group, args.between_kib) for _ in range(args.runs)]
    medians = []
    for label, figures in (
        ("each in its own commit", [r[0] for r in runs]),
        (f"{args.group} to a commit", [r[1] for r in runs]),
    ):
        medians.append(statistics.median(figures))
        listed = ", ".join(f"{f:.1f}" for f in figures)
        print(f"CPU per write, {label}: {medians[-1]:.1f} µs (runs: {listed})")
    alone, together = medians
    print(f"a commit of its own costs a write {alone - together:.1f} µs more")


if __name__ == "__main__":
    asyncio.run(main())
