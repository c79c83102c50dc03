"""Who may use the bot: ACCESS_MODE, the allowlists, admins, bans, and the admins' rules.

Decision order: admins always pass; a banned user or chat is ignored; in open mode everyone
else passes; in allowlist mode a user passes when allowed (by ALLOWED_USER_IDS or /allow) and
not denied (/deny), or when the chat is allowed (ALLOWED_CHAT_IDS or /allow with a chat id).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Literal

from storage.access import AccessRule, AccessRuleRepository
from storage.clock import Clock, utc_now

# "open": everyone not banned; "allowlist": only those allowed. Settings read ACCESS_MODE into this.
AccessMode = Literal["open", "allowlist"]

# A refused user is told once; again only after this long, in case they lost their id.
NOTICE_INTERVAL = timedelta(hours=24)


class Verdict(StrEnum):
    ALLOW = "allow"
    IGNORE = "ignore"  # banned: no answer at all
    REFUSE = "refuse"  # not allowed: tell them once, with their id
    REFUSE_QUIETLY = "refuse_quietly"  # not allowed, and already told


@dataclass(frozen=True, slots=True)
class Screening:
    verdict: Verdict
    user_id: int | None
    chat_id: int


class AccessService:
    def __init__(
        self,
        rules: AccessRuleRepository,
        *,
        mode: AccessMode,
        allowed_user_ids: frozenset[int],
        allowed_chat_ids: frozenset[int],
        admin_ids: frozenset[int],
        clock: Clock = utc_now,
    ) -> None:
        self._rules = rules
        self.mode = mode
        self._allowed_users = allowed_user_ids
        self._allowed_chats = allowed_chat_ids
        self._admins = admin_ids
        self._clock = clock

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self._admins

    async def is_banned(self, user_id: int | None, chat_id: int | None) -> bool:
        if self.is_admin(user_id):
            return False  # an admin cannot lock themselves out
        ids = [subject for subject in (user_id, chat_id) if subject is not None]
        rules = await self._rules.get_many(ids)
        return any(rule.banned for rule in rules.values())

    def _allowed(self, subject_id: int, rule: AccessRule, listed: frozenset[int]) -> bool | None:
        """True or False when decided for this subject, None when it does not say."""
        if rule.allowed is not None:
            return rule.allowed
        return True if subject_id in listed else None

    async def screen(self, user_id: int | None, chat_id: int, chat_type: str) -> Screening:
        """May this sender, in this chat, have a recording transcribed?"""
        if self.is_admin(user_id):
            return Screening(Verdict.ALLOW, user_id, chat_id)
        ids = [chat_id] if user_id is None else [user_id, chat_id]
        rules = await self._rules.get_many(ids)
        if any(rule.banned for rule in rules.values()):
            return Screening(Verdict.IGNORE, user_id, chat_id)
        if self.mode == "open":
            return Screening(Verdict.ALLOW, user_id, chat_id)
        user_says = (
            None if user_id is None else self._allowed(user_id, rules[user_id], self._allowed_users)
        )
        chat_says = self._allowed(chat_id, rules[chat_id], self._allowed_chats)
        # An explicit /deny of the user beats the chat's allowance.
        if user_says is True or (user_says is None and chat_says is True):
            return Screening(Verdict.ALLOW, user_id, chat_id)
        # In a group the notice goes to the chat, once, rather than to every member.
        notice_key = chat_id if chat_type != "private" or user_id is None else user_id
        now = self._clock()
        told = await self._rules.claim_notice(notice_key, now, now - NOTICE_INTERVAL)
        return Screening(Verdict.REFUSE if told else Verdict.REFUSE_QUIETLY, user_id, chat_id)

    async def rule(self, subject_id: int) -> AccessRule:
        return await self._rules.get(subject_id)

    async def set_banned(self, subject_id: int, banned: bool) -> None:
        await self._rules.set_banned(subject_id, banned)

    async def set_allowed(self, subject_id: int, allowed: bool) -> None:
        await self._rules.set_allowed(subject_id, allowed)

    async def set_quota(self, subject_id: int, daily: int | None, monthly: int | None) -> None:
        await self._rules.set_quota(subject_id, daily, monthly)
