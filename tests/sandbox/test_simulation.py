"""The acquirer at work on the sandbox's clock: fees, cut-off and T+1 across a PRC holiday,
D0 within its window and limit, the payout lifecycle, incidents, scenarios, retries after an
account change, seeded history, late arrivals and fee mistakes."""

import json
from decimal import ROUND_HALF_UP, Decimal

import httpx
import pytest

from sandbox.calendar import parse_time
from sandbox.simulation import REASONS
from tests.sandbox.conftest import (
    FEE_SCHEDULE,
    MID,
    NEW_ACCOUNT,
    OTHER_KEY_ID,
    OTHER_MID,
    OTHER_SECRET,
    quiet_settings,
)

pytestmark = pytest.mark.anyio

CONTRACT_REASON_CODES = {*REASONS, "UNKNOWN"}
D0_SCHEDULE = {**FEE_SCHEDULE, "settlement_cycle": "d0", "d0_daily_limit": "500.00"}


def fen(value) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def signed(record, field) -> Decimal:
    value = abs(Decimal(record[field]))
    return value if record["type"] == "sale" else -value


def check_totals(payout: dict, carried: list[dict]) -> None:
    """A payout's figures are exactly those of the transactions it carries."""
    gross = sum((signed(t, "amount") for t in carried), Decimal("0.00"))
    fee = sum((signed(t, "fee") for t in carried), Decimal("0.00"))
    assert Decimal(payout["gross_amount"]) == gross
    assert Decimal(payout["fee_amount"]) == fee
    assert Decimal(payout["net_amount"]) == gross - fee + Decimal(payout["adjustment_amount"])
    assert payout["transaction_count"] == len(carried)
    assert {t["payout_id"] for t in carried} == {payout["id"]}
    assert all(t["status"] == "approved" for t in carried)


@pytest.mark.parametrize(
    ("channel", "amount", "fee"),
    [
        ("debit_card", "1000.00", "5.00"),
        ("debit_card", "5000.00", "20.00"),  # 借记卡封顶
        ("credit_card", "333.33", "2.00"),
        ("wechat_pay", "18.88", "0.07"),
        ("alipay", "1.32", "0.01"),
        ("unionpay_qr", "100.00", "0.38"),
    ],
)
async def test_a_sale_pays_its_channels_rate_half_up_to_the_fen(sandbox, channel, amount, fee):
    await sandbox.register()

    sale = await sandbox.sale(channel=channel, amount=amount)

    assert sale["fee"] == fee


async def test_what_undoes_a_sale_returns_its_fee_by_the_contracts_rules(sandbox):
    await sandbox.register()
    card = await sandbox.sale(channel="credit_card", amount="500.00")
    qr = await sandbox.sale(channel="alipay", amount="500.00")

    void = await sandbox.sale(type="void", original_id=card["id"], amount="500.00")
    card_refund = await sandbox.sale(type="refund", original_id=card["id"], amount="100.00")
    qr_refund = await sandbox.sale(type="refund", original_id=qr["id"], amount="100.00")

    assert (card["fee"], void["fee"]) == ("3.00", "3.00")
    assert card_refund["fee"] == "0.00"  # 银行卡退货手续费不退
    assert qr_refund["fee"] == "0.38"


async def test_a_declined_sale_moves_no_money_and_is_in_no_payout(sandbox):
    await sandbox.register()
    declined = await sandbox.sale(status="declined", channel="debit_card")
    await sandbox.sale()

    await sandbox.advance_to("2026-11-27T12:00:00+08:00")

    [payout] = await sandbox.payouts(settlement_date="2026-11-27")
    record = (await sandbox.collect(f"/v1/transactions?merchant_id={MID}"))[0]
    assert (declined["fee"], record["payout_id"]) == ("0.00", None)
    assert payout["transaction_count"] == 1


async def test_the_cutoff_at_23_00_moves_a_sale_to_the_next_trade_date(sandbox):
    await sandbox.register()
    await sandbox.advance_to("2026-11-26T22:59:59+08:00")
    before = await sandbox.sale(amount="10.00")
    await sandbox.advance(1)
    after = await sandbox.sale(amount="20.00")

    await sandbox.advance_to("2026-11-30T12:00:00+08:00")

    friday = await sandbox.payouts(settlement_date="2026-11-27")
    monday = await sandbox.payouts(settlement_date="2026-11-30")
    assert [p["gross_amount"] for p in friday] == ["10.00"]
    assert [p["gross_amount"] for p in monday] == ["20.00"]
    records = {r["id"]: r for r in await sandbox.collect("/v1/transactions")}
    assert records[before["id"]]["payout_id"] == friday[0]["id"]
    assert records[after["id"]]["payout_id"] == monday[0]["id"]


async def test_a_late_arrival_before_the_cutoff_settles_the_next_day(sandbox):
    await sandbox.register()
    await sandbox.advance_to("2026-11-27T11:00:00+08:00")
    # Paid on Thursday, recorded on Friday after Thursday's batch closed: Friday's batch.
    await sandbox.sale(amount="10.00", occurred_at="2026-11-26T21:00:00+08:00")

    await sandbox.advance_to("2026-11-30T12:00:00+08:00")

    [payout] = await sandbox.payouts(settlement_date="2026-11-30")
    assert payout["gross_amount"] == "10.00"


async def test_a_weekends_batches_join_mondays_payout(sandbox):
    await sandbox.register()
    await sandbox.advance_to("2026-11-27T12:00:00+08:00")
    await sandbox.sale(amount="1.00")  # Friday
    await sandbox.advance_to("2026-11-28T12:00:00+08:00")
    await sandbox.sale(amount="2.00")  # Saturday
    await sandbox.advance_to("2026-11-29T12:00:00+08:00")
    await sandbox.sale(amount="4.00")  # Sunday

    await sandbox.advance_to("2026-11-29T23:30:00+08:00")

    [payout] = await sandbox.payouts(settlement_date="2026-11-30")
    assert (payout["gross_amount"], payout["transaction_count"]) == ("7.00", 3)


async def test_a_day_of_traffic_settles_after_the_national_day_holiday(make_sandbox):
    sandbox = await make_sandbox(
        start_at=parse_time("2026-09-30T07:00:00+08:00"),
        settings=quiet_settings(traffic_rate=6.0, webhook_url=""),
    )
    await sandbox.register(terminals=("10000001", "10000002"))

    await sandbox.advance_to("2026-09-30T23:30:00+08:00")

    [payout] = await sandbox.all_payouts()
    feed = await sandbox.collect("/v1/transactions")
    carried = await sandbox.collect(f"/v1/payouts/{payout['id']}/transactions")
    # 1 to 7 October are the National Day holiday: Thursday the 8th is the next business day.
    assert (payout["settlement_date"], payout["settlement_cycle"]) == ("2026-10-08", "t1")
    assert payout["expected_at"] == "2026-10-08T10:00:00+08:00"
    assert payout["status"] == "scheduled"
    assert len(feed) >= 40
    assert {t["type"] for t in feed} >= {"sale"}
    check_totals(payout, carried)
    cutoff = parse_time("2026-09-30T23:00:00+08:00")
    expected = {
        t["id"] for t in feed if t["status"] == "approved" and parse_time(t["occurred_at"]) < cutoff
    }
    assert {t["id"] for t in carried} == expected

    await sandbox.advance_to("2026-10-08T07:00:00+08:00")
    [holiday_payout] = await sandbox.payouts(settlement_date="2026-10-08")
    assert holiday_payout["id"] == payout["id"]
    assert holiday_payout["transaction_count"] > payout["transaction_count"]

    await sandbox.advance_to("2026-10-08T12:00:00+08:00")
    paid = await sandbox.payout(payout["id"])
    assert paid["status"] == "paid"
    assert paid["paid_at"].startswith("2026-10-08T")
    assert paid["bank_reference"]


async def test_a_friday_sale_before_a_working_saturday_settles_on_that_saturday(make_sandbox):
    sandbox = await make_sandbox(start_at=parse_time("2026-10-09T10:00:00+08:00"))
    await sandbox.register()
    await sandbox.sale()

    await sandbox.advance_to("2026-10-09T23:30:00+08:00")

    [payout] = await sandbox.all_payouts()
    assert payout["settlement_date"] == "2026-10-10"  # 调休: Saturday 10 October is a workday


async def test_d0_settles_the_same_day_within_its_window_and_daily_limit(sandbox):
    await sandbox.register(fee_schedule=D0_SCHEDULE)
    await sandbox.advance_to("2026-11-26T10:00:00+08:00")
    first = await sandbox.sale(amount="300.00")
    second = await sandbox.sale(amount="150.00")
    over = await sandbox.sale(amount="100.00")  # 550 would pass the 500 limit
    await sandbox.advance_to("2026-11-26T22:30:00+08:00")
    outside = await sandbox.sale(amount="40.00")  # after the window closed at 22:00

    assert [first["fee"], second["fee"]] == ["1.29", "0.65"]  # rate + 0.05% surcharge
    assert [over["fee"], outside["fee"]] == ["0.38", "0.15"]
    [d0] = await sandbox.payouts(settlement_date="2026-11-26")
    assert (d0["settlement_cycle"], d0["transaction_count"]) == ("d0", 2)
    assert (d0["gross_amount"], d0["fee_amount"], d0["net_amount"]) == (
        "450.00",
        "1.94",
        "448.06",
    )
    assert d0["expected_at"] == "2026-11-26T23:30:00+08:00"
    assert d0["updated_at"].startswith("2026-11-26T22:")

    await sandbox.advance_to("2026-11-27T00:00:00+08:00")
    assert (await sandbox.payout(d0["id"]))["status"] == "paid"
    [t1] = await sandbox.payouts(settlement_date="2026-11-27")
    assert (t1["settlement_cycle"], t1["gross_amount"], t1["fee_amount"]) == (
        "t1",
        "140.00",
        "0.53",
    )


async def test_a_void_frees_its_share_of_the_d0_limit(sandbox):
    await sandbox.register(fee_schedule=D0_SCHEDULE)
    sale = await sandbox.sale(amount="450.00")
    await sandbox.sale(type="void", original_id=sale["id"], amount="450.00")

    again = await sandbox.sale(amount="400.00")

    assert again["fee"] == "1.72"  # 1.52 + 0.20: D0, since the void gave the 450 back


async def test_d0_outside_its_window_falls_back_to_t1(sandbox):
    await sandbox.register(fee_schedule={**D0_SCHEDULE, "d0_window_start": "10:00"})

    early = await sandbox.sale(amount="100.00")  # 09:30

    assert early["fee"] == "0.38"


async def test_a_payout_goes_scheduled_processing_paid_and_announces_each_step(sandbox):
    await sandbox.register()
    await sandbox.sale(amount="88.00")

    await sandbox.advance_to("2026-11-27T12:00:00+08:00")

    [payout] = await sandbox.all_payouts()
    steps = [e["data"] for e in await sandbox.events("payout.updated")]
    assert [s["status"] for s in steps] == ["scheduled", "processing", "paid"]
    moments = [parse_time(s["updated_at"]) for s in steps]
    assert moments == sorted(set(moments))
    assert steps[0]["updated_at"] == "2026-11-26T23:00:00+08:00"
    assert parse_time("2026-11-27T08:30:00+08:00") <= moments[1]
    assert moments[1] <= parse_time("2026-11-27T09:00:00+08:00")
    assert parse_time("2026-11-27T09:35:00+08:00") <= moments[2]
    assert moments[2] <= parse_time("2026-11-27T10:20:00+08:00")
    assert steps[2] == payout
    assert payout["paid_at"] == payout["updated_at"]
    assert payout["bank_reference"].startswith("HVPS20261127")
    assert (await sandbox.events())[0]["type"] == "transaction.created"


async def test_payouts_that_go_wrong_say_why_with_a_code_and_the_banks_words(make_sandbox):
    sandbox = await make_sandbox(settings=quiet_settings(incident_rate=1.0))
    merchants = [f"89831005812{n:04d}" for n in range(10)]
    for n, mid in enumerate(merchants):
        await sandbox.register(mid, terminals=(f"3000{n:04d}",))
    for _day in range(6):
        for mid in merchants:
            await sandbox.sale(mid)
        await sandbox.advance(86400)
    await sandbox.advance(20 * 86400)

    changes = [e["data"] for e in await sandbox.events("payout.updated")]
    seen = {(c["status"], c["reason_code"]) for c in changes}
    families = {
        "processing": {None, "BANK_PROCESSING_DELAY", "BANK_HOLIDAY"},
        "returned": {
            "ACCOUNT_NAME_MISMATCH",
            "ACCOUNT_CLOSED",
            "INVALID_ACCOUNT_NUMBER",
            "LIMIT_EXCEEDED",
        },
        "failed": {"CHANNEL_UNAVAILABLE"},
        "held": {"RISK_REVIEW", "FRAUD_SUSPECTED"},
        "scheduled": {None},
        "paid": {None},
    }
    for status, reason_code in seen:
        assert reason_code in families[status], (status, reason_code)
    for change in changes:
        assert change["reason"] == (
            REASONS[change["reason_code"]] if change["reason_code"] else None
        )
    statuses = {status for status, _ in seen}
    assert {"returned", "held", "failed"} <= statuses
    assert ("processing", "BANK_PROCESSING_DELAY") in seen


async def test_after_a_holiday_payouts_go_wrong_more_often_and_delays_say_holiday(make_sandbox):
    sandbox = await make_sandbox(
        start_at=parse_time("2026-09-30T10:00:00+08:00"),
        settings=quiet_settings(incident_rate=0.34),  # three times that after a holiday: all
    )
    merchants = [f"89831005813{n:04d}" for n in range(8)]
    for n, mid in enumerate(merchants):
        await sandbox.register(mid, terminals=(f"4000{n:04d}",))
        await sandbox.sale(mid)

    await sandbox.advance_to("2026-10-20T12:00:00+08:00")

    codes: dict[str, set] = {}
    for event in await sandbox.events("payout.updated"):
        assert event["data"]["settlement_date"] == "2026-10-08"
        codes.setdefault(event["data"]["id"], set()).add(event["data"]["reason_code"])
    assert len(codes) == len(merchants)
    assert all(seen - {None} for seen in codes.values())
    every_code = set().union(*codes.values())
    assert "BANK_HOLIDAY" in every_code
    assert "BANK_PROCESSING_DELAY" not in every_code


SCENARIO_OUTCOMES = {
    "bank_delay": ("processing", "BANK_PROCESSING_DELAY", "银行处理中，资金延迟入账"),
    "account_error": ("returned", "ACCOUNT_NAME_MISMATCH", "户名不符"),
    "channel_fault": ("failed", "CHANNEL_UNAVAILABLE", "系统繁忙请稍后"),
    "risk_hold": ("held", "RISK_REVIEW", "风控审核中"),
    "unknown_reason": ("held", "SETTLE_SUSPENDED", "结算暂停，原因待查"),
    "paid": ("paid", None, None),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIO_OUTCOMES))
async def test_a_scenario_moves_the_latest_unpaid_payout_now_and_it_stays(sandbox, scenario):
    await sandbox.register()
    await sandbox.sale()
    await sandbox.advance_to("2026-11-27T08:00:00+08:00")  # scheduled, not yet processing
    [payout] = await sandbox.all_payouts()

    moved = await sandbox.control(
        "POST", "/_sandbox/scenarios", {"merchant_id": MID, "scenario": scenario}
    )
    await sandbox.advance(3 * 86400)

    shown = await sandbox.payout(payout["id"])
    assert moved["id"] == payout["id"]
    assert shown == moved
    assert (shown["status"], shown["reason_code"], shown["reason"]) == SCENARIO_OUTCOMES[scenario]
    assert shown["updated_at"] == "2026-11-27T08:00:00+08:00"
    if scenario == "paid":
        assert shown["bank_reference"] and shown["paid_at"] == shown["updated_at"]
    if scenario == "unknown_reason":
        assert shown["reason_code"] not in CONTRACT_REASON_CODES


async def test_a_scenario_makes_a_payout_now_for_a_merchant_without_one(sandbox):
    await sandbox.register()

    payout = await sandbox.control(
        "POST", "/_sandbox/scenarios", {"merchant_id": MID, "scenario": "bank_delay"}
    )

    carried = await sandbox.collect(f"/v1/payouts/{payout['id']}/transactions")
    check_totals(payout, carried)
    assert (payout["transaction_count"], payout["gross_amount"]) == (3, "405.90")
    assert payout["settlement_date"] == "2026-11-27"
    assert payout["status"] == "processing"


async def test_a_scenario_may_name_the_reason_code_and_the_payout(sandbox):
    await sandbox.register()
    await sandbox.sale()
    await sandbox.advance_to("2026-11-27T12:00:00+08:00")
    [paid] = await sandbox.all_payouts()

    moved = await sandbox.control(
        "POST",
        "/_sandbox/scenarios",
        {
            "merchant_id": MID,
            "scenario": "account_error",
            "reason_code": "LIMIT_EXCEEDED",
            "payout_id": paid["id"],
        },
    )

    assert (moved["id"], moved["status"], moved["reason"]) == (
        paid["id"],
        "returned",
        "超过II类户限额",
    )


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"merchant_id": MID, "scenario": "lost_in_the_mail"}, 422),
        ({"merchant_id": MID, "scenario": "risk_hold", "reason_code": "BANK_HOLIDAY"}, 422),
        ({"merchant_id": "898310058129999", "scenario": "paid"}, 404),
        ({"merchant_id": MID, "scenario": "paid", "payout_id": "po_20990101_000001"}, 404),
    ],
)
async def test_a_scenario_that_cannot_be_done_is_refused(sandbox, payload, status):
    await sandbox.register()

    answer = await sandbox.http.post("/_sandbox/scenarios", json=payload)

    assert answer.status_code == status


async def returned_payout(sandbox) -> dict:
    await sandbox.register()
    await sandbox.sale()
    await sandbox.advance_to("2026-11-27T08:00:00+08:00")
    return await sandbox.control(
        "POST", "/_sandbox/scenarios", {"merchant_id": MID, "scenario": "account_error"}
    )


def new_account(**changes) -> dict:
    return {
        "holder_name": "上海示例便利店有限公司",
        "account_number": NEW_ACCOUNT,
        "bank_code": "CMB",
        "branch_code": "308290003011",
        **changes,
    }


async def test_a_returned_payout_is_retried_after_a_verified_account_change(sandbox):
    payout = await returned_payout(sandbox)
    retry_url = f"/v1/payouts/{payout['id']}/retry"

    too_soon = await sandbox.post(retry_url, idempotency_key="retry-0")
    await sandbox.put(
        f"/v1/merchants/{MID}/settlement-account",
        new_account(holder_name=""),
        idempotency_key="acct-rejected",
    )
    after_rejection = await sandbox.post(retry_url, idempotency_key="retry-1")
    await sandbox.advance(600)
    changed = await sandbox.put(
        f"/v1/merchants/{MID}/settlement-account", new_account(), idempotency_key="acct-ok"
    )
    retried = await sandbox.post(retry_url, idempotency_key="retry-2")
    again = await sandbox.post(retry_url, idempotency_key="retry-2")

    assert (too_soon.status_code, too_soon.json()["error"]["code"]) == (409, "account_not_changed")
    assert after_rejection.status_code == 409
    assert changed.json()["status"] == "verified"
    assert retried.status_code == 200, retried.text
    assert again.content == retried.content
    body = retried.json()
    assert (body["status"], body["reason_code"], body["reason"]) == ("scheduled", None, None)
    assert body["account_masked"] == "622202*********0026"
    assert body["bank_name"] == "招商银行"
    versions = [e for e in await sandbox.events("payout.updated") if e["data"]["id"] == body["id"]]

    await sandbox.advance(3600)

    paid = await sandbox.payout(payout["id"])
    assert paid["status"] == "paid"
    assert paid["account_masked"] == "622202*********0026"
    assert [e["data"]["status"] for e in await sandbox.events("payout.updated")][
        len(versions) :
    ] == ["processing", "paid"]
    later = await sandbox.post(retry_url, idempotency_key="retry-3")
    assert (later.status_code, later.json()["error"]["code"]) == (409, "payout_not_returned")


async def test_an_account_change_before_the_return_does_not_allow_a_retry(sandbox):
    await sandbox.register()
    await sandbox.put(
        f"/v1/merchants/{MID}/settlement-account", new_account(), idempotency_key="acct-early"
    )
    await sandbox.sale()
    await sandbox.advance_to("2026-11-27T08:00:00+08:00")
    payout = await sandbox.control(
        "POST", "/_sandbox/scenarios", {"merchant_id": MID, "scenario": "account_error"}
    )

    answer = await sandbox.post(f"/v1/payouts/{payout['id']}/retry", idempotency_key="r")

    assert answer.status_code == 409


async def test_a_retry_needs_an_idempotency_key_and_a_payout_of_the_key(sandbox):
    payout = await returned_payout(sandbox)

    no_key = await sandbox.post(f"/v1/payouts/{payout['id']}/retry")
    theirs = await sandbox.post(
        f"/v1/payouts/{payout['id']}/retry",
        idempotency_key="r",
        key_id=OTHER_KEY_ID,
        secret=OTHER_SECRET,
    )

    assert no_key.status_code == 400
    assert theirs.status_code == 404


async def test_seeding_makes_settled_history_without_webhooks(make_sandbox):
    sandbox = await make_sandbox(settings=quiet_settings(traffic_rate=4.0, incident_rate=0.05))
    await sandbox.register(terminals=("10000001", "10000002"))

    summary = await sandbox.control("POST", "/_sandbox/seed", {"merchant_id": MID, "days": 30})

    assert summary["from"] == "2026-10-27T00:00:00+08:00"
    assert summary["transactions_added"] > 300
    payouts = await sandbox.all_payouts()
    dates = {p["settlement_date"] for p in payouts}
    assert min(dates) <= "2026-10-28" and max(dates) == "2026-11-26"
    settled_before_today = [p for p in payouts if p["settlement_date"] < "2026-11-26"]
    paid = [p for p in settled_before_today if p["status"] == "paid"]
    assert len(paid) >= 0.8 * len(settled_before_today)
    for payout in payouts[:5]:
        check_totals(payout, await sandbox.collect(f"/v1/payouts/{payout['id']}/transactions"))
    assert await sandbox.events() == []
    again = await sandbox.control("POST", "/_sandbox/seed", {"merchant_id": MID, "days": 30})
    assert again["transactions_added"] == 0


async def test_seeding_is_deterministic_for_a_seed(make_sandbox):
    histories = []
    for seed in (7, 7, 8):
        sandbox = await make_sandbox(seed=seed, settings=quiet_settings(traffic_rate=3.0))
        await sandbox.register()
        await sandbox.control("POST", "/_sandbox/seed", {"merchant_id": MID, "days": 10})
        feed = await sandbox.collect("/v1/transactions?limit=500")
        payouts = await sandbox.all_payouts()
        histories.append((feed, payouts))

    assert histories[0] == histories[1]
    assert histories[0][0] != histories[2][0]


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ({"merchant_id": "898310058129999", "days": 5}, 404),
        ({"merchant_id": OTHER_MID, "days": 5}, 409),
        ({"merchant_id": MID, "days": 0}, 422),
    ],
)
async def test_seeding_needs_a_merchant_with_terminals(sandbox, payload, status):
    await sandbox.register()
    await sandbox.register(OTHER_MID, terminals=())

    answer = await sandbox.http.post("/_sandbox/seed", json=payload)

    assert answer.status_code == status


async def state_after(sandbox) -> tuple:
    """Feeds, payouts and the events queued (in the order they will be delivered: merchants
    are simulated one after the other, so the outbox's own order may differ)."""
    events = [(e["created_at"], e["type"], json.dumps(e["data"])) for e in await sandbox.events()]
    return (
        await sandbox.collect("/v1/transactions?limit=500"),
        await sandbox.all_payouts(),
        sorted(events),
    )


async def test_catching_up_in_one_step_or_many_ends_in_the_same_state(make_sandbox):
    settings = quiet_settings(
        traffic_rate=5.0, late_arrival_rate=0.2, fee_error_rate=0.1, incident_rate=0.5
    )
    one = await make_sandbox(settings=settings)
    many = await make_sandbox(settings=settings)
    for sandbox in (one, many):
        await sandbox.register(terminals=("10000001", "10000002"))
        await sandbox.register(OTHER_MID, terminals=("10000003",), fee_schedule={**D0_SCHEDULE})

    await one.advance(36 * 3600)
    for _ in range(36 * 4):
        await many.advance(15 * 60)

    assert await state_after(one) == await state_after(many)
    assert len((await state_after(one))[0]) > 50


async def test_late_arrivals_are_found_by_since_and_never_miss_their_batch(make_sandbox):
    sandbox = await make_sandbox(
        start_at=parse_time("2026-11-26T07:00:00+08:00"),
        settings=quiet_settings(traffic_rate=5.0, late_arrival_rate=1.0),
    )
    await sandbox.register()
    await sandbox.advance_to("2026-11-26T15:00:00+08:00")
    first_poll = await sandbox.collect("/v1/transactions")

    await sandbox.advance_to("2026-11-26T23:30:00+08:00")

    since = httpx.URL("/v1/transactions", params={"since": "2026-11-26T15:00:00+08:00"})
    second_poll = await sandbox.collect(str(since))
    poll_time = parse_time("2026-11-26T15:00:00+08:00")
    late = [t for t in second_poll if parse_time(t["occurred_at"]) < poll_time]
    assert late, "some sales made before the first poll were recorded after it"
    assert not {t["id"] for t in late} & {t["id"] for t in first_poll}
    [payout] = await sandbox.all_payouts()
    carried = await sandbox.collect(f"/v1/payouts/{payout['id']}/transactions")
    cutoff = parse_time("2026-11-26T23:00:00+08:00")
    everything = first_poll + second_poll
    assert {t["id"] for t in carried} == {
        t["id"]
        for t in everything
        if t["status"] == "approved" and parse_time(t["occurred_at"]) < cutoff
    }


def schedule_fee(record) -> Decimal:
    rate = Decimal(
        FEE_SCHEDULE[
            {
                "debit_card": "debit_rate",
                "credit_card": "credit_rate",
                "unionpay_qr": "unionpay_qr_rate",
                "wechat_pay": "wechat_pay_rate",
                "alipay": "alipay_rate",
            }[record["channel"]]
        ]
    )
    fee = fen(Decimal(record["amount"]) * rate)
    if record["channel"] == "debit_card":
        fee = min(fee, Decimal(FEE_SCHEDULE["debit_cap"]))
    return fee


@pytest.mark.parametrize(("rate", "differs"), [(0.0, False), (1.0, True)])
async def test_the_acquirer_sometimes_gets_a_fee_wrong_by_a_fen(make_sandbox, rate, differs):
    sandbox = await make_sandbox(settings=quiet_settings(traffic_rate=6.0, fee_error_rate=rate))
    await sandbox.register()

    await sandbox.advance(8 * 3600)

    sales = [
        t
        for t in await sandbox.collect("/v1/transactions")
        if t["type"] == "sale" and t["status"] == "approved"
    ]
    assert len(sales) > 10
    for sale in sales:
        off = abs(Decimal(sale["fee"]) - schedule_fee(sale))
        assert off == (Decimal("0.01") if differs else 0) or (differs and schedule_fee(sale) == 0)


async def test_traffic_has_refunds_voids_or_reversals_naming_their_original(make_sandbox):
    sandbox = await make_sandbox(settings=quiet_settings(traffic_rate=8.0))
    await sandbox.register(terminals=("10000001", "10000002", "10000003"))

    await sandbox.advance(10 * 86400)

    feed = await sandbox.collect("/v1/transactions?limit=500")
    ids = {t["id"] for t in feed}
    undoing = [t for t in feed if t["type"] != "sale"]
    assert {t["type"] for t in undoing} >= {"refund", "void"}
    assert all(t["original_id"] in ids for t in undoing)
    assert {t["channel"] for t in feed} == {
        "debit_card",
        "credit_card",
        "unionpay_qr",
        "wechat_pay",
        "alipay",
    }
    assert {t["status"] for t in feed} == {"approved", "declined"}
    hours = {int(t["occurred_at"][11:13]) for t in feed}
    assert hours.isdisjoint(range(0, 7))
    for t in feed:
        assert (t["card_masked"] is None) == (t["channel"] not in ("debit_card", "credit_card"))


async def test_disputes_arise_from_card_sales_and_are_announced(make_sandbox):
    sandbox = await make_sandbox(settings=quiet_settings(traffic_rate=4.0, dispute_rate=1.0))
    await sandbox.register()
    await sandbox.control("POST", "/_sandbox/seed", {"merchant_id": MID, "days": 20})

    await sandbox.advance(3 * 86400)

    created = [e["data"] for e in await sandbox.events("dispute.created")]
    feed = {t["id"]: t for t in await sandbox.collect("/v1/transactions?limit=500")}
    assert len(created) == 3
    for dispute in created:
        sale = feed[dispute["transaction_id"]]
        assert sale["channel"] in ("debit_card", "credit_card") and sale["type"] == "sale"
        assert dispute["kind"] in ("retrieval", "chargeback")


async def test_an_adjustment_changes_the_net_and_is_announced(sandbox):
    await sandbox.register()
    await sandbox.sale(amount="100.00")
    await sandbox.advance_to("2026-11-26T23:30:00+08:00")
    [payout] = await sandbox.all_payouts()

    adjusted = await sandbox.control(
        "POST", f"/_sandbox/payouts/{payout['id']}/adjust", {"amount": "-5.00"}
    )

    assert (adjusted["adjustment_amount"], adjusted["net_amount"]) == ("-5.00", "94.62")
    assert (await sandbox.events("payout.updated"))[-1]["data"] == adjusted
