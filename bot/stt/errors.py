"""Typed STT errors, so the pipeline can choose between retrying, resubmitting and giving up."""

from __future__ import annotations


class SttError(Exception):
    """Base class. `transient` errors are worth retrying with backoff."""

    transient: bool = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AuthError(SttError):
    """401: the API key is missing or wrong."""


class OutOfCreditsError(SttError):
    """403: the account has run out of credits."""


class ValidationError(SttError):
    """400: the API refused the request body (bad model, bad parameter, unreadable audio)."""


class PayloadTooLargeError(ValidationError):
    """413: the upload is larger than the API takes (OpenAI: 25 MB)."""


class NotFoundError(SttError):
    """404: the generation id is unknown or expired (results live for an hour)."""


class RateLimitedError(SttError):
    """429. `retry_after` is in seconds when the API said so."""

    transient = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


class ServerError(SttError):
    """5xx from the API."""

    transient = True


class NetworkError(SttError):
    """The connection failed or broke."""

    transient = True


class SttTimeoutError(SttError):
    """A request, or the whole job, took too long."""

    transient = True


class MalformedResponseError(SttError):
    """The API answered something we cannot read."""


class JobFailedError(SttError):
    """The job itself ended with an error status."""


class UnsupportedModelError(SttError):
    """The backend does not offer this model."""
