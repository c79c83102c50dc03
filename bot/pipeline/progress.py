"""Progress in the status message while a long recording is transcribed.

A job on a recording of more than a minute edits its "Transcribing…" message as it goes: the
share done and where it is ("42 % · 12:30 of 29:41") where the backend can say it (the local
engine, `ReportsProgress.progress`); else the time it has taken so far, since the STT API says
nothing about a job until it is done, and a guessed share would be a made-up number.

At most one edit every `interval` seconds (Telegram counts edits against the chat's limit), none
in a job's first interval (a job done by then needs none), none when the text would not change,
and none at all when there is no status message to edit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from bot.presentation import texts
from bot.presentation.i18n import Translator
from bot.presentation.rendering import clock_label
from bot.stt.types import JobProgress

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 10.0
# A recording shorter than this is done before a progress line would tell anything.
MIN_PROGRESS_SECONDS = 60.0

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
# Edits the status message; False when there is none to edit (the reporter then stops).
ShowText = Callable[[str], Awaitable[bool]]


def progress_text(tr: Translator, progress: JobProgress) -> str:
    return tr.render(
        texts.PROGRESS,
        percent=tr.number(int(progress.share * 100)),
        done=clock_label(progress.done),
        total=clock_label(progress.total),
    )


def elapsed_text(tr: Translator, elapsed: float, audio_seconds: float | None) -> str:
    if audio_seconds is None:
        return tr.render(texts.ELAPSED_UNKNOWN_LENGTH, elapsed=clock_label(elapsed))
    return tr.render(
        texts.ELAPSED, total=clock_label(audio_seconds), elapsed=clock_label(elapsed)
    )


class ProgressReporter:
    """Edits a status message with `read()`'s text every `interval` seconds until stopped.

    `read` returns the text to show now, or None to leave the message as it is.
    """

    def __init__(
        self,
        show: ShowText,
        read: Callable[[], str | None],
        *,
        interval: float = PROGRESS_INTERVAL,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._show = show
        self._read = read
        self._interval = interval
        self._clock = clock
        self._sleep = sleep
        self._task: asyncio.Task[None] | None = None
        self._editing = False
        self._stopping = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="progress")

    async def stop(self) -> None:
        """Stop editing. An edit on the wire is let finish (within its own short deadline),
        so it cannot land after the answer that replaces the status message."""
        self._stopping = True
        task = self._task
        if task is None:
            return
        if not self._editing:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        last_text: str | None = None
        last_at: float | None = None
        while not self._stopping:
            wait = self._interval
            if last_at is not None:
                wait = max(0.0, last_at + self._interval - self._clock())
            await self._sleep(wait)
            text = self._read()
            if text is None or text == last_text:
                # Nothing new: look again after a full interval.
                last_at = self._clock()
                continue
            self._editing = True
            try:
                shown = await self._show(text)
            except Exception as error:  # a courtesy: never a reason to fail the job
                log.info("progress edit failed: %s", type(error).__name__)
                shown = True
            finally:
                self._editing = False
            if not shown:
                return  # no status message to edit
            last_text, last_at = text, self._clock()
