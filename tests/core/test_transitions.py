"""The one transition routine, for every model with a status: the allowed-transitions table is
enforced, a refused move changes nothing, an allowed one writes exactly one event (and a
history row where the model keeps history), and two concurrent moves from the same status
produce one event and one refusal. The concurrency tests run on SQLite and on PostgreSQL (CI
runs both); on PostgreSQL they race real row locks."""

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from core.models import Job, Source
from core.transitions import TransitionNotAllowed, event_record, transition
from portal.models import Application, Contract, ContractTemplate, Merchant, Terminal
from settlements.models import Payout, ReconciliationRun
from tests import factories
from tests import onboarding as data
from tests.helpers import run_at_once


def application(status):
    made = data.submitted()
    Application.objects.filter(pk=made.pk).update(status=status)
    return made


def merchant(status):
    return factories.MerchantFactory(status=status)


def terminal(status):
    return Terminal.objects.create(
        merchant=factories.MerchantFactory(status=Merchant.Status.CONTRACT_SIGNED),
        product=data.product(),
        serial_number=f"SN{timezone.now():%H%M%S%f}",
        tid=f"{timezone.now():%S%f}"[:8],
        model="P2",
        activation_code="12345678",
        status=status,
    )


def contract(status):
    template = ContractTemplate.objects.create(
        code=f"t{timezone.now():%H%M%S%f}", title="收单服务协议", body="## 总则\n\n条款。"
    )
    return Contract.objects.create(
        number=f"HT{timezone.now():%H%M%S%f}",
        merchant=factories.MerchantFactory(),
        template=template,
        status=status,
        document="contracts/x.pdf",
        document_sha256="0" * 64,
        expires_at=timezone.now() + timedelta(days=14),
    )


def payout(status):
    return factories.PayoutFactory(status=status)


def reconciliation_run(status):
    return ReconciliationRun.objects.create(
        acquirer="demo",
        settlement_date=date(2026, 11, 26),
        file_name="recon-2026-11-26.csv",
        sha256=f"{timezone.now():%H%M%S%f}".ljust(64, "0"),
        status=status,
    )


def job(status):
    return Job.objects.create(
        kind="settlements.reconciliation",
        subject_type=ContentType.objects.get_for_model(ReconciliationRun),
        subject_id=reconciliation_run(ReconciliationRun.Status.PENDING).pk,
        status=status,
    )


@dataclass(frozen=True)
class Case:
    model: type[models.Model]
    build: object
    # A move the table forbids, and one it allows whose target does not allow itself again.
    refused: tuple[str, str]
    allowed: tuple[str, str]

    def __str__(self):
        return self.model.__name__


S = Application.Status
CASES = [
    Case(Application, application, (S.SUBMITTED, S.APPROVED), (S.SUBMITTED, S.IN_REVIEW)),
    Case(
        Merchant,
        merchant,
        (Merchant.Status.CONTRACT_PENDING, Merchant.Status.ACTIVE),
        (Merchant.Status.CONTRACT_PENDING, Merchant.Status.CONTRACT_SIGNED),
    ),
    Case(
        Terminal,
        terminal,
        (Terminal.Status.PENDING, Terminal.Status.ACTIVE),
        (Terminal.Status.PENDING, Terminal.Status.READY_TO_SHIP),
    ),
    Case(
        Contract,
        contract,
        (Contract.Status.SIGNED, Contract.Status.PENDING),
        (Contract.Status.PENDING, Contract.Status.EXPIRED),
    ),
    Case(
        Payout,
        payout,
        (Payout.Status.PAID, Payout.Status.PROCESSING),
        (Payout.Status.SCHEDULED, Payout.Status.PROCESSING),
    ),
    Case(
        ReconciliationRun,
        reconciliation_run,
        (ReconciliationRun.Status.PENDING, ReconciliationRun.Status.DONE),
        (ReconciliationRun.Status.PENDING, ReconciliationRun.Status.FAILED),
    ),
    Case(Job, job, (Job.Status.DONE, Job.Status.QUEUED), (Job.Status.QUEUED, Job.Status.FAILED)),
]


def test_every_model_with_a_status_has_a_case_here():
    from django.apps import apps

    with_table = {
        model
        for model in apps.get_models()
        if hasattr(model, "ALLOWED_TRANSITIONS") and not model.__name__.startswith("Historical")
    }

    assert with_table == {case.model for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=str)
def test_every_status_has_a_row_in_the_table(case):
    assert set(case.model.ALLOWED_TRANSITIONS) == set(case.model.Status.values)
    for targets in case.model.ALLOWED_TRANSITIONS.values():
        assert set(targets) <= set(case.model.Status.values)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_architecture_page_lists_every_status(case):
    page = (Path(__file__).resolve().parents[2] / "docs" / "architecture.md").read_text()
    row = next(
        line for line in page.splitlines() if line.startswith(f"| `{case.model.__name__}` |")
    )

    assert [status for status in case.model.Status.values if status not in row] == []


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_move_not_in_the_table_is_refused_and_changes_nothing(case):
    current, target = case.refused
    row = case.build(current)
    events_before = row.events.count()

    with pytest.raises(TransitionNotAllowed) as refused:
        transition(row, target)

    assert refused.value.code == "transition_not_allowed"
    assert (refused.value.current, refused.value.target) == (current, target)
    assert case.model.objects.get(pk=row.pk).status == current
    assert row.events.count() == events_before


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES, ids=str)
def test_an_allowed_move_writes_one_event_with_who_and_why(case):
    current, target = case.allowed
    row = case.build(current)
    actor = factories.StaffFactory()
    events_before = row.events.count()

    event = transition(row, target, actor=actor, reason="复核完成")

    assert (row.status, case.model.objects.get(pk=row.pk).status) == (target, target)
    assert row.events.count() == events_before + 1
    assert (event.from_status, event.to_status, event.actor, event.reason, event.source) == (
        current,
        target,
        actor,
        "复核完成",
        Source.STAFF,
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "case", [case for case in CASES if hasattr(case.model, "history")], ids=str
)
def test_an_allowed_move_is_in_the_change_history_of_a_model_that_keeps_one(case):
    current, target = case.allowed
    row = case.build(current)
    actor = factories.StaffFactory()

    transition(row, target, actor=actor)

    latest = row.history.order_by("-history_id").first()
    assert (latest.status, latest.history_type, latest.history_user) == (target, "~", actor)


@pytest.mark.django_db
def test_a_move_changes_the_other_columns_given_in_the_same_update():
    row = payout(Payout.Status.PROCESSING)
    paid_at = timezone.now()

    transition(row, Payout.Status.PAID, updates={"paid_at": paid_at, "bank_reference": "B1"})

    stored = Payout.objects.get(pk=row.pk)
    assert (stored.status, stored.paid_at, stored.bank_reference) == ("paid", paid_at, "B1")


@pytest.mark.django_db
def test_a_status_the_model_does_not_know_is_refused():
    row = payout(Payout.Status.SCHEDULED)

    with pytest.raises(TransitionNotAllowed):
        transition(row, "vanished")

    assert Payout.objects.get(pk=row.pk).status == Payout.Status.SCHEDULED


@pytest.mark.django_db
def test_a_stale_instance_is_checked_against_the_database_not_its_memory():
    row = payout(Payout.Status.SCHEDULED)
    Payout.objects.filter(pk=row.pk).update(status=Payout.Status.PAID, paid_at=timezone.now())

    # In memory it still says "scheduled", from which "processing" would be allowed.
    with pytest.raises(TransitionNotAllowed) as refused:
        transition(row, Payout.Status.PROCESSING)

    assert refused.value.current == Payout.Status.PAID


@pytest.mark.django_db
def test_an_event_can_be_recorded_without_changing_the_status():
    row = payout(Payout.Status.HELD)
    staff = factories.StaffFactory()

    event = event_record(
        row, actor=staff, reason="已致电商户", event={"occurred_at": timezone.now()}
    )

    assert (event.from_status, event.to_status, event.reason, event.source) == (
        "held",
        "held",
        "已致电商户",
        Source.STAFF,
    )
    assert Payout.objects.get(pk=row.pk).status == Payout.Status.HELD


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("case", CASES, ids=str)
def test_two_moves_at_once_from_the_same_status_make_one_event(case):
    current, target = case.allowed
    row = case.build(current)
    events_before = row.events.count()

    def move(_attempt):
        return transition(case.model.objects.get(pk=row.pk), target)

    outcomes = run_at_once(move, [1, 2])

    refused = [o for o in outcomes if isinstance(o, TransitionNotAllowed)]
    moved = [o for o in outcomes if not isinstance(o, Exception)]
    assert (len(moved), len(refused)) == (1, 1), outcomes
    assert refused[0].current == target
    assert row.events.count() == events_before + 1
    assert case.model.objects.get(pk=row.pk).status == target
