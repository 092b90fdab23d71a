"""The ledger in the admin: finance works the calendar and reconciliation, everybody reads
money without being able to edit it, and no changelist counts a whole table."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from settlements import calendar, services
from settlements.admin import ledger as ledger_admin
from settlements.models import (
    CalendarDay,
    CalendarYear,
    Discrepancy,
    Payout,
    ReconciliationRun,
    Transaction,
)
from tests import factories
from tests.helpers import assert_constant_queries

HEADER = (
    "transaction_id,merchant_id,terminal_id,type,channel,amount,fee,net,rrn,trace_no,"
    "occurred_at,payout_id\n"
)


@pytest.fixture
def finance(db, client):
    user = factories.StaffFactory(group="finance")
    client.force_login(user)
    return user


def late_payout(merchant, **fields):
    expected = timezone.now() - timedelta(days=3)
    return factories.PayoutFactory(
        merchant=merchant,
        settlement_date=timezone.localdate(expected),
        expected_at=expected,
        **fields,
    )


def test_transaction_changelist_queries_do_not_grow(client, finance):
    merchant = factories.MerchantFactory()
    payout = factories.PayoutFactory(merchant=merchant)

    def grow():
        other = factories.MerchantFactory()
        factories.TransactionFactory.create_batch(5, merchant=other)
        factories.TransactionFactory.create_batch(3, merchant=merchant, payout=payout)

    url = reverse("admin:settlements_transaction_changelist")
    assert_constant_queries(lambda: client.get(url), grow)


def test_payout_changelist_queries_do_not_grow(client, finance):
    def grow():
        merchant = factories.MerchantFactory()
        factories.PayoutFactory.create_batch(3, merchant=merchant)
        late_payout(merchant, status=Payout.Status.HELD, reason_code="RISK_REVIEW")

    url = reverse("admin:settlements_payout_changelist")
    assert_constant_queries(lambda: client.get(url), grow)
    assert_constant_queries(lambda: client.get(url + "?late=yes&cause=risk_hold"), grow)


def test_changelist_counts_at_most_the_cap_plus_one(client, finance, settings, monkeypatch):
    monkeypatch.setattr(ledger_admin, "COUNT_CAP", 4)
    factories.TransactionFactory.create_batch(7)

    response = client.get(reverse("admin:settlements_transaction_changelist"))

    assert response.status_code == 200
    assert response.context["cl"].result_count == 5


def test_transactions_cannot_be_added_changed_or_deleted_even_by_a_superuser(db, client):
    admin_user = factories.StaffFactory(is_superuser=True)
    client.force_login(admin_user)
    record = factories.TransactionFactory()

    change = client.post(
        reverse("admin:settlements_transaction_change", args=[record.pk]), {"amount": "1.00"}
    )
    add = client.get(reverse("admin:settlements_transaction_add"))
    delete = client.post(
        reverse("admin:settlements_transaction_delete", args=[record.pk]), {"post": "yes"}
    )

    assert change.status_code == 403
    assert add.status_code == 403
    assert delete.status_code == 403
    record.refresh_from_db()
    assert record.amount == Decimal("100.00")


def test_transaction_search_matches_exact_references_only(client, finance):
    wanted = factories.TransactionFactory(rrn="123456789012", card_last4="4321", tid="20000001")
    factories.TransactionFactory(rrn="123456789013", card_last4="1234")
    url = reverse("admin:settlements_transaction_changelist")

    def found(term):
        return [row.pk for row in client.get(url, {"q": term}).context["cl"].result_list]

    assert found("123456789012") == [wanted.pk]
    assert found("4321") == [wanted.pk]
    assert found("20000001") == [wanted.pk]
    assert found(wanted.merchant.mid) == [wanted.pk]
    assert found(wanted.acquirer_id) == [wanted.pk]
    assert found("12345678901") == []


def test_payout_late_filter_lists_only_unpaid_payouts_past_the_grace_period(client, finance):
    merchant = factories.MerchantFactory()
    late = late_payout(merchant, status=Payout.Status.PROCESSING)
    late_payout(merchant, status=Payout.Status.PAID)
    factories.PayoutFactory(merchant=merchant)  # expected today: not late yet

    response = client.get(reverse("admin:settlements_payout_changelist"), {"late": "yes"})

    assert [row.pk for row in response.context["cl"].result_list] == [late.pk]


def test_payout_cause_filter_counts_an_unheard_of_code_as_unknown(client, finance):
    merchant = factories.MerchantFactory()
    bounced = late_payout(merchant, status=Payout.Status.RETURNED, reason_code="ACCOUNT_CLOSED")
    novel = late_payout(merchant, status=Payout.Status.HELD, reason_code="BRAND_NEW_CODE")
    late_payout(merchant, status=Payout.Status.HELD, reason_code="RISK_REVIEW")
    url = reverse("admin:settlements_payout_changelist")

    account = client.get(url, {"cause": "account_error"}).context["cl"].result_list
    unknown = client.get(url, {"cause": "unknown"}).context["cl"].result_list

    assert [row.pk for row in account] == [bounced.pk]
    assert [row.pk for row in unknown] == [novel.pk]


def test_payout_page_shows_its_timeline_and_links_to_its_transactions(client, finance):
    merchant = factories.MerchantFactory()
    record = factories.TransactionFactory(merchant=merchant)
    payout = services.payout_assemble(merchant=merchant, settlement_date=record.settlement_date)
    services.payout_apply_status(
        payout=payout,
        status=Payout.Status.HELD,
        reason_code="RISK_REVIEW",
        reason="风险核查",
        seen_at=timezone.now(),
    )

    page = client.get(reverse("admin:settlements_payout_change", args=[payout.pk]))
    listed = client.get(
        reverse("admin:settlements_transaction_changelist"), {"payout__id__exact": payout.pk}
    )

    assert page.status_code == 200
    assert "风险核查" in page.content.decode()
    assert f"payout__id__exact={payout.pk}" in page.content.decode()
    assert [row.pk for row in listed.context["cl"].result_list] == [record.pk]


def test_finance_adds_a_holiday_and_the_calendar_uses_it_at_once(client, finance):
    calendar.business_calendar()  # cached before the edit
    assert calendar.business_calendar().next_business_day(date(2026, 12, 31)) == date(2027, 1, 1)

    response = client.post(
        reverse("admin:settlements_calendarday_add"),
        {"date": "2027-01-01", "kind": "holiday", "name": "元旦", "name_en": "New Year's Day"},
    )

    assert response.status_code == 302
    day = CalendarDay.objects.get(date=date(2027, 1, 1))
    assert day.source == CalendarYear.Source.STAFF
    assert CalendarYear.objects.get(year=2027).source == CalendarYear.Source.STAFF
    assert calendar.business_calendar().next_business_day(date(2026, 12, 31)) == date(2027, 1, 4)
    assert day.history.count() == 1


def test_calendar_page_warns_about_years_without_holiday_data(client, finance):
    next_year = timezone.localdate().year + 1
    CalendarYear.objects.filter(year=next_year).delete()

    response = client.get(reverse("admin:settlements_calendarday_changelist"), follow=True)

    warnings = [str(m) for m in response.context["messages"]]
    assert any(str(next_year) in text for text in warnings)


def test_loading_missing_years_from_the_library_restores_a_deleted_year(client, finance):
    CalendarDay.objects.filter(date__year=2025).delete()
    CalendarYear.objects.filter(year=2025).delete()

    response = client.post(reverse("admin:settlements_calendarday_seed"), follow=True)

    assert response.status_code == 200
    assert CalendarYear.objects.get(year=2025).source == CalendarYear.Source.LIBRARY
    assert CalendarDay.objects.filter(date=date(2025, 10, 1), kind="holiday").exists()


def test_support_reads_payouts_but_cannot_edit_the_calendar(db, client):
    support = factories.StaffFactory(group="support")
    client.force_login(support)

    payouts = client.get(reverse("admin:settlements_payout_changelist"))
    add_day = client.get(reverse("admin:settlements_calendarday_add"))
    seed = client.post(reverse("admin:settlements_calendarday_seed"))
    runs = client.get(reverse("admin:settlements_reconciliationrun_changelist"))

    assert payouts.status_code == 200
    assert add_day.status_code == 403
    assert seed.status_code == 403
    assert runs.status_code == 403


def test_reviewer_sees_no_money(db, client):
    client.force_login(factories.StaffFactory(group="reviewer"))

    assert client.get(reverse("admin:settlements_transaction_changelist")).status_code == 403
    assert client.get(reverse("admin:settlements_payout_changelist")).status_code == 403


def test_finance_uploads_a_reconciliation_file_and_it_is_processed_after_commit(
    client, finance, django_capture_on_commit_callbacks
):
    record = factories.TransactionFactory()
    line = (
        f"{record.acquirer_id},{record.merchant.mid},{record.tid},sale,{record.channel},"
        f"{record.amount},{record.acquirer_fee},{record.net},{record.rrn},{record.trace_no},"
        f"{record.occurred_at.isoformat()},\n"
    )
    upload = SimpleUploadedFile("recon.csv", (HEADER + line).encode(), "text/csv")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            reverse("admin:settlements_reconciliationrun_add"),
            {"file": upload, "settlement_date": record.settlement_date.isoformat()},
        )

    run = ReconciliationRun.objects.get()
    assert response.status_code == 302
    assert run.status == ReconciliationRun.Status.PENDING
    assert run.created_by == finance
    assert len(callbacks) == 1

    from settlements.reconciliation import reconciliation_process

    reconciliation_process(run_id=run.pk)
    run.refresh_from_db()
    assert (run.status, run.matched_count, run.discrepancy_count) == ("done", 1, 0)


def test_uploading_the_same_file_again_changes_nothing(
    client, finance, django_capture_on_commit_callbacks
):
    content = (
        HEADER + "TX-UNKNOWN,898310054110999,10000001,sale,alipay,10.00,0.04,9.96,"
        "000000000001,000001,2026-11-25T10:00:00+08:00,\n"
    ).encode()
    url = reverse("admin:settlements_reconciliationrun_add")
    client.post(url, {"file": SimpleUploadedFile("a-2026-11-25.csv", content)})

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            url, {"file": SimpleUploadedFile("copy-2026-11-25.csv", content)}, follow=True
        )

    assert ReconciliationRun.objects.count() == 1
    assert callbacks == []
    # The admin speaks the default language, Chinese: "nothing was changed".
    assert any("未做任何更改" in str(m) for m in response.context["messages"])


def test_a_file_without_a_date_is_refused_with_the_reason(client, finance):
    response = client.post(
        reverse("admin:settlements_reconciliationrun_add"),
        {"file": SimpleUploadedFile("recon.csv", HEADER.encode())},
    )

    assert response.status_code == 200
    assert response.context["form"].errors
    assert ReconciliationRun.objects.count() == 0


def test_finance_resolves_discrepancies_and_the_first_resolution_is_kept(client, finance):
    run = ReconciliationRun.objects.create(
        acquirer="demo", settlement_date=date(2026, 11, 25), file_name="f.csv", sha256="0" * 64
    )
    first = Discrepancy.objects.create(run=run, kind="missing_here", acquirer_transaction_id="X1")
    second = Discrepancy.objects.create(run=run, kind="malformed", line_no=7)
    url = reverse("admin:settlements_discrepancy_changelist")

    client.post(url, {"action": "resolve", "_selected_action": [first.pk]})
    later = factories.StaffFactory(group="finance")
    client.force_login(later)
    client.post(url, {"action": "resolve", "_selected_action": [first.pk, second.pk]})

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.resolved_by == finance
    assert second.resolved_by == later


def test_support_cannot_resolve_discrepancies(db, client):
    support = factories.StaffFactory(group="support")
    client.force_login(support)
    run = ReconciliationRun.objects.create(
        acquirer="demo", settlement_date=date(2026, 11, 25), file_name="f.csv", sha256="1" * 64
    )
    row = Discrepancy.objects.create(run=run, kind="missing_here", acquirer_transaction_id="X1")

    response = client.post(
        reverse("admin:settlements_discrepancy_changelist"),
        {"action": "resolve", "_selected_action": [row.pk]},
    )

    row.refresh_from_db()
    assert response.status_code == 403
    assert row.resolved_at is None
    assert Transaction.objects.count() == 0
