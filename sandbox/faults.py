"""Faults: the ways a real acquirer misbehaves, switched on through the control API so the
portal's client can be tested against each of them.

Each fault is a setting with a ``rate`` (0..1: the chance per request, per record or per
webhook that it strikes), an optional ``scope`` (a path prefix such as ``/v1/payouts``; empty
means every ``/v1`` path) and parameters of its own. A rate of 0 switches it off. The sandbox
draws from its own seeded generator, so a run with the same seed strikes the same way.
"""

import random
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

# kind → (what it does, its parameters with their defaults)
KINDS: dict[str, tuple[str, dict]] = {
    "latency": ("answer after a pause", {"seconds": 1.0}),
    "error_5xx": ("answer a 5xx error body and do nothing", {"status": 503}),
    "rate_limit": ("answer 429 with Retry-After and do nothing", {"retry_after": 1}),
    "timeout": (
        "hang: before doing anything, or after doing the work (the answer is lost)",
        {"seconds": 30.0, "when": "after"},
    ),
    "malformed_json": ("answer 200 with a JSON body cut short", {}),
    "html_body": ("answer 200 with an HTML page (a proxy's) and do nothing", {}),
    "stale_updated_at": (
        "show a payout as it was before its last change (or its updated_at moved back)",
        {"seconds": 3600},
    ),
    "unknown_reason_code": ("a payout's reason_code is one the contract does not list", {}),
    "three_decimals": ("amounts carry a third decimal", {}),
    "net_mismatch": ("a payout's net_amount is not gross − fee + adjustment", {}),
    "unregistered_merchant": (
        "a record names a merchant that was never registered",
        {"merchant_id": "999999999999999"},
    ),
    "orphan_original": ("a transaction undoes an original_id that was never sent", {}),
    "unknown_enum": (
        "a transaction's type, channel or status, or a payout's status, is an unknown value",
        {"field": "type"},
    ),
    "repeat_cursor": ("a list's next_cursor leads back to the same page", {}),
    "csv_bad_lines": ("reconciliation lines with a wrong column count", {}),
    "webhook_duplicate": ("a delivered webhook is delivered again", {}),
    "webhook_late": ("a webhook waits before its first attempt", {"seconds": 60.0}),
    "webhook_out_of_order": ("a batch of due webhooks goes out newest first", {}),
}
UNKNOWN_REASON_CODE = "ACQ_E9001"
UNKNOWN_VALUES = {
    "type": "cashback",
    "channel": "digital_rmb",
    "status": "pending",
    "payout_status": "suspended",
}


@dataclass(frozen=True)
class Fault:
    kind: str
    rate: float
    scope: str = ""
    params: dict = field(default_factory=dict)

    def __getattr__(self, name):
        try:
            return self.params[name]
        except KeyError:
            raise AttributeError(name) from None

    def as_json(self) -> dict:
        return {"rate": self.rate, "scope": self.scope, **self.params}


def parse_fault(kind: str, payload) -> Fault | None:
    """A fault from its JSON settings; None switches it off. ValueError says what is wrong."""
    if kind not in KINDS:
        raise ValueError(f"{kind}: no such fault (known: {', '.join(sorted(KINDS))})")
    if payload is None:
        return None
    if not isinstance(payload, dict):
        raise ValueError(f"{kind}: an object with a rate is needed")
    rate = payload.get("rate", 1)
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
        raise ValueError(f"{kind}.rate: a number between 0 and 1 is needed")
    if rate == 0:
        return None
    scope = payload.get("scope", "") or ""
    if not isinstance(scope, str):
        raise ValueError(f"{kind}.scope: a path prefix is needed")
    defaults = KINDS[kind][1]
    params = dict(defaults)
    for name, value in payload.items():
        if name in ("rate", "scope"):
            continue
        if name not in defaults:
            raise ValueError(f"{kind}.{name}: no such parameter")
        params[name] = value
    _check_params(kind, params)
    return Fault(kind=kind, rate=float(rate), scope=scope, params=params)


def _check_params(kind: str, params: dict) -> None:
    for name in ("seconds", "retry_after"):
        if name in params:
            value = params[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{kind}.{name}: a non-negative number is needed")
    if kind == "error_5xx" and params["status"] not in (500, 502, 503, 504):
        raise ValueError("error_5xx.status: one of 500, 502, 503, 504")
    if kind == "timeout" and params["when"] not in ("before", "after"):
        raise ValueError('timeout.when: "before" or "after"')
    if kind == "unknown_enum" and params["field"] not in UNKNOWN_VALUES:
        raise ValueError(f"unknown_enum.field: one of {', '.join(UNKNOWN_VALUES)}")


class Faults:
    """The faults in force, and the seeded dice that decide when each strikes."""

    def __init__(self, seed: int):
        self._seed = seed
        self._lock = threading.Lock()
        self._faults: dict[str, Fault] = {}
        self._rng = random.Random(f"{seed}:faults")

    def update(self, changes: dict) -> None:
        """Apply ``{kind: settings | null}``; all or nothing when one is wrong."""
        if not isinstance(changes, dict):
            raise ValueError("an object of faults is needed")
        parsed = {kind: parse_fault(kind, payload) for kind, payload in changes.items()}
        with self._lock:
            for kind, fault in parsed.items():
                if fault is None:
                    self._faults.pop(kind, None)
                else:
                    self._faults[kind] = fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._rng = random.Random(f"{self._seed}:faults")

    def as_json(self) -> dict:
        with self._lock:
            return {kind: fault.as_json() for kind, fault in sorted(self._faults.items())}

    def active(self) -> bool:
        return bool(self._faults)

    def strikes(self, kind: str, path: str = "") -> Fault | None:
        """The fault if it is on for ``path`` and the dice say it strikes this time."""
        with self._lock:
            fault = self._faults.get(kind)
            if fault is None or not path.startswith(fault.scope):
                return None
            if fault.rate >= 1 or self._rng.random() < fault.rate:
                return fault
            return None


# -- What a fault does to a record --------------------------------------------------------------


def _third_decimal(text: str) -> str:
    return text + "1"


def mutate_transaction(record: dict, faults: Faults, path: str) -> dict:
    record = dict(record)
    if faults.strikes("three_decimals", path):
        record["amount"] = _third_decimal(record["amount"])
        record["fee"] = _third_decimal(record["fee"])
    if fault := faults.strikes("unregistered_merchant", path):
        record["merchant_id"] = fault.merchant_id
    if faults.strikes("orphan_original", path):
        if record["type"] == "sale":
            record["type"] = "refund"
        record["original_id"] = f"{record['id']}-never-sent"
    if (fault := faults.strikes("unknown_enum", path)) and fault.field in record:
        record[fault.field] = UNKNOWN_VALUES[fault.field]
    return record


def mutate_payout(record: dict, faults: Faults, path: str, previous=None) -> dict:
    """``previous`` gives the record as it was before its last change, or None."""
    if fault := faults.strikes("stale_updated_at", path):
        older = previous() if previous else None
        if older is not None:
            record = older
        else:
            record = dict(record)
            record["updated_at"] = _moved_back(record["updated_at"], fault.seconds)
    record = dict(record)
    if faults.strikes("unknown_reason_code", path) and record["reason_code"]:
        record["reason_code"] = UNKNOWN_REASON_CODE
    if faults.strikes("three_decimals", path):
        for name in ("gross_amount", "fee_amount", "adjustment_amount", "net_amount"):
            record[name] = _third_decimal(record[name])
    if faults.strikes("net_mismatch", path):
        record["net_amount"] = _plus_a_fen(record["net_amount"])
    if fault := faults.strikes("unregistered_merchant", path):
        record["merchant_id"] = fault.merchant_id
    if (fault := faults.strikes("unknown_enum", path)) and fault.field == "payout_status":
        record["status"] = UNKNOWN_VALUES["payout_status"]
    return record


def _plus_a_fen(text: str) -> str:
    return f"{Decimal(text) + Decimal('0.01'):.2f}"


def _moved_back(text: str, seconds: float) -> str:
    return (datetime.fromisoformat(text) - timedelta(seconds=seconds)).isoformat()
