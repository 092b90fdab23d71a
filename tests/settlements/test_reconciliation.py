import hashlib
import io
import os
import threading
import tracemalloc
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import storages
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from core import jobs
from core.models import Job
from core.transitions import TransitionNotAllowed
from portal.celery import app as celery_app
from settlements import reconciliation
from settlements.models import Discrepancy, ReconciliationLine, ReconciliationRun, Transaction
from settlements.reconciliation import (
    COLUMNS,
    JOB_KIND,
    reconciliation_process,
    reconciliation_retry,
    reconciliation_start,
)
from tests import factories
from tests.helpers import run_at_once

pytestmark = pytest.mark.django_db

DAY = date(2026, 11, 26)
HEADER = ",".join(COLUMNS)
FILE_NAME = "recon_20261126.csv"
Kind = Discrepancy.Kind
Status = ReconciliationRun.Status


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def sale(merchant, **extra) -> Transaction:
    """An approved credit-card sale of 100.00 (fee 0.60) settling on DAY."""
    return factories.TransactionFactory(merchant=merchant, **{"settlement_date": DAY, **extra})


def line_of(txn: Transaction, **overrides) -> str:
    """The acquirer's line for ``txn``, agreeing with the portal unless overridden."""
    values = {
        "transaction_id": txn.acquirer_id,
        "merchant_id": txn.merchant.mid,
        "terminal_id": txn.tid,
        "type": txn.type,
        "channel": txn.channel,
        "amount": str(txn.amount),
        "fee": str(txn.fee),
        "net": str(txn.net),
        "rrn": txn.rrn,
        "trace_no": txn.trace_no,
        "occurred_at": "2026-11-25T09:30:00+08:00",
        "payout_id": "",
    }
    values.update(overrides)
    return ",".join(values[column] for column in COLUMNS)


def line(transaction_id: str = "TXUNKNOWN", **overrides) -> str:
    """A well-formed line for a transaction the portal need not know."""
    values = {
        "transaction_id": transaction_id,
        "merchant_id": "898310054110999",
        "terminal_id": "10000001",
        "type": "sale",
        "channel": "credit_card",
        "amount": "100.00",
        "fee": "0.60",
        "net": "99.40",
        "rrn": "000000000123",
        "trace_no": "000123",
        "occurred_at": "2026-11-25T09:30:00+08:00",
        "payout_id": "PO1",
    }
    values.update(overrides)
    return ",".join(values[column] for column in COLUMNS)


def csv_file(folder: Path, *lines: str | bytes, name: str = FILE_NAME, header=HEADER) -> Path:
    path = folder / name
    rows = [row if isinstance(row, bytes) else row.encode() for row in (header, *lines)]
    path.write_bytes(b"\n".join(rows) + b"\n")
    return path


def imported(path: Path, **start) -> ReconciliationRun:
    run, created = reconciliation_start(source=path, file_name=path.name, **start)
    assert created
    return reconciliation_process(run_id=run.pk)


def found(run) -> list[tuple]:
    return list(
        Discrepancy.objects.filter(run=run)
        .order_by("kind", "line_no", "acquirer_transaction_id")
        .values_list("kind", "line_no", "acquirer_transaction_id", "transaction", "ours", "theirs")
    )


def counts(run) -> tuple:
    run.refresh_from_db()
    return (
        run.status,
        run.line_count,
        run.matched_count,
        run.discrepancy_count,
        run.malformed_count,
    )


def row_counts() -> tuple[int, int, int]:
    return (
        ReconciliationRun.objects.count(),
        Discrepancy.objects.count(),
        ReconciliationLine.objects.count(),
    )


def stored_files(private_files: Path) -> list[str]:
    folder = private_files / "reconciliation"
    return sorted(os.listdir(folder)) if folder.exists() else []


# -- Matching -----------------------------------------------------------------------------------


def test_line_agreeing_with_the_ledger_is_matched(merchant, tmp_path):
    txn = sale(merchant)

    run = imported(csv_file(tmp_path, line_of(txn)))

    assert counts(run) == (Status.DONE, 1, 1, 0, 0)
    assert found(run) == []
    assert run.settlement_date == DAY
    assert run.attempts == 1
    assert run.finished_at is not None


def test_amount_difference_is_recorded_with_both_values_and_the_transaction(merchant, tmp_path):
    txn = sale(merchant)

    run = imported(csv_file(tmp_path, line_of(txn, amount="100.10", net="99.50")))

    assert counts(run) == (Status.DONE, 1, 0, 1, 0)
    assert found(run) == [(Kind.AMOUNT, 2, txn.acquirer_id, txn.pk, "100.00", "100.10")]


def test_fee_differing_from_the_contract_fee_is_recorded_quoting_the_earlier_report(
    merchant, tmp_path
):
    txn = sale(merchant)  # the contract's 0.60, which the acquirer also reported then

    run = imported(csv_file(tmp_path, line_of(txn, fee="0.80", net="99.20")))

    assert found(run) == [(Kind.FEE, 2, txn.acquirer_id, txn.pk, "0.60", "0.80")]
    assert Discrepancy.objects.get(run=run).detail == (
        "fee: the merchant's fee schedule gives 0.60, the file 0.80; "
        "the acquirer reported 0.60 when the transaction was recorded"
    )


def test_fee_the_acquirer_already_reported_differently_is_still_a_discrepancy(merchant, tmp_path):
    txn = sale(merchant, acquirer_fee=Decimal("0.80"))
    assert txn.fee_mismatch

    run = imported(csv_file(tmp_path, line_of(txn, fee="0.80", net="99.20")))

    assert found(run) == [(Kind.FEE, 2, txn.acquirer_id, txn.pk, "0.60", "0.80")]
    assert Discrepancy.objects.get(run=run).detail.endswith(
        "as the acquirer reported when the transaction was recorded"
    )


def test_file_fee_equal_to_the_contract_fee_matches_though_the_earlier_report_differed(
    merchant, tmp_path
):
    txn = sale(merchant, acquirer_fee=Decimal("0.80"))

    run = imported(csv_file(tmp_path, line_of(txn)))

    assert counts(run) == (Status.DONE, 1, 1, 0, 0)


def test_amount_and_fee_difference_on_one_line_gives_two_discrepancies(merchant, tmp_path):
    txn = sale(merchant)

    run = imported(csv_file(tmp_path, line_of(txn, amount="200.00", fee="1.20", net="198.80")))

    assert counts(run) == (Status.DONE, 1, 0, 2, 0)
    assert found(run) == [
        (Kind.AMOUNT, 2, txn.acquirer_id, txn.pk, "100.00", "200.00"),
        (Kind.FEE, 2, txn.acquirer_id, txn.pk, "0.60", "1.20"),
    ]


def test_line_the_portal_has_never_seen_is_missing_here(merchant, tmp_path):
    txn = sale(merchant)

    run = imported(csv_file(tmp_path, line_of(txn), line("TXNEVERSEEN")))

    assert counts(run) == (Status.DONE, 2, 1, 1, 0)
    assert found(run) == [(Kind.MISSING_HERE, 3, "TXNEVERSEEN", None, "", "100.00")]


def test_line_of_another_acquirers_transaction_is_missing_here(merchant, tmp_path):
    txn = sale(merchant, acquirer="other")

    run = imported(csv_file(tmp_path, line_of(txn)))

    assert found(run) == [(Kind.MISSING_HERE, 2, txn.acquirer_id, None, "", "100.00")]


def test_line_of_a_transaction_declined_in_the_portal_is_missing_here_with_the_link(
    merchant, tmp_path
):
    txn = sale(merchant, status=Transaction.Status.DECLINED, settlement_date=None)

    run = imported(csv_file(tmp_path, line_of(txn, fee="0.60", net="99.40")))

    assert found(run) == [(Kind.MISSING_HERE, 2, txn.acquirer_id, txn.pk, "", "100.00")]
    assert Discrepancy.objects.get(run=run).detail == (
        "status: the portal has this transaction as declined"
    )


def test_approved_transaction_of_the_day_absent_from_the_file_is_missing_there(merchant, tmp_path):
    listed = sale(merchant)
    absent = sale(merchant)
    sale(merchant, settlement_date=date(2026, 11, 27))  # another day's file
    sale(merchant, acquirer="other")  # another acquirer's file
    sale(merchant, status=Transaction.Status.DECLINED, settlement_date=None)

    run = imported(csv_file(tmp_path, line_of(listed)))

    assert counts(run) == (Status.DONE, 1, 1, 1, 0)
    assert found(run) == [(Kind.MISSING_THERE, None, absent.acquirer_id, absent.pk, "100.00", "")]


def test_refunds_match_whichever_sign_convention_the_file_uses(merchant, tmp_path):
    signed = sale(merchant, type=Transaction.Type.REFUND, channel="wechat_pay")
    unsigned = sale(merchant, type=Transaction.Type.VOID)
    assert (signed.amount, signed.fee, signed.net) == (
        Decimal("-100.00"),
        Decimal("-0.38"),
        Decimal("-99.62"),
    )

    run = imported(
        csv_file(
            tmp_path,
            line_of(signed, amount="-100.00", fee="-0.38", net="-99.62"),
            line_of(unsigned, type="void", amount="100.00", fee="0.60", net="99.40"),
        )
    )

    assert counts(run) == (Status.DONE, 2, 2, 0, 0)


def test_refund_amount_difference_is_reported_in_the_signed_convention(merchant, tmp_path):
    refund = sale(merchant, type=Transaction.Type.REFUND)  # card refund: no fee returned

    run = imported(csv_file(tmp_path, line_of(refund, amount="90.00", fee="0.00", net="90.00")))

    assert found(run) == [(Kind.AMOUNT, 2, refund.acquirer_id, refund.pk, "-100.00", "-90.00")]


# -- Malformed lines ----------------------------------------------------------------------------


def test_malformed_lines_are_recorded_with_their_line_numbers_and_the_rest_loads(
    merchant, tmp_path
):
    first, second = sale(merchant), sale(merchant)
    path = csv_file(
        tmp_path,
        line_of(first),  # 2
        "TXSHORT,898310054110999,10000001",  # 3
        line("TXAMOUNT", amount="12.345"),  # 4
        line("TXTIME", occurred_at="2026-11-25 09:30:00"),  # 5: no UTC offset
        line("TXTYPE", type="purchase"),  # 6
        line("TXCHANNEL", channel="paypal"),  # 7
        line("TXMID", merchant_id="12345"),  # 8
        line_of(first),  # 9: duplicate of line 2
        line("TXBYTES", payout_id="PO").encode() + b"\xff\xfe",  # 10
        "",  # 11: an empty line between lines
        line_of(second),  # 12
        line("TXNET", net="99.00"),  # 13
        "",  # empty lines at the very end are padding, not lines
    )

    run = imported(path)

    undecodable = line("TXBYTES", payout_id="PO") + "\udcff\udcfe"
    assert counts(run) == (Status.DONE, 12, 2, 10, 10)
    details = dict(
        Discrepancy.objects.filter(run=run, kind=Kind.MALFORMED).values_list("line_no", "detail")
    )
    assert details == {
        3: "line: 3 columns instead of 12",
        4: "amount: not a CNY amount with at most two decimals: '12.345'",
        5: "occurred_at: a time without its UTC offset is ambiguous: '2026-11-25 09:30:00'",
        6: "type: 'purchase' is not one of sale, refund, reversal, void",
        7: "channel: 'paypal' is not one of debit_card, credit_card, unionpay_qr, wechat_pay, "
        "alipay",
        8: "merchant_id: not a 15-digit MID: '12345'",
        9: "transaction_id: duplicate of line 2",
        10: "line: not UTF-8 text: " + repr(undecodable[:80]),
        11: "line: empty line",
        13: "net: 99.00 is not amount − fee = 99.40",
    }
    assert sorted(
        Discrepancy.objects.filter(run=run, kind=Kind.MALFORMED).values_list(
            "line_no", "acquirer_transaction_id"
        )
    ) == [
        (3, ""),
        (4, "TXAMOUNT"),
        (5, "TXTIME"),
        (6, "TXTYPE"),
        (7, "TXCHANNEL"),
        (8, "TXMID"),
        (9, first.acquirer_id),
        (10, "TXBYTES"),
        (11, ""),
        (13, "TXNET"),
    ]


def test_refund_whose_net_fits_neither_sign_convention_is_malformed(merchant, tmp_path):
    refund = sale(merchant, type=Transaction.Type.REFUND, channel="wechat_pay")

    run = imported(
        csv_file(tmp_path, line_of(refund, amount="-100.00", fee="-0.38", net="-100.38"))
    )

    assert Discrepancy.objects.get(run=run).detail == (
        "net: |-100.38| is not |amount| − |fee| = 99.62"
    )


def test_negative_sale_is_malformed(tmp_path, db):
    run = imported(csv_file(tmp_path, line("TXNEG", amount="-100.00", fee="0.60", net="-100.60")))

    assert found(run) == [(Kind.MALFORMED, 2, "TXNEG", None, "", "")]


def test_transaction_on_a_malformed_line_is_not_also_missing_there(merchant, tmp_path):
    txn = sale(merchant)

    run = imported(csv_file(tmp_path, line_of(txn, amount="abc")))

    assert counts(run) == (Status.DONE, 1, 0, 1, 1)
    assert found(run) == [(Kind.MALFORMED, 2, txn.acquirer_id, None, "", "")]


def test_line_without_line_breaks_for_megabytes_is_one_malformed_line(tmp_path, db):
    path = csv_file(tmp_path, "x" * 3_000_000, line("TXAFTER"))

    run = imported(path)

    assert counts(run) == (Status.DONE, 2, 0, 2, 1)
    assert found(run) == [
        (Kind.MALFORMED, 2, "", None, "", ""),
        (Kind.MISSING_HERE, 3, "TXAFTER", None, "", "100.00"),
    ]
    assert Discrepancy.objects.get(kind=Kind.MALFORMED).detail == (
        "line: longer than 4096 characters"
    )


def test_quoted_fields_are_read_as_csv(merchant, tmp_path):
    txn = sale(merchant)
    quoted = ",".join(f'"{value}"' for value in line_of(txn).split(","))

    run = imported(csv_file(tmp_path, quoted))

    assert counts(run) == (Status.DONE, 1, 1, 0, 0)


# -- Failed runs --------------------------------------------------------------------------------


def test_wrong_header_fails_the_run_with_a_message(tmp_path, db):
    path = csv_file(tmp_path, line("TX1"), header="id,merchant,terminal")

    run = imported(path)

    assert counts(run) == (Status.FAILED, 0, 0, 0, 0)
    assert run.error == (
        f"The first line must be the header “{HEADER}”, not “id,merchant,terminal”."
    )
    assert row_counts() == (1, 0, 0)


def test_file_that_is_not_utf8_fails_the_run(tmp_path, db):
    path = tmp_path / FILE_NAME
    path.write_bytes(f"{HEADER}\n{line('TX1')}\n".encode("utf-16"))

    run = imported(path)

    assert (run.status, run.error) == (Status.FAILED, "The file is not UTF-8 text.")


def test_empty_file_fails_the_run(tmp_path, db):
    path = tmp_path / FILE_NAME
    path.write_bytes(b"")

    run = imported(path)

    assert (run.status, run.error) == (Status.FAILED, "The file is empty: it has no header row.")


def test_missing_stored_file_fails_the_run(tmp_path, db):
    run, _created = reconciliation_start(
        source=csv_file(tmp_path, line("TX1")), file_name=FILE_NAME
    )
    storages["private"].delete(run.stored_file)

    run = reconciliation_process(run_id=run.pk)

    assert run.status == Status.FAILED
    assert run.error.startswith(f"The stored file “{run.stored_file}” cannot be read: ")
    assert row_counts() == (1, 0, 0)


# -- Starting: dates, sources, idempotency ------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["recon_20261126.csv", "demo-2026-11-26.csv", "898310054110001_20261126_v2.csv"]
)
def test_settlement_date_is_taken_from_the_file_name(tmp_path, db, name):
    run, _created = reconciliation_start(source=csv_file(tmp_path, name=name), file_name=name)

    assert run.settlement_date == DAY


def test_date_given_wins_over_the_file_name(tmp_path, db):
    run, _created = reconciliation_start(
        source=csv_file(tmp_path), file_name=FILE_NAME, settlement_date=date(2026, 11, 27)
    )

    assert run.settlement_date == date(2026, 11, 27)


def test_start_without_any_date_is_refused_and_stores_nothing(tmp_path, db, private_files):
    path = csv_file(tmp_path, name="recon.csv")

    with pytest.raises(ValidationError) as refused:
        reconciliation_start(source=path, file_name="recon_2026-13-45.csv")

    assert refused.value.messages == [
        "Give the settlement date: the file name “recon_2026-13-45.csv” contains no date like "
        "2026-11-26 or 20261126."
    ]
    assert row_counts() == (0, 0, 0)
    assert stored_files(private_files) == []


def test_start_stores_the_file_privately_and_creates_a_pending_run(
    tmp_path, db, private_files, staff_user
):
    content = f"{HEADER}\n{line('TX1')}\n".encode()

    run, created = reconciliation_start(
        source=io.BytesIO(content), file_name="uploads/recon_20261126.csv", user=staff_user
    )

    assert created
    assert (run.status, run.acquirer, run.file_name, run.created_by) == (
        Status.PENDING,
        "demo",
        "recon_20261126.csv",
        staff_user,
    )
    assert run.sha256 == hashlib.sha256(content).hexdigest()
    assert run.stored_file.startswith("reconciliation/") and run.stored_file.endswith(".csv")
    assert (private_files / run.stored_file).read_bytes() == content


def test_start_reads_a_stream_that_cannot_seek(tmp_path, db, private_files):
    content = f"{HEADER}\n{line('TX1')}\n".encode()
    read_end, write_end = os.pipe()
    os.write(write_end, content)
    os.close(write_end)

    with open(read_end, "rb") as pipe:
        run, _created = reconciliation_start(source=pipe, file_name=FILE_NAME)

    assert (private_files / run.stored_file).read_bytes() == content


def test_reimporting_the_same_file_returns_the_same_run_and_creates_nothing(
    merchant, tmp_path, private_files
):
    txn = sale(merchant)
    path = csv_file(tmp_path, line_of(txn, amount="90.00", net="89.40"), line("TXNEW"))
    first = imported(path)
    before = (row_counts(), stored_files(private_files), found(first), counts(first))

    again, created = reconciliation_start(
        source=path, file_name="renamed_20261127.csv", settlement_date=date(2026, 11, 27)
    )
    reconciliation_process(run_id=again.pk)

    assert not created
    assert again.pk == first.pk
    assert (row_counts(), stored_files(private_files), found(first), counts(first)) == before


def test_same_file_from_another_acquirer_is_another_run(tmp_path, db):
    path = csv_file(tmp_path, line("TX1"))
    first, _created = reconciliation_start(source=path, file_name=FILE_NAME)

    other, created = reconciliation_start(source=path, file_name=FILE_NAME, acquirer="other")

    assert created
    assert (first.acquirer, other.acquirer) == ("demo", "other")


# -- Processing again ---------------------------------------------------------------------------


def test_done_run_has_no_staging_lines_and_no_stored_file(merchant, tmp_path, private_files):
    run = imported(csv_file(tmp_path, line_of(sale(merchant))))

    assert ReconciliationLine.objects.count() == 0
    assert run.stored_file == ""
    assert stored_files(private_files) == []


def test_processing_a_done_run_again_changes_nothing(merchant, tmp_path):
    run = imported(csv_file(tmp_path, line_of(sale(merchant)), line("TXNEW")))
    before = (row_counts(), found(run), counts(run), run.attempts, run.finished_at)

    again = reconciliation_process(run_id=run.pk)

    again.refresh_from_db()
    assert (row_counts(), found(run), counts(run), again.attempts, again.finished_at) == before


def test_run_killed_half_way_is_redone_cleanly(merchant, tmp_path, private_files):
    txn, absent = sale(merchant), sale(merchant)
    path = csv_file(tmp_path, line_of(txn, fee="0.70", net="99.30"), line("TXNEW"), "bad")
    run, _created = reconciliation_start(source=path, file_name=FILE_NAME)
    # given: what a worker killed while loading would have left, had it committed as it went
    ReconciliationRun.objects.filter(pk=run.pk).update(status=Status.LOADING, attempts=1)
    ReconciliationLine.objects.create(
        run=run,
        line_no=2,
        transaction_id=txn.acquirer_id,
        merchant_id=merchant.mid,
        terminal_id="10000001",
        type="sale",
        channel="credit_card",
        amount=Decimal("100.00"),
        fee=Decimal("0.70"),
        net=Decimal("99.30"),
        occurred_at=txn.occurred_at,
    )
    Discrepancy.objects.create(run=run, kind=Kind.MALFORMED, line_no=4, detail="half-way")
    Discrepancy.objects.create(run=run, kind=Kind.FEE, line_no=2, transaction=txn)

    # when
    run = reconciliation_process(run_id=run.pk)

    # then
    assert (run.status, run.attempts) == (Status.DONE, 2)
    assert counts(run) == (Status.DONE, 3, 0, 4, 1)
    assert found(run) == [
        (Kind.FEE, 2, txn.acquirer_id, txn.pk, "0.60", "0.70"),
        (Kind.MALFORMED, 4, "", None, "", ""),
        (Kind.MISSING_HERE, 3, "TXNEW", None, "", "100.00"),
        (Kind.MISSING_THERE, None, absent.acquirer_id, absent.pk, "100.00", ""),
    ]
    assert ReconciliationLine.objects.count() == 0
    assert stored_files(private_files) == []


def test_failed_attempt_leaves_no_staging_rows_and_says_why(
    merchant, tmp_path, monkeypatch, private_files
):
    run, _created = reconciliation_start(
        source=csv_file(tmp_path, line_of(sale(merchant))), file_name=FILE_NAME
    )

    monkeypatch.setattr(reconciliation, "_match_lines", crash)
    with pytest.raises(RuntimeError):
        reconciliation_process(run_id=run.pk)

    run.refresh_from_db()
    assert (run.status, run.error, run.attempts) == (
        Status.FAILED,
        "The import stopped: worker lost its mind",
        1,
    )
    assert row_counts() == (1, 0, 0)
    assert len(stored_files(private_files)) == 1  # kept for the next attempt


# -- The job -----------------------------------------------------------------------------------


def crash(*args, **kwargs):
    raise RuntimeError("worker lost its mind")


def job_of(run) -> Job:
    return jobs.latest_job(kind=JOB_KIND, subject=run)


def test_starting_a_run_queues_its_import_job(tmp_path, db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        run, _created = reconciliation_start(
            source=csv_file(tmp_path, line("TX1")), file_name=FILE_NAME
        )

    job = job_of(run)
    assert (job.status, job.max_attempts, job.subject) == (Job.Status.QUEUED, 3, run)
    assert len(callbacks) == 1


def test_the_job_imports_the_run(merchant, tmp_path):
    run, _created = reconciliation_start(
        source=csv_file(tmp_path, line_of(sale(merchant))), file_name=FILE_NAME
    )

    assert jobs.job_run(job_id=job_of(run).pk) == Job.Status.DONE

    assert counts(run) == (Status.DONE, 1, 1, 0, 0)


def test_a_job_that_gives_up_fails_the_run_with_the_reason(tmp_path, db):
    run, _created = reconciliation_start(
        source=csv_file(tmp_path, line("TX1")), file_name=FILE_NAME
    )
    # given: a worker killed on the third and last attempt
    ReconciliationRun.objects.filter(pk=run.pk).update(status=Status.LOADING, attempts=3)
    Job.objects.filter(pk=job_of(run).pk).update(
        status=Job.Status.RUNNING, attempts=3, locked_until=datetime(2026, 1, 1, tzinfo=UTC)
    )

    jobs.jobs_sweep()

    run.refresh_from_db()
    assert (run.status, run.error) == (
        Status.FAILED,
        "Gave up: its worker was lost on each of 3 attempts.",
    )
    assert job_of(run).status == Job.Status.FAILED


def test_a_failed_run_is_imported_again_as_a_new_attempt(merchant, tmp_path, monkeypatch):
    path = csv_file(tmp_path, line_of(sale(merchant)))
    run, _created = reconciliation_start(source=path, file_name=FILE_NAME)
    monkeypatch.setattr(reconciliation, "_match_lines", crash)
    for _attempt in range(3):
        Job.objects.filter(pk=job_of(run).pk).update(available_at=timezone.now())
        jobs.job_run(job_id=job_of(run).pk)
    run.refresh_from_db()
    assert (run.status, job_of(run).status) == (Status.FAILED, Job.Status.FAILED)
    monkeypatch.undo()

    again, created = reconciliation_start(source=path, file_name=FILE_NAME)
    jobs.job_run(job_id=job_of(run).pk)

    assert (again.pk, created) == (run.pk, False)
    assert counts(run) == (Status.DONE, 1, 1, 0, 0)
    assert run.events.filter(to_status=Status.LOADING).count() == 4


def test_a_run_that_is_not_failed_cannot_be_retried(merchant, tmp_path):
    run = imported(csv_file(tmp_path, line_of(sale(merchant))))

    with pytest.raises(TransitionNotAllowed):
        reconciliation_retry(run=run)

    assert job_of(run).status == Job.Status.QUEUED  # the one the import started, untouched


def test_forcing_a_done_file_again_supersedes_its_run(merchant, tmp_path, private_files):
    path = csv_file(tmp_path, line_of(sale(merchant)), line("TXNEW"))
    first = imported(path)

    second, created = reconciliation_start(source=path, file_name=FILE_NAME, force=True)
    reconciliation_process(run_id=second.pk)

    first.refresh_from_db()
    assert created
    assert (first.status, counts(second)) == (Status.SUPERSEDED, (Status.DONE, 2, 1, 1, 0))
    assert Discrepancy.objects.filter(run=first).count() == 1  # kept, for the record


# -- The management command ---------------------------------------------------------------------


def command(*args) -> str:
    out = io.StringIO()
    call_command("import_reconciliation", *[str(arg) for arg in args], stdout=out)
    return out.getvalue()


def test_command_imports_the_file_and_prints_a_summary(merchant, tmp_path):
    txn = sale(merchant)
    missing = sale(merchant)
    path = csv_file(
        tmp_path, line_of(txn, amount="101.00", net="100.40"), line("TXNEW"), "x", "y", "z"
    )

    output = command(path)

    run = ReconciliationRun.objects.get()
    assert output.splitlines() == [
        f"Run {run.pk}, settlement date 2026-11-26: Done",
        "Lines: 5",
        "Matched: 0",
        "In the acquirer's file, not in the portal: 1",
        "In the portal, not in the acquirer's file: 1",
        "Amount differs: 1",
        "Fee differs: 0",
        "Malformed line: 3",
        "Malformed lines: 4, 5, 6",
    ]
    assert Discrepancy.objects.get(kind=Kind.MISSING_THERE).transaction == missing


def test_command_takes_the_date_and_acquirer_given(tmp_path, db):
    path = csv_file(tmp_path, line("TX1"), name="recon.csv")

    command(path, "--date", "2026-11-20", "--acquirer", "other")

    run = ReconciliationRun.objects.get()
    assert (run.settlement_date, run.acquirer, run.status) == (
        date(2026, 11, 20),
        "other",
        Status.DONE,
    )


def test_command_reimport_says_so_and_changes_nothing(tmp_path, db, private_files):
    path = csv_file(tmp_path, line("TX1"))
    command(path)
    run = ReconciliationRun.objects.get()
    before = (row_counts(), stored_files(private_files), counts(run))

    output = command(path)

    assert output == (
        f"This file was already imported: run {run.pk}, settlement date 2026-11-26, Done. "
        "Nothing changed.\n"
    )
    assert (row_counts(), stored_files(private_files), counts(run)) == before


def test_command_async_queues_the_job_after_commit(
    tmp_path, db, django_capture_on_commit_callbacks, isolated_task_queue
):
    path = csv_file(tmp_path, line("TX1"))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        output = command(path, "--async")

    run = ReconciliationRun.objects.get()
    assert output == f"Run {run.pk} queued (settlement date 2026-11-26).\n"
    assert run.status == Status.PENDING
    assert len(callbacks) == 1
    # Committing sends the message: it names the task and the run.
    callbacks[0]()
    with celery_app.connection_for_read() as conn:
        queue = conn.SimpleQueue(isolated_task_queue)
        message = queue.get(timeout=10)
        message.ack()
        queue.close()
    assert message.headers["task"] == "core.job_run_task"
    assert message.payload[0] == [job_of(run).pk]


def test_command_refuses_a_missing_file(tmp_path, db):
    with pytest.raises(CommandError, match=r"^There is no file at .*nothing\.csv\.$"):
        command(tmp_path / "nothing.csv")

    assert row_counts() == (0, 0, 0)


def test_command_refuses_a_bad_date(tmp_path, db):
    with pytest.raises(CommandError) as refused:
        command(csv_file(tmp_path), "--date", "26/11/2026")

    assert str(refused.value) == "“26/11/2026” is not a date: give it as YYYY-MM-DD."
    assert row_counts() == (0, 0, 0)


def test_command_refuses_a_file_without_a_date(tmp_path, db):
    with pytest.raises(CommandError, match=r"^Give the settlement date: the file name “x\.csv”"):
        command(csv_file(tmp_path, name="x.csv"))


def test_command_reports_a_failed_run_as_an_error(tmp_path, db):
    path = csv_file(tmp_path, header="nonsense")

    with pytest.raises(CommandError) as refused:
        command(path)

    run = ReconciliationRun.objects.get()
    assert str(refused.value) == f"Run {run.pk} failed: {run.error}"


# -- Volume -------------------------------------------------------------------------------------


def write_big_file(path: Path, count: int) -> Path:
    with path.open("w", encoding="utf-8") as out:
        out.write(HEADER + "\n")
        for n in range(count):
            out.write(line(f"TXBIG{n:08d}", rrn=f"{n:012d}") + "\n")
    return path


def test_large_file_imports_in_bounded_memory(tmp_path, db, settings):
    settings.RECONCILIATION_BATCH_SIZE = 100
    lines = 20_000
    # Imports, query and statement caches are filled once by a first small import, so that
    # what is measured is what grows with the file, if anything.
    imported(write_big_file(tmp_path / "warm-up_20261125.csv", 150))
    path = write_big_file(tmp_path / FILE_NAME, lines)
    tracemalloc.start()
    with path.open(encoding="utf-8") as f:
        held = f.readlines()
    all_lines_bytes = tracemalloc.get_traced_memory()[0]
    del held
    tracemalloc.stop()

    tracemalloc.start()
    run = imported(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    assert counts(run) == (Status.DONE, lines, 0, lines, 0)
    # Holding every line, even as bare text (the cheapest form there is), takes about
    # 180 bytes a line: 3.6 MB here, and it grows with the file. Streaming holds one batch
    # (100 lines, 1/200 of the file: its staged values and discrepancies, a few KB a line)
    # plus the ORM's fixed working memory, about 0.8 MB whatever the file's size. A third
    # of the bare text separates the two with room on both sides.
    assert peak < all_lines_bytes / 3, (peak, all_lines_bytes)


def test_queries_do_not_grow_with_the_number_of_lines(tmp_path, db, settings):
    settings.RECONCILIATION_BATCH_SIZE = 100

    def queries(count: int) -> int:
        path = write_big_file(tmp_path / f"recon_{count}_20261126.csv", count)
        run, _created = reconciliation_start(source=path, file_name=path.name)
        with CaptureQueriesContext(connection) as captured:
            reconciliation_process(run_id=run.pk)
        return len(captured)

    # Up to 60 lines fit in one INSERT even on SQLite (999 parameters a statement).
    assert queries(5) == queries(60)


# -- PostgreSQL ---------------------------------------------------------------------------------


def test_postgresql_stages_the_lines_with_copy(postgres, merchant, tmp_path, monkeypatch, settings):
    settings.RECONCILIATION_BATCH_SIZE = 2
    txn = sale(merchant)
    refund = sale(merchant, type=Transaction.Type.REFUND, channel="alipay")
    staged_by_copy = []
    copy_rows = reconciliation._copy_rows

    def spy(rows):
        copy_rows(rows)
        staged_by_copy.append(
            list(
                ReconciliationLine.objects.order_by("line_no").values_list(
                    "line_no", "transaction_id", "amount", "fee", "net", "occurred_at"
                )
            )
        )

    monkeypatch.setattr(reconciliation, "_copy_rows", spy)
    path = csv_file(
        tmp_path,
        line_of(txn),
        line_of(refund, amount="100.00", fee="0.38", net="99.62"),
        line("TXNEW", occurred_at="2026-11-25T01:30:00Z"),
    )

    with CaptureQueriesContext(connection) as captured:
        run = imported(path)

    assert counts(run) == (Status.DONE, 3, 2, 1, 0)
    assert not [
        q for q in captured if "INSERT INTO" in q["sql"] and "reconciliationline" in q["sql"]
    ]
    moment = datetime.fromisoformat
    assert staged_by_copy == [
        [
            (
                2,
                txn.acquirer_id,
                Decimal("100.00"),
                Decimal("0.60"),
                Decimal("99.40"),
                moment("2026-11-25T09:30:00+08:00"),
            ),
            (
                3,
                refund.acquirer_id,
                Decimal("-100.00"),
                Decimal("-0.38"),
                Decimal("-99.62"),
                moment("2026-11-25T09:30:00+08:00"),
            ),
        ],
        [
            (
                2,
                txn.acquirer_id,
                Decimal("100.00"),
                Decimal("0.60"),
                Decimal("99.40"),
                moment("2026-11-25T09:30:00+08:00"),
            ),
            (
                3,
                refund.acquirer_id,
                Decimal("-100.00"),
                Decimal("-0.38"),
                Decimal("-99.62"),
                moment("2026-11-25T09:30:00+08:00"),
            ),
            (
                4,
                "TXNEW",
                Decimal("100.00"),
                Decimal("0.60"),
                Decimal("99.40"),
                moment("2026-11-25T01:30:00+00:00"),
            ),
        ],
    ]


@pytest.mark.django_db(transaction=True)
def test_two_imports_of_one_file_at_once_make_one_run(
    postgres, tmp_path, private_files, monkeypatch
):
    path = csv_file(tmp_path, line("TX1"))
    # Both have hashed the file before either looks for a run: both go on to create one.
    both_hashed = threading.Barrier(2)
    sha256 = reconciliation._sha256

    def hash_then_wait(stream):
        digest = sha256(stream)
        both_hashed.wait(timeout=10)
        return digest

    monkeypatch.setattr(reconciliation, "_sha256", hash_then_wait)

    outcomes = run_at_once(
        lambda _n: reconciliation_start(source=path, file_name=FILE_NAME), [1, 2]
    )

    run = ReconciliationRun.objects.get()
    assert sorted((r.pk, created) for r, created in outcomes) == [(run.pk, False), (run.pk, True)]
    assert stored_files(private_files) == [run.stored_file.removeprefix("reconciliation/")]


@pytest.mark.django_db(transaction=True)
def test_two_workers_processing_one_run_at_once_record_it_once(postgres, tmp_path):
    path = csv_file(tmp_path, line("TX1"), line("TX2"), "bad")
    run, _created = reconciliation_start(source=path, file_name=FILE_NAME)

    outcomes = run_at_once(lambda _n: reconciliation_process(run_id=run.pk), [1, 2])

    assert [outcome.status for outcome in outcomes] == [Status.DONE, Status.DONE]
    assert counts(run) == (Status.DONE, 3, 0, 3, 1)
    assert Discrepancy.objects.count() == 3
