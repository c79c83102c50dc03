"""Turns on the database's writer (storage/turns.py): interactive work first, first come first
served within each class, and no turn lost to a cancelled waiter."""

from __future__ import annotations

import asyncio
from pathlib import Path

from storage.db import Database
from storage.turns import Turns, background_work, interactive_work


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_interactive_waiters_go_before_bulk_ones_and_each_class_keeps_its_order() -> None:
    turns = Turns()
    order: list[str] = []
    release = asyncio.Event()

    async def holder() -> None:
        async with turns.turn():
            order.append("holder")
            await release.wait()

    async def waiter(name: str) -> None:
        async with turns.turn():
            order.append(name)

    async def interactive(name: str) -> None:
        with interactive_work():
            await waiter(name)

    tasks = [asyncio.create_task(holder())]
    await _settle()
    for name in ("bulk-1", "bulk-2"):
        tasks.append(asyncio.create_task(waiter(name)))
        await _settle()
    for name in ("person-1", "person-2"):
        tasks.append(asyncio.create_task(interactive(name)))
        await _settle()
    release.set()
    await asyncio.gather(*tasks)
    assert order == ["holder", "person-1", "person-2", "bulk-1", "bulk-2"]


async def test_background_work_started_inside_interactive_work_is_bulk() -> None:
    turns = Turns()
    order: list[str] = []
    release = asyncio.Event()

    async def holder() -> None:
        async with turns.turn():
            await release.wait()

    async def job() -> None:
        with background_work():
            async with turns.turn():
                order.append("job")

    async def command() -> None:
        async with turns.turn():
            order.append("command")

    first = asyncio.create_task(holder())
    await _settle()
    with interactive_work():
        started_job = asyncio.create_task(job())  # inherits the mark, then drops it
        await _settle()
        answer = asyncio.create_task(command())
        await _settle()
    release.set()
    await asyncio.gather(first, started_job, answer)
    assert order == ["command", "job"]


async def test_a_waiter_cancelled_while_waiting_is_skipped() -> None:
    turns = Turns()
    order: list[str] = []
    release = asyncio.Event()

    async def holder() -> None:
        async with turns.turn():
            await release.wait()

    async def waiter(name: str) -> None:
        async with turns.turn():
            order.append(name)

    first = asyncio.create_task(holder())
    await _settle()
    doomed = asyncio.create_task(waiter("doomed"))
    after = asyncio.create_task(waiter("after"))
    await _settle()
    doomed.cancel()
    await _settle()
    release.set()
    await asyncio.gather(first, after)
    assert doomed.cancelled()
    assert order == ["after"]


async def test_a_waiter_cancelled_as_it_is_handed_the_turn_passes_it_on() -> None:
    turns = Turns()
    order: list[str] = []
    release = asyncio.Event()
    handed: asyncio.Task[None] | None = None

    async def holder() -> None:
        async with turns.turn():
            await release.wait()
        # In the same step as the hand-over: `handed` owns the turn but has not run yet.
        assert handed is not None
        handed.cancel()

    async def waiter(name: str) -> None:
        async with turns.turn():
            order.append(name)

    first = asyncio.create_task(holder())
    await _settle()
    handed = asyncio.create_task(waiter("handed"))
    after = asyncio.create_task(waiter("after"))
    await _settle()
    release.set()
    await first
    await asyncio.wait_for(after, 1.0)
    assert handed.cancelled()
    assert order == ["after"]
    async with asyncio.timeout(1.0):  # and the turn is free again
        async with turns.turn():
            pass


async def test_a_command_waits_for_one_write_however_many_bulk_writes_queue(
    tmp_path: Path,
) -> None:
    """End to end on a real database: 300 background writes queue up, a command's write
    arrives last and is the second to finish (after the one that held the turn)."""
    database = await Database.open(tmp_path / "bot.sqlite3")
    finished: list[str] = []

    async def write(name: str) -> None:
        await database.execute("INSERT INTO app_meta (name, value) VALUES (?, 'x')", (name,))
        finished.append(name)

    async def command_write() -> None:
        with interactive_work():
            await write("command")

    try:
        bulk = [asyncio.create_task(write(f"bulk-{n}")) for n in range(300)]
        await asyncio.sleep(0)
        command = asyncio.create_task(command_write())
        await asyncio.gather(*bulk, command)
    finally:
        await database.close()
    assert finished.index("command") <= 1, finished[:5]
    assert len(finished) == 301
