"""The services handlers may call, built once by the composition root (bot/app.py)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config.settings import Settings
from bot.pipeline.summaries import SummaryService
from bot.pipeline.supervisor import TaskSupervisor
from bot.pipeline.transcription import TranscriptionService
from bot.policy.access import AccessService
from bot.policy.account import AccountService
from bot.policy.admin import AdminService
from bot.policy.groups import GroupService
from bot.policy.interface_language import InterfaceLanguages
from bot.policy.payments import PaymentService
from bot.policy.preferences import PreferencesService
from bot.policy.quota import QuotaService
from bot.policy.summaries import GroupSummaries
from bot.policy.users import UserService
from bot.telegram.gateway import ChatGateway


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    users: UserService
    preferences: PreferencesService
    transcription: TranscriptionService
    supervisor: TaskSupervisor
    access: AccessService
    quota: QuotaService
    admin: AdminService
    groups: GroupService
    account: AccountService
    payments: PaymentService
    summaries: SummaryService  # Summary and Translate under transcripts
    group_summaries: GroupSummaries  # /groupsummary
    gateway: ChatGateway  # for the few sends a handler makes besides its reply
    languages: InterfaceLanguages  # the language to answer someone in (their interface's)
