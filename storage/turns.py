"""Whose turn it is on a database connection (storage/db.py): interactive work first.

A person waiting on a command or a button should not queue behind the hundreds of statements a
backlog of recordings makes: on aiosqlite's thread, where scans queue, or on the writer while
another process holds SQLite's write lock. The intake marks the handling of such an update with
`interactive_work()`; every database call made inside it (in that task, and in tasks it
starts, unless they are marked `background_work()`) takes the next free turn before any call
not so marked. Within each class, turns go first come, first served.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from types import TracebackType

_interactive: ContextVar[bool] = ContextVar("interactive_database_work", default=False)


def interactive_work() -> AbstractContextManager[None]:
    """Mark the database calls made inside (and in tasks started inside) as interactive."""
    return _marked(interactive=True)


def background_work() -> AbstractContextManager[None]:
    """The opposite, for background work a command happened to start (a job it submits)."""
    return _marked(interactive=False)


@contextmanager
def _marked(*, interactive: bool) -> Iterator[None]:
    token = _interactive.set(interactive)
    try:
        yield
    finally:
        _interactive.reset(token)


class Turns:
    """An asyncio lock with two queues; a released lock passes straight to the next waiter,
    interactive ones first, so nobody can slip in between."""

    def __init__(self) -> None:
        self._held = False
        self._interactive: deque[asyncio.Future[None]] = deque()
        self._bulk: deque[asyncio.Future[None]] = deque()

    def turn(self) -> _Turn:
        """`async with turns.turn():` holds the turn inside."""
        return _Turn(self)

    def take_if_free(self) -> bool:
        """Take the turn now if nobody holds it or waits for it; the caller then `release()`s
        it. The statements run alone take it so, without a context manager's coroutines."""
        if self._held or self._interactive or self._bulk:
            return False
        self._held = True
        return True

    async def _acquire(self, queue: deque[asyncio.Future[None]]) -> None:
        if self.take_if_free():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                # Handed the turn just as we were cancelled: pass it on, or nobody gets it.
                self.release()
            raise
        finally:
            if waiter in queue:
                queue.remove(waiter)

    def release(self) -> None:
        """Give back the turn (taken with `take_if_free`, or by `turn()`'s manager): to the next
        waiter, interactive ones first, or free."""
        for queue in (self._interactive, self._bulk):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # the turn passes on: still held
                    return
        self._held = False


class _Turn:
    """One hold of a turn. A class rather than an @asynccontextmanager: every statement on the
    event loop takes a turn, and a generator-based manager costs several times as much."""

    __slots__ = ("_turns",)

    def __init__(self, turns: Turns) -> None:
        self._turns = turns

    async def __aenter__(self) -> None:
        turns = self._turns
        await turns._acquire(turns._interactive if _interactive.get() else turns._bulk)

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._turns.release()
