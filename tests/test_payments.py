"""Bought seconds over a real SQLite file, the invoice signature, the packs setting.

The balance is spent inside the quota ledger's one transaction: these tests drive the quota
service and the payment repository together, as the bot does.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from bot.config.settings import Settings, SettingsError
from bot.policy.access import AccessService
from bot.policy.payments import (
    CheckoutRefusal,
    Pack,
    PaymentService,
    read_payload,
    sign_payload,
)
from bot.policy.quota import QuotaService
from bot.policy.quota_math import Limits, Shortfall, status
from storage.access import AccessRuleRepository
from storage.db import Database
from storage.forget import ForgetRepository
from storage.jobs import Job, JobRepository, NewJob
from storage.payments import NewPayment, PaymentRepository
from storage.quota import QuotaLedger
from tests.fakes.clock import FakeClock

USER = 501
KEY = bytes(range(32))


# --- the invoice payload ---------------------------------------------------------------------


def test_a_signed_payload_reads_back_as_the_user_and_pack() -> None:
    payload = sign_payload(KEY, USER, Pack(600, 50))
    claim = read_payload(KEY, payload)
    assert claim is not None and (claim.user_id, claim.pack) == (USER, Pack(600, 50))


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p.replace(":600:", ":6000:"),  # more seconds
        lambda p: p.replace(":50:", ":5:"),  # a lower price
        lambda p: p.replace(f":{USER}:", ":502:"),  # another user
        lambda p: p[:-1] + ("0" if p[-1] != "0" else "1"),  # the signature itself
        lambda p: p.rpartition(":")[0],  # no signature
        lambda p: "",
        lambda p: "stars1:501:600:50",
    ],
)
def test_an_altered_or_made_up_payload_is_not_ours(change: object) -> None:
    payload = sign_payload(KEY, USER, Pack(600, 50))
    assert callable(change)
    assert read_payload(KEY, change(payload)) is None


def test_a_payload_signed_with_another_key_is_not_ours() -> None:
    assert read_payload(bytes(32), sign_payload(KEY, USER, Pack(600, 50))) is None


def test_the_largest_payload_fits_telegrams_128_bytes() -> None:
    payload = sign_payload(KEY, 9_999_999_999_999, Pack(999_999_999, 999_999_999))
    assert len(payload.encode()) <= 128


# --- the arithmetic --------------------------------------------------------------------------

NOW = datetime.fromisoformat("2025-06-10T12:00:00+00:00")


def test_bought_seconds_pay_only_for_what_the_free_quota_has_no_room_for() -> None:
    usage = status(Limits(daily=10, monthly=100), 7.0, 7.0, NOW, balance=5.0)
    assert usage.paid_part(2.0) == 0.0
    assert usage.paid_part(8.0) == 5.0
    assert usage.shortfall(8.0) is None
    refusal = usage.shortfall(8.5)
    assert isinstance(refusal, Shortfall)
    assert (refusal.period, refusal.left, refusal.balance) == ("day", 3.0, 5.0)


def test_the_tighter_window_sets_the_free_room_and_unlimited_needs_no_balance() -> None:
    usage = status(Limits(daily=10, monthly=12), 0.0, 10.0, NOW, balance=1.0)
    assert usage.free_room() == 2.0
    assert usage.paid_part(3.0) == 1.0
    assert isinstance(usage.shortfall(3.5), Shortfall)
    assert status(Limits(0, 0), 50.0, 50.0, NOW, balance=0.0).paid_part(99.0) == 0.0


# --- the balance in the ledger ---------------------------------------------------------------


@dataclass
class Setup:
    db: Database
    clock: FakeClock
    jobs: JobRepository
    payments: PaymentRepository
    quota: QuotaService
    path: Path

    async def job(self, duration: float = 1.0, *, file_size: int = 1000) -> Job:
        count = len(await self.db.fetch_all("SELECT id FROM jobs"))
        job = await self.jobs.insert(
            NewJob(
                dedupe_key=f"test:{count}",
                chat_id=USER,
                chat_type="private",
                message_id=count + 1,
                user_id=USER,
                file_id=f"file{count}",
                file_unique_id=f"uniq{count}",
                media_kind="voice",
                mime_type="audio/ogg",
                file_name=None,
                duration=duration,
                file_size=file_size,
                model="#g1_whisper-large",
                language=None,
                options={},
            )
        )
        assert job is not None
        return job

    async def buy(self, charge_id: str, seconds: float, stars: int = 5) -> None:
        credit = await self.payments.credit(NewPayment(charge_id, USER, stars, seconds))
        assert credit.new

    def row(self, charge_id: str) -> tuple[float, float]:
        """(spent, revoked) of a payment, read from the file as an operator would."""
        with closing(sqlite3.connect(self.path)) as connection:
            found = connection.execute(
                "SELECT spent, revoked FROM star_payments WHERE charge_id = ?", (charge_id,)
            ).fetchone()
        return float(found[0]), float(found[1])


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    path = tmp_path / "payments.sqlite3"
    db = await Database.open(path)
    clock = FakeClock("2025-06-10T12:00:00+00:00")
    quota = QuotaService(
        QuotaLedger(db, clock),
        AccessRuleRepository(db),
        daily_seconds=5,
        monthly_seconds=1000,
        admin_ids=frozenset(),
        max_in_flight=1000,
        max_per_minute=1000,
        max_file_bytes=20_000_000,
        clock=clock,
    )
    try:
        yield Setup(db, clock, JobRepository(db, clock), PaymentRepository(db, clock), quota, path)
    finally:
        await db.close()


async def balance(setup: Setup) -> float:
    return (await setup.quota.status(USER)).balance


async def test_twenty_concurrent_notes_against_five_free_and_five_bought_admit_exactly_ten(
    setup: Setup,
) -> None:
    await setup.buy("c1", 5.0)
    jobs = [await setup.job(1.0) for _ in range(20)]
    results = await asyncio.gather(*(setup.quota.reserve(job) for job in jobs))
    assert sum(result is None for result in results) == 10
    usage = await setup.quota.status(USER)
    assert (usage.day_used, usage.balance) == (5.0, 0.0)
    assert setup.row("c1") == (5.0, 0.0)


async def test_the_oldest_payment_is_spent_first_and_a_failed_job_gives_back_what_it_took(
    setup: Setup,
) -> None:
    await setup.buy("old", 3.0)
    await setup.buy("new", 10.0)
    job = await setup.job(10.0)  # 5 free, 3 from "old", 2 from "new"
    assert await setup.quota.reserve(job) is None
    assert (setup.row("old"), setup.row("new")) == ((3.0, 0.0), (2.0, 0.0))
    assert await balance(setup) == 8.0

    await setup.quota.refund(job)
    assert (setup.row("old"), setup.row("new")) == ((0.0, 0.0), (0.0, 0.0))
    assert await balance(setup) == 13.0
    assert (await setup.quota.status(USER)).day_used == 0.0


async def test_a_job_charged_less_than_reserved_gives_bought_seconds_back_first(
    setup: Setup,
) -> None:
    await setup.buy("c1", 30.0)
    # A document without a duration: 100 kB estimated at 25 s, 5 free and 20 bought.
    job = await setup.job(0.0, file_size=100_000)
    assert await setup.quota.reserve(job) is None
    assert await balance(setup) == 10.0
    await setup.quota.commit(job, reported=12.0)  # 5 free and 7 bought
    assert await balance(setup) == 23.0
    assert setup.row("c1") == (7.0, 0.0)
    assert await setup.db.fetch_all("SELECT * FROM balance_holds") == []


async def test_a_measured_duration_redraws_the_balance_and_a_refusal_changes_nothing(
    setup: Setup,
) -> None:
    await setup.buy("c1", 10.0)
    job = await setup.job(0.0, file_size=24_000)  # estimated at 6 s: 5 free, 1 bought
    assert await setup.quota.reserve(job) is None
    assert await setup.quota.correct_duration(job, 12.0) is None  # 5 free, 7 bought
    assert await balance(setup) == 3.0

    other = await setup.job(0.0, file_size=4_000)  # 1 s estimated, bought
    assert await setup.quota.reserve(other) is None
    refusal = await setup.quota.correct_duration(other, 60.0)
    assert isinstance(refusal, Shortfall)
    # Refused once measured: its reservation is released, its bought second back.
    assert await balance(setup) == 3.0
    assert setup.row("c1") == (7.0, 0.0)


async def test_a_refund_takes_back_only_the_unspent_seconds_and_never_goes_below_zero(
    setup: Setup,
) -> None:
    await setup.buy("c1", 10.0)
    running = await setup.job(9.0)  # 5 free, 4 bought, still in flight
    assert await setup.quota.reserve(running) is None
    revocation = await setup.payments.revoke("c1", by="admin")
    assert revocation is not None and revocation.new
    assert (revocation.record.spent, revocation.record.revoked) == (4.0, 6.0)
    assert await balance(setup) == 0.0

    # The job fails after the refund: its bought seconds are not handed back to the user.
    await setup.quota.refund(running)
    assert setup.row("c1") == (0.0, 10.0)
    assert await balance(setup) == 0.0
    again = await setup.payments.revoke("c1", by="telegram")
    assert again is not None and not again.new and again.record.refunded_by == "admin"


async def test_a_charge_id_is_credited_once(setup: Setup) -> None:
    first = await setup.payments.credit(NewPayment("c1", USER, 5, 10.0))
    second = await setup.payments.credit(NewPayment("c1", USER, 5, 10.0))
    assert first.new and not second.new
    assert await setup.payments.balance(USER) == 10.0


async def test_a_refund_of_a_payment_never_seen_is_recorded_as_refunded(setup: Setup) -> None:
    assert await setup.payments.revoke("ghost", by="admin") is None
    lost = NewPayment("ghost", USER, 20, 60.0)
    revocation = await setup.payments.revoke("ghost", by="telegram", unknown=lost)
    assert revocation is not None and revocation.new
    assert (revocation.record.seconds, revocation.record.revoked) == (60.0, 60.0)
    assert await setup.payments.balance(USER) == 0.0
    late = await setup.payments.credit(lost)  # its successful_payment comes after all
    assert not late.new and await setup.payments.balance(USER) == 0.0


async def test_forgetting_a_user_keeps_their_payments(setup: Setup) -> None:
    await setup.buy("c1", 10.0)
    await ForgetRepository(setup.db).forget(USER)
    [record] = await setup.payments.of_user(USER, 10)
    assert (record.charge_id, record.seconds) == ("c1", 10.0)
    assert await balance(setup) == 10.0


async def test_checkout_refuses_a_banned_user_and_a_pack_no_longer_sold(setup: Setup) -> None:
    rules = AccessRuleRepository(setup.db)
    access = AccessService(
        rules,
        mode="open",
        allowed_user_ids=frozenset(),
        allowed_chat_ids=frozenset(),
        admin_ids=frozenset(),
    )

    class NoRefunds:
        async def refund_star_payment(self, user_id: int, charge_id: str) -> bool:
            raise AssertionError("no refund expected")

    def service(*packs: Pack) -> PaymentService:
        return PaymentService(setup.payments, packs=packs, access=access, refunder=NoRefunds())

    selling = service(Pack(600, 50))
    invoice = await selling.invoice(USER, Pack(600, 50))
    assert invoice is not None
    assert await selling.invoice(USER, Pack(600, 49)) is None
    assert await selling.checkout(USER, invoice.payload, "XTR", 50) is None
    assert await selling.checkout(USER, invoice.payload, "XTR", 49) is CheckoutRefusal.UNKNOWN
    assert await selling.checkout(USER, invoice.payload, "USD", 50) is CheckoutRefusal.UNKNOWN
    assert await service(Pack(600, 60)).checkout(USER, invoice.payload, "XTR", 50) is (
        CheckoutRefusal.PACK_GONE
    )
    assert await service().checkout(USER, invoice.payload, "XTR", 50) is (
        CheckoutRefusal.PAYMENTS_OFF
    )
    await access.set_banned(USER, True)
    assert await selling.checkout(USER, invoice.payload, "XTR", 50) is (CheckoutRefusal.NOT_ALLOWED)


# --- the setting -----------------------------------------------------------------------------


def settings(**env: str) -> Settings:
    return Settings.from_env({"AIMLAPI_KEY": "k", **env}, dotenv=None)


def test_stars_packs_are_read_in_order_of_seconds() -> None:
    packs = settings(STARS_PACKS="3600:250, 600:50", ADMIN_USER_IDS="9").stars_packs
    assert packs == ((600, 50), (3600, 250))
    assert settings().stars_packs == ()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("600", "STARS_PACKS must be a comma-separated list of <seconds>:<stars> pairs"),
        ("600:fifty", "STARS_PACKS must be a comma-separated list of <seconds>:<stars> pairs"),
        ("600:0", "STARS_PACKS needs at least 1 second and 1 Star in every pack"),
        ("600:50,600:40", "STARS_PACKS names the same number of seconds twice"),
        (",".join(f"{n}:1" for n in range(1, 8)), "STARS_PACKS may name at most 6 packs"),
    ],
)
def test_a_bad_stars_packs_stops_start_up_with_one_line_naming_it(raw: str, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        settings(STARS_PACKS=raw, ADMIN_USER_IDS="9")
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_selling_needs_an_admin_to_answer_support_and_refund() -> None:
    with pytest.raises(SettingsError, match=r"^STARS_PACKS needs ADMIN_USER_IDS"):
        settings(STARS_PACKS="600:50")
