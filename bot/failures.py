"""Why a job failed: one vocabulary for the pipeline, the job row and the texts users read."""

from __future__ import annotations

from enum import StrEnum


class FailureReason(StrEnum):
    AUTH = "auth"  # the STT API refused our key: the operator must act
    OUT_OF_CREDITS = "out_of_credits"
    CORRUPT = "corrupt"  # the audio could not be read
    RATE_LIMITED = "rate_limited"
    TIMEOUT = "timeout"
    UNSUPPORTED_MODEL = "unsupported_model"
    API_ERROR = "api_error"
    TOO_BIG = "too_big"
    TOO_LONG = "too_long"
    DOWNLOAD_FAILED = "download_failed"
    QUOTA = "quota"
    CHAT_GONE = "chat_gone"  # blocked, kicked or deleted: nobody left to tell
    INTERNAL = "internal"

    @classmethod
    def parse(cls, text: str | None) -> FailureReason:
        """A reason read back from storage; anything unknown reads as internal."""
        try:
            return cls(text or cls.INTERNAL)
        except ValueError:
            return cls.INTERNAL

    @property
    def operator_fault(self) -> bool:
        """Failures an operator must look at, logged at ERROR rather than WARNING."""
        return self in (FailureReason.AUTH, FailureReason.INTERNAL)
