"""Recordings go through a file on disk, never whole through memory, and the file never stays.

The real Application downloads from the fake Bot API over HTTP into the temporary folder, the
upload streams from that file to the fake STT API, and the file is gone however the job ends:
transcribed, failed, or cancelled by a stop. What a crash leaves is swept at the next start.
Memory itself is measured in benchmarks/load.py (`big_notes`), not here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.app import StartupError
from bot.pipeline.temp_files import TempFiles
from bot.presentation import texts
from tests.conftest import OPENAI_KEY, BotFactory, SettingsFactory
from tests.fakes.notes import note_bytes
from tests.fakes.openai import FakeOpenAi
from tests.fakes.stt import FakeStt, Upload
from tests.fakes.telegram import DOWNLOAD, FakeTelegram
from tests.test_pipeline import transcript_reply

CHAT = 6161


def recording(seconds: int = 4, size: int = 300_000) -> bytes:
    """A valid Ogg Opus note of `seconds`, padded to `size` bytes with random audio data, so a
    truncated or reordered copy cannot pass for it."""
    note = note_bytes("flatnote00001", seconds)
    return note + os.urandom(max(0, size - len(note)))


async def test_the_recording_goes_through_a_file_and_is_gone_after_delivery(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    settings = settings_for()
    folder = TempFiles(settings.temp_folder)
    data = recording()
    on_disk_at_upload: list[list[int]] = []

    def delay(upload: Upload) -> float:  # runs when the upload has arrived
        on_disk_at_upload.append([p.stat().st_size for p in folder.leftovers()])
        return 0.0

    stt.delay = delay
    async with running_bot(settings):
        original = telegram.push_voice(CHAT, data, duration=4)["message_id"]
        await transcript_reply(telegram, CHAT, original)

    # While it was uploaded, the recording lay in the folder, whole; the API got every byte.
    assert on_disk_at_upload == [[len(data)]]
    [job] = stt.jobs.values()
    assert job.upload.data == data
    assert settings.temp_folder == settings.database_path.parent / "tmp"
    assert folder.leftovers() == []


async def test_a_download_cut_off_half_way_is_fetched_again_into_a_clean_file(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    settings = settings_for()
    data = recording()
    telegram.fault_next(DOWNLOAD, "drop_after")  # half the file, then the connection closes
    async with running_bot(settings):
        original = telegram.push_voice(CHAT, data, duration=4)["message_id"]
        await transcript_reply(telegram, CHAT, original)

    assert len(telegram.calls_to(DOWNLOAD)) == 2
    [job] = stt.jobs.values()
    assert job.upload.data == data  # not the half of the first attempt, nor both appended
    assert TempFiles(settings.temp_folder).leftovers() == []


async def test_a_retried_upload_streams_the_whole_file_again(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    settings = settings_for()
    data = recording()
    stt.fail_next("create", 502)  # the first attempt is refused
    async with running_bot(settings):
        original = telegram.push_voice(CHAT, data, duration=4)["message_id"]
        await transcript_reply(telegram, CHAT, original)

    first, second = stt.requests_to("create")
    assert first.status == 502
    assert second.audio is not None and second.audio.size == len(data)  # from the start again
    [job] = stt.jobs.values()
    assert job.upload.data == data
    assert TempFiles(settings.temp_folder).leftovers() == []


async def test_an_openai_compatible_server_gets_the_file_in_its_own_request(
    telegram: FakeTelegram,
    openai: FakeOpenAi,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
) -> None:
    # That backend uploads in the request that waits for the transcript, after submit has
    # returned: the file must still be there then, and gone once the transcript is back.
    settings = settings_for(
        STT_BACKEND="openai", OPENAI_BASE_URL=openai.url, OPENAI_API_KEY=OPENAI_KEY
    )
    data = recording()
    openai.transcript = "from the file on disk"
    async with running_bot(settings):
        original = telegram.push_voice(CHAT, data, duration=4)["message_id"]
        assert await transcript_reply(telegram, CHAT, original) == "from the file on disk"

    [request] = openai.requests
    assert request.file_size == len(data)
    assert TempFiles(settings.temp_folder).leftovers() == []


async def test_the_file_is_deleted_when_the_job_fails(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    settings = settings_for()
    stt.fail_next("create", 400, message="could not decode the audio file")
    async with running_bot(settings):
        original = telegram.push_voice(CHAT, recording(), duration=4)["message_id"]
        text = await transcript_reply(telegram, CHAT, original)
    assert text == texts.failure("corrupt")
    assert TempFiles(settings.temp_folder).leftovers() == []


async def test_the_file_is_deleted_when_a_stop_cancels_the_job_mid_upload(
    telegram: FakeTelegram, stt: FakeStt, settings_for: SettingsFactory, running_bot: BotFactory
) -> None:
    settings = settings_for()
    folder = TempFiles(settings.temp_folder)
    stt.stall_next("create", 30.0)  # the upload hangs: the job is mid-way when the bot stops
    async with running_bot(settings):
        telegram.push_voice(CHAT, recording(), duration=4)
        await telegram.wait_for(lambda: stt.requests_to("create"), what="the upload to start")
        assert len(folder.leftovers()) == 1  # downloaded, and waiting on disk
    # The stop cancelled the job (it resumes at the next start); its file went with it.
    assert not stt.jobs
    assert folder.leftovers() == []


async def test_what_a_crash_left_is_swept_at_start_and_nothing_else(
    telegram: FakeTelegram, settings_for: SettingsFactory, running_bot: BotFactory, tmp_path: Path
) -> None:
    folder = tmp_path / "recordings"
    settings = settings_for(TEMP_DIR=str(folder))
    folder.mkdir()
    left = [folder / "job-7-0123abcd.audio", folder / "job-12-deadbeef.audio"]
    for path in left:
        path.write_bytes(b"OggS half a recording")
    someone_elses = folder / "notes.txt"
    someone_elses.write_text("not the bot's")

    async with running_bot(settings):
        assert TempFiles(folder).leftovers() == []

    assert not any(path.exists() for path in left)
    assert someone_elses.read_text() == "not the bot's"


async def test_an_unusable_temp_dir_stops_the_start_with_one_line(
    telegram: FakeTelegram, settings_for: SettingsFactory, running_bot: BotFactory, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    settings = settings_for(TEMP_DIR=str(blocker / "recordings"))
    with pytest.raises(StartupError) as refused:
        async with running_bot(settings):
            pass
    message = str(refused.value)
    assert "TEMP_DIR" in message and "\n" not in message
