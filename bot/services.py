"""The services handlers may call, built once by the composition root (bot/app.py)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.access import AccessService
from bot.account import AccountService
from bot.admin import AdminService
from bot.groups import GroupService
from bot.preferences import PreferencesService
from bot.quota import QuotaService
from bot.settings import Settings
from bot.tasks import TaskSupervisor
from bot.transcription import TranscriptionService
from bot.users import UserService


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
