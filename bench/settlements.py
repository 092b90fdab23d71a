"""Benchmarks of the ledger at volume: `make bench` (or `.venv/bin/python bench/settlements.py`).

Builds a throw-away database (SQLite by default, PostgreSQL when DATABASE_URL says so) with one
busy merchant (BENCH_ROWS transactions, 100 000 by default, spread over a year) and a few
neighbours, then times the pages, API endpoints, exports and imports a merchant and finance use,
and prints a table: wall time (median of several runs), SQL queries, peak Python memory.

Numbers are for reading, not for asserting: tests keep the query counts constant, this shows
what the counts and the indexes buy.
"""

import os
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
# Jobs the benchmark starts (a reconciliation import rings for a worker) go to a queue nobody
# listens on: a `make run` worker must not act on job numbers from the throw-away database.
os.environ.setdefault("CELERY_QUEUE", f"bench-{os.getpid()}")

import django

django.setup()

from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, setup_test_environment
from django.utils import timezone

ROWS = int(os.environ.get("BENCH_ROWS", "100000"))
NEIGHBOURS = 3
RUNS = 5
CHANNELS = ["debit_card", "credit_card", "unionpay_qr", "wechat_pay", "alipay"]


def build_data():
    from portal.models import FeeSchedule, Merchant, User
    from settlements import calendar, ledger, services
    from settlements.models import Payout, Transaction

    schedule = FeeSchedule.objects.create(
        code="bench",
        name="基准费率",
        debit_rate=Decimal("0.0050"),
        debit_cap=Decimal("20.00"),
        credit_rate=Decimal("0.0060"),
        unionpay_qr_rate=Decimal("0.0038"),
        wechat_pay_rate=Decimal("0.0038"),
        alipay_rate=Decimal("0.0038"),
    )
    merchants = []
    for index in range(NEIGHBOURS + 1):
        user = User.objects.create_user(
            username=f"1380000{index:04d}", mobile=f"1380000{index:04d}", password="bench-2026"
        )
        merchants.append(
            Merchant.objects.create(
                mid=f"89831005411{index:04d}",
                name=f"基准商户 {index}",
                user=user,
                status=Merchant.Status.ACTIVE,
                fee_schedule=schedule,
            )
        )
    rng = random.Random(7)
    cal = calendar.business_calendar()
    now = timezone.now()
    serial = 0
    for merchant_index, merchant in enumerate(merchants):
        count = ROWS if merchant_index == 0 else ROWS // 10
        batch = []
        for _ in range(count):
            serial += 1
            occurred = now - timedelta(seconds=rng.randint(60, 365 * 24 * 3600))
            channel = rng.choice(CHANNELS)
            gross = Decimal(rng.randint(300, 300000)) / 100
            amounts = ledger.transaction_amounts(
                schedule, type="sale", channel=channel, amount=gross
            )
            batch.append(
                Transaction(
                    acquirer="bench",
                    acquirer_id=f"B{serial:012d}",
                    merchant=merchant,
                    tid=f"{10000001 + serial % 3}",
                    type="sale",
                    channel=channel,
                    amount=amounts.amount,
                    fee=amounts.fee,
                    acquirer_fee=amounts.fee,
                    net=amounts.net,
                    card_masked="622202******0123" if "card" in channel else "",
                    card_last4="0123" if "card" in channel else "",
                    rrn=f"{serial:012d}",
                    trace_no=f"{serial % 1_000_000:06d}",
                    status="approved",
                    occurred_at=occurred,
                    settlement_date=cal.next_business_day(calendar.trade_date(occurred)),
                )
            )
            if len(batch) == 5000:
                Transaction.objects.bulk_create(batch)
                batch = []
        Transaction.objects.bulk_create(batch)
    # Payouts for every settlement date of the busy merchant except the last few.
    busy = merchants[0]
    dates = sorted(
        set(
            Transaction.objects.filter(merchant=busy, settlement_date__lt=timezone.localdate())
            .values_list("settlement_date", flat=True)
            .distinct()
        )
    )
    for day in dates:
        payout = services.payout_assemble(merchant=busy, settlement_date=day, acquirer="bench")
        if payout and day < timezone.localdate() - timedelta(days=3):
            services.payout_apply_status(
                payout=payout, status="paid", seen_at=payout.expected_at, bank_reference="B1"
            )
    return busy, Payout.objects.filter(merchant=busy).order_by("-settlement_date").first()


def measure(label, action, *, runs=RUNS, memory=False):
    """Median wall time of ``runs`` runs; with ``memory``, one more run under tracemalloc
    (which slows Python down several times, so it is never one of the timed runs)."""
    timings = []
    queries = 0
    for _run in range(runs):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            action()
            timings.append(time.perf_counter() - started)
        queries = len(captured)
    peak = ""
    if memory:
        tracemalloc.start()
        action()
        peak = f"{tracemalloc.get_traced_memory()[1] / 1024 / 1024:.1f}"
        tracemalloc.stop()
    milliseconds = statistics.median(timings) * 1000
    print(f"| {label:<44} | {milliseconds:>9.1f} | {queries:>7} | {peak:>8} |")


def get(client, url):
    def action():
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        if response.streaming:
            for _chunk in response.streaming_content:
                pass

    return action


def reconciliation_file(merchant_rows: int) -> Path:
    from settlements.models import Transaction

    handle = tempfile.NamedTemporaryFile("w", suffix="-2026-11-25.csv", delete=False)  # noqa: SIM115
    handle.write(
        "transaction_id,merchant_id,terminal_id,type,channel,amount,fee,net,rrn,trace_no,"
        "occurred_at,payout_id\n"
    )
    rows = Transaction.objects.values_list(
        "acquirer_id",
        "merchant__mid",
        "tid",
        "type",
        "channel",
        "amount",
        "acquirer_fee",
        "net",
        "rrn",
        "trace_no",
        "occurred_at",
    ).order_by("pk")[:merchant_rows]
    for row in rows.iterator(chunk_size=5000):
        values = list(row)
        values[10] = values[10].isoformat()
        handle.write(",".join(str(v) for v in values) + ",\n")
    handle.close()
    return Path(handle.name)


def main():
    setup_test_environment()
    settings.DEBUG = False
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        started = time.perf_counter()
        busy, payout = build_data()
        print(
            f"\nBuilt {ROWS:,} transactions for one merchant (+{NEIGHBOURS}×{ROWS // 10:,}) on "
            f"{connection.vendor} in {time.perf_counter() - started:.0f} s.\n"
        )
        client = Client()
        client.force_login(busy.user)
        print(f"| {'what':<44} | {'ms (med)':>9} | {'queries':>7} | {'peak MB':>8} |")
        print(f"|{'-' * 46}|{'-' * 11}|{'-' * 9}|{'-' * 10}|")
        measure("dashboard /merchant/", get(client, "/merchant/"))
        measure("transactions, first page", get(client, "/merchant/transactions/"))
        measure(
            "transactions, channel + 30 days",
            get(
                client,
                "/merchant/transactions/?channel=alipay&date_from="
                f"{timezone.localdate() - timedelta(days=30)}&date_to={timezone.localdate()}",
            ),
        )
        measure("transactions, by RRN", get(client, "/merchant/transactions/?rrn=000000000777"))
        measure("transactions, needs attention", get(client, "/merchant/transactions/?anomaly=any"))
        measure("payouts list", get(client, "/merchant/payouts/"))
        measure(
            f"payout detail ({payout.transaction_count} txns)",
            get(client, f"/merchant/payouts/{payout.public_id}/"),
        )
        measure("API /api/v1/transactions/", get(client, "/api/v1/transactions/"))
        measure("API /api/v1/dashboard/", get(client, "/api/v1/dashboard/"))
        measure(
            f"CSV export, {ROWS:,} rows",
            get(client, "/merchant/transactions/export.csv"),
            runs=1,
            memory=True,
        )
        measure(
            f"XLSX export, {ROWS:,} rows",
            get(client, "/merchant/transactions/export.xlsx"),
            runs=1,
            memory=True,
        )
        measure(
            "monthly statement PDF",
            get(client, f"/merchant/statements/{timezone.localdate():%Y-%m}.pdf"),
            runs=1,
        )
        try:
            from settlements.reconciliation import reconciliation_process, reconciliation_start
        except ImportError:
            return
        path = reconciliation_file(ROWS)

        def reconcile():
            run, _created = reconciliation_start(
                source=path,
                file_name=path.name,
                settlement_date=timezone.localdate(),
                acquirer="bench",
            )
            reconciliation_process(run_id=run.pk)

        measure(f"reconciliation import, {ROWS:,} lines", reconcile, runs=1, memory=True)
        path.unlink()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
