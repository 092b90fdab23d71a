"""Staff reaching full identity data leave a record: opening an ID or bank card photo,
searching by a full number, exporting a merchant file. The record names the application or
merchant and the way in — never the number."""

import pytest
from django.urls import reverse

from portal import services
from portal.models import PiiAccess
from portal.models.documents import ApplicationDocument
from portal.services.merchant_files import merchant_file_export
from tests import factories
from tests import onboarding as data
from tests.contracts import signed_contract

pytestmark = pytest.mark.django_db

Slot = ApplicationDocument.Slot


@pytest.fixture
def reviewer():
    return factories.StaffFactory(username="shenhe", group="reviewer")


def document_url(application, slot):
    document = services.documents_current(application)[slot]
    return reverse("portal:document-file", args=[document.public_id])


def test_a_reviewer_opening_an_id_card_photo_is_recorded(client, reviewer):
    application = data.draft()
    client.force_login(reviewer)

    response = client.get(document_url(application, Slot.ID_FRONT), REMOTE_ADDR="198.51.100.4")

    assert response.status_code == 200
    access = PiiAccess.objects.get()
    assert (access.user, access.kind, access.target, access.detail, access.ip_address) == (
        reviewer,
        PiiAccess.Kind.DOCUMENT,
        application.number,
        Slot.ID_FRONT,
        "198.51.100.4",
    )


def test_the_applicant_opening_their_own_photo_is_not_a_staff_access(client):
    application = data.draft()
    client.force_login(application.applicant)

    assert client.get(document_url(application, Slot.ID_FRONT)).status_code == 200
    assert not PiiAccess.objects.exists()


def test_a_refused_document_request_records_nothing(client):
    application = data.draft()
    client.force_login(factories.StaffFactory(group="finance"))

    assert client.get(document_url(application, Slot.ID_FRONT)).status_code == 404
    assert not PiiAccess.objects.exists()


@pytest.mark.parametrize(
    ("number", "detail"),
    [(data.resident_id(), "resident ID"), (data.debit_card(7), "bank account")],
)
def test_a_search_by_a_full_number_is_recorded_without_the_number(client, reviewer, number, detail):
    wanted = data.submitted(account_number=data.debit_card(7))
    client.force_login(reviewer)

    response = client.get(reverse("admin:portal_application_changelist"), {"q": number})

    assert list(response.context["cl"].result_list) == [wanted]
    access = PiiAccess.objects.get()
    assert (access.kind, access.target, access.detail) == (
        PiiAccess.Kind.SEARCH,
        wanted.number,
        detail,
    )
    assert number not in f"{access.target} {access.detail}"


def test_a_search_by_a_name_is_not_a_pii_access(client, reviewer):
    data.submitted()
    client.force_login(reviewer)

    client.get(reverse("admin:portal_application_changelist"), {"q": "李"})

    assert not PiiAccess.objects.exists()


def test_a_merchant_file_export_is_recorded(contract_template):
    merchant = signed_contract().merchant
    risk = factories.StaffFactory(group="risk")

    merchant_file_export(merchant=merchant, staff=risk)

    access = PiiAccess.objects.get()
    assert (access.user, access.kind, access.target) == (risk, PiiAccess.Kind.EXPORT, merchant.mid)


def test_superusers_read_the_record_and_nobody_edits_it(client, admin_client, reviewer):
    access = services.pii_access_record(user=reviewer, kind=PiiAccess.Kind.DOCUMENT, target="A1")
    change = reverse("admin:portal_piiaccess_change", args=[access.pk])
    client.force_login(reviewer)

    listing = admin_client.get(reverse("admin:portal_piiaccess_changelist"))
    post = admin_client.post(change, {"target": "tampered"})
    delete = admin_client.post(
        reverse("admin:portal_piiaccess_delete", args=[access.pk]), {"post": "yes"}
    )

    assert listing.status_code == 200
    assert post.status_code == 403
    assert delete.status_code == 403
    access.refresh_from_db()
    assert access.target == "A1"
    assert client.get(reverse("admin:portal_piiaccess_changelist")).status_code == 403


def test_a_search_by_a_full_number_never_puts_the_number_into_sql(client, reviewer):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    number = data.resident_id()
    data.submitted()
    client.force_login(reviewer)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("admin:portal_application_changelist"), {"q": number})

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 1
    assert not [query["sql"] for query in queries if number in query["sql"]]
