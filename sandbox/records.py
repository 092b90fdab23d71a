"""Rows of the store as the records of docs/acquirer-api.md: the JSON a client reads."""

import json
import sqlite3

from sandbox.accounts import Account
from sandbox.calendar import format_time
from sandbox.money import FeeSchedule, format_fen, signed


def transaction_record(row: sqlite3.Row) -> dict:
    """Amount and fee as magnitudes: the contract lets the acquirer send either sign, and the
    type says which way the money goes."""
    return {
        "id": row["id"],
        "merchant_id": row["merchant_id"],
        "terminal_id": row["terminal_id"],
        "type": row["type"],
        "original_id": row["original_id"],
        "channel": row["channel"],
        "amount": format_fen(row["amount"]),
        "fee": format_fen(row["fee"]),
        "card_masked": row["card_masked"],
        "rrn": row["rrn"],
        "trace_no": row["trace_no"],
        "batch_no": row["batch_no"],
        "auth_code": row["auth_code"],
        "status": row["status"],
        "occurred_at": format_time(row["occurred_at"]),
        "payout_id": row["payout_id"],
    }


def payout_record(row: sqlite3.Row) -> dict:
    net = row["gross"] - row["fee"] + row["adjustment"]
    return {
        "id": row["id"],
        "merchant_id": row["merchant_id"],
        "settlement_date": row["settlement_date"],
        "settlement_cycle": row["cycle"],
        "gross_amount": format_fen(row["gross"]),
        "fee_amount": format_fen(row["fee"]),
        "adjustment_amount": format_fen(row["adjustment"]),
        "net_amount": format_fen(net),
        "transaction_count": row["count"],
        "status": row["status"],
        "reason_code": row["reason_code"],
        "reason": row["reason"],
        "expected_at": format_time(row["expected_at"]),
        "bank_reference": row["bank_reference"],
        "paid_at": format_time(row["paid_at"]),
        "account_masked": row["account_masked"],
        "bank_name": row["bank_name"],
        "updated_at": format_time(row["updated_at"]),
    }


def dispute_record(row: sqlite3.Row) -> dict:
    return {
        "id": row["id"],
        "transaction_id": row["transaction_id"],
        "merchant_id": row["merchant_id"],
        "kind": row["kind"],
        "reason_code": row["reason_code"],
        "amount": format_fen(row["amount"]),
        "evidence_due_at": format_time(row["evidence_due_at"]),
        "status": row["status"],
        "created_at": format_time(row["created_at"]),
        "updated_at": format_time(row["updated_at"]),
    }


def merchant_record(row: sqlite3.Row) -> dict:
    account = Account(**json.loads(row["account"]))
    return {
        "merchant_id": row["merchant_id"],
        "name": row["name"],
        "mcc": row["mcc"],
        "region_code": row["region_code"],
        "status": row["status"],
        "fee_schedule": FeeSchedule.parse(json.loads(row["fee_schedule"])).as_json(),
        "settlement_account": account.as_shown(),
        "created_at": format_time(row["created_at"]),
        "updated_at": format_time(row["updated_at"]),
    }


def terminal_record(row: sqlite3.Row) -> dict:
    return {
        "terminal_id": row["terminal_id"],
        "merchant_id": row["merchant_id"],
        "serial_number": row["serial_number"],
        "model": row["model"],
        "status": "active",
        "created_at": format_time(row["created_at"]),
    }


def reconciliation_line(row: sqlite3.Row) -> list[str]:
    """One CSV line: amounts signed by type (a refund's amount and fee negative), so that
    net = amount − fee holds on every line."""
    amount = signed(row["type"], row["amount"])
    fee = signed(row["type"], row["fee"])
    return [
        row["id"],
        row["merchant_id"],
        row["terminal_id"],
        row["type"],
        row["channel"],
        format_fen(amount),
        format_fen(fee),
        format_fen(amount - fee),
        row["rrn"] or "",
        row["trace_no"] or "",
        format_time(row["occurred_at"]),
        row["payout_id"] or "",
    ]
