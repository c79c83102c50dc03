"""The chaos harness measures right: its verdicts, its ledger reading, its notes, its fakes process.

These run in a second each (no bot process): they pin what `benchmarks/chaos.py` counts as
answered once, never and more than once, and what it calls an exact ledger, so a green chaos
table cannot come from a lenient harness.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from benchmarks.chaos import classify, ledger_verdicts
from bot.audio.duration import measure_duration
from bot.audio.sniff import sniff_audio
from tests.fakes.faults import Fault
from tests.fakes.notes import (
    Note,
    marker_for,
    note_bytes,
    parse_note,
    transcript_for,
    transcript_words,
)
from tests.fakes.serve import STATUS_TEXT, FakesServer

NOTE = Note("chaosnote00007", user_id=501, chat_id=501, message_id=10, seconds=3, stt_delay=0.1)
WORDS = transcript_words(NOTE.marker, NOTE.seconds)
TRANSCRIPT = " ".join(WORDS)


def message(
    message_id: int, text: str | None, *, reply_to: int | None = 10, document: str | None = None
) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "reply_to": reply_to,
        "text": text,
        "text_history": [],
        "caption": None,
        "document_text": document,
    }


def verdict_of(messages: list[dict[str, Any]], generations: list[str] | None = None) -> Any:
    return classify(NOTE, messages, generations or ["completed"], api_errors_are_final=False)


# --- verdicts ----------------------------------------------------------------------------


def test_a_status_message_edited_into_the_transcript_is_once() -> None:
    assert verdict_of([message(11, TRANSCRIPT)]) == ("once", (11,), (), 0)


def test_a_transcript_sent_twice_is_more_even_if_one_is_not_a_reply() -> None:
    messages = [message(11, TRANSCRIPT), message(12, TRANSCRIPT, reply_to=None)]
    assert verdict_of(messages)[0] == "more"


def test_a_status_left_behind_next_to_the_transcript_is_an_extra_status() -> None:
    messages = [message(11, STATUS_TEXT), message(12, TRANSCRIPT)]
    assert verdict_of(messages) == ("once", (12,), (STATUS_TEXT,), 1)


def test_a_transcript_in_two_parts_is_once_and_a_part_twice_is_more() -> None:
    first, second = " ".join(WORDS[:4]), " ".join(WORDS[4:])
    assert verdict_of([message(11, first), message(12, second)])[:2] == ("once", (11, 12))
    resent = [message(11, first), message(12, second), message(13, second)]
    assert verdict_of(resent)[0] == "more"
    assert verdict_of([message(11, first)])[0] == "never", "a transcript cut short"


def test_the_text_and_a_file_of_the_same_transcript_is_more() -> None:
    messages = [message(11, TRANSCRIPT), message(12, None, document=TRANSCRIPT)]
    assert verdict_of(messages)[0] == "more"


def test_a_transcript_file_counts_with_its_pointer_message() -> None:
    messages = [
        message(11, "The transcript is long, so here it is as a file."),
        message(12, None, document=f"{TRANSCRIPT}\n"),
    ]
    verdict, carriers, _, extra = verdict_of(messages)
    assert (verdict, carriers, extra) == ("once", (12,), 0)


def test_no_transcript_is_never_whatever_else_was_said() -> None:
    assert verdict_of([])[0] == "never"
    assert verdict_of([message(11, STATUS_TEXT)])[0] == "never"
    assert verdict_of([message(11, "Sorry, the service failed.")])[0] == "never"
    # The transcript in the chat, but not as an answer to the note: not visible as its answer.
    assert verdict_of([message(11, TRANSCRIPT, reply_to=None)])[0] == "never"


def test_one_failure_notice_is_right_only_where_the_api_failed_every_generation() -> None:
    notice = [message(11, "Sorry, the service failed.")]
    right = classify(NOTE, notice, ["error", "error"], api_errors_are_final=True)
    assert right == ("failed ok", (), ("Sorry, the service failed.",), 0)
    # One generation completed: the transcript existed, so a failure notice is a loss.
    assert classify(NOTE, notice, ["error", "completed"], api_errors_are_final=True)[0] == "never"
    # Not in a scenario where API errors are final.
    assert classify(NOTE, notice, ["error"], api_errors_are_final=False)[0] == "never"
    # Two notices are not one answer.
    twice = [*notice, message(12, "Sorry, the service failed.")]
    assert classify(NOTE, twice, ["error"], api_errors_are_final=True)[0] == "never"


# --- the ledger --------------------------------------------------------------------------


def make_database(path: Path, rows: list[tuple[int, int, int, float, str]]) -> None:
    """rows: (job id, chat id, message id, seconds, state)."""
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE jobs (id INTEGER PRIMARY KEY, chat_id, message_id)")
        connection.execute("CREATE TABLE quota_ledger (job_id INTEGER PRIMARY KEY, seconds, state)")
        for job_id, chat_id, message_id, seconds, state in rows:
            connection.execute("INSERT INTO jobs VALUES (?, ?, ?)", (job_id, chat_id, message_id))
            connection.execute(
                "INSERT INTO quota_ledger VALUES (?, ?, ?)", (job_id, seconds, state)
            )
    connection.close()


def test_the_ledger_counts_reserved_and_committed_rows_per_note(tmp_path: Path) -> None:
    database = tmp_path / "bot.sqlite3"
    other = Note("chaosnote00008", 502, 502, 4, 2, 0.1)
    make_database(
        database,
        [
            (1, 501, 10, 3.0, "committed"),
            (2, 502, 4, 2.0, "refunded"),
            (3, 502, 4, 2.0, "reserved"),
        ],
    )
    counted, problem = ledger_verdicts(
        database, [NOTE, other], {NOTE.marker: 3.0, other.marker: 2.0}
    )
    assert problem is None
    assert counted == {NOTE.marker: 3.0, other.marker: 2.0}


def test_a_charge_for_no_note_or_no_database_is_a_problem(tmp_path: Path) -> None:
    database = tmp_path / "bot.sqlite3"
    make_database(database, [(1, 501, 10, 3.0, "committed"), (2, 999, 1, 5.0, "committed")])
    counted, problem = ledger_verdicts(database, [NOTE], {NOTE.marker: 3.0})
    assert counted == {NOTE.marker: 3.0}
    assert problem == "1 ledger row(s) belong to no note"
    assert ledger_verdicts(tmp_path / "missing.sqlite3", [NOTE], {NOTE.marker: 3.0}) == (
        {},
        "the bot created no database",
    )


# --- notes -------------------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [1, 4, 60])
def test_a_note_is_real_ogg_opus_of_its_declared_length(seconds: int) -> None:
    data = note_bytes(marker_for(3), seconds)
    audio_format = sniff_audio(data)
    assert audio_format is not None and audio_format.name == "ogg/opus"
    assert measure_duration(data) == pytest.approx(seconds)
    assert parse_note(data) == ("chaosnote00003", seconds, 0)
    words = (transcript_for(data) or "").split()
    assert words == [f"chaosnote00003x{i}" for i in range(2 * seconds)]
    assert parse_note(b"OggS not a note") is None


def test_a_long_note_pads_its_words() -> None:
    data = note_bytes(marker_for(9), 20, 250)
    assert measure_duration(data) == pytest.approx(20)
    words = (transcript_for(data) or "").split()
    assert len(words) == 40 and {len(word) for word in words} == {250}
    assert words[7].startswith("chaosnote00009x7z")


# --- the fakes process -------------------------------------------------------------------


@pytest.fixture
async def fakes() -> AsyncIterator[tuple[FakesServer, str]]:
    server = FakesServer(seed=5, token="123:abc", api_key="key")
    urls = await server.start()
    try:
        yield server, urls["control"]
    finally:
        await server.close()


async def test_the_control_api_pushes_notes_and_reports_them(
    fakes: tuple[FakesServer, str],
) -> None:
    server, control = fakes
    async with aiohttp.ClientSession() as http:
        body = {"count": 5, "users": 2, "durations": [2, 2], "stt_delays": [0.5, 0.5]}
        async with http.post(f"{control}/notes", json=body) as response:
            notes = [Note.from_json(item) for item in (await response.json())["notes"]]
        rates = {"rates": [{"method": "sendMessage", "kind": "drop_after", "probability": 1}]}
        async with http.post(f"{control}/telegram/faults", json=rates) as response:
            assert response.status == 200
        storm = {"rates": [{"endpoint": "create", "kind": "hang", "probability": 1, "seconds": 2}]}
        async with http.post(f"{control}/stt/faults", json=storm) as response:
            assert response.status == 200
        async with http.get(f"{control}/progress") as response:
            progress = await response.json()
        async with http.get(f"{control}/results") as response:
            results = await response.json()

    assert [(n.user_id, n.message_id) for n in notes] == [
        (500001, 1),
        (500002, 1),
        (500001, 2),
        (500002, 2),
        (500001, 3),
    ]
    assert len({n.marker for n in notes}) == 5 and all(n.seconds == 2 for n in notes)
    voice = server.telegram.pending_updates[0]["message"]["voice"]
    stored = server.telegram.files[voice["file_id"]]
    assert voice["duration"] == 2 and parse_note(stored.data) == (notes[0].marker, 2, 0)
    assert server.telegram.faults.draw("sendMessage") == Fault("drop_after", seconds=6.5)
    assert server.stt.faults.draw("create") == Fault("hang", seconds=2.0)
    assert progress["notes"] == 5 and progress["settled"] == 0
    assert progress["pending_updates"] == 5
    assert results["notes"] == [n.to_json() for n in notes]
    json.dumps(results)  # plain JSON all the way down


async def test_long_notes_are_pushed_at_the_share_asked(fakes: tuple[FakesServer, str]) -> None:
    _, control = fakes
    body = {
        "count": 4,
        "users": 4,
        "long": {"share": 1.0, "seconds": 20, "word_chars": [150, 250]},
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{control}/notes", json=body) as response,
    ):
        notes = [Note.from_json(item) for item in (await response.json())["notes"]]
    assert {n.seconds for n in notes} == {20}
    assert {n.word_chars for n in notes} <= {150, 250} and all(n.words == 40 for n in notes)


async def test_a_note_is_settled_only_once_its_whole_transcript_shows(
    fakes: tuple[FakesServer, str],
) -> None:
    server, control = fakes
    telegram = server.telegram
    async with aiohttp.ClientSession() as http:
        body = {"count": 1, "users": 1, "durations": [3, 3]}
        async with http.post(f"{control}/notes", json=body) as response:
            [note] = [Note.from_json(item) for item in (await response.json())["notes"]]
        words = transcript_words(note.marker, note.seconds)

        async def reply(text: str) -> None:
            params = {
                "chat_id": str(note.chat_id),
                "text": text,
                "reply_parameters": json.dumps({"message_id": note.message_id}),
            }
            url = f"{telegram.base_url}{telegram.token}/sendMessage"
            async with http.post(url, data=params) as response:
                assert response.status == 200

        async def settled() -> int:
            async with http.get(f"{control}/progress") as response:
                count: int = (await response.json())["settled"]
                return count

        await reply("Sorry, something failed.")  # the API did not fail: not final
        assert await settled() == 0
        await reply(" ".join(words[:3]))
        assert await settled() == 0, "a transcript cut short is not an answer yet"
        await reply(" ".join(words[3:]))
        assert await settled() == 1


async def test_a_request_the_fakes_hold_is_waiting_not_idleness(
    fakes: tuple[FakesServer, str],
) -> None:
    """The harness gives a scenario up once the bot has been idle a while. A request a fake
    holds (a hang, a slow answer) is the bot waiting, not idle; a long poll is idle."""
    server, control = fakes
    storm = {"rates": [{"endpoint": "create", "kind": "hang", "probability": 1, "seconds": 1.5}]}
    async with aiohttp.ClientSession() as http:

        async def idle_for() -> float:
            async with http.get(f"{control}/progress") as response:
                seconds: float = (await response.json())["idle_for"]
                return seconds

        async with http.post(f"{control}/stt/faults", json=storm) as response:
            assert response.status == 200
        telegram = server.telegram
        long_poll = asyncio.create_task(
            http.post(f"{telegram.base_url}{telegram.token}/getUpdates", json={"timeout": 3})
        )
        await asyncio.sleep(0.3)
        assert await idle_for() >= 0.3, "a long poll waiting for updates is no work"
        held = asyncio.create_task(
            http.post(
                f"{server.stt.url}/stt/create",
                headers={"Authorization": f"Bearer {server.stt.api_key}"},
                json={"model": "#g1_whisper-small", "url": "https://example.com/a.ogg"},
            )
        )
        await asyncio.sleep(0.5)
        assert await idle_for() == 0.0  # held by the hang: the bot is waiting
        (await held).release()
        await asyncio.sleep(0.3)
        assert 0.2 <= await idle_for() < 1.0  # silent since the answer, not since the request
        (await long_poll).release()
