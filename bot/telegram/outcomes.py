"""What a failed Bot API call means for the message it carried.

The one question that matters for exactly-once delivery: may the message have arrived? Telegram
acts on a request once it has read it whole, so:

- an answer from Telegram (an error JSON, a 429, a 5xx page) means it did not act;
- a connection that never opened, or a request never written whole, cannot have arrived;
- a connection that broke, or an answer that never came, after the request was written may have
  arrived: a send in that state is ambiguous and must never be repeated blindly.

The transport raises a failure `from` an exception that says which: our aiohttp transport
(bot/telegram/request.py) from `RequestNotSentError` or `RequestMaybeSentError`, PTB's own httpx
one from the httpx exception. An answer from the server comes without one. The checks below read
that.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import httpx
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.telegram.request import RequestNotSentError


class Outcome(Enum):
    NOT_SENT = "not_sent"  # Telegram did not act: safe to try again
    MAYBE_SENT = "maybe_sent"  # it may have acted: only an idempotent call may be repeated
    CHAT_GONE = "chat_gone"  # blocked, kicked, deactivated, deleted: stop for good
    REJECTED = "rejected"  # Telegram refused this request as it is: repeating will not help
    UNAUTHORIZED = "unauthorized"  # the token is not (or no longer) valid


@dataclass(frozen=True, slots=True)
class Failure:
    outcome: Outcome
    retry_after: float | None = None


# Transport failures that happen before the request is on the wire, or before it is whole.
_NEVER_ARRIVED = (
    RequestNotSentError,
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.WriteError,
)
_CHAT_GONE_TEXTS = ("chat not found", "user not found", "bot was blocked", "bot was kicked")


def _retry_after_seconds(error: RetryAfter) -> float:
    value = error.retry_after
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)


def classify(error: TelegramError) -> Failure:
    match error:
        case RetryAfter():
            return Failure(Outcome.NOT_SENT, retry_after=_retry_after_seconds(error))
        case Forbidden():
            return Failure(Outcome.CHAT_GONE)
        case InvalidToken():
            return Failure(Outcome.UNAUTHORIZED)
        case ChatMigrated():
            # The group became a supergroup under another id; the old chat takes no messages.
            return Failure(Outcome.CHAT_GONE)
        case BadRequest():
            text = str(error).lower()
            if any(marker in text for marker in _CHAT_GONE_TEXTS):
                return Failure(Outcome.CHAT_GONE)
            return Failure(Outcome.REJECTED)
        case TimedOut() | NetworkError():
            cause = error.__cause__
            if cause is None or isinstance(cause, _NEVER_ARRIVED):
                # No cause: the server answered with an error status (a 5xx, a proxy's 502).
                return Failure(Outcome.NOT_SENT)
            return Failure(Outcome.MAYBE_SENT)
        case _:
            return Failure(Outcome.REJECTED)
