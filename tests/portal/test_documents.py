import hashlib

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from portal import demo, services
from portal.models import (
    Application,
    ApplicationDocument,
    Contract,
    InfoRequestItem,
    Merchant,
)
from tests import factories
from tests import onboarding as data

pytestmark = pytest.mark.django_db

Status = Application.Status
Slot = ApplicationDocument.Slot
Verdict = ApplicationDocument.Verdict


@pytest.fixture
def reviewer():
    return factories.StaffFactory(group="reviewer")


def upload(application, slot, *, actor=None):
    return services.document_upload(
        application=application,
        slot=slot,
        document=demo.demo_photo(slot),
        actor=actor or application.applicant,
    )


def png_file(name="photo.png", slot=Slot.ID_FRONT):
    return SimpleUploadedFile(name, demo.demo_photo(slot).content, content_type="image/png")


def stored(document) -> bytes:
    with document.file.open("rb") as f:
        return f.read()


def files_under(folder) -> list:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def request_documents(application, reviewer, *slots):
    return services.application_request_info(
        application=application,
        reviewer=reviewer,
        items=[(f"document:{slot}", "照片模糊，请重新拍摄") for slot in slots],
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def documents_url(application):
    return reverse("portal:application-documents", args=[application.public_id])


# --- uploading -------------------------------------------------------------------------------


def test_uploading_again_replaces_the_document_and_keeps_the_old_one():
    application = data.draft()
    first = services.documents_current(application)[Slot.ID_FRONT]

    second = upload(application, Slot.ID_FRONT)

    first.refresh_from_db()
    assert first.replaced_at is not None
    assert second.replaced_at is None
    assert application.documents.filter(slot=Slot.ID_FRONT).count() == 2
    assert application.documents.filter(slot=Slot.ID_FRONT, replaced_at__isnull=True).get() == (
        second
    )
    assert services.documents_current(application)[Slot.ID_FRONT] == second
    assert stored(first) == stored(second)  # the same drawing, stored twice
    assert first.file.name != second.file.name


def test_a_stored_document_records_what_was_uploaded():
    application = data.draft(documents=False)
    cleaned = demo.demo_photo(Slot.ID_BACK)

    document = services.document_upload(
        application=application, slot=Slot.ID_BACK, document=cleaned, actor=application.applicant
    )

    assert (document.content_type, document.size, document.sha256) == (
        "image/png",
        len(cleaned.content),
        hashlib.sha256(cleaned.content).hexdigest(),
    )
    assert (document.width, document.height) == (856, 540)
    assert document.verdict == Verdict.PENDING
    assert stored(document) == cleaned.content


def test_uploads_are_refused_once_the_application_is_submitted(private_files):
    application = data.submitted()
    count = ApplicationDocument.objects.count()
    files = files_under(private_files)

    with pytest.raises(ValidationError) as refused:
        upload(application, Slot.ID_FRONT)

    assert refused.value.code == "not_editable"
    assert ApplicationDocument.objects.count() == count
    assert files_under(private_files) == files
    assert services.documents_uploadable(application) == set()


def test_while_information_is_asked_only_the_requested_document_can_be_uploaded(reviewer):
    application = request_documents(data.in_review(reviewer), reviewer, Slot.ID_FRONT)

    uploaded = upload(application, Slot.ID_FRONT)
    with pytest.raises(ValidationError) as refused:
        upload(application, Slot.ID_BACK)

    assert refused.value.code == "not_editable"
    assert services.documents_uploadable(application) == {Slot.ID_FRONT}
    assert services.documents_current(application)[Slot.ID_FRONT] == uploaded
    assert application.documents.filter(slot=Slot.ID_BACK).count() == 1


def test_while_information_is_asked_a_newly_required_document_can_be_uploaded(reviewer):
    application = services.application_request_info(
        application=data.in_review(reviewer),
        reviewer=reviewer,
        items=[("applicant_type", "您有营业执照，请选择个体工商户")],
    )
    application = services.application_save_fields(
        application=application,
        values={"applicant_type": Application.ApplicantType.SOLE_PROPRIETOR},
    )

    licence = upload(application, Slot.BUSINESS_LICENCE)

    assert services.documents_uploadable(application) == {Slot.STOREFRONT}
    assert services.documents_current(application)[Slot.BUSINESS_LICENCE] == licence
    with pytest.raises(ValidationError) as refused:
        upload(application, Slot.ID_FRONT)
    assert refused.value.code == "not_editable"


def test_a_slot_the_application_does_not_offer_is_refused():
    application = data.draft()

    with pytest.raises(ValidationError) as refused:
        upload(application, Slot.BUSINESS_LICENCE)

    assert refused.value.code == "slot"
    assert not application.documents.filter(slot=Slot.BUSINESS_LICENCE).exists()


# --- submitting ------------------------------------------------------------------------------


def test_submitting_without_a_required_document_is_refused_naming_it_in_chinese():
    application = data.draft(documents=False)
    upload(application, Slot.ID_FRONT)
    upload(application, Slot.ID_BACK)

    with translation.override("zh-hans"), pytest.raises(ValidationError) as refused:
        services.application_submit(
            application=application, actor=application.applicant, today=data.TODAY
        )

    assert refused.value.code == "documents_missing"
    assert refused.value.messages == ["请先上传以下资料：手持身份证照片、结算银行卡正面。"]
    application.refresh_from_db()
    assert application.status == Status.DRAFT
    assert application.submitted_at is None


def test_submitting_with_every_required_document_succeeds():
    application = data.draft(documents=False)
    for slot in (Slot.ID_FRONT, Slot.ID_BACK, Slot.HOLDING_ID, Slot.BANK_CARD):
        upload(application, slot)

    services.application_submit(
        application=application, actor=application.applicant, today=data.TODAY
    )

    application.refresh_from_db()
    assert application.status == Status.SUBMITTED


# --- the document's file ---------------------------------------------------------------------


def file_url(document):
    return reverse("portal:document-file", args=[document.public_id])


def test_the_applicant_gets_their_document_inline_with_safe_headers(client):
    application = data.draft()
    document = services.documents_current(application)[Slot.ID_FRONT]
    client.force_login(application.applicant)

    response = client.get(file_url(document))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == (
        f'inline; filename="{application.number}-id_front.png"'
    )
    assert response["Content-Disposition"].isascii()
    assert response["Cache-Control"] == "private, no-store, max-age=0, no-cache, must-revalidate"
    assert b"".join(response.streaming_content) == stored(document)


def test_the_download_parameter_makes_it_an_attachment(client):
    application = data.draft()
    document = services.documents_current(application)[Slot.BANK_CARD]
    client.force_login(application.applicant)

    response = client.get(file_url(document), {"download": "1"})

    assert response["Content-Disposition"] == (
        f'attachment; filename="{application.number}-bank_card.png"'
    )


@pytest.mark.parametrize(
    ("group", "status_code"),
    [("reviewer", 200), ("risk", 200), ("support", 404), ("finance", 404), (None, 404)],
)
def test_staff_see_documents_only_with_the_permission(client, group, status_code):
    document = services.documents_current(data.submitted())[Slot.ID_FRONT]
    client.force_login(factories.StaffFactory(group=group))

    response = client.get(file_url(document))

    assert response.status_code == status_code
    if status_code == 200:
        assert b"".join(response.streaming_content) == stored(document)


def test_another_customer_gets_404_for_a_document(client):
    document = services.documents_current(data.draft())[Slot.ID_FRONT]
    client.force_login(factories.CustomerFactory())

    assert client.get(file_url(document)).status_code == 404


def test_an_anonymous_visitor_gets_404_for_a_document(client):
    document = services.documents_current(data.draft())[Slot.ID_FRONT]

    assert client.get(file_url(document)).status_code == 404


# --- the reviewer's verdict in the admin -----------------------------------------------------


def verdict_url(document, verdict):
    return reverse(
        "admin:portal_application_document",
        args=[document.application_id, document.pk, verdict],
    )


def test_rejecting_a_document_in_the_admin_asks_the_applicant_for_a_new_one(client, reviewer):
    application = data.in_review(reviewer)
    document = services.documents_current(application)[Slot.ID_FRONT]
    client.force_login(reviewer)

    response = client.post(verdict_url(document, "reject"), {"reason": "照片反光，看不清号码"})

    assert response.status_code == 302
    application.refresh_from_db()
    document.refresh_from_db()
    assert application.status == Status.NEEDS_INFO
    assert list(application.info_requests.values_list("item", "reason")) == [
        ("document:id_front", "照片反光，看不清号码")
    ]
    assert (document.verdict, document.verdict_reason, document.reviewed_by) == (
        Verdict.REJECTED,
        "照片反光，看不清号码",
        reviewer,
    )
    assert services.documents_missing(application) == [Slot.ID_FRONT]


def test_the_applicant_sees_why_a_document_was_rejected(client, reviewer):
    application = data.in_review(reviewer)
    document = services.documents_current(application)[Slot.ID_FRONT]
    services.document_reject(document=document, reviewer=reviewer, reason="照片反光，看不清号码")
    client.force_login(application.applicant)

    body = client.get(documents_url(application)).content.decode()

    assert "照片反光，看不清号码" in body
    assert body.count('name="slot"') == 1
    assert 'name="slot" value="id_front"' in body


def test_after_a_rejection_a_new_upload_and_the_fix_page_resubmit(client, reviewer):
    application = data.in_review(reviewer)
    rejected = services.documents_current(application)[Slot.ID_FRONT]
    services.document_reject(document=rejected, reviewer=reviewer, reason="照片反光")
    client.force_login(application.applicant)

    upload_response = client.post(
        documents_url(application), {"slot": Slot.ID_FRONT, "file": png_file()}
    )
    fix_response = client.post(reverse("portal:application-fix", args=[application.public_id]))

    assert messages_of(upload_response) == ["身份证人像面 已上传。"]
    assert fix_response.status_code == 302
    application.refresh_from_db()
    assert application.status == Status.SUBMITTED
    assert application.submission_count == 2
    assert not application.info_requests.filter(resolved_at__isnull=True).exists()
    current = services.documents_current(application)[Slot.ID_FRONT]
    assert current != rejected
    assert current.verdict == Verdict.PENDING
    rejected.refresh_from_db()
    assert rejected.replaced_at is not None


def test_resubmitting_without_the_new_upload_is_refused(client, reviewer):
    application = data.in_review(reviewer)
    rejected = services.documents_current(application)[Slot.ID_FRONT]
    services.document_reject(document=rejected, reviewer=reviewer, reason="照片反光")
    client.force_login(application.applicant)

    response = client.post(reverse("portal:application-fix", args=[application.public_id]))

    assert response.status_code == 200
    assert "请先上传以下资料：身份证人像面。" in response.content.decode()
    application.refresh_from_db()
    assert application.status == Status.NEEDS_INFO


def test_rejecting_without_a_reason_is_refused_and_changes_nothing(client, reviewer):
    application = data.in_review(reviewer)
    document = services.documents_current(application)[Slot.ID_FRONT]
    client.force_login(reviewer)

    response = client.post(verdict_url(document, "reject"), {"reason": "   "})

    assert messages_of(response) == ["请说明资料未通过的原因。"]
    application.refresh_from_db()
    document.refresh_from_db()
    assert application.status == Status.IN_REVIEW
    assert (document.verdict, document.verdict_reason, document.reviewed_by) == (
        Verdict.PENDING,
        "",
        None,
    )
    assert not InfoRequestItem.objects.exists()


def test_a_support_user_posting_a_verdict_gets_403(client, reviewer):
    application = data.in_review(reviewer)
    document = services.documents_current(application)[Slot.ID_FRONT]
    client.force_login(factories.StaffFactory(group="support"))

    response = client.post(verdict_url(document, "reject"), {"reason": "照片反光"})

    assert response.status_code == 403
    application.refresh_from_db()
    document.refresh_from_db()
    assert application.status == Status.IN_REVIEW
    assert document.verdict == Verdict.PENDING


def test_accepting_a_document_in_the_admin(client, reviewer):
    application = data.in_review(reviewer)
    document = services.documents_current(application)[Slot.ID_FRONT]
    client.force_login(reviewer)

    client.post(verdict_url(document, "accept"))

    document.refresh_from_db()
    application.refresh_from_db()
    assert (document.verdict, document.reviewed_by) == (Verdict.ACCEPTED, reviewer)
    assert application.status == Status.IN_REVIEW


# --- approval and documents ------------------------------------------------------------------


def test_approval_with_a_rejected_document_is_refused(reviewer, contract_template):
    application = data.in_review(reviewer)
    # A rejection normally sends the application back at once; set the verdict directly to
    # check that approval itself refuses a rejected document.
    ApplicationDocument.objects.filter(application=application, slot=Slot.ID_FRONT).update(
        verdict=Verdict.REJECTED, verdict_reason="照片反光"
    )

    with translation.override("zh-hans"), pytest.raises(ValidationError) as refused:
        services.application_approve(application=application, reviewer=reviewer)

    assert refused.value.code == "documents_missing"
    assert refused.value.messages == ["有必需资料缺失或未通过：身份证人像面。"]
    application.refresh_from_db()
    assert application.status == Status.IN_REVIEW
    assert not Merchant.objects.exists()
    assert not Contract.objects.exists()
    assert not application.documents.filter(verdict=Verdict.ACCEPTED).exists()


def test_approval_accepts_the_documents_not_judged_yet(reviewer, contract_template):
    application = data.in_review(reviewer)

    services.application_approve(application=application, reviewer=reviewer)

    current = application.documents.filter(replaced_at__isnull=True)
    assert sorted(current.values_list("slot", flat=True)) == sorted(
        [Slot.BANK_CARD, Slot.HOLDING_ID, Slot.ID_BACK, Slot.ID_FRONT]
    )
    assert set(current.values_list("verdict", "reviewed_by")) == {(Verdict.ACCEPTED, reviewer.pk)}
    assert not current.filter(reviewed_at__isnull=True).exists()


# --- the documents page ----------------------------------------------------------------------


def test_the_documents_page_refuses_an_unknown_slot(client, private_files):
    application = data.draft()
    client.force_login(application.applicant)
    count, files = ApplicationDocument.objects.count(), files_under(private_files)

    response = client.post(documents_url(application), {"slot": "passport", "file": png_file()})

    assert response.status_code == 302
    assert messages_of(response) == ["这份资料现在不能修改。"]
    assert ApplicationDocument.objects.count() == count
    assert files_under(private_files) == files


def test_the_documents_page_refuses_a_missing_file(client, private_files):
    application = data.draft()
    client.force_login(application.applicant)
    count, files = ApplicationDocument.objects.count(), files_under(private_files)

    response = client.post(documents_url(application), {"slot": Slot.ID_FRONT})

    assert messages_of(response) == ["请选择要上传的照片或 PDF。"]
    assert ApplicationDocument.objects.count() == count
    assert files_under(private_files) == files


def test_the_documents_page_refuses_a_jpg_that_is_text(client, private_files):
    application = data.draft()
    client.force_login(application.applicant)
    count, files = ApplicationDocument.objects.count(), files_under(private_files)
    fake = SimpleUploadedFile("id.jpg", b"just some text, not a photo\n", "image/jpeg")

    response = client.post(documents_url(application), {"slot": Slot.ID_FRONT, "file": fake})

    assert messages_of(response) == [
        "身份证人像面: 不支持此文件类型，请上传照片（JPG或PNG格式）或PDF文件。"
    ]
    assert ApplicationDocument.objects.count() == count
    assert files_under(private_files) == files


def test_the_documents_page_stores_a_good_photo(client):
    application = data.draft()
    client.force_login(application.applicant)
    before = services.documents_current(application)[Slot.ID_FRONT]

    response = client.post(documents_url(application), {"slot": Slot.ID_FRONT, "file": png_file()})

    assert messages_of(response) == ["身份证人像面 已上传。"]
    current = services.documents_current(application)[Slot.ID_FRONT]
    assert current != before
    assert current.uploaded_by == application.applicant


def test_the_documents_page_of_a_submitted_application_refuses_uploads(client):
    application = data.submitted()
    client.force_login(application.applicant)
    count = ApplicationDocument.objects.count()

    response = client.post(documents_url(application), {"slot": Slot.ID_FRONT, "file": png_file()})

    assert messages_of(response) == ["这份资料现在不能修改。"]
    assert ApplicationDocument.objects.count() == count


def test_the_documents_page_lets_a_newly_required_document_be_uploaded(client, reviewer):
    application = services.application_request_info(
        application=data.in_review(reviewer),
        reviewer=reviewer,
        items=[("applicant_type", "您有营业执照，请选择个体工商户")],
    )
    services.application_save_fields(
        application=application,
        values={"applicant_type": Application.ApplicantType.SOLE_PROPRIETOR},
    )
    client.force_login(application.applicant)

    response = client.post(
        documents_url(application),
        {"slot": Slot.BUSINESS_LICENCE, "file": png_file(slot=Slot.BUSINESS_LICENCE)},
    )

    assert messages_of(response) == ["营业执照 已上传。"]
    assert Slot.BUSINESS_LICENCE in services.documents_current(application)
