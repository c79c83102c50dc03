"""Builds the policy services (access, quota, cache, admin, groups, account, payments) over one
database, and the summaries of transcripts by a language model.

A part of the composition root, kept apart so bot/app.py stays short: only bot/app.py calls it.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from bot.config.settings import Settings
from bot.llm.client import ChatClient
from bot.llm.tasks import TranscriptTasks
from bot.pipeline.admission import MeteredAdmission
from bot.pipeline.delivery import DeliveryService
from bot.pipeline.observer import PipelineObserver
from bot.pipeline.spend import SpendService
from bot.pipeline.summaries import SpeechTranslator, SummaryService
from bot.pipeline.supervisor import TaskSupervisor
from bot.policy.access import AccessService
from bot.policy.account import AccountService
from bot.policy.admin import AdminService
from bot.policy.cache import TranscriptCache
from bot.policy.groups import GroupService
from bot.policy.interface_language import InterfaceLanguages
from bot.policy.payments import Pack, PaymentService
from bot.policy.preferences import PreferencesService
from bot.policy.quota import QuotaService
from bot.policy.summaries import GroupSummaries, SummaryQuota
from bot.retry import RetryPolicy
from bot.telegram.gateway import ChatGateway
from storage.access import AccessRuleRepository
from storage.cache import TranscriptCacheRepository
from storage.clock import Clock
from storage.db import Database
from storage.forget import ForgetRepository
from storage.groups import GroupSettingsRepository
from storage.jobs import JobRepository
from storage.payments import PaymentRepository
from storage.quota import QuotaLedger
from storage.spend import SpendRepository
from storage.stats import StatsRepository
from storage.summaries import GroupSummarySettings, SummaryRequests, TranscriptTexts
from storage.users import UserRepository


@dataclass(frozen=True, slots=True)
class PolicyServices:
    admission: MeteredAdmission
    access: AccessService
    quota: QuotaService
    admin: AdminService
    groups: GroupService
    account: AccountService
    payments: PaymentService


def build_policy_services(
    database: Database,
    settings: Settings,
    *,
    gateway: ChatGateway,
    preferences: PreferencesService,
    users: UserRepository,
    clock: Clock,
    observer: PipelineObserver | None = None,
) -> PolicyServices:
    rules = AccessRuleRepository(database, clock)
    access = AccessService(
        rules,
        mode=settings.access_mode,
        allowed_user_ids=settings.allowed_user_ids,
        allowed_chat_ids=settings.allowed_chat_ids,
        admin_ids=settings.admin_user_ids,
        clock=clock,
    )
    quota = QuotaService(
        QuotaLedger(database, clock),
        rules,
        daily_seconds=settings.quota_daily_seconds,
        monthly_seconds=settings.quota_monthly_seconds,
        admin_ids=settings.admin_user_ids,
        max_in_flight=settings.max_jobs_in_flight,
        max_per_minute=settings.max_jobs_per_minute,
        max_file_bytes=settings.max_file_bytes,
        daily_budget=settings.budget_daily_seconds,
        clock=clock,
    )
    spend = SpendRepository(database, clock)
    payments = PaymentService(
        PaymentRepository(database, clock),
        packs=[Pack(seconds, stars) for seconds, stars in settings.stars_packs],
        access=access,
        refunder=gateway,
    )
    cache = TranscriptCache(
        TranscriptCacheRepository(database), ttl_hours=settings.cache_ttl_hours, clock=clock
    )
    return PolicyServices(
        admission=MeteredAdmission(
            access=access,
            quota=quota,
            cache=cache,
            spend=SpendService(spend, gateway, admin_ids=settings.admin_user_ids, clock=clock),
            observer=observer,
            payments=payments,
            clock=clock,
        ),
        access=access,
        quota=quota,
        admin=AdminService(
            stats=StatsRepository(database),
            users=users,
            access=access,
            quota=quota,
            spend=spend,
            payments=payments,
            clock=clock,
        ),
        groups=GroupService(GroupSettingsRepository(database, clock), gateway),
        account=AccountService(
            quota=quota,
            preferences=preferences,
            forgetting=ForgetRepository(database),
            payments=payments,
        ),
        payments=payments,
    )


@dataclass(frozen=True, slots=True)
class SummaryServices:
    summaries: SummaryService
    group_summaries: GroupSummaries


def build_summaries(
    database: Database,
    settings: Settings,
    *,
    session: aiohttp.ClientSession,
    retry: RetryPolicy,
    jobs: JobRepository,
    delivery: DeliveryService,
    supervisor: TaskSupervisor,
    groups: GroupService,
    languages: InterfaceLanguages,
    speech: SpeechTranslator | None,
    clock: Clock,
) -> SummaryServices:
    """Summaries and translations: by the model LLM_MODEL names (none when it is unset), or
    into English by `speech` (Whisper's own translation, on the local engine)."""
    tasks: TranscriptTasks | None = None
    if settings.llm_model is not None:
        client = ChatClient(
            session,
            settings.llm_url,
            settings.llm_api_key,
            settings.llm_model,
            retry=retry,
            timeout=settings.llm_timeout_seconds,
        )
        tasks = TranscriptTasks(client, context_tokens=settings.llm_context_tokens)
    group_summaries = GroupSummaries(
        GroupSummarySettings(database, clock),
        groups,
        default_seconds=settings.group_summary_seconds,
    )
    quota = SummaryQuota(
        SummaryRequests(database, QuotaLedger(database, clock), clock),
        daily=settings.quota_daily_summaries,
        admin_ids=settings.admin_user_ids,
        clock=clock,
    )
    summaries = SummaryService(
        tasks=tasks,
        speech=speech,
        texts_store=TranscriptTexts(database, clock),
        quota=quota,
        groups=group_summaries,
        jobs=jobs,
        delivery=delivery,
        supervisor=supervisor,
        interface_language=languages.for_chat,
        min_words=settings.summary_min_words,
        clock=clock,
    )
    return SummaryServices(summaries, group_summaries)
