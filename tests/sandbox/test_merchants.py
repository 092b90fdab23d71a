"""Merchant registration, terminals and settlement-account changes: the happy paths, the
refusals, idempotency, and one key never seeing another key's merchants."""

import asyncio

import pytest

from tests.sandbox.conftest import (
    ACCOUNT,
    FEE_SCHEDULE,
    MID,
    NEW_ACCOUNT,
    OTHER_KEY_ID,
    OTHER_SECRET,
    merchant_payload,
)

pytestmark = pytest.mark.anyio


def code(answer) -> str:
    return answer.json()["error"]["code"]


async def test_registration_answers_the_merchant_with_the_account_masked(sandbox):
    answer = await sandbox.post("/v1/merchants", merchant_payload(), idempotency_key="reg-1")

    assert answer.status_code == 201
    merchant = answer.json()
    assert merchant["merchant_id"] == MID
    assert merchant["status"] == "active"
    assert merchant["fee_schedule"] == FEE_SCHEDULE
    assert merchant["settlement_account"] == {
        "holder_name": "上海示例便利店有限公司",
        "account_masked": "622202*********0018",
        "bank_code": "ICBC",
        "bank_name": "中国工商银行",
        "branch_code": "102290000012",
    }
    assert ACCOUNT not in answer.text


async def test_the_same_idempotency_key_gives_the_first_answer_and_registers_once(sandbox):
    first = await sandbox.post("/v1/merchants", merchant_payload(), idempotency_key="reg-1")
    await sandbox.advance(60)
    again = await sandbox.post("/v1/merchants", merchant_payload(), idempotency_key="reg-1")

    assert again.status_code == 201
    assert again.content == first.content
    state = await sandbox.control("GET", "/_sandbox/state")
    assert state["counts"]["merchants"] == 1


async def test_the_same_idempotency_key_for_a_different_request_is_refused(sandbox):
    await sandbox.post("/v1/merchants", merchant_payload(), idempotency_key="reg-1")
    other = merchant_payload("898310058129999")

    answer = await sandbox.post("/v1/merchants", other, idempotency_key="reg-1")

    assert answer.status_code == 422
    assert code(answer) == "idempotency_key_reused"


async def test_a_refusal_is_also_the_answer_a_repeated_key_gets(sandbox):
    bad = merchant_payload(mcc="54")
    first = await sandbox.post("/v1/merchants", bad, idempotency_key="reg-bad")
    again = await sandbox.post("/v1/merchants", bad, idempotency_key="reg-bad")

    assert first.status_code == again.status_code == 422
    assert first.content == again.content


async def test_registration_without_an_idempotency_key_is_refused(sandbox):
    answer = await sandbox.post("/v1/merchants", merchant_payload())

    assert answer.status_code == 400
    assert code(answer) == "idempotency_key_required"


async def test_a_merchant_registered_twice_is_refused(sandbox):
    await sandbox.post("/v1/merchants", merchant_payload(), idempotency_key="reg-1")

    answer = await sandbox.post("/v1/merchants", merchant_payload(), idempotency_key="reg-2")
    elsewhere = await sandbox.post(
        "/v1/merchants",
        merchant_payload(),
        idempotency_key="reg-3",
        key_id=OTHER_KEY_ID,
        secret=OTHER_SECRET,
    )

    assert (answer.status_code, code(answer)) == (409, "merchant_exists")
    assert elsewhere.status_code == 409


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"merchant_id": "89831005812000"}, "merchant_id"),
        ({"merchant_id": 898310058120001}, "merchant_id"),
        ({"name": ""}, "name"),
        ({"mcc": "54111"}, "mcc"),
        ({"region_code": "3101"}, "region_code"),
        ({"fee_schedule": {**FEE_SCHEDULE, "debit_rate": 0.005}}, "debit_rate"),
        ({"fee_schedule": {**FEE_SCHEDULE, "credit_rate": "0.0600"}}, "credit_rate"),
        ({"fee_schedule": {**FEE_SCHEDULE, "debit_cap": "20"}}, "debit_cap"),
        ({"fee_schedule": {**FEE_SCHEDULE, "settlement_cycle": "t0"}}, "settlement_cycle"),
        ({"fee_schedule": {**FEE_SCHEDULE, "d0_window_end": "25:00"}}, "d0_window_end"),
        ({"fee_schedule": {**FEE_SCHEDULE, "d0_window_start": "23:00"}}, "d0_window_end"),
        ({"fee_schedule": None}, "fee_schedule"),
    ],
)
async def test_registration_refuses_a_field_it_cannot_use(sandbox, changes, message):
    answer = await sandbox.post(
        "/v1/merchants", merchant_payload(**changes), idempotency_key="reg-x"
    )

    assert answer.status_code == 422
    assert code(answer) == "invalid_field"
    assert message in answer.json()["error"]["message"]


async def test_registration_refuses_a_settlement_account_the_bank_would_refuse(sandbox):
    account = {**merchant_payload()["settlement_account"], "account_number": "6222020000000000019"}

    answer = await sandbox.post(
        "/v1/merchants", merchant_payload(settlement_account=account), idempotency_key="reg-x"
    )

    assert answer.status_code == 422
    assert code(answer) == "settlement_account_rejected"
    assert "INVALID_ACCOUNT_NUMBER" in answer.json()["error"]["message"]
    assert "6222020000000000019" not in answer.text


async def test_malformed_json_is_refused(sandbox):
    headers = sandbox.headers("POST", "/v1/merchants", b"{not json", **{"Idempotency-Key": "k"})

    answer = await sandbox.http.post("/v1/merchants", content=b"{not json", headers=headers)

    assert (answer.status_code, code(answer)) == (400, "malformed_json")


async def test_a_merchant_is_shown_to_its_key_only(sandbox):
    await sandbox.register()

    mine = await sandbox.get(f"/v1/merchants/{MID}")
    theirs = await sandbox.get(f"/v1/merchants/{MID}", key_id=OTHER_KEY_ID, secret=OTHER_SECRET)
    nobody = await sandbox.get("/v1/merchants/898310058129999")

    assert mine.status_code == 200
    assert mine.json()["settlement_account"]["account_masked"] == "622202*********0018"
    assert (theirs.status_code, code(theirs)) == (404, "not_found")
    assert nobody.status_code == 404


async def test_sending_a_terminal_again_changes_nothing_and_gives_the_same_answer(sandbox):
    await sandbox.register(terminals=())
    terminal = {"terminal_id": "20000001", "serial_number": "SN-A920-0001", "model": "PAX A920"}

    first = await sandbox.post(f"/v1/merchants/{MID}/terminals", terminal)
    await sandbox.advance(30)
    again = await sandbox.post(f"/v1/merchants/{MID}/terminals", terminal)

    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    assert first.json()["terminal_id"] == "20000001"
    assert first.json()["merchant_id"] == MID


async def test_a_tid_that_belongs_to_another_device_or_merchant_is_refused(sandbox):
    await sandbox.register(terminals=("20000001",))
    await sandbox.register("898310058120002", terminals=())

    other_device = await sandbox.post(
        f"/v1/merchants/{MID}/terminals",
        {"terminal_id": "20000001", "serial_number": "SN-OTHER", "model": "PAX A920"},
    )
    other_merchant = await sandbox.post(
        "/v1/merchants/898310058120002/terminals",
        {"terminal_id": "20000001", "serial_number": "SN20000001", "model": "PAX A920"},
    )

    assert (other_device.status_code, code(other_device)) == (409, "terminal_exists")
    assert other_merchant.status_code == 409


@pytest.mark.parametrize(
    "terminal",
    [
        {"terminal_id": "2000001", "serial_number": "SN", "model": "A920"},
        {"terminal_id": "20000001", "serial_number": "", "model": "A920"},
        {"terminal_id": "20000001", "serial_number": "SN"},
    ],
)
async def test_a_terminal_with_a_bad_field_is_refused(sandbox, terminal):
    await sandbox.register(terminals=())

    answer = await sandbox.post(f"/v1/merchants/{MID}/terminals", terminal)

    assert (answer.status_code, code(answer)) == (422, "invalid_field")


async def test_terminals_of_another_keys_merchant_are_refused(sandbox):
    await sandbox.register(terminals=())

    answer = await sandbox.post(
        f"/v1/merchants/{MID}/terminals",
        {"terminal_id": "20000001", "serial_number": "SN", "model": "A920"},
        key_id=OTHER_KEY_ID,
        secret=OTHER_SECRET,
    )

    assert answer.status_code == 404


def account(**changes) -> dict:
    return {
        "holder_name": "上海示例便利店有限公司",
        "account_number": NEW_ACCOUNT,
        "bank_code": "CMB",
        "branch_code": "308290003011",
        **changes,
    }


async def test_a_verified_account_change_puts_the_new_account_in_force(sandbox):
    await sandbox.register()

    answer = await sandbox.put(
        f"/v1/merchants/{MID}/settlement-account", account(), idempotency_key="acct-1"
    )

    assert answer.status_code == 200
    assert answer.json() == {
        "status": "verified",
        "reason_code": None,
        "reason": None,
        "settlement_account": {
            "holder_name": "上海示例便利店有限公司",
            "account_masked": "622202*********0026",
            "bank_code": "CMB",
            "bank_name": "招商银行",
            "branch_code": "308290003011",
        },
    }
    assert NEW_ACCOUNT not in answer.text
    merchant = (await sandbox.get(f"/v1/merchants/{MID}")).json()
    assert merchant["settlement_account"]["account_masked"] == "622202*********0026"


@pytest.mark.parametrize(
    ("changes", "reason_code", "reason"),
    [
        ({"holder_name": "  "}, "ACCOUNT_NAME_MISMATCH", "户名不能为空或过长"),
        ({"account_number": "6222020000000000027"}, "INVALID_ACCOUNT_NUMBER", "卡号校验位错误"),
        ({"account_number": "62220200-0001"}, "INVALID_ACCOUNT_NUMBER", "账号格式错误"),
        ({"branch_code": "30829000301"}, "INVALID_ACCOUNT_NUMBER", "联行号错误"),
        ({"bank_code": ""}, "INVALID_ACCOUNT_NUMBER", "开户行代码错误"),
    ],
    ids=["empty-holder", "luhn", "not-digits", "branch-code", "no-bank"],
)
async def test_a_rejected_account_change_leaves_the_old_account_in_force(
    sandbox, changes, reason_code, reason
):
    await sandbox.register()

    answer = await sandbox.put(
        f"/v1/merchants/{MID}/settlement-account", account(**changes), idempotency_key="acct-1"
    )

    assert answer.status_code == 200
    body = answer.json()
    assert (body["status"], body["reason_code"], body["reason"]) == (
        "rejected",
        reason_code,
        reason,
    )
    assert body["settlement_account"]["account_masked"] == "622202*********0018"


async def test_a_corporate_account_needs_no_check_digit(sandbox):
    await sandbox.register()

    answer = await sandbox.put(
        f"/v1/merchants/{MID}/settlement-account",
        account(account_number="31050161393600000123"),
        idempotency_key="acct-corp",
    )

    assert answer.json()["status"] == "verified"
    assert answer.json()["settlement_account"]["account_masked"] == "310501**********0123"


async def test_an_account_change_is_idempotent(sandbox):
    await sandbox.register()
    url = f"/v1/merchants/{MID}/settlement-account"

    first = await sandbox.put(url, account(), idempotency_key="acct-1")
    await sandbox.put(url, account(bank_code="ABC"), idempotency_key="acct-2")
    again = await sandbox.put(url, account(), idempotency_key="acct-1")
    missing = await sandbox.put(url, account())

    assert again.content == first.content
    merchant = (await sandbox.get(f"/v1/merchants/{MID}")).json()
    assert merchant["settlement_account"]["bank_code"] == "ABC"
    assert (missing.status_code, code(missing)) == (400, "idempotency_key_required")


async def test_an_account_change_for_another_keys_merchant_is_refused(sandbox):
    await sandbox.register()

    answer = await sandbox.put(
        f"/v1/merchants/{MID}/settlement-account",
        account(),
        idempotency_key="acct-x",
        key_id=OTHER_KEY_ID,
        secret=OTHER_SECRET,
    )

    assert answer.status_code == 404


async def test_concurrent_repeats_of_one_registration_register_once_and_agree(sandbox):
    attempts = [
        sandbox.post("/v1/merchants", merchant_payload(), idempotency_key="reg-concurrent")
        for _ in range(12)
    ]

    answers = await asyncio.gather(*attempts)

    assert {answer.status_code for answer in answers} == {201}
    assert len({answer.content for answer in answers}) == 1
    assert (await sandbox.control("GET", "/_sandbox/state"))["counts"]["merchants"] == 1


async def test_concurrent_registrations_of_one_mid_with_different_keys_make_one_merchant(sandbox):
    attempts = [
        sandbox.post("/v1/merchants", merchant_payload(), idempotency_key=f"reg-{n}")
        for n in range(12)
    ]

    answers = await asyncio.gather(*attempts)

    assert sorted(answer.status_code for answer in answers) == [201] + [409] * 11
