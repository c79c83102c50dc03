"""Fill the templates of presentation/texts.py with numbers: durations, moments, refusals.

What a user reads takes their `Translator` first (`tr`, bot/presentation/i18n.py); the admin
reports are the operator's and stay in English (see the top of texts.py).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from bot.policy.access import Screening
from bot.policy.admin import SpendReport, StatsReport, UserReport
from bot.policy.payments import Pack, PaymentCredit, RefundOutcome
from bot.policy.quota import OverBudget, Refusal, TooManyInFlight, TooManyPerMinute
from bot.policy.quota_math import Period, QuotaStatus, Shortfall
from bot.presentation import texts
from bot.presentation.i18n import ENGLISH, Translator
from bot.presentation.inputs import echo
from bot.stt.catalogue import ModelSpec
from storage.access import AccessRule
from storage.payments import PaymentRecord, PaymentTotals
from storage.stats import ModelUsage


def duration(tr: Translator, seconds: float) -> str:
    """'45 s', '9.5 s', '29 min 50 s', '1 h 5 min', '3 d 4 h': the two largest units, each in
    the plural form its count needs in the reader's language."""
    if seconds < 60 and not float(seconds).is_integer():
        return tr.render(texts.UNIT_SECONDS_FRACTION, decimal=tr.number(max(0.0, seconds), 1))
    total = max(0, round(seconds))
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    units = [
        (days, texts.UNIT_DAYS),
        (hours, texts.UNIT_HOURS),
        (minutes, texts.UNIT_MINUTES),
        (secs, texts.UNIT_SECONDS),
    ]
    first = next((index for index, (amount, _) in enumerate(units) if amount), len(units) - 1)
    shown = [
        tr.render_plural(forms, amount) for amount, forms in units[first : first + 2] if amount
    ]
    return " ".join(shown) or tr.render_plural(texts.UNIT_SECONDS, 0)


def moment(tr: Translator, when: datetime, now: datetime) -> str:
    """'2 June 2025, 00:00 UTC (in 3 h 12 min)', the date as the reader's language writes it."""
    when = when.astimezone(UTC)
    until = max(0.0, (when - now).total_seconds())
    return tr.render(
        texts.MOMENT,
        date=tr.date(when),
        time=tr.time(when),
        # Whole minutes from a minute up: "in 3 h 12 min", never "in 3 h 11 min 59.4 s".
        until=duration(tr, math.ceil(until / 60) * 60 if until > 60 else math.ceil(until)),
    )


def limit(tr: Translator, seconds: int) -> str:
    return tr(texts.UNLIMITED) if seconds == 0 else duration(tr, seconds)


def _left(tr: Translator, status: QuotaStatus, period: Period) -> str:
    left = status.remaining(period)
    return tr(texts.UNLIMITED) if left is None else duration(tr, left)


def quota_refusal(tr: Translator, refusal: Refusal, now: datetime) -> str:
    if isinstance(refusal, TooManyInFlight):
        return tr.render_plural(texts.FLOOD_IN_FLIGHT, refusal.limit)
    if isinstance(refusal, TooManyPerMinute):
        wait = duration(tr, math.ceil(refusal.retry_after))
        return tr.render_plural(texts.FLOOD_PER_MINUTE, refusal.limit, wait=wait)
    if isinstance(refusal, OverBudget):
        return tr.render(texts.BUDGET_REACHED, resets=moment(tr, refusal.resets_at, now))
    return shortfall(tr, refusal, now)


def budget_reached_admin(refusal: OverBudget, now: datetime) -> str:
    tr = ENGLISH  # for the operator
    return texts.ADMIN_BUDGET_REACHED.format(
        limit=duration(tr, refusal.limit), resets=moment(tr, refusal.resets_at, now)
    )


def cost(credits: float | None, usd: float | None) -> str:
    """What the API reported a set of jobs cost: '1200 credits, $0.0006', or that it did not."""
    parts = []
    if credits is not None:
        parts.append(texts.ADMIN_COST_CREDITS.format(n=f"{credits:g}"))
    if usd is not None:
        parts.append(texts.ADMIN_COST_USD.format(usd=f"{usd:.4f}"))
    return ", ".join(parts) or texts.ADMIN_COST_UNKNOWN


def spend(report: SpendReport) -> str:
    return texts.ADMIN_STATS_SPEND.format(
        today=duration(ENGLISH, report.today.seconds),
        budget=limit(ENGLISH, report.daily_budget),
        month=duration(ENGLISH, report.month.seconds),
        today_cost=cost(report.today.credits, report.today.usd),
        month_cost=cost(report.month.credits, report.month.usd),
    )


def shortfall(tr: Translator, refusal: Shortfall, now: datetime) -> str:
    text = tr.render(
        texts.QUOTA_EXCEEDED[refusal.period],
        needed=duration(tr, refusal.needed),
        used=duration(tr, refusal.used),
        limit=duration(tr, refusal.limit),
        left=duration(tr, refusal.left),
        resets=moment(tr, refusal.resets_at, now),
    )
    if refusal.balance > 0:
        text += tr.render(texts.QUOTA_BALANCE, balance=duration(tr, refusal.balance))
    return text


def access_refusal(tr: Translator, screening: Screening, chat_type: str) -> str:
    """The refusal for the chat the request came from (Telegram's chat type: "private", ...)."""
    if chat_type == "private" and screening.user_id is not None:
        return tr.render(texts.ACCESS_REFUSED_PRIVATE, user_id=screening.user_id)
    user_part = (
        ""
        if screening.user_id is None
        else tr.render(texts.ACCESS_REFUSED_GROUP_USER, user_id=screening.user_id)
    )
    # Not isolated: the part is a piece of this very sentence, in its language.
    return tr(texts.ACCESS_REFUSED_GROUP).format(
        chat_id=tr.isolate(str(screening.chat_id)), user_part=user_part
    )


def model_label(spec: ModelSpec) -> str:
    """How a model is named to people: 'Whisper Large (#g1_whisper-large)'."""
    return texts.MODEL_LABEL.format(name=spec.display_name, model_id=spec.id)


def usage(
    tr: Translator,
    status: QuotaStatus,
    model: ModelSpec,
    *,
    admin: bool,
    show_balance: bool = False,
) -> str:
    now = status.now
    text = tr.render(
        texts.USAGE,
        day_used=duration(tr, status.day_used),
        day_limit=limit(tr, status.limits.daily),
        day_left=_left(tr, status, "day"),
        day_resets=moment(tr, status.day.end, now),
        month_used=duration(tr, status.month_used),
        month_limit=limit(tr, status.limits.monthly),
        month_left=_left(tr, status, "month"),
        month_resets=moment(tr, status.month.end, now),
        model=model_label(model),
    )
    if show_balance:
        text += tr.render(texts.USAGE_BALANCE, balance=duration(tr, status.balance))
    return f"{text}\n\n{tr(texts.USAGE_ADMIN)}" if admin else text


def _models(models: list[ModelUsage]) -> str:
    lines = [
        texts.ADMIN_STATS_MODEL.format(
            model=item.model,
            jobs=ENGLISH.render_plural(texts.ADMIN_JOBS, item.jobs),
            seconds=duration(ENGLISH, item.seconds),
            cached=item.cached,
        )
        for item in models
    ]
    return "\n".join(lines) or texts.ADMIN_STATS_NO_MODELS


def stats(report: StatsReport) -> str:
    today, total = report.today, report.total
    return texts.ADMIN_STATS.format(
        users=report.users.total,
        active=report.users.active,
        jobs_today=today.jobs,
        jobs_total=total.jobs,
        seconds_today=duration(ENGLISH, today.seconds),
        seconds_total=duration(ENGLISH, total.seconds),
        failures_today=today.failures,
        failures_total=total.failures,
        refused_today=today.refused,
        refused_total=total.refused,
        cached_today=today.cached,
        cached_total=total.cached,
        spend="" if report.spend is None else spend(report.spend),
        models=_models(report.models),
    ) + ("" if report.payments is None else _payment_totals(report.payments))


def _payment_totals(totals: PaymentTotals) -> str:
    return texts.ADMIN_STATS_PAYMENTS.format(
        payments=ENGLISH.render_plural(texts.ADMIN_PAYMENTS, totals.payments),
        stars=stars(ENGLISH, totals.stars),
        seconds=duration(ENGLISH, totals.seconds),
        refunds=ENGLISH.render_plural(texts.ADMIN_REFUNDS, totals.refunds),
        refunded_stars=stars(ENGLISH, totals.refunded_stars),
        revoked=duration(ENGLISH, totals.revoked),
        spent=duration(ENGLISH, totals.spent),
        left=duration(ENGLISH, totals.left),
    )


def _status(report: UserReport) -> str:
    rule = report.rule
    if report.is_admin:
        return texts.ADMIN_STATUS_ADMIN
    if rule.banned:
        return texts.ADMIN_STATUS_BANNED
    if rule.allowed is not None:
        return texts.ADMIN_STATUS_ALLOWED if rule.allowed else texts.ADMIN_STATUS_DENIED
    return texts.ADMIN_STATUS_NORMAL


def override(seconds: int | None) -> str:
    return texts.ADMIN_DEFAULT if seconds is None else limit(ENGLISH, seconds)


def _when(value: datetime | None) -> str:
    return texts.ADMIN_NONE if value is None else f"{value.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def user(report: UserReport) -> str:
    record = report.record
    none = texts.ADMIN_NONE
    name = none
    if record is not None:
        name = " ".join(part for part in (record.first_name, record.last_name) if part) or none
    models = "\n".join(
        texts.ADMIN_USER_MODEL.format(
            model=item.model,
            jobs=ENGLISH.render_plural(texts.ADMIN_JOBS, item.jobs),
            seconds=duration(ENGLISH, item.seconds),
        )
        for item in report.models
    )
    quota = report.quota
    return texts.ADMIN_USER.format(
        user_id=report.user_id,
        name=name if record is not None else texts.ADMIN_USER_NO_RECORD,
        username=f"@{record.username}" if record is not None and record.username else none,
        language=(record.language_code if record is not None else None) or none,
        first_seen=_when(record.first_seen if record is not None else None),
        last_seen=_when(record.last_seen if record is not None else None),
        status=_status(report),
        day_used=duration(ENGLISH, quota.day_used),
        day_limit=limit(ENGLISH, quota.limits.daily),
        month_used=duration(ENGLISH, quota.month_used),
        month_limit=limit(ENGLISH, quota.limits.monthly),
        daily_override=override(report.rule.daily_seconds),
        monthly_override=override(report.rule.monthly_seconds),
        jobs=ENGLISH.render_plural(texts.ADMIN_JOBS, sum(item.jobs for item in report.models)),
        seconds=duration(ENGLISH, sum(item.seconds for item in report.models)),
        cached=sum(item.cached for item in report.models),
        models=models,
    ).rstrip() + _user_payments(report)


def _user_payments(report: UserReport) -> str:
    if report.balance is None:
        return ""
    lines = "\n".join(_admin_payment_line(record) for record in report.payments)
    return texts.ADMIN_USER_PAYMENTS.format(
        balance=duration(ENGLISH, report.balance), lines=lines or texts.ADMIN_NONE
    )


def _admin_payment_line(record: PaymentRecord) -> str:
    refund = ""
    if record.refunded_at is not None:
        refund = texts.ADMIN_PAYMENT_REFUND.format(
            date=_when(record.refunded_at),
            by=texts.ADMIN_REFUNDED_BY[record.refunded_by or "admin"],
            revoked=duration(ENGLISH, record.revoked),
        )
    return texts.ADMIN_PAYMENT_LINE.format(
        date=_when(record.paid_at),
        stars=stars(ENGLISH, record.stars),
        seconds=duration(ENGLISH, record.seconds),
        spent=duration(ENGLISH, record.spent),
        charge_id=record.charge_id,
        refund=refund,
    )


def quota_set(rule: AccessRule) -> str:
    return texts.ADMIN_QUOTA_SET.format(
        subject_id=rule.subject_id,
        daily=override(rule.daily_seconds),
        monthly=override(rule.monthly_seconds),
    )


# --- buying time with Telegram Stars ---------------------------------------------------------


def stars(tr: Translator, n: int) -> str:
    return texts.STARS.format(n=tr.number(n))


def buy_menu(tr: Translator, balance: float) -> str:
    return tr.render(texts.BUY_MENU, balance=duration(tr, balance))


def pack_label(tr: Translator, pack: Pack) -> str:
    return tr.render(
        texts.BUY_BUTTON, duration=duration(tr, pack.seconds), stars=stars(tr, pack.stars)
    )


def invoice_title(tr: Translator, pack: Pack) -> str:
    return tr.render(texts.INVOICE_TITLE, duration=duration(tr, pack.seconds))


def invoice_description(tr: Translator, pack: Pack) -> str:
    return tr.render(texts.INVOICE_DESCRIPTION, duration=duration(tr, pack.seconds))


def invoice_label(tr: Translator, pack: Pack) -> str:
    return tr.render(texts.INVOICE_LABEL, duration=duration(tr, pack.seconds))


def payment_received(tr: Translator, credit: PaymentCredit) -> str:
    if not credit.matched:
        return tr(texts.PAYMENT_UNMATCHED)
    return tr.render(
        texts.PAYMENT_RECEIVED,
        seconds=duration(tr, credit.record.seconds),
        balance=duration(tr, credit.balance),
    )


def refund_received(tr: Translator, record: PaymentRecord, balance: float) -> str:
    return tr.render(
        texts.REFUND_RECEIVED,
        stars=stars(tr, record.stars),
        revoked=duration(tr, record.revoked),
        balance=duration(tr, balance),
    )


def _payment_line(tr: Translator, record: PaymentRecord) -> str:
    refund = ""
    if record.refunded_at is not None:
        refund = tr.render(texts.PAYMENT_LINE_REFUNDED, date=_when(record.refunded_at))
    return tr(texts.PAYMENT_LINE).format(
        date=tr.isolate(_when(record.paid_at)),
        stars=tr.isolate(stars(tr, record.stars)),
        seconds=tr.isolate(duration(tr, record.seconds)),
        charge_id=tr.isolate(record.charge_id),
        refund=refund,  # a piece of this line, in its language
    )


def _payment_lines(tr: Translator, records: list[PaymentRecord]) -> str:
    return "\n".join(_payment_line(tr, record) for record in records)


def paysupport(tr: Translator, records: list[PaymentRecord]) -> str:
    payments = (
        tr.render(texts.PAYSUPPORT_PAYMENTS, lines=_payment_lines(tr, records))
        if records
        else tr(texts.PAYSUPPORT_NO_PAYMENTS)
    )
    return tr.render(texts.PAYSUPPORT, payments=payments)


def paysupport_request(user_id: int, name: str, text: str, records: list[PaymentRecord]) -> str:
    """For the admins, so in English."""
    return texts.PAYSUPPORT_REQUEST.format(
        user_id=user_id,
        name=name,
        text=text,
        payments=_payment_lines(ENGLISH, records) or texts.PAYSUPPORT_NO_PAYMENTS,
    )


def refund_outcome(outcome: RefundOutcome, typed: str) -> str:
    """The answer to /refund <typed>; only a payment found is named in full."""
    record = outcome.record
    if outcome.status == "unknown" or record is None:
        return texts.ADMIN_REFUND_UNKNOWN.format(charge_id=echo(typed))
    if outcome.status == "already":
        return texts.ADMIN_REFUND_ALREADY.format(
            charge_id=record.charge_id, date=_when(record.refunded_at)
        )
    return texts.ADMIN_REFUND_DONE.format(
        stars=stars(ENGLISH, record.stars),
        user_id=record.user_id,
        charge_id=record.charge_id,
        revoked=duration(ENGLISH, record.revoked),
        spent=duration(ENGLISH, record.spent),
    )


# --- the command menu -------------------------------------------------------------------------


def command_menu(tr: Translator, *, payments: bool) -> list[tuple[str, str]]:
    """(command, description) for Telegram's command menu, in `tr`'s language; /buy and
    /paysupport only while time is on sale."""
    commands = texts.COMMAND_DESCRIPTIONS
    if payments:
        commands += texts.PAYMENT_COMMAND_DESCRIPTIONS
    return [(name, tr(description)) for name, description in commands]
