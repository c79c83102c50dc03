"""Fill the templates of presentation/texts.py with numbers: durations, moments, refusals."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from bot.policy.access import Screening
from bot.policy.admin import SpendReport, StatsReport, UserReport
from bot.policy.payments import Pack, PaymentCredit, RefundOutcome
from bot.policy.quota import OverBudget, Refusal, TooManyInFlight, TooManyPerMinute
from bot.policy.quota_math import Period, QuotaStatus, Shortfall
from bot.presentation import texts
from bot.presentation.inputs import echo
from bot.stt.catalogue import ModelSpec
from storage.access import AccessRule
from storage.payments import PaymentRecord, PaymentTotals
from storage.stats import ModelUsage


def duration(seconds: float) -> str:
    """'45 s', '9.5 s', '29 min 50 s', '1 h 5 min', '3 d 4 h': the two largest units."""
    if seconds < 60 and not float(seconds).is_integer():
        return texts.UNIT_SECONDS.format(n=f"{max(0.0, seconds):.1f}")
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
    shown = [template.format(n=amount) for amount, template in units[first : first + 2] if amount]
    return " ".join(shown) or texts.UNIT_SECONDS.format(n=0)


def moment(when: datetime, now: datetime) -> str:
    """'2 June 2025, 00:00 UTC (in 3 h 12 min)'."""
    when = when.astimezone(UTC)
    until = max(0.0, (when - now).total_seconds())
    return texts.MOMENT.format(
        day=when.day,
        month=texts.MONTH_NAMES[when.month - 1],
        year=when.year,
        time=f"{when:%H:%M}",
        # Whole minutes from a minute up: "in 3 h 12 min", never "in 3 h 11 min 59.4 s".
        until=duration(math.ceil(until / 60) * 60 if until > 60 else math.ceil(until)),
    )


def limit(seconds: int) -> str:
    return texts.UNLIMITED if seconds == 0 else duration(seconds)


def _left(status: QuotaStatus, period: Period) -> str:
    left = status.remaining(period)
    return texts.UNLIMITED if left is None else duration(left)


def quota_refusal(refusal: Refusal, now: datetime) -> str:
    if isinstance(refusal, TooManyInFlight):
        return texts.flood_in_flight(refusal.limit)
    if isinstance(refusal, TooManyPerMinute):
        return texts.flood_per_minute(refusal.limit, duration(math.ceil(refusal.retry_after)))
    if isinstance(refusal, OverBudget):
        return texts.BUDGET_REACHED.format(resets=moment(refusal.resets_at, now))
    return shortfall(refusal, now)


def budget_reached_admin(refusal: OverBudget, now: datetime) -> str:
    return texts.ADMIN_BUDGET_REACHED.format(
        limit=duration(refusal.limit), resets=moment(refusal.resets_at, now)
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
        today=duration(report.today.seconds),
        budget=limit(report.daily_budget),
        month=duration(report.month.seconds),
        today_cost=cost(report.today.credits, report.today.usd),
        month_cost=cost(report.month.credits, report.month.usd),
    )


def shortfall(refusal: Shortfall, now: datetime) -> str:
    text = texts.QUOTA_EXCEEDED.format(
        period=texts.QUOTA_PERIODS[refusal.period],
        needed=duration(refusal.needed),
        used=duration(refusal.used),
        limit=duration(refusal.limit),
        left=duration(refusal.left),
        resets=moment(refusal.resets_at, now),
    )
    if refusal.balance > 0:
        text += texts.QUOTA_BALANCE.format(balance=duration(refusal.balance))
    return text


def access_refusal(screening: Screening, chat_type: str) -> str:
    """The refusal for the chat the request came from (Telegram's chat type: "private", ...)."""
    if chat_type == "private" and screening.user_id is not None:
        return texts.ACCESS_REFUSED_PRIVATE.format(user_id=screening.user_id)
    user_part = (
        ""
        if screening.user_id is None
        else texts.ACCESS_REFUSED_GROUP_USER.format(user_id=screening.user_id)
    )
    return texts.ACCESS_REFUSED_GROUP.format(chat_id=screening.chat_id, user_part=user_part)


def model_label(spec: ModelSpec) -> str:
    """How a model is named to people: 'Whisper Large (#g1_whisper-large)'."""
    return texts.MODEL_LABEL.format(name=spec.display_name, model_id=spec.id)


def usage(status: QuotaStatus, model: ModelSpec, *, admin: bool, show_balance: bool = False) -> str:
    now = status.now
    text = texts.USAGE.format(
        day_used=duration(status.day_used),
        day_limit=limit(status.limits.daily),
        day_left=_left(status, "day"),
        day_resets=moment(status.day.end, now),
        month_used=duration(status.month_used),
        month_limit=limit(status.limits.monthly),
        month_left=_left(status, "month"),
        month_resets=moment(status.month.end, now),
        model=model_label(model),
    )
    if show_balance:
        text += texts.USAGE_BALANCE.format(balance=duration(status.balance))
    return f"{text}\n\n{texts.USAGE_ADMIN}" if admin else text


def _models(models: list[ModelUsage]) -> str:
    lines = [
        texts.ADMIN_STATS_MODEL.format(
            model=item.model,
            jobs=texts.job_count(item.jobs),
            seconds=duration(item.seconds),
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
        seconds_today=duration(today.seconds),
        seconds_total=duration(total.seconds),
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
        payments=texts.payment_count(totals.payments),
        stars=stars(totals.stars),
        seconds=duration(totals.seconds),
        refunds=texts.refund_count(totals.refunds),
        refunded_stars=stars(totals.refunded_stars),
        revoked=duration(totals.revoked),
        spent=duration(totals.spent),
        left=duration(totals.left),
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
    return texts.ADMIN_DEFAULT if seconds is None else limit(seconds)


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
            model=item.model, jobs=texts.job_count(item.jobs), seconds=duration(item.seconds)
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
        day_used=duration(quota.day_used),
        day_limit=limit(quota.limits.daily),
        month_used=duration(quota.month_used),
        month_limit=limit(quota.limits.monthly),
        daily_override=override(report.rule.daily_seconds),
        monthly_override=override(report.rule.monthly_seconds),
        jobs=texts.job_count(sum(item.jobs for item in report.models)),
        seconds=duration(sum(item.seconds for item in report.models)),
        cached=sum(item.cached for item in report.models),
        models=models,
    ).rstrip() + _user_payments(report)


def _user_payments(report: UserReport) -> str:
    if report.balance is None:
        return ""
    lines = "\n".join(_admin_payment_line(record) for record in report.payments)
    return texts.ADMIN_USER_PAYMENTS.format(
        balance=duration(report.balance), lines=lines or texts.ADMIN_NONE
    )


def _admin_payment_line(record: PaymentRecord) -> str:
    refund = ""
    if record.refunded_at is not None:
        refund = texts.ADMIN_PAYMENT_REFUND.format(
            date=_when(record.refunded_at),
            by=texts.ADMIN_REFUNDED_BY[record.refunded_by or "admin"],
            revoked=duration(record.revoked),
        )
    return texts.ADMIN_PAYMENT_LINE.format(
        date=_when(record.paid_at),
        stars=stars(record.stars),
        seconds=duration(record.seconds),
        spent=duration(record.spent),
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


def stars(n: int) -> str:
    return texts.STARS.format(n=n)


def buy_menu(balance: float) -> str:
    return texts.BUY_MENU.format(balance=duration(balance))


def pack_label(pack: Pack) -> str:
    return texts.BUY_BUTTON.format(duration=duration(pack.seconds), stars=stars(pack.stars))


def invoice_title(pack: Pack) -> str:
    return texts.INVOICE_TITLE.format(duration=duration(pack.seconds))


def invoice_description(pack: Pack) -> str:
    return texts.INVOICE_DESCRIPTION.format(duration=duration(pack.seconds))


def invoice_label(pack: Pack) -> str:
    return texts.INVOICE_LABEL.format(duration=duration(pack.seconds))


def payment_received(credit: PaymentCredit) -> str:
    if not credit.matched:
        return texts.PAYMENT_UNMATCHED
    return texts.PAYMENT_RECEIVED.format(
        seconds=duration(credit.record.seconds), balance=duration(credit.balance)
    )


def refund_received(record: PaymentRecord, balance: float) -> str:
    return texts.REFUND_RECEIVED.format(
        stars=stars(record.stars), revoked=duration(record.revoked), balance=duration(balance)
    )


def _payment_line(record: PaymentRecord) -> str:
    refund = ""
    if record.refunded_at is not None:
        refund = texts.PAYMENT_LINE_REFUNDED.format(date=_when(record.refunded_at))
    return texts.PAYMENT_LINE.format(
        date=_when(record.paid_at),
        stars=stars(record.stars),
        seconds=duration(record.seconds),
        charge_id=record.charge_id,
        refund=refund,
    )


def _payment_lines(records: list[PaymentRecord]) -> str:
    return "\n".join(_payment_line(record) for record in records)


def paysupport(records: list[PaymentRecord]) -> str:
    payments = (
        texts.PAYSUPPORT_PAYMENTS.format(lines=_payment_lines(records))
        if records
        else texts.PAYSUPPORT_NO_PAYMENTS
    )
    return texts.PAYSUPPORT.format(payments=payments)


def paysupport_request(user_id: int, name: str, text: str, records: list[PaymentRecord]) -> str:
    return texts.PAYSUPPORT_REQUEST.format(
        user_id=user_id,
        name=name,
        text=text,
        payments=_payment_lines(records) or texts.PAYSUPPORT_NO_PAYMENTS,
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
        stars=stars(record.stars),
        user_id=record.user_id,
        charge_id=record.charge_id,
        revoked=duration(record.revoked),
        spent=duration(record.spent),
    )
