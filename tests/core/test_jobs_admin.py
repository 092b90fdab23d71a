"""Staff see background jobs in the admin, stuck ones flagged, and retry what failed; the
retry is permission-checked and recorded with who did it."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from core import jobs
from core.models import Job
from settlements.models import ReconciliationRun
from settlements.reconciliation import JOB_KIND, reconciliation_start
from tests import factories
from tests.settlements.test_reconciliation import FILE_NAME, csv_file, line

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:core_job_changelist")


@pytest.fixture
def run(tmp_path):
    run, _created = reconciliation_start(
        source=csv_file(tmp_path, line("TX1")), file_name=FILE_NAME
    )
    return run


def job_of(run) -> Job:
    return jobs.latest_job(kind=JOB_KIND, subject=run)


def failed(run) -> Job:
    job = job_of(run)
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.FAILED, attempts=3, last_error="its worker was lost on each of 3 attempts"
    )
    ReconciliationRun.objects.filter(pk=run.pk).update(status=ReconciliationRun.Status.FAILED)
    return job


def staff_client(client, group: str):
    client.force_login(factories.StaffFactory(group=group))
    return client


def test_staff_see_a_stuck_job_flagged_with_its_subject(client, run, django_assert_max_num_queries):
    Job.objects.filter(pk=job_of(run).pk).update(
        status=Job.Status.RUNNING, attempts=1, locked_until=timezone.now() - timedelta(minutes=5)
    )
    for _other in range(5):
        jobs.job_start(
            kind=JOB_KIND,
            subject=ReconciliationRun.objects.create(
                acquirer="demo",
                settlement_date=run.settlement_date,
                file_name="x.csv",
                sha256=f"{_other}" * 64,
            ),
        )

    support = staff_client(client, "support")
    support.get(CHANGELIST)  # the session's first request records the sign-in

    with django_assert_max_num_queries(12):
        response = support.get(CHANGELIST, {"stuck": "yes"})

    assert response.status_code == 200
    rows = response.context["cl"].result_list
    assert [row.pk for row in rows] == [job_of(run).pk]
    assert rows[0].is_stuck
    assert f"/admin/settlements/reconciliationrun/{run.pk}/change/" in response.content.decode()


def test_finance_retry_a_failed_job_and_it_is_recorded(client, run):
    job = failed(run)
    finance = factories.StaffFactory(group="finance")
    client.force_login(finance)

    response = client.post(
        CHANGELIST, {"action": "retry", "_selected_action": [job.pk]}, follow=True
    )

    job.refresh_from_db()
    assert response.status_code == 200
    assert (job.status, job.attempts) == (Job.Status.QUEUED, 0)
    assert job.events.last().actor == finance


def test_support_cannot_retry_a_job(client, run):
    job = failed(run)

    staff_client(client, "support").post(
        CHANGELIST, {"action": "retry", "_selected_action": [job.pk]}
    )

    assert Job.objects.get(pk=job.pk).status == Job.Status.FAILED


def test_finance_import_a_failed_run_again_from_its_list(client, run):
    job = failed(run)
    finance = factories.StaffFactory(group="finance")
    client.force_login(finance)

    client.post(
        reverse("admin:settlements_reconciliationrun_changelist"),
        {"action": "retry", "_selected_action": [run.pk]},
    )

    job.refresh_from_db()
    assert (job.status, job.events.last().actor) == (Job.Status.QUEUED, finance)
    assert jobs.job_run(job_id=job.pk) == Job.Status.DONE
    run.refresh_from_db()
    assert run.status == ReconciliationRun.Status.DONE
