"""The cost of a note's quota check as the day fills: the bot's ledger snapshot (the statement
behind every reservation and correction, with the daily budget's total in it) timed on a ledger
holding N reservations of today, spread over 5,000 payers.

    .venv/bin/python benchmarks/quota_check.py [--rows N ...] [--checks N] [--runs N]

It opens a real SQLite file through storage.db, fills it in one transaction, then times
`--checks` snapshots of one payer (CPU time of this process, which runs them on its event loop
as the bot does). Each figure is the median of `--runs` runs. Before migration 010 the budget's
total was a SUM over every reservation of the day, so the check grew with the day's traffic.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storage.clock import to_text  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.quota import QuotaLedger, Windows  # noqa: E402

PAYERS = 5_000


async def fill(db: Database, rows: int, now: datetime) -> None:
    async with db.transaction() as statements:
        for job_id in range(rows):
            await statements.execute(
                """INSERT INTO quota_ledger (job_id, subject, user_id, model, seconds, basis,
                                            state, created_at, paid_seconds)
                   VALUES (?, ?, ?, '#g1_whisper-large', 5, 'declared', 'committed', ?, 0)""",
                (
                    job_id,
                    f"payer-{job_id % PAYERS}",
                    job_id % PAYERS,
                    to_text(now - timedelta(seconds=job_id % 3600)),
                ),
            )


async def one_run(rows: int, checks: int) -> float:
    """Milliseconds of CPU per snapshot."""
    now = datetime.now(UTC)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    windows = Windows(day, day.replace(day=1), now - timedelta(minutes=1))
    with tempfile.TemporaryDirectory() as folder:
        db = await Database.open(Path(folder) / "ledger.sqlite3")
        try:
            await fill(db, rows, now)
            ledger = QuotaLedger(db)
            await ledger.snapshot(17, windows)  # the salt read and a warm cache
            started = time.process_time()
            for _ in range(checks):
                await ledger.snapshot(17, windows)
            return (time.process_time() - started) / checks * 1000
        finally:
            await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append", help="reservations of today")
    parser.add_argument("--checks", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print("| reservations today | CPU per quota check (median) |")
    print("|---|---|")
    for rows in args.rows or [1_000, 10_000, 100_000]:
        costs = [asyncio.run(one_run(rows, args.checks)) for _ in range(args.runs)]
        print(f"| {rows:,} | {statistics.median(costs):.3f} ms |")


if __name__ == "__main__":
    main()
