"""What the transcription pipeline asks before and after a job: access, cache, quota.

TranscriptionService calls these at fixed points: `screen` first, `cached_text` before a job
is created, `reserve` once it exists (nothing goes to the API without a reservation), the
`ensure_reserved` / `check_measured` pair around the download, `record_cost` once the API has
said what a job cost, and `settle` at the end.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

from bot.pipeline.media import Origin
from bot.pipeline.observer import NoObserver, PipelineObserver
from bot.pipeline.spend import SpendService
from bot.policy.access import AccessService, Verdict
from bot.policy.cache import TranscriptCache
from bot.policy.payments import PaymentService
from bot.policy.quota import OverBudget, QuotaService, Refusal, TooManyInFlight, TooManyPerMinute
from bot.policy.quota_math import Shortfall
from bot.presentation import replies
from bot.presentation.i18n import Translator
from bot.presentation.keyboards import Buttons
from bot.presentation.purchases import pack_buttons
from bot.stt.types import Transcript
from storage.clock import Clock, utc_now
from storage.jobs import Job, JobState, NewJob

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Gate:
    proceed: bool
    reply: str | None = None  # what to tell the sender, if anything


@dataclass(frozen=True, slots=True)
class Refused:
    reply: str  # why, for the sender
    buttons: Buttons | None = None  # what they can do about it: buy more time


class AdmissionPolicy(Protocol):
    """`tr`: the requester's translator, for the replies that explain a refusal."""

    async def screen(self, origin: Origin, user_id: int | None, tr: Translator) -> Gate: ...

    async def cached_text(self, job: NewJob) -> str | None: ...

    async def record_cache_hit(self, job: Job) -> None: ...

    async def reserve(self, job: Job, tr: Translator) -> Refused | None:
        """None when admitted, else the reply that explains the refusal."""
        ...

    def offer(self, job: Job, tr: Translator) -> Buttons | None:
        """The packs a payer over the quota can buy, if any are on sale."""
        ...

    async def ensure_reserved(self, job: Job) -> bool: ...

    async def check_measured(self, job: Job, *, seconds: float | None, size: int) -> bool:
        """Correct the reservation by what the downloaded file measures (`seconds`: None when
        its format is not one read exactly); False when that no longer fits."""
        ...

    async def record_cost(self, job: Job, credits: float | None, usd: float | None) -> None: ...

    async def settle(self, job: Job, transcript: Transcript | None) -> None:
        """Commit a transcribed job's reservation and cache `transcript`, the job's own (read
        once by the caller); refund a failed one."""
        ...


def refusal_kind(refusal: Refusal) -> str:
    """The metrics' label for a refusal."""
    match refusal:
        case TooManyInFlight():
            return "in_flight"
        case TooManyPerMinute():
            return "per_minute"
        case OverBudget():
            return "budget"
        case _:
            return "daily" if refusal.period == "day" else "monthly"


class NoAdmission:
    """Admits everything and meters nothing: for a pipeline built without quotas."""

    async def screen(self, origin: Origin, user_id: int | None, tr: Translator) -> Gate:
        return Gate(proceed=True)

    async def cached_text(self, job: NewJob) -> str | None:
        return None

    async def record_cache_hit(self, job: Job) -> None:
        return None

    async def reserve(self, job: Job, tr: Translator) -> Refused | None:
        return None

    def offer(self, job: Job, tr: Translator) -> Buttons | None:
        return None

    async def ensure_reserved(self, job: Job) -> bool:
        return True

    async def check_measured(self, job: Job, *, seconds: float | None, size: int) -> bool:
        return True

    async def record_cost(self, job: Job, credits: float | None, usd: float | None) -> None:
        return None

    async def settle(self, job: Job, transcript: Transcript | None) -> None:
        return None


class MeteredAdmission:
    def __init__(
        self,
        *,
        access: AccessService,
        quota: QuotaService,
        cache: TranscriptCache,
        spend: SpendService | None = None,
        observer: PipelineObserver | None = None,
        payments: PaymentService | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._spend = spend
        self._observer: PipelineObserver = observer or NoObserver()
        self._access = access
        self._quota = quota
        self._cache = cache
        self._payments = payments
        self._clock = clock

    async def screen(self, origin: Origin, user_id: int | None, tr: Translator) -> Gate:
        screening = await self._access.screen(user_id, origin.chat_id, origin.chat_type)
        match screening.verdict:
            case Verdict.ALLOW:
                return Gate(proceed=True)
            case Verdict.REFUSE:
                reply = replies.access_refusal(tr, screening, origin.chat_type)
                return Gate(proceed=False, reply=reply)
            case _:
                return Gate(proceed=False)

    async def cached_text(self, job: NewJob) -> str | None:
        return await self._cache.get(job.file_unique_id, job.model, job.language)

    async def record_cache_hit(self, job: Job) -> None:
        self._observer.cache_hit()
        await self._quota.record_cache_hit(job)

    async def reserve(self, job: Job, tr: Translator) -> Refused | None:
        refusal = await self._quota.reserve(job)
        if refusal is None:
            return None
        await self._refused(refusal)
        # Flood limits and the bot's ceiling pass by themselves; only a quota can be topped up.
        offer = self.offer(job, tr) if isinstance(refusal, Shortfall) else None
        return Refused(replies.quota_refusal(tr, refusal, self._clock()), offer)

    def offer(self, job: Job, tr: Translator) -> Buttons | None:
        # Bought time is a person's: a recording a chat pays for (sent on its behalf) has none.
        if self._payments is None or not self._payments.enabled or job.user_id is None:
            return None
        return pack_buttons(tr, self._payments.packs)

    async def _refused(self, refusal: Refusal) -> None:
        self._observer.admission_refused(refusal_kind(refusal))
        if isinstance(refusal, OverBudget) and self._spend is not None:
            await self._spend.budget_reached(refusal)

    async def ensure_reserved(self, job: Job) -> bool:
        """A job resumed after a crash, or started outside `accept`, reserves here."""
        if await self._quota.has_reservation(job.id):
            return True
        return await self._admitted(await self._quota.reserve(job))

    async def check_measured(self, job: Job, *, seconds: float | None, size: int) -> bool:
        if seconds is None:
            if job.file_size is None and job.duration is None:
                # Nobody said how big or long it is: now we know its size at least.
                return await self._admitted(await self._quota.correct_estimate(job, size))
            return True
        return await self._admitted(await self._quota.correct_duration(job, seconds))

    async def _admitted(self, refusal: Refusal | None) -> bool:
        if refusal is not None:
            await self._refused(refusal)
        return refusal is None

    async def record_cost(self, job: Job, credits: float | None, usd: float | None) -> None:
        if self._spend is not None:
            await self._spend.record_cost(job.id, credits, usd)

    async def settle(self, job: Job, transcript: Transcript | None) -> None:
        if job.state == JobState.TRANSCRIBED and transcript is not None:
            await self._quota.commit(job, transcript.duration)
            await self._cache.put(job.file_unique_id, job.model, job.language, transcript.text)
        elif job.state == JobState.FAILING:
            await self._quota.refund(job)
