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
class ReportsProgress(Protocol):
    """A backend that can say how far a running job has got (the local engine)."""

    def progress(self, generation_id: str) -> JobProgress | None: ...


@runtime_checkable
class SendsAudioAtSubmit(Protocol):
    """A backend that has sent all of the audio away once `submit` returns (the AIML job API:
    the upload is the create request), so its caller may delete the file then.

    With any other backend the caller keeps the file until `wait_result` returns: the local
    engine decodes it while it transcribes, and the OpenAI-compatible backend uploads it in the
    request that waits for the transcript.
    """

    sends_audio_at_submit: bool
