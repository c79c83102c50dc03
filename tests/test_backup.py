"""`stt-bot backup PATH`: a copy taken while the bot runs and a writer hammers the database opens,
passes `PRAGMA integrity_check`, holds a consistent snapshot, and the bot starts on it."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import threading
from pathlib import Path

import pytest

from bot.cli.main import main
from storage.backup import BackupError, back_up
from tests.conftest import BotFactory, SettingsFactory
from tests.fakes.stt import FakeStt
from tests.fakes.telegram import FakeTelegram
from tests.metering_flows import final_reply, settled
from tests.process_env import ROOT, process_environment
from tests.test_pipeline import AUDIO, CHAT

FILLER = "words " * 300  # about 2 KB a row: the copy has some size to it


class Hammer(threading.Thread):
    """Another writer on the live file: two rows per transaction, as fast as it can."""

    def __init__(self, database: Path) -> None:
        super().__init__(daemon=True)
        self._database = database
        self._stopping = threading.Event()
        self.commits = 0

    def run(self) -> None:
        connection = sqlite3.connect(self._database, isolation_level=None)
        connection.execute("PRAGMA busy_timeout=5000")
        try:
            while not self._stopping.is_set():
                n = self.commits
                connection.execute("BEGIN IMMEDIATE")
                for half in ("a", "b"):
                    connection.execute(
                        """INSERT INTO transcript_cache
                           (file_unique_id, model, language, text, created_at, expires_at)
                           VALUES (?, 'hammer', '', ?, '2999-01-01', '2999-01-02')""",
                        (f"hammer-{n}-{half}", FILLER),
                    )
                connection.execute("COMMIT")
                self.commits += 1
                self._stopping.wait(0.001)  # leave the bot room to write too
        finally:
            connection.close()

    def stop(self) -> None:
        self._stopping.set()
        self.join(10)


def wal_of(database: Path) -> Path:
    return database.with_name(f"{database.name}-wal")


async def run_backup(env: dict[str, str], target: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "backup",
        str(target),
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_a_backup_taken_under_load_is_whole_and_the_bot_starts_on_it(
    telegram: FakeTelegram,
    stt: FakeStt,
    settings_for: SettingsFactory,
    running_bot: BotFactory,
    database_path: Path,
    tmp_path: Path,
) -> None:
    target = tmp_path / "backups" / "bot-backup.sqlite3"
    target.parent.mkdir()
    hammer = Hammer(database_path)
    async with running_bot(settings_for()) as runtime:
        first = telegram.push_voice(CHAT, AUDIO)["message_id"]
        await final_reply(telegram, CHAT, first)
        hammer.start()
        await asyncio.sleep(0.2)  # the hammer is going
        during = [telegram.push_voice(CHAT, AUDIO)["message_id"] for _ in range(5)]
        before = hammer.commits
        env = process_environment(telegram, stt, database_path)
        status, output = await run_backup(env, target)
        after = hammer.commits
        for original in during:
            await final_reply(telegram, CHAT, original)
        await settled(runtime)
        hammer.stop()

    assert status == 0, output
    assert "integrity ok" in output
    assert after > before, "the writer must not be blocked by the backup"
    assert hammer.commits > after  # and it went on afterwards

    assert not wal_of(target).exists()  # one self-contained file
    with sqlite3.connect(target) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        [(rows,)] = copy.execute("SELECT count(*) FROM transcript_cache WHERE model = 'hammer'")
        [(jobs,)] = copy.execute("SELECT count(*) FROM jobs")
    copy.close()
    # A snapshot: every transaction whole (two rows each), none from after the copy ended.
    assert rows % 2 == 0 and 2 * before <= rows <= 2 * after
    assert jobs >= 1

    # Restoring is putting the file in place. The bot starts on it, finishes the jobs that
    # were running when the copy was taken, and serves new notes.
    async with running_bot(settings_for(DATABASE_PATH=str(target))) as restored:
        await settled(restored)
        again = telegram.push_voice(CHAT, AUDIO)["message_id"]
        assert (await final_reply(telegram, CHAT, again)).text == stt.transcript
        await settled(restored)
    with sqlite3.connect(target) as copy:
        states = [state for (state,) in copy.execute("SELECT state FROM jobs")]
    copy.close()
    assert len(states) == jobs + 1 and states[-1] == "delivered"
    assert set(states) <= {"delivered", "failed"}  # nothing left open ("failed": refused)


def make_database(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE notes (text TEXT)")
        connection.execute("INSERT INTO notes VALUES ('kept')")
    connection.close()


def test_a_backup_never_overwrites_a_file(tmp_path: Path) -> None:
    source, target = tmp_path / "bot.sqlite3", tmp_path / "backup.sqlite3"
    make_database(source)
    target.write_bytes(b"an older backup")
    with pytest.raises(BackupError, match="already exists"):
        back_up(source, target)
    assert target.read_bytes() == b"an older backup"
    assert not list(tmp_path.glob(".*partial"))


def test_a_missing_database_is_an_error_not_a_new_empty_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing, target = tmp_path / "no-such.sqlite3", tmp_path / "backup.sqlite3"
    status = main(["backup", str(target), "--database", str(missing)])
    assert status == 1
    error = capsys.readouterr().err
    assert error.startswith("stt-bot: backup: cannot open the database at ")
    assert error.count("\n") == 1
    assert not missing.exists() and not target.exists()


def test_the_command_copies_the_named_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source, target = tmp_path / "bot.sqlite3", tmp_path / "backup.sqlite3"
    make_database(source)
    assert main(["backup", str(target), "--database", str(source)]) == 0
    assert "integrity ok" in capsys.readouterr().out
    with sqlite3.connect(target) as copy:
        assert copy.execute("SELECT text FROM notes").fetchall() == [("kept",)]
    copy.close()
