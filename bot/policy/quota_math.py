"""Quota arithmetic, pure: UTC windows, limits, and whether a request fits.

Quotas are in seconds of audio. A limit of 0 means unlimited. The daily window is the UTC
calendar day and the monthly window the UTC calendar month; both reset at 00:00 UTC.

Seconds bought with Telegram Stars (the balance) never expire. They pay for what the free
quota has no room for: a request fits when the balance covers the part beyond the free room.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

Period = Literal["day", "month"]

# Sums of float seconds drift by ulps; without this, 10 x 1.0 s could miss a 10 s limit.
EPSILON = 1e-6

# Documents may come without a duration. Until the file is downloaded and measured we assume
# a low bitrate (32 kbit/s, as low as speech codecs go in practice), which overestimates the
# duration of almost any real file: the reservation errs on the operator's side and is
# corrected down when the file is measured or the backend reports the real duration.
ESTIMATE_BYTES_PER_SECOND = 4000
# A declared duration may be off by rounding (Telegram sends whole seconds) or by a client's
# quirk; a measured one longer by more than this means the declaration was false.
DECLARED_SLACK_SECONDS = 2.0
DECLARED_SLACK_RATIO = 0.05


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime  # exclusive: the moment the window resets


def day_window(now: datetime) -> Window:
    start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return Window(start, start + timedelta(days=1))


def month_window(now: datetime) -> Window:
    start = now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if start.month == 12:
        return Window(start, start.replace(year=start.year + 1, month=1))
    return Window(start, start.replace(month=start.month + 1))


@dataclass(frozen=True, slots=True)
class Limits:
    daily: int  # seconds; 0: unlimited
    monthly: int

    @property
    def unlimited(self) -> bool:
        return self.daily == 0 and self.monthly == 0


UNLIMITED = Limits(0, 0)


@dataclass(frozen=True, slots=True)
class QuotaStatus:
    """A payer's usage against their limits at one moment."""

    limits: Limits
    day_used: float
    month_used: float
    day: Window
    month: Window
    now: datetime
    balance: float = 0.0  # bought seconds left

    def remaining(self, period: Period) -> float | None:
        """Seconds left in the period, or None when it is unlimited."""
        limit, used = self._limit_and_used(period)
        return None if limit == 0 else max(0.0, limit - used)

    def _limit_and_used(self, period: Period) -> tuple[int, float]:
        if period == "day":
            return self.limits.daily, self.day_used
        return self.limits.monthly, self.month_used

    def free_room(self) -> float | None:
        """Seconds the free quota still has, in both windows; None when it is unlimited."""
        periods: tuple[Period, ...] = ("day", "month")
        rooms = [room for period in periods if (room := self.remaining(period)) is not None]
        return min(rooms) if rooms else None

    def paid_part(self, needed: float) -> float:
        """How many of `needed` seconds the bought balance pays for: those the free quota
        has no room for, up to the balance."""
        room = self.free_room()
        beyond = 0.0 if room is None else max(0.0, needed - room)
        return min(beyond, self.balance)

    def shortfall(self, needed: float) -> Shortfall | None:
        """Why `needed` more seconds do not fit, or None when they do.

        The free quota is used first, then the bought balance. When both windows are short,
        the one that resets later is reported: waiting for the earlier reset would not help.
        """
        room = self.free_room()
        if room is None or needed - room <= self.balance + EPSILON:
            return None
        checks: tuple[tuple[Period, Window], ...] = (("month", self.month), ("day", self.day))
        for period, window in checks:
            limit, used = self._limit_and_used(period)
            if limit and used + needed > limit + EPSILON:
                return Shortfall(
                    period=period,
                    needed=needed,
                    used=used,
                    limit=limit,
                    resets_at=window.end,
                    balance=self.balance,
                )
        return None


@dataclass(frozen=True, slots=True)
class Shortfall:
    period: Period
    needed: float
    used: float
    limit: int
    resets_at: datetime
    balance: float = 0.0  # bought seconds left, too few to cover the rest

    @property
    def left(self) -> float:
        return max(0.0, self.limit - self.used)


def status(
    limits: Limits, day_used: float, month_used: float, now: datetime, balance: float = 0.0
) -> QuotaStatus:
    return QuotaStatus(
        limits, day_used, month_used, day_window(now), month_window(now), now, max(0.0, balance)
    )


def effective_limits(default: Limits, daily: int | None, monthly: int | None) -> Limits:
    """The operator's defaults, with a user's overrides (None: no override) applied."""
    return Limits(
        default.daily if daily is None else daily,
        default.monthly if monthly is None else monthly,
    )


# Reserved for a file whose size nobody declared either, until its bytes are counted: the
# largest allowed file would read as over an hour and refuse nearly everyone for nothing.
UNKNOWN_SIZE_ESTIMATE = 60.0


def estimate_seconds(file_size: int | None, max_file_bytes: int) -> float:
    """A conservative duration for a file whose duration nobody declared."""
    if file_size is None:
        return UNKNOWN_SIZE_ESTIMATE
    return max(1.0, min(file_size, max_file_bytes) / ESTIMATE_BYTES_PER_SECOND)


def declared_is_false(declared: float, measured: float) -> bool:
    slack = max(DECLARED_SLACK_SECONDS, declared * DECLARED_SLACK_RATIO)
    return measured > declared + slack


def commit_seconds(reserved: float, basis: str, reported: float | None) -> float:
    """What a finished job costs the user's quota.

    - declared: what the user's client said and the user saw, and was admitted for: charged.
    - measured: read from the file's header, which can lie (a WAV header can claim any byte
      rate and measure 0.00005 s), so the backend's report bounds it from below.
    - estimated: replaced by the backend's report, capped at the estimate, since the user was
      admitted for no more.
    """
    if reported is None or reported < 0:
        return reserved
    if basis == "estimated":
        return min(reported, reserved)
    if basis == "measured":
        return max(reported, reserved)
    return reserved
