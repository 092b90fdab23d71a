import itertools
from datetime import timedelta
from decimal import Decimal

import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from core import transitions
from core.models import Source
from portal.models import FeeSchedule, Merchant, User
from settlements import calendar, ledger
from settlements.models import Acquirer, Payout, Transaction

PASSWORD = "correct-horse-battery-9"


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    mobile = factory.Sequence(lambda n: f"139{n:08d}")
    username = factory.SelfAttribute("mobile")
    email = factory.Sequence(lambda n: f"customer{n}@example.cn")
    password = factory.django.Password(PASSWORD)


class StaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def group(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))


class FeeScheduleFactory(factory.django.DjangoModelFactory):
    """Rates as the demo's standard T+1 schedule: debit 0.50% capped at ¥25, credit 0.60%,
    QR 0.38%."""

    class Meta:
        model = FeeSchedule

    code = factory.Sequence(lambda n: f"schedule-{n}")
    name = factory.Sequence(lambda n: f"费率 {n}")
    debit_rate = Decimal("0.0050")
    debit_cap = Decimal("25.00")
    credit_rate = Decimal("0.0060")
    unionpay_qr_rate = Decimal("0.0038")
    wechat_pay_rate = Decimal("0.0038")
    alipay_rate = Decimal("0.0038")
    settlement_cycle = FeeSchedule.Cycle.T1


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant

    user = factory.SubFactory(CustomerFactory)
    name = factory.Sequence(lambda n: f"测试商户 {n}")
    mid = factory.Sequence(lambda n: f"898310054110{n:03d}")
    fee_schedule = factory.SubFactory(FeeScheduleFactory)


_acquirer_ids = itertools.count(1)


def transaction_payload(merchant: Merchant, **overrides) -> dict:
    """A transaction as the acquirer's API sends it (ACQUIRER_API.md), fee as the portal's
    own schedule computes it unless ``fee`` is given."""
    serial = next(_acquirer_ids)
    payload = {
        "id": f"TX{serial:010d}",
        "merchant_id": merchant.mid,
        "terminal_id": "10000001",
        "type": "sale",
        "original_id": None,
        "channel": "credit_card",
        "amount": "100.00",
        "card_masked": "622202******0123",
        "rrn": f"{serial:012d}",
        "trace_no": f"{serial % 1_000_000:06d}",
        "batch_no": "000001",
        "auth_code": "A1B2C3",
        "status": "approved",
        "occurred_at": (timezone.now() - timedelta(hours=1)).isoformat(),
        "payout_id": None,
    }
    payload.update(overrides)
    if payload["channel"] not in ("debit_card", "credit_card") and "card_masked" not in overrides:
        payload["card_masked"] = None
    if "fee" not in payload:
        amounts = ledger.transaction_amounts(
            merchant.fee_schedule,
            type=payload["type"],
            channel=payload["channel"],
            amount=Decimal(payload["amount"]),
            approved=payload["status"] == "approved",
        )
        payload["fee"] = str(abs(amounts.fee))
    return payload


class TransactionFactory(factory.django.DjangoModelFactory):
    """A transaction written straight to the table, its fee and net computed by the ledger
    exactly as ``transaction_record`` would for a T+1 merchant. For volume; tests of the
    recording rules go through ``settlements.services.transaction_record``."""

    class Meta:
        model = Transaction

    class Params:
        gross = Decimal("100.00")

    acquirer = "demo"
    acquirer_id = factory.Sequence(lambda n: f"FTX{n:012d}")
    merchant = factory.SubFactory(MerchantFactory)
    tid = "10000001"
    type = Transaction.Type.SALE
    channel = "credit_card"
    status = Transaction.Status.APPROVED
    occurred_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    card_masked = "622202******0123"
    card_last4 = "0123"
    rrn = factory.Sequence(lambda n: f"{n:012d}")
    trace_no = factory.Sequence(lambda n: f"{n % 1_000_000:06d}")
    batch_no = "000001"
    settlement_cycle = "t1"
    settlement_date = factory.LazyAttribute(
        lambda o: (
            calendar.business_calendar().next_business_day(calendar.trade_date(o.occurred_at))
            if o.status == Transaction.Status.APPROVED
            else None
        )
    )
    amount = factory.LazyAttribute(
        lambda o: (
            ledger.transaction_amounts(
                o.merchant.fee_schedule, type=o.type, channel=o.channel, amount=o.gross
            ).amount
        )
    )
    fee = factory.LazyAttribute(
        lambda o: (
            ledger.transaction_amounts(
                o.merchant.fee_schedule,
                type=o.type,
                channel=o.channel,
                amount=o.gross,
                approved=o.status == Transaction.Status.APPROVED,
            ).fee
        )
    )
    acquirer_fee = factory.SelfAttribute("fee")
    net = factory.LazyAttribute(lambda o: o.amount - o.fee)
    fee_mismatch = factory.LazyAttribute(lambda o: o.fee != o.acquirer_fee)


class PayoutFactory(factory.django.DjangoModelFactory):
    """A payout with consistent totals and no transactions; ``settlements.services.
    payout_assemble`` builds one from real transactions."""

    class Meta:
        model = Payout
        skip_postgeneration_save = True

    acquirer = "demo"
    acquirer_id = factory.Sequence(lambda n: f"FPO{n:010d}")
    merchant = factory.SubFactory(MerchantFactory)
    settlement_date = factory.LazyFunction(timezone.localdate)
    cycle = "t1"
    gross_amount = Decimal("1000.00")
    fee_amount = Decimal("6.00")
    adjustment_amount = Decimal("0.00")
    net_amount = factory.LazyAttribute(
        lambda o: o.gross_amount - o.fee_amount + o.adjustment_amount
    )
    transaction_count = 10
    status = Payout.Status.SCHEDULED
    expected_at = factory.LazyAttribute(
        lambda o: calendar.expected_arrival(o.settlement_date, o.cycle)
    )
    paid_at = factory.LazyAttribute(
        lambda o: o.expected_at if o.status == Payout.Status.PAID else None
    )
    bank_reference = factory.LazyAttribute(
        lambda o: f"BR{o.acquirer_id}" if o.status == Payout.Status.PAID else ""
    )
    account_masked = "622202******0123"
    bank_name = "中国工商银行"
    acquirer_updated_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def timeline(self, create, extracted, **kwargs):
        if create:
            transitions.event_record(
                self,
                from_status="",
                source=Source.ACQUIRER,
                event={"occurred_at": self.created_at},
            )


class AcquirerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Acquirer
        django_get_or_create = ("code",)

    code = "demo"
    name = "示范收单机构"
    base_url = "http://acquirer.test"
    key_id = "ak_test_portal_01"
    secret = "sk_test_7f3a91c2e4b86d05"
