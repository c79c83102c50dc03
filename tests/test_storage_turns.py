"""Turns on a database connection (storage/turns.py): interactive work first, first come first
served within each class, and no turn lost to a cancelled waiter."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from storage.db import Database
from storage.turns import Turns, background_work, interactive_work


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


class Scene:
    """One Turns, a holder that keeps the turn until `release` is set, and waiters that
    write down the order in which they got it."""

    def __init__(self) -> None:
        self.turns = Turns()
        self.order: list[str] = []
        self.release = asyncio.Event()

    async def holder(self, then: Callable[[], object] = lambda: None) -> None:
        async with self.turns.turn():
            await self.release.wait()
        then()

    async def waiter(self, name: str) -> None:
        async with self.turns.turn():
            self.order.append(name)

    def start(self, name: str) -> asyncio.Task[None]:
        return asyncio.create_task(self.waiter(name))


async def test_interactive_waiters_go_before_bulk_ones_and_each_class_keeps_its_order() -> None:
    scene = Scene()
    tasks = [asyncio.create_task(scene.holder())]
    await _settle()
    for name in ("bulk-1", "bulk-2"):
        tasks.append(scene.start(name))
        await _settle()
    for name in ("person-1", "person-2"):
        with interactive_work():
            tasks.append(scene.start(name))  # the task inherits the mark
        await _settle()
    scene.release.set()
    await asyncio.gather(*tasks)
    assert scene.order == ["person-1", "person-2", "bulk-1", "bulk-2"]


async def test_background_work_started_inside_interactive_work_is_bulk() -> None:
    scene = Scene()

    async def job() -> None:
        with background_work():
            await scene.waiter("job")

    first = asyncio.create_task(scene.holder())
    await _settle()
    with interactive_work():
        started_job = asyncio.create_task(job())  # inherits the mark, then drops it
        await _settle()
        answer = scene.start("command")
        await _settle()
    scene.release.set()
    await asyncio.gather(first, started_job, answer)
    assert scene.order == ["command", "job"]


async def test_a_waiter_cancelled_while_waiting_is_skipped() -> None:
    scene = Scene()
    first = asyncio.create_task(scene.holder())
    await _settle()
    doomed = scene.start("doomed")
    after = scene.start("after")
    await _settle()
    doomed.cancel()
    await _settle()
    scene.release.set()
    await asyncio.gather(first, after)
    assert doomed.cancelled()
    assert scene.order == ["after"]


async def test_a_waiter_cancelled_as_it_is_handed_the_turn_passes_it_on() -> None:
    scene = Scene()
    handed: list[asyncio.Task[None]] = []
    # In the same step as the hand-over: `handed` owns the turn but has not run yet.
    first = asyncio.create_task(scene.holder(then=lambda: handed[0].cancel()))
    await _settle()
    handed.append(scene.start("handed"))
    after = scene.start("after")
    await _settle()
    scene.release.set()
    await first
    await asyncio.wait_for(after, 1.0)
    assert handed[0].cancelled()
    assert scene.order == ["after"]
    async with asyncio.timeout(1.0):  # and the turn is free again
        async with scene.turns.turn():
            pass


async def test_a_command_waits_for_one_scan_however_many_bulk_scans_queue(
    tmp_path: Path,
) -> None:
    """End to end on a real database: 300 background scans queue up for aiosqlite's thread, a
    command's scan arrives last and is the second to finish (after the one that held the
    turn). (Writes and reads by key run on the event loop and never queue.)"""
    database = await Database.open(tmp_path / "bot.sqlite3")
    finished: list[str] = []

    async def scan(name: str) -> None:
        await database.fetch_all("SELECT name FROM app_meta WHERE value LIKE ?", (name,))
        finished.append(name)

    async def command_scan() -> None:
        with interactive_work():
            await scan("command")

    try:
        bulk = [asyncio.create_task(scan(f"bulk-{n}")) for n in range(300)]
        await asyncio.sleep(0)
        command = asyncio.create_task(command_scan())
        await asyncio.gather(*bulk, command)
    finally:
        await database.close()
    assert finished.index("command") <= 1, finished[:5]
    assert len(finished) == 301


async def test_a_free_turn_is_taken_at_once_and_a_held_one_is_waited_for_in_line() -> None:
    scene = Scene()
    assert scene.turns.take_if_free()  # nobody holds it: taken without waiting
    assert not scene.turns.take_if_free()  # held: the statement run alone must queue
    waiter = scene.start("bulk")
    await _settle()
    assert scene.order == []
    scene.turns.release()  # passed straight to the one waiting, never free in between
    assert not scene.turns.take_if_free()
    await waiter
    assert scene.order == ["bulk"]
    assert scene.turns.take_if_free()  # the waiter done, free again
    scene.turns.release()
