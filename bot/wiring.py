"""Builds the policy services (access, quota, cache, admin, groups, account, payments) over one
database.

A part of the composition root, kept apart so bot/app.py stays short: only bot/app.py calls it.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.config.settings import Settings
from bot.pipeline.admission import MeteredAdmission
from bot.pipeline.observer import PipelineObserver
from bot.pipeline.spend import SpendService
from bot.policy.access import AccessService
from bot.policy.account import AccountService
from bot.policy.admin import AdminService
from bot.policy.cache import TranscriptCache
from bot.policy.groups import GroupService
from bot.policy.payments import Pack, PaymentService
from bot.policy.preferences import PreferencesService
from bot.policy.quota import QuotaService
from bot.telegram.gateway import ChatGateway
from storage.access import AccessRuleRepository
from storage.cache import TranscriptCacheRepository
from storage.clock import Clock
from storage.db import Database
from storage.forget import ForgetRepository
from storage.groups import GroupSettingsRepository
from storage.payments import PaymentRepository
from storage.quota import QuotaLedger
from storage.spend import SpendRepository
from storage.stats import StatsRepository
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
