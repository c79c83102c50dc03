"""Whisper's own translation into English, on the local engine: no language model needed.

Whisper can write what it hears in English instead of the language spoken (its "translate"
task). With no language model configured, the Translate button of an English-speaking user
uses it: the recording is fetched from Telegram again (the bot keeps no audio) and transcribed
once more with that task, as the job was, but with no job of its own: the request is counted
in the summaries quota, and the text is sent like a model's translation.
"""

from __future__ import annotations

import logging

from bot.pipeline.supervisor import TaskSupervisor
from bot.pipeline.temp_files import TempFiles
from bot.pipeline.transcription import DOWNLOAD_DEADLINE, media_of
from bot.stt.backend import SttBackend
from bot.stt.types import AudioUpload, JobRequest
from bot.telegram.gateway import ChatGateway
from storage.jobs import Job

log = logging.getLogger(__name__)


class WhisperTranslator:
    """`SpeechTranslator` (bot/pipeline/summaries.py) over the local engine's backend."""

    def __init__(
        self,
        backend: SttBackend,
        gateway: ChatGateway,
        temp_files: TempFiles,
        supervisor: TaskSupervisor,
        *,
        max_file_bytes: int,
    ) -> None:
        self._backend = backend
        self._gateway = gateway
        self._temp_files = temp_files
        self._supervisor = supervisor
        self._max_file_bytes = max_file_bytes

    async def to_english(self, job: Job) -> str:
        """The job's recording in English words."""
        params: dict[str, object] = {"task": "translate"}
        if job.language:
            params["language"] = job.language  # what was spoken, when the user said
        request = JobRequest(model=job.model, params=params)
        # The engine reads the file while it works: it is kept until the result is in.
        with self._temp_files.reserve(job.id) as recording:
            async with self._supervisor.transfer_slots:
                audio = await self._gateway.download(
                    job.file_id,
                    target=recording,
                    max_bytes=self._max_file_bytes,
                    deadline=DOWNLOAD_DEADLINE,
                )
            filename, mime_type = media_of(job).upload_name_and_type()
            upload = AudioUpload(data=audio.path, filename=filename, mime_type=mime_type)
            generation_id = await self._backend.submit(upload, request)
            transcript = await self._backend.wait_result(generation_id, request, job.duration)
        log.info("job %d: translated into English by Whisper", job.id)
        return transcript.text
