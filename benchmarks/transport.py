"""CPU per Bot API call: python-telegram-bot's default transport (httpx) against ours (aiohttp),
and on ours, an answer parsed into objects against the raw answer.

    .venv/bin/python benchmarks/transport.py [--calls N] [--concurrency C ...] [--runs N]

FakeTelegram runs in a process of its own (`python -m tests.fakes.serve`, on CPU 1 where there
is one); this process, on CPU 0, sends `--calls` sendMessage requests through a PTB `Bot` built on
each transport, `--concurrency` at a time, and reads its own CPU time (user + system) around
them. Each figure is the median of `--runs` runs; the cases alternate within a run, so load
from elsewhere on the machine falls on all alike. This is the measurement behind
bot/telegram/request.py's adoption. Each message replies to one, as a transcript does, so
Telegram's answer holds two messages; the last two rows show what parsing them into objects
costs (bot/telegram/gateway.py reads the raw answer).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from telegram import Bot, ReplyParameters  # noqa: E402
from telegram.request import BaseRequest, HTTPXRequest  # noqa: E402

from bot.telegram.request import AiohttpRequest  # noqa: E402

# do_api_request warns that sendMessage has a method of its own: the raw answer is the point.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.sendMessage'")

CHATS = 50  # messages go round these chats, which the fakes create as private chats
FIRST_CHAT = 700_001


async def start_fakes() -> tuple[asyncio.subprocess.Process, dict[str, str]]:
    command = [sys.executable, "-m", "tests.fakes.serve"]
    if len(os.sched_getaffinity(0)) > 1 and {0, 1} <= os.sched_getaffinity(0):
        command = ["taskset", "-c", "1", *command]
    process = await asyncio.create_subprocess_exec(
        *command, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL
    )
    assert process.stdout is not None
    urls: dict[str, str] = json.loads(await asyncio.wait_for(process.stdout.readline(), 30))
    return process, urls


async def create_chats(control: str) -> None:
    async with aiohttp.ClientSession() as session:
        body = {"count": CHATS, "users": CHATS, "first_user": FIRST_CHAT}
        async with session.post(f"{control}/notes", json=body) as response:
            response.raise_for_status()


async def send_message(bot: Bot, chat_id: int, text: str) -> int:
    """python-telegram-bot's method: the answer becomes a Message (and the one it replies to)."""
    message = await bot.send_message(
        chat_id, text, reply_parameters=ReplyParameters(1, allow_sending_without_reply=True)
    )
    return message.message_id


async def raw_send(bot: Bot, chat_id: int, text: str) -> int:
    """What bot/telegram/gateway.py does: the same request, only the id read from the answer."""
    answer = await bot.do_api_request(
        "sendMessage",
        {
            "chat_id": chat_id,
            "text": text,
            "reply_parameters": ReplyParameters(1, allow_sending_without_reply=True),
        },
    )
    return int(answer["message_id"])


Send = Callable[[Bot, int, str], Awaitable[int]]
# What is measured: each transport with PTB's method, and on ours the raw answer too, which is
# what parsing Telegram's answer into objects costs.
CASES: dict[str, tuple[Callable[[], BaseRequest], Send]] = {
    "httpx (PTB's default)": (lambda: HTTPXRequest(read_timeout=60), send_message),
    "aiohttp (bot/telegram/request.py)": (lambda: AiohttpRequest(read_timeout=60), send_message),
    "aiohttp, do_api_request (raw answer)": (lambda: AiohttpRequest(read_timeout=60), raw_send),
}


async def cpu_per_call(
    make: Callable[[], BaseRequest],
    urls: dict[str, str],
    calls: int,
    concurrency: int,
    send_one: Send,
) -> float:
    """Milliseconds of this process's CPU per sendMessage, after a warm-up."""
    bot = Bot(urls["token"], base_url=urls["telegram"] + "/bot", request=make())
    async with bot:
        slots = asyncio.Semaphore(concurrency)

        async def send(number: int) -> None:
            async with slots:
                await send_one(bot, FIRST_CHAT + number % CHATS, f"message {number}")

        await asyncio.gather(*(send(n) for n in range(min(200, calls))))  # connections, caches
        started = time.process_time()
        await asyncio.gather(*(send(n) for n in range(calls)))
        return (time.process_time() - started) / calls * 1000


async def main_async(args: argparse.Namespace) -> None:
    process, urls = await start_fakes()
    try:
        await create_chats(urls["control"])
        for concurrency in args.concurrency:
            samples: dict[str, list[float]] = {name: [] for name in CASES}
            for _ in range(args.runs):
                for name, (make, send_one) in CASES.items():
                    samples[name].append(
                        await cpu_per_call(make, urls, args.calls, concurrency, send_one)
                    )
            for name, values in samples.items():
                print(
                    f"{concurrency:3d} at a time  {name:36s} "
                    f"{statistics.median(values):6.2f} ms CPU per call"
                )
    finally:
        process.terminate()
        await process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, action="append")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    args.concurrency = args.concurrency or [1, 20]
    if {0, 1} <= os.sched_getaffinity(0):
        os.sched_setaffinity(0, {0})
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
