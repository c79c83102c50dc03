"""Typed language-model errors, so callers can tell retrying, splitting and giving up apart."""

from __future__ import annotations


class LlmError(Exception):
    """Base class. `transient` errors are worth retrying with backoff."""

    transient: bool = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class LlmAuthError(LlmError):
    """401 or 403: the key is missing, wrong, or not allowed this model (or out of credits)."""


class LlmRequestError(LlmError):
    """Another 4xx: the server refused the request (an unknown model, a bad parameter)."""


class ContextLengthError(LlmRequestError):
    """The prompt and the answer asked for do not fit the model's context: send less."""


class LlmRateLimitedError(LlmError):
    """429. `retry_after` is in seconds when the server said so."""

    transient = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


class LlmOutOfCreditsError(LlmError):
    """429 with OpenAI's "insufficient_quota": waiting does not help."""


class LlmServerError(LlmError):
    """5xx from the server."""

    transient = True


class LlmNetworkError(LlmError):
    """The connection failed or broke."""

    transient = True


class LlmTimeoutError(LlmError):
    """No complete answer within the request's time limit."""

    transient = True


class LlmMalformedResponseError(LlmError):
    """The server answered something that is not a chat completion with text in it."""
