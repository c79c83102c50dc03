"""The interface every transcription backend (the AIML API, the local engine) implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from bot.stt.types import AudioUpload, JobProgress, JobRequest, Transcript


class SttBackend(Protocol):
    """A job API: submit audio, then wait for the result of a generation id.

    `wait_result` raises `NotFoundError` when the id is unknown or expired (the caller then
    submits again), `JobFailedError` when the job failed, and other `SttError`s when retries of
    transient errors are exhausted.
    """

    name: str

    async def submit(self, audio: AudioUpload, request: JobRequest) -> str:
        """Start a job and return its generation id."""
        ...

    async def wait_result(
        self,
        generation_id: str,
        request: JobRequest,
        audio_seconds: float | None,
        elapsed: float = 0.0,
    ) -> Transcript:
        """Wait until the job ends and return its transcript.

        `elapsed` is how long ago the job was submitted (non-zero when resuming after a restart),
        so a poll schedule can pick up where it was.
        """
        ...

    async def close(self) -> None: ...


@runtime_checkable
class InProcessBackend(Protocol):
    """A backend that transcribes in this process (the local engine), which changes two things
    for its caller: it reads an uploaded file while the job runs, so the file must outlive
    `wait_result`; and it can say how far a job has got."""

    def progress(self, generation_id: str) -> JobProgress | None: ...
