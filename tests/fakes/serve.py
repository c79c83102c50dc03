"""FakeTelegram and FakeStt in a process of their own, driven over a small control API.

    python -m tests.fakes.serve [--seed N] [--token T] [--api-key K]

prints one JSON line, ``{"telegram": ..., "stt": ..., "control": ..., "token": ...,
"api_key": ...}`` (the fakes' URLs: point TELEGRAM_API_URL at "telegram" and AIMLAPI_BASE_URL at
"stt", which ends in /v1), then serves on 127.0.0.1 until SIGTERM or SIGINT. The bot under test
runs as another process against it; the chaos harness (benchmarks/chaos.py) talks to the control
API. Every control request and answer is JSON:

- ``POST /notes`` ``{"count", "users", "first_user", "durations": [lo, hi],
  "stt_delays": [lo, hi], "long": {"share", "seconds", "word_chars": [...]}}``: push `count`
  voice notes from `users` users in their private chats, round robin; each note's file is
  registered for getFile and download. A `share` of the notes are long: `seconds` long, their
  words padded to one of `word_chars` (so their transcripts fill several messages or a file).
  ``"bytes": N`` pads every note's file to about N bytes (the memory benchmark's 20 MB notes).
  Answers ``{"notes": [Note...]}`` (tests/fakes/notes.py).
- ``POST /raw_update`` ``{"update": {...}}``: queue any update as is.
- ``POST /text`` ``{"chat_id", "text"}``: a text message (a command gets its entity) from the
  user of that private chat, who is created if new.
- ``POST /telegram/faults`` ``{"clear": bool, "rates": [{"method", "kind", "probability",
  "status"?, "retry_after"?, "seconds"?}], "next": [{"method", "kind", "count"?, ...}]}``.
- ``POST /telegram/outage`` ``{"seconds", "refuse"?}``.
- ``POST /stt/faults`` ``{"clear": bool, "rates": [{"endpoint", "kind", "probability", ...}]}``.
- ``GET /progress``: cheap counters to wait on (see `progress`).
- ``GET /calls?chat_id=N``: the Bot API calls to one chat, as in /results.
- ``GET /results``: the notes, every bot message in the notes' chats with its edits, every
  Bot API call (without file contents) and the fake API's jobs by note.

Notes, faults and the fake API's timing come from generators seeded by --seed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from tests.fakes.activity import idle_for
from tests.fakes.notes import (
    Note,
    marker_for,
    note_bytes,
    parse_note,
    transcript_for,
    words_shown,
)
from tests.fakes.stt import FakeStt, Job, Upload
from tests.fakes.telegram import Call, ChatMessage, FakeTelegram

JSON = dict[str, Any]
DEFAULT_TOKEN = "123456789:AAHchaosFakeTokenForTheHarness0000000"
DEFAULT_API_KEY = "aiml-chaos-key-0123456789abcdef"
# The text of the status message the bot posts at once. A reply that still shows it is not an
# answer; any other reply without the transcript is a failure notice.
STATUS_TEXT = "Transcribing…"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FakesServer:
    """Both fakes, the notes pushed so far, and the control API's handlers."""

    def __init__(self, seed: int, token: str, api_key: str) -> None:
        self.telegram = FakeTelegram(token, seed=seed)
        self.stt = FakeStt(api_key=api_key, seed=seed + 1)
        self.stt.delay = self._stt_delay
        self.stt.transcript = self._stt_transcript
        self.notes: list[Note] = []
        self._by_marker: dict[str, Note] = {}
        self._random = random.Random(seed + 2)
        self._get_updates = 0
        self._first_batch_at: float | None = None
        self._generations: dict[str, list[Job]] = {}
        self._indexed = 0
        self._runner: web.AppRunner | None = None
        self.telegram.on_call("*", self._saw_call)

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> JSON:
        await self.telegram.start()
        await self.stt.start()
        app = web.Application()
        routes: list[tuple[str, str, Handler]] = [
            ("POST", "/notes", self.push_notes),
            ("POST", "/raw_update", self.push_raw_update),
            ("POST", "/text", self.push_text),
            ("POST", "/telegram/faults", self.telegram_faults),
            ("POST", "/telegram/outage", self.telegram_outage),
            ("POST", "/stt/faults", self.stt_faults),
            ("GET", "/progress", self.progress),
            ("GET", "/results", self.results),
            ("GET", "/calls", self.calls_to_chat),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, path, handler)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        return {
            "telegram": self.telegram.url,
            "stt": self.stt.url,
            "control": f"http://{host}:{port}",
            "token": self.telegram.token,
            "api_key": self.stt.api_key,
        }

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        await self.stt.close()
        await self.telegram.stop()

    # --- the fake API's behaviour, by note ---------------------------------------------

    def _stt_delay(self, upload: Upload) -> float:
        parsed = parse_note(upload.data or b"")
        note = self._by_marker.get(parsed[0]) if parsed else None
        return note.stt_delay if note is not None else 0.0

    def _stt_transcript(self, upload: Upload) -> str:
        return transcript_for(upload.data or b"") or "not a chaos note"

    def _saw_call(self, call: Call) -> None:
        if call.method.lower() == "getupdates":
            self._get_updates += 1

    # --- control handlers ---------------------------------------------------------------

    async def push_notes(self, request: web.Request) -> web.Response:
        body = await _json(request)
        count, users = int(body["count"]), int(body["users"])
        first_user = int(body.get("first_user", 500_001))
        low, high = (int(x) for x in body.get("durations", [1, 5]))
        delay_low, delay_high = (float(x) for x in body.get("stt_delays", [0.2, 1.0]))
        long: JSON = body.get("long") or {"share": 0.0}
        size = int(body.get("bytes", 0))  # pad each note's file to this size (0: as small)
        pushed = []
        for _ in range(count):
            index = len(self.notes)
            user_id = first_user + index % users
            marker = marker_for(index)
            seconds, word_chars = self._random.randint(low, high), 0
            if self._random.random() < float(long["share"]):
                seconds = int(long["seconds"])
                word_chars = int(self._random.choice(long["word_chars"]))
            stt_delay = round(self._random.uniform(delay_low, delay_high), 3)
            message = self.telegram.push_voice(
                user_id, note_bytes(marker, seconds, word_chars, size), duration=seconds
            )
            note = Note(
                marker, user_id, user_id, message["message_id"], seconds, stt_delay, word_chars
            )
            self.notes.append(note)
            self._by_marker[marker] = note
            pushed.append(note.to_json())
        return web.json_response({"notes": pushed})

    async def push_text(self, request: web.Request) -> web.Response:
        body = await _json(request)
        message = self.telegram.push_text(int(body["chat_id"]), str(body["text"]))
        return web.json_response({"message": message})

    async def push_raw_update(self, request: web.Request) -> web.Response:
        body = await _json(request)
        return web.json_response({"update": self.telegram.push_raw_update(body["update"])})

    async def telegram_faults(self, request: web.Request) -> web.Response:
        body = await _json(request)
        if body.get("clear"):
            self.telegram.clear_faults()
        for rate in body.get("rates", []):
            self.telegram.set_fault_rate(
                rate["method"], rate["kind"], float(rate["probability"]), **_fault_options(rate)
            )
        for fault in body.get("next", []):
            self.telegram.fault_next(
                fault["method"],
                fault["kind"],
                count=int(fault.get("count", 1)),
                **_fault_options(fault),
            )
        return web.json_response({"ok": True})

    async def telegram_outage(self, request: web.Request) -> web.Response:
        body = await _json(request)
        await self.telegram.start_outage(float(body["seconds"]), refuse=bool(body.get("refuse")))
        return web.json_response({"ok": True})

    async def stt_faults(self, request: web.Request) -> web.Response:
        body = await _json(request)
        if body.get("clear"):
            self.stt.clear_faults()
        for rate in body.get("rates", []):
            self.stt.set_fault_rate(
                rate["endpoint"], rate["kind"], float(rate["probability"]), **_fault_options(rate)
            )
        return web.json_response({"ok": True})

    async def progress(self, request: web.Request) -> web.Response:
        return web.json_response(self.progress_counters())

    def progress_counters(self) -> JSON:
        """How far things went. A note is `settled` when bot messages show every word of its
        transcript, or a reply to it without any shows something other than the status text
        (a failure notice) and the API failed every generation of the note;
        `idle_for` is how long neither fake has had a request of the bot's but long polls come
        or go: 0 while one holds a request (a hang, a slow answer), since then the bot waits."""
        now = time.monotonic()
        if self._first_batch_at is None:
            batch = next(
                (c for c in self.telegram.calls_to("getUpdates") if c.ok and c.result), None
            )
            self._first_batch_at = batch.time if batch is not None else None
        self._index_generations()
        settled = sum(1 for note in self.notes if self._settled(note))
        return {
            "notes": len(self.notes),
            "settled": settled,
            "idle_for": idle_for(self.telegram.activity, self.stt.activity),
            "get_updates": self._get_updates,
            "first_batch_age": None if self._first_batch_at is None else now - self._first_batch_at,
            "stt_jobs": len(self.stt.jobs),
            "pending_updates": len(self.telegram.pending_updates),
            "in_outage": self.telegram.in_outage,
        }

    def _settled(self, note: Note) -> bool:
        shown: set[int] = set()
        notice = False
        for message in self.telegram.messages(note.chat_id):
            words = words_shown(_shown_text(message), note.marker)
            shown.update(words)
            if not words and message.reply_to == note.message_id:
                notice = notice or message.text not in (None, STATUS_TEXT)
        if len(shown) == note.words:
            return True
        # A reply without the transcript may point to a file still to come; it ends the note
        # only where the API failed every generation, so the failure is final.
        generations = self._generations.get(note.marker, [])
        return notice and bool(generations) and all(job.error for job in generations)

    def _index_generations(self) -> None:
        """Keep `_generations` (the fake API's jobs by note marker) up to date, cheaply."""
        jobs = list(self.stt.jobs.values())
        for job in jobs[self._indexed :]:
            parsed = parse_note(job.upload.data or b"")
            if parsed is not None:
                self._generations.setdefault(parsed[0], []).append(job)
        self._indexed = len(jobs)

    async def results(self, request: web.Request) -> web.Response:
        return web.json_response(self.results_json())

    async def calls_to_chat(self, request: web.Request) -> web.Response:
        """The Bot API calls to one chat, cheaply (benchmarks/load.py times answers by it)."""
        chat_id = int(request.query["chat_id"])
        calls = [c for c in self.telegram.calls if c.params.get("chat_id") == chat_id]
        return web.json_response({"calls": [_call_json(call) for call in calls]})

    def results_json(self) -> JSON:
        chats = sorted({note.chat_id for note in self.notes})
        jobs: list[JSON] = []
        now = self.stt.clock()
        for job in self.stt.jobs.values():
            parsed = parse_note(job.upload.data or b"")
            # The API's work is done (and billed) once the processing time has passed, whether
            # or not anybody fetched the result.
            if job.completed_at is None and now - job.created_at < job.delay:
                status = "pending"
            else:
                status = "error" if job.error is not None else "completed"
            jobs.append(
                {
                    "generation_id": job.generation_id,
                    "marker": parsed[0] if parsed else None,
                    "status": status,
                    "polls": job.polls,
                }
            )
        return {
            "notes": [note.to_json() for note in self.notes],
            "messages": {
                str(chat_id): [_message_json(m) for m in self.telegram.messages(chat_id)]
                for chat_id in chats
            },
            "calls": [_call_json(call) for call in self.telegram.calls],
            "stt_jobs": jobs,
            "stt_requests": [
                {"path": r.path, "status": r.status, "generation_id": r.generation_id}
                for r in self.stt.requests
            ],
            "pending_updates": len(self.telegram.pending_updates),
            "fake_errors": [repr(error) for error in self.telegram.errors],
        }


def _shown_text(message: ChatMessage) -> str | None:
    """What the user sees of a bot message: its text, or a sent file's text."""
    if message.document is not None:
        return message.document.data.decode("utf-8", errors="replace")
    return message.text


def _message_json(message: ChatMessage) -> JSON:
    return {
        "message_id": message.message_id,
        "reply_to": message.reply_to,
        "text": message.text,
        "text_history": message.text_history,
        "caption": message.caption,
        "document_text": (
            message.document.data.decode("utf-8", errors="replace")
            if message.document is not None
            else None
        ),
    }


def _call_json(call: Call) -> JSON:
    params = call.params
    text = params.get("text")
    return {
        "index": call.index,
        "method": call.method,
        "time": call.time,
        "status": call.status,
        "error": call.error,
        "chat_id": params.get("chat_id"),
        "message_id": params.get("message_id"),
        "text": text[:80] if isinstance(text, str) else None,
    }


def _fault_options(spec: JSON) -> dict[str, Any]:
    names = {"status": int, "retry_after": float, "seconds": float}
    return {name: kind(spec[name]) for name, kind in names.items() if name in spec}


async def _json(request: web.Request) -> JSON:
    body = await request.json()
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="a JSON object, please")
    return body


async def serve(seed: int, token: str, api_key: str) -> None:
    server = FakesServer(seed, token, api_key)
    print(json.dumps(await server.start()), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await server.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.seed, args.token, args.api_key))
    return 0


if __name__ == "__main__":
    sys.exit(main())
