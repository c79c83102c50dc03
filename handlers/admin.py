"""Admin commands: /stats, /user, /quota, /ban, /unban, /allow, /deny, /refund.

They match only for ADMIN_USER_IDS in a private chat (a report in a group would show users'
data to everyone there). For anyone else the handlers do not match at all, so the update goes
where any unknown command goes, and the bot's answer reveals nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram import Message, Update
from telegram.error import TelegramError
from telegram.ext import BaseHandler, CommandHandler, filters

from bot.policy.payments import RefundOutcome
from bot.presentation import replies, texts
from bot.presentation.i18n import translator
from bot.presentation.inputs import echo, parse_count, parse_id
from bot.telegram.gateway import GatewayError
from handlers.context import BotContext, BotData

log = logging.getLogger(__name__)

QUOTA_DEFAULT = "default"


class AdminFilter(filters.MessageFilter):
    """True for messages from an admin. It reads the admin list from the services at check
    time, as handlers are registered before the services are built."""

    def __init__(self, bot_data: BotData) -> None:
        super().__init__(name="AdminFilter")
        self._bot_data = bot_data

    def filter(self, message: Message) -> bool:
        services = self._bot_data.services
        user = message.from_user
        if services is None or user is None or message.sender_chat is not None:
            return False
        return services.admin.is_admin(user.id)


def _id(raw: str) -> int | None:
    return parse_id(raw)


def _seconds(raw: str) -> int | None:
    """A quota value: whole seconds >= 0; raises ValueError otherwise."""
    value = parse_count(raw)
    if value is None:
        raise ValueError(raw)
    return value


async def _reply(update: Update, text: str) -> None:
    if update.effective_message is not None:
        await update.effective_message.reply_text(text)


async def on_stats(update: Update, context: BotContext) -> None:
    await _reply(update, replies.stats(await context.services.admin.stats()))


async def on_user(update: Update, context: BotContext) -> None:
    args = context.args or []
    subject = _id(args[0]) if len(args) == 1 else None
    if subject is None:
        await _reply(update, texts.ADMIN_USAGE["user"])
        return
    report = await context.services.admin.user(subject)
    if report is None:
        await _reply(update, texts.ADMIN_USER_UNKNOWN.format(user_id=subject))
        return
    await _reply(update, replies.user(report))


async def on_quota(update: Update, context: BotContext) -> None:
    args = context.args or []
    subject = _id(args[0]) if len(args) in (2, 3) else None
    if subject is None:
        await _reply(update, texts.ADMIN_USAGE["quota"])
        return
    try:
        values = [None if raw.lower() == QUOTA_DEFAULT else _seconds(raw) for raw in args[1:]]
    except ValueError:
        await _reply(update, texts.ADMIN_USAGE["quota"])
        return
    daily, monthly = values[0], values[1] if len(values) == 2 else None
    rule = await context.services.admin.set_quota(
        subject, daily, monthly, keep_monthly=len(values) == 1
    )
    await _reply(update, replies.quota_set(rule))


async def on_refund(update: Update, context: BotContext) -> None:
    """Give a Stars payment back and take its unspent seconds from the user's balance."""
    args = context.args or []
    if len(args) != 1:
        await _reply(update, texts.ADMIN_USAGE["refund"])
        return
    charge_id = args[0]
    try:
        outcome = await context.services.payments.refund(charge_id)
    except (TelegramError, GatewayError) as error:
        failed = texts.ADMIN_REFUND_FAILED.format(
            charge_id=echo(charge_id), reason=echo(str(error))
        )
        await _reply(update, failed)
        return
    await _reply(update, replies.refund_outcome(outcome, charge_id))
    if outcome.recorded_now:
        await _tell_refunded(context, outcome)


async def _tell_refunded(context: BotContext, outcome: RefundOutcome) -> None:
    """The user learns what left their balance (Telegram tells them of the Stars)."""
    record = outcome.record
    if record is None:
        return
    balance = await context.services.payments.balance(record.user_id)
    # The user's language, not the admin's: it is their private chat.
    tr = translator(await context.services.languages.locale_for(record.user_id))
    try:
        await context.services.gateway.send_text(
            record.user_id, replies.refund_received(tr, record, balance), reply_to=None
        )
    except (TelegramError, GatewayError) as error:
        log.info("the user of a refunded payment was not told: %s", type(error).__name__)


Callback = Callable[[Update, BotContext], Coroutine[Any, Any, None]]


def _single_id_command(name: str, action: Callable[[BotContext, int], Awaitable[str]]) -> Callback:
    async def handle(update: Update, context: BotContext) -> None:
        args = context.args or []
        subject = _id(args[0]) if len(args) == 1 else None
        if subject is None:
            await _reply(update, texts.ADMIN_USAGE[name])
            return
        await _reply(update, await action(context, subject))

    return handle


async def _ban(context: BotContext, subject: int) -> str:
    if context.services.admin.is_admin(subject):
        # Admins always pass the access check: a ban would be a no-op that says "Banned".
        return texts.ADMIN_BAN_REFUSED.format(subject_id=subject)
    await context.services.admin.ban(subject)
    return texts.ADMIN_BANNED.format(subject_id=subject)


async def _unban(context: BotContext, subject: int) -> str:
    await context.services.admin.unban(subject)
    return texts.ADMIN_UNBANNED.format(subject_id=subject)


def _with_mode_note(context: BotContext, text: str) -> str:
    return text + texts.ADMIN_OPEN_MODE_NOTE if context.services.admin.open_mode else text


async def _allow(context: BotContext, subject: int) -> str:
    await context.services.admin.allow(subject)
    return _with_mode_note(context, texts.ADMIN_ALLOWED.format(subject_id=subject))


async def _deny(context: BotContext, subject: int) -> str:
    await context.services.admin.deny(subject)
    return _with_mode_note(context, texts.ADMIN_DENIED.format(subject_id=subject))


def admin_handlers(bot_data: BotData) -> list[BaseHandler[Update, BotContext, None]]:
    only_admins = filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE & AdminFilter(bot_data)
    callbacks: dict[str, Callback] = {
        "stats": on_stats,
        "user": on_user,
        "quota": on_quota,
        "ban": _single_id_command("ban", _ban),
        "unban": _single_id_command("unban", _unban),
        "allow": _single_id_command("allow", _allow),
        "deny": _single_id_command("deny", _deny),
        "refund": on_refund,
    }
    return [
        CommandHandler(name, callback, filters=only_admins) for name, callback in callbacks.items()
    ]
