"""Whether a job's "Transcribing…" status message is worth a message of Telegram's budget.

The status message is a courtesy: it tells the user the note was heard until the transcript
replaces it. It costs one of the 30 messages a second Telegram allows the whole bot, and one of
the chat's own, so under pressure it is the first thing dropped. It is skipped when

- the transcript is expected within `quick_seconds` (QUICK_ANSWER_SECONDS, 2 s by default; the
  poll schedule's estimate): it would be edited into the transcript a moment later anyway;
- more than `max_backlog` chats already wait for a slot under the global limit: it would arrive
  late, and take a slot a transcript needs;
- the chat already has messages waiting under its own limit (one a second), or a status
  message of another note on its way: likewise (one "Transcribing…" speaks for a batch).

A job without a status message gets its transcript as a new reply, as when the status could not
be posted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from storage.jobs import NewJob

# About one second of messages at Telegram's global limit of 30 a second.
MAX_BACKLOG = 30


class Congestion(Protocol):
    """What the rate limiter tells of its queue (bot/telegram/rate_limiter.py)."""

    def backlog(self) -> int:
        """Chats whose next message waits only for a global slot."""
        ...

    def waiting_in(self, chat_id: int) -> int:
        """Messages waiting to be sent to this chat."""
        ...


class CompletionEstimate(Protocol):
    """The poll schedule's estimate of a job's time (bot/stt/schedule.py)."""

    def predict(self, model: str, audio_seconds: float | None) -> tuple[float, float]:
        """(expected seconds from submission to completion, the window's half-width)."""
        ...


@dataclass(frozen=True, slots=True)
class StatusPolicy:
    congestion: Congestion | None = None  # None: no rate limiter to ask
    estimate: CompletionEstimate | None = None  # None: no estimate (the local engine)
    quick_seconds: float = 0.0  # QUICK_ANSWER_SECONDS; 0: never skipped for being quick
    max_backlog: int = MAX_BACKLOG

    def reason_to_skip(self, job: NewJob, *, posting: int = 0) -> str | None:
        """Why the job should post no status message; None: post it. `posting`: status
        messages of other jobs in the same chat still on their way."""
        if self.estimate is not None:
            expected, _ = self.estimate.predict(job.model, job.duration)
            if expected <= self.quick_seconds:
                return f"transcript expected in {expected:.1f}s"
        if posting > 0:
            return "a status message is already on its way in this chat"
        if self.congestion is not None:
            if self.congestion.waiting_in(job.chat_id) > 0:
                return "messages already wait in this chat"
            backlog = self.congestion.backlog()
            if backlog > self.max_backlog:
                return f"{backlog} chats wait for Telegram's global limit"
        return None
