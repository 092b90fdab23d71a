"""The read side: the transactions feed, payouts (by date, by change, one, a batch, their
transactions), cursor paging, the reconciliation file and disputes with their evidence."""

import csv
import io

import httpx
import pytest

from sandbox.calendar import parse_time
from tests.sandbox.conftest import MID, OTHER_KEY_ID, OTHER_MID, OTHER_SECRET, START

pytestmark = pytest.mark.anyio

HEADER = (
    "transaction_id,merchant_id,terminal_id,type,channel,amount,fee,net,rrn,trace_no,"
    "occurred_at,payout_id"
)


def code(answer) -> str:
    return answer.json()["error"]["code"]


async def test_the_feed_spans_every_merchant_of_the_key_and_no_other(sandbox):
    await sandbox.register()
    await sandbox.register(OTHER_MID, terminals=("10000002",))
    await sandbox.register(
        "898310058120003", terminals=("10000003",), key_id=OTHER_KEY_ID, secret=OTHER_SECRET
    )
    mine = [(await sandbox.sale(MID))["id"], (await sandbox.sale(OTHER_MID))["id"]]
    await sandbox.sale("898310058120003")

    feed = await sandbox.collect("/v1/transactions")
    one = await sandbox.collect(f"/v1/transactions?merchant_id={OTHER_MID}")

    assert [record["id"] for record in feed] == mine
    assert [record["merchant_id"] for record in one] == [OTHER_MID]


async def test_the_feed_of_another_keys_merchant_is_not_found(sandbox):
    await sandbox.register()

    answer = await sandbox.get(
        f"/v1/transactions?merchant_id={MID}", key_id=OTHER_KEY_ID, secret=OTHER_SECRET
    )

    assert answer.status_code == 404


async def test_since_compares_the_recording_time_so_a_late_arrival_is_not_skipped(sandbox):
    await sandbox.register()
    await sandbox.sale(amount="10.00")
    await sandbox.advance(600)
    poll_started = "2026-11-26T09:40:00+08:00"
    # Paid at 09:35, but the acquirer only has it at 09:45: after the portal's last poll.
    await sandbox.advance(300)
    late = await sandbox.sale(amount="20.00", occurred_at="2026-11-26T09:35:00+08:00")

    since = httpx.URL("/v1/transactions", params={"since": poll_started})
    records = await sandbox.collect(str(since))

    assert [record["id"] for record in records] == [late["id"]]
    assert records[0]["occurred_at"] == "2026-11-26T09:35:00+08:00"


async def test_since_is_inclusive(sandbox):
    await sandbox.register()
    sale = await sandbox.sale()

    url = httpx.URL("/v1/transactions", params={"since": sale["occurred_at"]})
    records = await sandbox.collect(str(url))

    assert [record["id"] for record in records] == [sale["id"]]


async def test_a_transaction_record_has_every_field_of_the_contract(sandbox):
    await sandbox.register()
    sale = await sandbox.sale(channel="debit_card", amount="5000.00")
    refund = await sandbox.sale(type="refund", original_id=sale["id"], amount="100.00")

    assert set(sale) == {
        "id",
        "merchant_id",
        "terminal_id",
        "type",
        "original_id",
        "channel",
        "amount",
        "fee",
        "card_masked",
        "rrn",
        "trace_no",
        "batch_no",
        "auth_code",
        "status",
        "occurred_at",
        "payout_id",
    }
    assert (sale["amount"], sale["fee"]) == ("5000.00", "20.00")  # capped at 20.00
    assert sale["card_masked"] == "622202******0018"
    assert len(sale["rrn"]) == 12 and len(sale["trace_no"]) == 6 and len(sale["batch_no"]) == 6
    assert (refund["type"], refund["original_id"], refund["fee"]) == ("refund", sale["id"], "0.00")


async def test_a_list_pages_with_an_opaque_cursor_in_a_stable_order(sandbox):
    await sandbox.register()
    ids = []
    for minute in range(7):
        await sandbox.advance(60)
        ids.append((await sandbox.sale(amount=f"{minute + 1}.00"))["id"])

    first = (await sandbox.get("/v1/transactions?limit=3")).json()
    records = await sandbox.collect("/v1/transactions?limit=3")

    assert len(first["data"]) == 3 and first["next_cursor"]
    assert [record["id"] for record in records] == ids


@pytest.mark.parametrize("limit", ["0", "501", "ten", "-1"])
async def test_a_limit_outside_1_to_500_is_refused(sandbox, limit):
    answer = await sandbox.get(f"/v1/transactions?limit={limit}")

    assert (answer.status_code, code(answer)) == (400, "invalid_parameter")


async def test_limit_500_is_allowed(sandbox):
    assert (await sandbox.get("/v1/transactions?limit=500")).status_code == 200


async def test_a_forged_cursor_or_one_from_another_list_is_refused(sandbox):
    await sandbox.register()
    for _ in range(3):
        await sandbox.sale()
    cursor = (await sandbox.get("/v1/transactions?limit=1")).json()["next_cursor"]

    forged = await sandbox.get(f"/v1/transactions?limit=1&cursor={cursor[:-2]}xx")
    other_filter = await sandbox.get(
        str(httpx.URL("/v1/transactions", params={"merchant_id": MID, "cursor": cursor}))
    )
    other_list = await sandbox.get(str(httpx.URL("/v1/disputes", params={"cursor": cursor})))

    for answer in (forged, other_filter, other_list):
        assert (answer.status_code, code(answer)) == (400, "invalid_cursor")


async def test_a_bad_since_is_refused(sandbox):
    naive = await sandbox.get("/v1/transactions?since=2026-11-26T09:00:00")

    assert (naive.status_code, code(naive)) == (400, "invalid_parameter")


async def settled_day(sandbox) -> list[dict]:
    """Three sales on Thursday 26 November, paid out on Friday the 27th."""
    await sandbox.register()
    await sandbox.sale(amount="100.00")
    await sandbox.sale(amount="50.00", channel="alipay")
    sale = await sandbox.sale(amount="300.00", channel="credit_card")
    await sandbox.sale(type="refund", original_id=sale["id"], amount="30.00")
    await sandbox.advance_to("2026-11-26T23:30:00+08:00")
    return await sandbox.payouts(settlement_date="2026-11-27")


async def test_payouts_by_merchant_and_settlement_date(sandbox):
    [payout] = await settled_day(sandbox)

    assert payout["merchant_id"] == MID
    assert payout["settlement_date"] == "2026-11-27"
    assert payout["status"] == "scheduled"
    assert payout["gross_amount"] == "420.00"  # 100 + 50 + 300 − 30
    assert payout["fee_amount"] == "2.37"  # 0.38 + 0.19 + 1.80; a card refund returns no fee
    assert payout["adjustment_amount"] == "0.00"
    assert payout["net_amount"] == "417.63"
    assert payout["transaction_count"] == 4
    assert payout["expected_at"] == "2026-11-27T10:00:00+08:00"
    assert payout["account_masked"] == "622202*********0018"
    assert payout["bank_name"] == "中国工商银行"
    assert (payout["bank_reference"], payout["paid_at"], payout["reason_code"]) == (
        None,
        None,
        None,
    )
    assert await sandbox.payouts(settlement_date="2026-11-30") == []


async def test_one_payout_and_the_transactions_it_carries(sandbox):
    [payout] = await settled_day(sandbox)

    one = await sandbox.payout(payout["id"])
    carried = await sandbox.collect(f"/v1/payouts/{payout['id']}/transactions?limit=2")

    assert one == payout
    assert len(carried) == 4
    assert {record["payout_id"] for record in carried} == {payout["id"]}


async def test_a_payout_of_another_key_or_unknown_is_not_found(sandbox):
    [payout] = await settled_day(sandbox)

    theirs = await sandbox.get(
        f"/v1/payouts/{payout['id']}", key_id=OTHER_KEY_ID, secret=OTHER_SECRET
    )
    unknown = await sandbox.get("/v1/payouts/po_20261127_999999")
    its_transactions = await sandbox.get(
        f"/v1/payouts/{payout['id']}/transactions", key_id=OTHER_KEY_ID, secret=OTHER_SECRET
    )

    assert theirs.status_code == unknown.status_code == its_transactions.status_code == 404


async def test_the_updated_since_feed_is_ordered_by_updated_at_then_id(sandbox):
    await sandbox.register()
    await sandbox.register(OTHER_MID, terminals=("10000002",))
    for mid in (MID, OTHER_MID):
        await sandbox.sale(mid)
    await sandbox.advance_to("2026-11-27T12:00:00+08:00")

    url = httpx.URL("/v1/payouts", params={"updated_since": "2026-11-26T00:00:00+08:00"})
    records = await sandbox.collect(f"{url}&limit=1")
    later = httpx.URL("/v1/payouts", params={"updated_since": "2026-11-27T09:00:00+08:00"})
    recent = await sandbox.collect(str(later))

    keys = [(parse_time(record["updated_at"]), record["id"]) for record in records]
    assert keys == sorted(keys) and len(records) == 2
    assert {record["status"] for record in records} == {"paid"}
    assert {record["id"] for record in recent} == {record["id"] for record in records}


async def test_a_payout_list_needs_a_filter(sandbox):
    answer = await sandbox.get("/v1/payouts")

    assert (answer.status_code, code(answer)) == (400, "invalid_parameter")


async def test_the_batch_query_answers_known_ids_and_lists_the_rest_as_missing(sandbox):
    [payout] = await settled_day(sandbox)
    other = "898310058120003"
    await sandbox.register(other, terminals=("10000003",), key_id=OTHER_KEY_ID, secret=OTHER_SECRET)
    await sandbox.sale(other)
    await sandbox.advance_to("2026-11-27T23:30:00+08:00")
    their_list = httpx.URL("/v1/payouts", params={"merchant_id": other, "updated_since": START})
    [theirs] = await sandbox.collect(str(their_list), key_id=OTHER_KEY_ID, secret=OTHER_SECRET)

    ids = [payout["id"], "po_20261127_999999", payout["id"], theirs["id"]]
    answer = await sandbox.post("/v1/payouts/query", {"ids": ids})

    assert answer.status_code == 200
    body = answer.json()
    assert [record["id"] for record in body["data"]] == [payout["id"]]
    assert body["missing"] == ["po_20261127_999999", theirs["id"]]


@pytest.mark.parametrize(
    "payload",
    [{"ids": []}, {"ids": [f"po_{n}" for n in range(101)]}, {"ids": "po_1"}, {"ids": [1]}, {}],
)
async def test_the_batch_query_refuses_more_than_100_ids_or_no_list(sandbox, payload):
    answer = await sandbox.post("/v1/payouts/query", payload)

    assert (answer.status_code, code(answer)) == (422, "invalid_field")


async def test_the_batch_query_takes_100_ids(sandbox):
    answer = await sandbox.post("/v1/payouts/query", {"ids": [f"po_{n}" for n in range(100)]})

    assert answer.status_code == 200
    assert len(answer.json()["missing"]) == 100


async def test_the_reconciliation_file_has_the_header_and_a_line_per_settled_transaction(sandbox):
    [payout] = await settled_day(sandbox)
    await sandbox.register(
        "898310058120003", terminals=("10000003",), key_id=OTHER_KEY_ID, secret=OTHER_SECRET
    )

    answer = await sandbox.get("/v1/reconciliation/2026-11-27")

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    text = answer.content.decode("utf-8")
    assert text.splitlines()[0] == HEADER
    lines = list(csv.DictReader(io.StringIO(text)))
    assert len(lines) == 4
    for line in lines:
        amount, fee, net = (float(line[name]) for name in ("amount", "fee", "net"))
        assert round(amount - fee, 2) == round(net, 2)
        assert line["payout_id"] == payout["id"]
        assert line["merchant_id"] == MID
    refund = next(line for line in lines if line["type"] == "refund")
    assert (refund["amount"], refund["fee"], refund["net"]) == ("-30.00", "0.00", "-30.00")


async def test_a_reconciliation_file_for_a_day_without_settlement_is_the_header_alone(sandbox):
    answer = await sandbox.get("/v1/reconciliation/2026-11-28")

    assert answer.text == HEADER + "\n"


@pytest.mark.parametrize("day", ["2026-11-31", "20261127", "2026-1-27"])
async def test_a_reconciliation_date_that_is_not_a_date_is_refused(sandbox, day):
    answer = await sandbox.get(f"/v1/reconciliation/{day}")

    assert (answer.status_code, code(answer)) == (400, "invalid_parameter")


async def open_dispute(sandbox, **fields) -> dict:
    await sandbox.register()
    sale = await sandbox.sale(channel="credit_card", amount="880.00")
    return await sandbox.control(
        "POST", "/_sandbox/disputes", {"transaction_id": sale["id"], **fields}
    )


async def test_the_disputes_feed_shows_a_dispute_with_the_contracts_fields(sandbox):
    dispute = await open_dispute(sandbox, kind="retrieval", reason_code="4501")

    records = await sandbox.collect("/v1/disputes")
    theirs = await sandbox.collect("/v1/disputes", key_id=OTHER_KEY_ID, secret=OTHER_SECRET)

    assert records == [dispute]
    assert {"id", "transaction_id", "kind", "reason_code", "amount", "evidence_due_at"} < set(
        dispute
    )
    assert (dispute["kind"], dispute["status"], dispute["amount"]) == (
        "retrieval",
        "open",
        "880.00",
    )
    assert dispute["evidence_due_at"] == "2026-12-03T09:30:00+08:00"
    assert theirs == []


async def test_the_disputes_feed_since_compares_the_last_change(sandbox):
    dispute = await open_dispute(sandbox)
    await sandbox.advance(3600)
    await sandbox.control("POST", f"/_sandbox/disputes/{dispute['id']}/decide", {"status": "won"})

    since = httpx.URL("/v1/disputes", params={"since": "2026-11-26T10:00:00+08:00"})
    records = await sandbox.collect(str(since))

    assert [(record["id"], record["status"]) for record in records] == [(dispute["id"], "won")]


def evidence_files(note="发票与签购单") -> tuple[dict, dict]:
    return (
        {"note": note},
        {
            "receipt": ("receipt.pdf", b"%PDF-1.4 receipt", "application/pdf"),
            "photo": ("delivery.jpg", b"\xff\xd8\xff photo", "image/jpeg"),
        },
    )


async def post_evidence(sandbox, dispute_id, *, key="ev-1", data=None, files=None):
    default_data, default_files = evidence_files()
    request = httpx.Request(
        "POST",
        f"http://acquirer.test/v1/disputes/{dispute_id}/evidence",
        data=default_data if data is None else data,
        files=default_files if files is None else files,
    )
    body = request.read()
    headers = sandbox.headers(
        "POST", request.url.raw_path.decode(), body, **({"Idempotency-Key": key} if key else {})
    )
    headers["Content-Type"] = request.headers["Content-Type"]
    return await sandbox.http.post(request.url.path, content=body, headers=headers)


async def test_evidence_is_taken_once_per_idempotency_key(sandbox):
    dispute = await open_dispute(sandbox)

    first = await post_evidence(sandbox, dispute["id"])
    # A retry builds the multipart body anew, with another boundary: still the same operation.
    again = await post_evidence(sandbox, dispute["id"])
    another = await post_evidence(sandbox, dispute["id"], key="ev-2")

    assert first.status_code == 200, first.text
    assert first.json()["status"] == "evidence_submitted"
    assert again.content == first.content
    assert (another.status_code, code(another)) == (409, "dispute_not_open")


async def test_evidence_needs_a_key_a_note_and_a_file(sandbox):
    dispute = await open_dispute(sandbox)

    no_key = await post_evidence(sandbox, dispute["id"], key=None)
    no_file = await post_evidence(sandbox, dispute["id"], key="a", files={"x": ("", b"", "")})
    no_note = await post_evidence(sandbox, dispute["id"], key="b", data={})

    assert (no_key.status_code, code(no_key)) == (400, "idempotency_key_required")
    assert (no_file.status_code, code(no_file)) == (422, "invalid_field")
    assert (no_note.status_code, code(no_note)) == (422, "invalid_field")


async def test_evidence_as_json_is_refused(sandbox):
    dispute = await open_dispute(sandbox)

    answer = await sandbox.post(
        f"/v1/disputes/{dispute['id']}/evidence", {"note": "x"}, idempotency_key="k"
    )

    assert answer.status_code == 415


async def test_evidence_for_another_keys_or_an_unknown_dispute_is_not_found(sandbox):
    dispute = await open_dispute(sandbox)

    unknown = await post_evidence(sandbox, "dp_20261126_999999")
    headers_key = {"key_id": OTHER_KEY_ID, "secret": OTHER_SECRET}
    request = httpx.Request(
        "POST",
        f"http://acquirer.test/v1/disputes/{dispute['id']}/evidence",
        data={"note": "x"},
        files={"f": ("a.pdf", b"%PDF", "application/pdf")},
    )
    body = request.read()
    headers = sandbox.headers(
        "POST", request.url.path, body, **headers_key, **{"Idempotency-Key": "k"}
    )
    headers["Content-Type"] = request.headers["Content-Type"]
    theirs = await sandbox.http.post(request.url.path, content=body, headers=headers)

    assert unknown.status_code == theirs.status_code == 404


async def test_evidence_after_the_deadline_is_refused_and_the_dispute_is_lost(sandbox):
    dispute = await open_dispute(sandbox, kind="chargeback")
    await sandbox.advance(10 * 86400 + 1)

    late = await post_evidence(sandbox, dispute["id"])

    [record] = await sandbox.collect("/v1/disputes")
    assert (late.status_code, code(late)) == (409, "dispute_not_open")
    assert record["status"] == "lost"


async def test_submitted_evidence_is_decided_within_ten_days(sandbox):
    dispute = await open_dispute(sandbox)
    await post_evidence(sandbox, dispute["id"])

    await sandbox.advance(10 * 86400)

    [record] = await sandbox.collect("/v1/disputes")
    assert record["status"] in ("won", "lost")
