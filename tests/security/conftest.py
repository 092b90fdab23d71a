"""
``matrix_world``: the world the authorisation matrix (test_authorization_matrix.py) asks about,
built once per module through the real services: merchant A (approved, contract signed,
terminal activated, a transaction in a payout), merchant B (another active merchant with money
of its own), an applicant with a draft and no merchant, one member of staff per group and a
superuser.

It lives in a transaction that the module rolls back at its end; every test runs in a savepoint
inside it (pytest-django's ``db``), so what a request changes is undone before the next one.
"""

from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import Client, override_settings
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from core import jobs
from portal import services
from portal.contract_defaults import default_template_ensure
from portal.models import (
    Application,
    ApplicationDocument,
    ContractTemplate,
    Heartbeat,
    Merchant,
    Notification,
    PiiAccess,
    Terminal,
)
from settlements import calendar
from settlements.models import (
    AcquirerError,
    CalendarDay,
    CalendarYear,
    Discrepancy,
    ReconciliationRun,
    WebhookEvent,
)
from settlements.reconciliation import JOB_KIND
from tests import contracts, factories
from tests import onboarding as onboarding_data

FAST_HASHER = ["django.contrib.auth.hashers.MD5PasswordHasher"]
GROUPS = ("reviewer", "support", "risk", "finance")


@pytest.fixture(scope="module")
def matrix_private_files(tmp_path_factory):
    """Where the matrix world keeps A's documents and contract PDFs, for the whole module
    (test_authorization_matrix.py points PRIVATE_MEDIA_ROOT here for each of its tests)."""
    return tmp_path_factory.mktemp("private")


@pytest.fixture(scope="module")
def matrix_world(django_db_setup, django_db_blocker, matrix_private_files):
    with (
        django_db_blocker.unblock(),
        override_settings(PRIVATE_MEDIA_ROOT=matrix_private_files, PASSWORD_HASHERS=FAST_HASHER),
        transaction.atomic(),
    ):
        built = _build_world()
        yield built
        transaction.set_rollback(True)
    calendar.forget_calendar()


def _build_world() -> SimpleNamespace:
    default_template_ensure(ContractTemplate)
    staff = {name: factories.StaffFactory(group=name) for name in GROUPS}
    staff["superuser"] = factories.StaffFactory(is_superuser=True)
    # Every member of staff has enrolled an authenticator app (the matrix signs them in with
    # it: production asks for the second factor).
    devices = {
        actor: TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
        for actor, user in staff.items()
    }

    # Merchant A, the whole way: application, documents, approval, signed contract, terminal
    # shipped and activated (which makes the merchant active), then money.
    contract = contracts.signed_contract(reviewer=staff["reviewer"])
    merchant_a = contract.merchant
    application = Application.objects.get(merchant=merchant_a)
    terminal = services.terminal_assign(
        merchant=merchant_a,
        product=application.product,
        serial_number="SN-SECURITY-A",
        tid="20000001",
        model="P30",
        actor=staff["finance"],
    )
    services.terminal_transition(
        terminal=terminal, to_status=Terminal.Status.READY_TO_SHIP, actor=staff["finance"]
    )
    services.terminal_transition(
        terminal=terminal,
        to_status=Terminal.Status.SHIPPED,
        actor=staff["finance"],
        carrier="顺丰速运",
        tracking_number="SF0000000001",
    )
    terminal.refresh_from_db()
    terminal = services.terminal_activate(
        terminal=terminal, user=merchant_a.user, code=terminal.activation_code
    )
    merchant_a.refresh_from_db()
    assert merchant_a.status == Merchant.Status.ACTIVE
    payout = factories.PayoutFactory(merchant=merchant_a)
    transaction_a = factories.TransactionFactory(merchant=merchant_a, payout=payout)
    # A joined two months ago: that month's statement is A's, and B (who joined today) has
    # none for it.
    joined = timezone.now() - timedelta(days=62)
    Merchant.objects.filter(pk=merchant_a.pk).update(created_at=joined)
    merchant_a.refresh_from_db()

    merchant_b = factories.MerchantFactory(status=Merchant.Status.ACTIVE)
    factories.TransactionFactory(merchant=merchant_b)
    factories.PayoutFactory(merchant=merchant_b)

    applicant = onboarding_data.draft(documents=False).applicant

    run = ReconciliationRun.objects.create(
        acquirer="demo",
        settlement_date=timezone.localdate(),
        file_name="security.csv",
        sha256="5" * 64,
        created_by=staff["finance"],
    )
    calendar_day, _created = CalendarDay.objects.update_or_create(
        date=date(2099, 10, 1), defaults={"kind": CalendarDay.Kind.HOLIDAY, "name": "国庆节"}
    )
    acquirer = factories.AcquirerFactory()
    calendar_year, _created = CalendarYear.objects.get_or_create(
        year=2099, defaults={"source": CalendarYear.Source.STAFF}
    )
    login_seen = {
        "username": merchant_a.user.mobile,
        "ip_address": "203.0.113.9",
        "user_agent": "Mozilla/5.0 (iPhone) test",
        "http_accept": "text/html",
        "path_info": "/accounts/login/",
    }
    users = {
        "anonymous": None,
        "merchant_a": merchant_a.user,
        "merchant_b": merchant_b.user,
        "applicant": applicant,
        **staff,
    }
    return SimpleNamespace(
        users=users,
        devices=devices,
        # Signed in once per actor, staff with their second factor; a test's request that
        # changes its session is rolled back with the test.
        sessions={
            actor: user and _session_key(user, devices.get(actor)) for actor, user in users.items()
        },
        merchant_a=merchant_a,
        merchant_b=merchant_b,
        application=application,
        document=ApplicationDocument.objects.filter(
            application=application, replaced_at__isnull=True
        ).first(),
        contract=contract,
        terminal=terminal,
        transaction=transaction_a,
        payout=payout,
        notification=Notification.objects.filter(user=merchant_a.user)
        .exclude(url="")
        .order_by("pk")
        .first(),
        statement_month=timezone.localdate(joined).strftime("%Y-%m"),
        group=Group.objects.get(name="reviewer"),
        heartbeat=Heartbeat.objects.update_or_create(
            name="worker", defaults={"seen_at": timezone.now()}
        )[0],
        pii_access=PiiAccess.objects.create(
            user=staff["reviewer"],
            kind=PiiAccess.Kind.DOCUMENT,
            target=application.number,
            detail="id_front",
        ),
        reconciliation_run=run,
        job=jobs.job_start(kind=JOB_KIND, subject=run, actor=staff["finance"]),
        discrepancy=Discrepancy.objects.create(
            run=run,
            kind=Discrepancy.Kind.FEE,
            line_no=1,
            acquirer_transaction_id=transaction_a.acquirer_id,
            transaction=transaction_a,
            ours="0.60",
            theirs="0.61",
        ),
        calendar_day=calendar_day,
        acquirer=acquirer,
        acquirer_error=AcquirerError.objects.create(
            acquirer=acquirer, source=AcquirerError.Source.CALL, message="503 维护中"
        ),
        webhook_event=WebhookEvent.objects.create(
            acquirer=acquirer,
            event_id="evt_matrix",
            type="payout.updated",
            payload={"id": "evt_matrix", "data": {}},
        ),
        calendar_year=calendar_year,
        access_attempt=AccessAttempt.objects.create(
            **login_seen, get_data="", post_data="", failures_since_start=1
        ),
        access_log=AccessLog.objects.create(**login_seen),
        access_failure_log=AccessFailureLog.objects.create(**login_seen),
    )


def _session_key(user, device) -> str:
    client = Client()
    client.force_login(user)
    if device is not None:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client.cookies[settings.SESSION_COOKIE_NAME].value
