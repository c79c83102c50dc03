"""The operator's Prometheus metrics, every name prefixed `stt_bot_`.

One `BotMetrics` per process, on a `CollectorRegistry` the composition root creates (never
prometheus-client's global default registry). Events are counted as they happen, through
callbacks the composition root hands to the pipeline, the gateway, the STT backend and the
intake; levels (jobs in flight, queue depth, backlog, today's spend) are read when Prometheus
scrapes, through `LiveState`.

Labels take only bounded values (states, failure reasons, error classes, model ids): never a
user, a chat, a token or any text from outside.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

PREFIX: Final = "stt_bot_"
# The classic text format, which every Prometheus version reads; generate_latest writes it.
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"

# Seconds from accepting a job to its end: most take seconds, long recordings minutes.
JOB_DURATION_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600)
# Seconds the bot adds after the API finished: the poll's lag, the download of the result,
# the Telegram sends.
ADDED_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
POLL_BUCKETS = (1, 2, 3, 5, 8, 13, 21, 34, 55, 89)


@dataclass(frozen=True, slots=True)
class LiveState:
    """Levels read at each scrape."""

    jobs_in_flight: int
    transfer_queue: int  # jobs waiting for a transfer slot
    inbox_backlog: int  # updates saved and not yet handled
    spend_today_seconds: float  # audio sent to the API since 00:00 UTC (not refunded)
    spend_month_seconds: float


class BotMetrics:
    def __init__(self, registry: CollectorRegistry, *, daily_budget_seconds: int = 0) -> None:
        self.registry = registry

        def counter(name: str, doc: str, labels: tuple[str, ...] = ()) -> Counter:
            return Counter(PREFIX + name, doc, labels, registry=registry)

        def gauge(name: str, doc: str) -> Gauge:
            return Gauge(PREFIX + name, doc, registry=registry)

        self._jobs = counter(
            "jobs_finished",
            "Jobs that ended, by final state and failure reason",
            ("state", "reason"),
        )
        self._job_duration = Histogram(
            PREFIX + "job_duration_seconds",
            "Seconds from accepting a job to its end",
            registry=registry,
            buckets=JOB_DURATION_BUCKETS,
        )
        self._added_latency = Histogram(
            PREFIX + "added_latency_seconds",
            "Seconds from the API's estimated completion of a job to its delivered reply",
            registry=registry,
            buckets=ADDED_LATENCY_BUCKETS,
        )
        self._polls = Histogram(
            PREFIX + "polls_per_job",
            "Poll requests one wait for a job's result took",
            registry=registry,
            buckets=POLL_BUCKETS,
        )
        self._stt_errors = counter("stt_errors", "Failed STT API requests, by kind", ("kind",))
        self._telegram_errors = counter(
            "telegram_errors", "Failed Bot API calls, by kind", ("kind",)
        )
        self._refusals = counter(
            "quota_refusals",
            "Jobs refused by a quota, flood control or the daily budget, by kind",
            ("kind",),
        )
        self._cache_hits = counter("cache_hits", "Jobs answered from the transcript cache")
        self._audio = counter(
            "audio_seconds", "Seconds of audio transcribed by the backend, by model", ("model",)
        )
        self._ambiguous = counter(
            "ambiguous_sends", "Sends that may or may not have arrived, never repeated"
        )
        self._duplicates = counter(
            "possible_duplicate_submissions",
            "Create requests repeated after they may have reached the API (may bill twice)",
        )
        self._inbox_events = counter(
            "inbox_events", "Updates poisoned or interrupted in the inbox", ("event",)
        )
        self._webhook = counter(
            "webhook_requests", "Webhook requests, by how they were answered", ("outcome",)
        )
        self._credits = counter("api_credits", "Credits the STT API reported spending")
        self._usd = counter("api_usd", "US dollars the STT API reported spending")

        self._in_flight = gauge("jobs_in_flight", "Jobs running now")
        self._transfer_queue = gauge("transfer_queue_depth", "Jobs waiting for a transfer slot")
        self._backlog = gauge("inbox_backlog", "Updates saved and not yet handled")
        self._spend_today = gauge(
            "spend_today_seconds", "Seconds of audio sent to the API since 00:00 UTC"
        )
        self._spend_month = gauge(
            "spend_month_seconds", "Seconds of audio sent to the API this UTC month"
        )
        budget = gauge("budget_daily_seconds", "BUDGET_DAILY_SECONDS (0: no ceiling)")
        budget.set(daily_budget_seconds)

    # --- the pipeline (bot/pipeline/observer.py) --------------------------------------------

    def job_finished(self, state: str, reason: str | None, seconds: float) -> None:
        self._jobs.labels(state=state, reason=reason or "none").inc()
        self._job_duration.observe(seconds)

    def job_polled(self, polls: int) -> None:
        self._polls.observe(polls)

    def added_latency(self, seconds: float) -> None:
        self._added_latency.observe(seconds)

    def audio_transcribed(self, model: str, seconds: float) -> None:
        self._audio.labels(model=model).inc(seconds)

    def admission_refused(self, kind: str) -> None:
        self._refusals.labels(kind=kind).inc()

    def cache_hit(self) -> None:
        self._cache_hits.inc()

    def api_cost(self, credits: float | None, usd: float | None) -> None:
        if credits is not None:
            self._credits.inc(credits)
        if usd is not None:
            self._usd.inc(usd)

    # --- the gateway, the backend, the intake, the webhook -----------------------------------

    def ambiguous_send(self, what: str) -> None:
        self._ambiguous.inc()

    def telegram_error(self, kind: str) -> None:
        self._telegram_errors.labels(kind=kind).inc()

    def stt_error(self, kind: str) -> None:
        self._stt_errors.labels(kind=kind).inc()

    def possible_duplicate(self) -> None:
        self._duplicates.inc()

    def inbox_event(self, event: str) -> None:
        self._inbox_events.labels(event=event).inc()

    def webhook_request(self, outcome: str) -> None:
        self._webhook.labels(outcome=outcome).inc()

    # --- scrapes ----------------------------------------------------------------------------

    def update(self, state: LiveState) -> None:
        self._in_flight.set(state.jobs_in_flight)
        self._transfer_queue.set(state.transfer_queue)
        self._backlog.set(state.inbox_backlog)
        self._spend_today.set(state.spend_today_seconds)
        self._spend_month.set(state.spend_month_seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
