"""Buying transcription time with Telegram Stars: packs, invoices, checkout, credit, refunds.

The flow Telegram prescribes: the bot sends an invoice; when the user pays, Telegram asks the
bot to confirm (pre_checkout_query, answered within 10 s); once the money has moved it sends a
successful_payment message, and only that credits anything. Crediting is keyed by Telegram's
charge id (storage/payments.py), so a redelivered or replayed update credits nothing more.

The invoice payload names the user and the pack and is signed, so it cannot be forged:

    stars1:<user id>:<seconds>:<stars>:<HMAC-SHA256 of the rest, 128 bits in hex>

Why a signature and not a random id in a table of pending invoices: nothing to store for
invoices never paid (most are not), nothing to clean up, and the payment itself says what was
bought, so it is credited as the invoice promised even if STARS_PACKS changed since. Why the
key is a random one kept in the database (like the quota's subject salt) and not one derived
from the bot token: a token revoked in @BotFather between checkout and the successful_payment
would otherwise make a paid invoice unreadable, and a leaked token would forge invoices.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, Protocol

from bot.policy.access import AccessService
from storage.payments import NewPayment, PaymentRecord, PaymentRepository, PaymentTotals

log = logging.getLogger(__name__)

CURRENCY = "XTR"  # Telegram Stars
PAYLOAD_PREFIX = "stars1"
_MAC_HEX_DIGITS = 32
# How many of a user's payments /user and /paysupport list (newest first).
LISTED_PAYMENTS = 10


@dataclass(frozen=True, slots=True)
class Pack:
    seconds: int  # of audio
    stars: int  # the price


@dataclass(frozen=True, slots=True)
class Invoice:
    pack: Pack
    payload: str


@dataclass(frozen=True, slots=True)
class InvoiceClaim:
    """What a genuine payload says."""

    user_id: int
    pack: Pack


class CheckoutRefusal(StrEnum):
    """Why a checkout is refused; texts.CHECKOUT_REFUSALS words each for the user."""

    UNKNOWN = "unknown"  # not an invoice of ours: unreadable, forged or altered
    NOT_YOURS = "not_yours"  # made for another user
    PACK_GONE = "pack_gone"  # no longer offered at this price
    PAYMENTS_OFF = "payments_off"
    NOT_ALLOWED = "not_allowed"  # banned


@dataclass(frozen=True, slots=True)
class PaymentCredit:
    record: PaymentRecord
    new: bool  # False: this payment was seen before and credited nothing now
    matched: bool  # False: no invoice of ours explains it, so it added no seconds
    balance: float  # the user's bought seconds now


@dataclass(frozen=True, slots=True)
class RefundOutcome:
    status: Literal["refunded", "already", "unknown"]
    record: PaymentRecord | None
    # This call took the seconds back. An admin's refund and Telegram's refunded_payment
    # report the same refund: whichever is recorded first tells the user, once.
    recorded_now: bool = False


class StarRefunder(Protocol):
    """refundStarPayment (the gateway satisfies it)."""

    async def refund_star_payment(self, user_id: int, charge_id: str) -> bool:
        """True when refunded now, False when Telegram says it already was; raises otherwise."""
        ...


def sign_payload(key: bytes, user_id: int, pack: Pack) -> str:
    body = f"{PAYLOAD_PREFIX}:{user_id}:{pack.seconds}:{pack.stars}"
    return f"{body}:{_mac(key, body)}"


def read_payload(key: bytes, payload: str) -> InvoiceClaim | None:
    """The claim of a payload we signed; None for anything else."""
    body, _, mac = payload.rpartition(":")
    if not hmac.compare_digest(mac.encode(), _mac(key, body).encode()):
        return None
    prefix, *numbers = body.split(":")
    if prefix != PAYLOAD_PREFIX or len(numbers) != 3 or not all(n.isdigit() for n in numbers):
        return None
    user_id, seconds, stars = (int(number) for number in numbers)
    return InvoiceClaim(user_id, Pack(seconds, stars))


def _mac(key: bytes, body: str) -> str:
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()[:_MAC_HEX_DIGITS]


class PaymentService:
    def __init__(
        self,
        payments: PaymentRepository,
        *,
        packs: Sequence[Pack],
        access: AccessService,
        refunder: StarRefunder,
    ) -> None:
        self._payments = payments
        self._packs = tuple(packs)
        self._access = access
        self._refunder = refunder

    @property
    def enabled(self) -> bool:
        """Whether anything can be bought (STARS_PACKS is set)."""
        return bool(self._packs)

    @property
    def packs(self) -> tuple[Pack, ...]:
        return self._packs

    async def invoice(self, user_id: int, pack: Pack) -> Invoice | None:
        """The invoice for a pack on offer; None when it is not (any more)."""
        if pack not in self._packs:
            return None
        return Invoice(pack, sign_payload(await self._payments.invoice_key(), user_id, pack))

    async def checkout(
        self, user_id: int, payload: str, currency: str, total_amount: int
    ) -> CheckoutRefusal | None:
        """Whether Telegram may take this payment (pre_checkout_query): None to accept.

        Quick by design (one cached key, one read): Telegram cancels after 10 s.
        """
        claim = read_payload(await self._payments.invoice_key(), payload)
        if claim is None or currency != CURRENCY or total_amount != claim.pack.stars:
            return CheckoutRefusal.UNKNOWN
        if claim.user_id != user_id:
            return CheckoutRefusal.NOT_YOURS
        if not self.enabled:
            return CheckoutRefusal.PAYMENTS_OFF
        if claim.pack not in self._packs:
            return CheckoutRefusal.PACK_GONE
        if await self._access.is_banned(user_id, None):
            return CheckoutRefusal.NOT_ALLOWED
        return None

    async def record_payment(
        self, user_id: int, charge_id: str, payload: str, currency: str, total_amount: int
    ) -> PaymentCredit:
        """Credit a successful payment once, as its invoice promised (packs may have changed
        since checkout). A payment nothing of ours explains is still recorded, with no
        seconds, for an admin to refund."""
        claim = read_payload(await self._payments.invoice_key(), payload)
        matched = (
            claim is not None
            and currency == CURRENCY
            and total_amount == claim.pack.stars
            and claim.user_id == user_id
        )
        seconds = claim.pack.seconds if matched and claim is not None else 0
        credit = await self._payments.credit(
            NewPayment(charge_id, user_id, total_amount, float(seconds))
        )
        if not matched:
            log.error(
                "payment %s matches no invoice of ours: recorded, nothing credited", charge_id
            )
        elif credit.new:
            log.info("payment %s: %d s credited", charge_id, seconds)
        else:
            log.info("payment %s was credited before; nothing more", charge_id)
        return PaymentCredit(
            credit.record, credit.new, matched, await self._payments.balance(user_id)
        )

    async def refund(self, charge_id: str) -> RefundOutcome:
        """An admin's refund: the Stars go back through Telegram, the unspent seconds leave
        the balance. A Telegram error propagates, with nothing recorded."""
        record = await self._payments.get(charge_id)
        if record is None:
            return RefundOutcome("unknown", None)
        if record.refunded:
            return RefundOutcome("already", record)
        # False means refunded before (a retry, or a refund whose record was lost): record it.
        refunded_now = await self._refunder.refund_star_payment(record.user_id, charge_id)
        revocation = await self._payments.revoke(charge_id, by="admin")
        assert revocation is not None  # the record exists
        log.info("payment %s refunded by an admin", charge_id)
        # Telegram's refunded_payment for this refund may have been recorded in between.
        status: Literal["refunded", "already"] = (
            "refunded" if refunded_now or revocation.new else "already"
        )
        return RefundOutcome(status, revocation.record, recorded_now=revocation.new)

    async def record_refund(
        self, user_id: int, charge_id: str, payload: str, total_amount: int
    ) -> RefundOutcome:
        """Telegram reports a refund (refunded_payment): the same as an admin's, once."""
        claim = read_payload(await self._payments.invoice_key(), payload)
        seconds = float(claim.pack.seconds) if claim is not None else 0.0
        revocation = await self._payments.revoke(
            charge_id,
            by="telegram",
            unknown=NewPayment(charge_id, user_id, total_amount, seconds),
        )
        assert revocation is not None  # an unknown payment is recorded as refunded
        if revocation.new:
            log.info("payment %s refunded (Telegram's refunded_payment)", charge_id)
        return RefundOutcome(
            "refunded" if revocation.new else "already",
            revocation.record,
            recorded_now=revocation.new,
        )

    async def balance(self, user_id: int) -> float:
        return await self._payments.balance(user_id)

    async def payments_of(self, user_id: int) -> list[PaymentRecord]:
        """The user's latest payments, newest first."""
        return await self._payments.of_user(user_id, LISTED_PAYMENTS)

    async def totals(self) -> PaymentTotals:
        return await self._payments.totals()

    async def shown_for(self, user_id: int) -> bool:
        """Whether a user's screens mention payments: when packs are on sale, or when the user
        has bought time before (it stays theirs if the operator stops selling)."""
        return self.enabled or bool(await self._payments.of_user(user_id, 1))
