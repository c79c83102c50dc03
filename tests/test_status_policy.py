"""When the "Transcribing…" status message is skipped: a quick transcript, or a queue."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.pipeline.status_policy import StatusPolicy
from bot.stt.schedule import PollSchedule
from storage.jobs import NewJob

CHAT = 4242


def job(duration: float | None = 30.0, chat_id: int = CHAT) -> NewJob:
    return NewJob(
        dedupe_key=f"msg:{chat_id}:1",
        chat_id=chat_id,
        chat_type="private",
        message_id=1,
        user_id=chat_id,
        file_id="file",
        file_unique_id="unique",
        media_kind="voice",
        mime_type="audio/ogg",
        file_name=None,
        duration=duration,
        file_size=1000,
        model="#g1_whisper-large",
        language=None,
        options={},
    )


@dataclass
class Queue:
    chats_waiting: int = 0
    per_chat: dict[int, int] = field(default_factory=dict)

    def backlog(self) -> int:
        return self.chats_waiting

    def waiting_in(self, chat_id: int) -> int:
        return self.per_chat.get(chat_id, 0)


def test_nothing_to_ask_means_always_post() -> None:
    assert StatusPolicy().reason_to_skip(job(duration=1)) is None


def test_a_transcript_expected_within_the_quick_time_needs_no_status() -> None:
    # The schedule's prior: 0.8 s + 0.25 s per second of audio.
    policy = StatusPolicy(estimate=PollSchedule(), quick_seconds=2.0)
    assert policy.reason_to_skip(job(duration=4)) == "transcript expected in 1.8s"
    assert policy.reason_to_skip(job(duration=10)) is None
    assert policy.reason_to_skip(job(duration=None)) is None  # unknown: assumed 30 s


def test_quick_seconds_zero_never_skips_for_speed() -> None:
    policy = StatusPolicy(estimate=PollSchedule(), quick_seconds=0.0)
    assert policy.reason_to_skip(job(duration=0.1)) is None


def test_a_long_global_queue_drops_the_status() -> None:
    queue = Queue()
    policy = StatusPolicy(congestion=queue, max_backlog=30)
    queue.chats_waiting = 30
    assert policy.reason_to_skip(job()) is None
    queue.chats_waiting = 31
    assert policy.reason_to_skip(job()) == "31 chats wait for Telegram's global limit"


def test_a_status_on_its_way_in_the_chat_speaks_for_the_next_note() -> None:
    policy = StatusPolicy()
    assert policy.reason_to_skip(job(), posting=1) == (
        "a status message is already on its way in this chat"
    )
    assert policy.reason_to_skip(job(), posting=0) is None


def test_messages_waiting_in_the_chat_drop_the_status() -> None:
    queue = Queue(per_chat={CHAT: 1})
    policy = StatusPolicy(congestion=queue)
    assert policy.reason_to_skip(job()) == "messages already wait in this chat"
    assert policy.reason_to_skip(job(chat_id=CHAT + 1)) is None
