import hashlib
import io
import re
import warnings
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image
from pypdf import PdfReader

from core.pdf import pdf_text
from portal import services
from portal.contract_defaults import DEFAULT_BODY
from portal.models import Contract, ContractTemplate, Merchant, Notification
from tests import factories
from tests.contracts import (
    CODE_PATTERN,
    LEGAL_NAME,
    approved_merchant,
    pending_contract,
    send_code,
    sign,
    signature_data_url,
    signature_png,
    signed_contract,
    signing,
    wrong,
)


def stored(field) -> bytes:
    with field.open("rb") as f:
        return f.read()


def page_count(pdf: bytes) -> int:
    return len(PdfReader(io.BytesIO(pdf)).pages)


pytestmark = pytest.mark.django_db

Status = Contract.Status


def assert_still_unsigned(contract: Contract) -> None:
    contract.refresh_from_db()
    assert contract.status == Status.PENDING
    assert (contract.signed_at, contract.signer, contract.signed_sha256) == (None, None, "")
    assert not contract.signed_document
    assert not contract.signature
    assert contract.merchant.status == Merchant.Status.CONTRACT_PENDING
    assert not Notification.objects.filter(kind="contract_signed").exists()


@pytest.fixture(autouse=True)
def template(contract_template):
    return contract_template


@pytest.fixture
def contract():
    return pending_contract(approved_merchant())


# --- offer -----------------------------------------------------------------------------------


def test_approval_offers_one_pending_contract_with_the_hash_of_its_pdf():
    merchant = approved_merchant()

    contract = merchant.contracts.get()
    pdf = stored(contract.document)

    assert contract.status == Status.PENDING
    assert re.fullmatch(r"[0-9a-f]{64}", contract.document_sha256)
    assert contract.document_sha256 == hashlib.sha256(pdf).hexdigest()
    signing_time = contract.expires_at - contract.created_at
    assert abs(signing_time - timedelta(days=settings.CONTRACT_SIGNING_DAYS)) < timedelta(seconds=5)
    assert Notification.objects.filter(user=merchant.user, kind="contract_ready").count() == 1


def test_the_offered_pdf_names_the_merchant_its_mid_and_the_agreement():
    merchant = approved_merchant()

    text = pdf_text(stored(merchant.contracts.get().document))

    assert merchant.name == "小龙便利店"
    assert merchant.name in text
    assert merchant.mid in text
    assert "特约商户收单服务协议" in text


def test_a_second_offer_while_one_is_pending_is_refused():
    merchant = approved_merchant()

    with pytest.raises(ValidationError) as refused:
        services.contract_offer(merchant=merchant)

    assert refused.value.code == "already_pending"
    assert merchant.contracts.count() == 1


# --- one-time code ---------------------------------------------------------------------------


def test_sending_a_code_mails_it_and_keeps_only_its_hash(contract):
    mail.outbox.clear()

    sent_to = services.contract_send_code(contract=contract, user=contract.merchant.user)

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["li@example.cn"]
    code = CODE_PATTERN.search(mail.outbox[0].body).group(1)
    contract.refresh_from_db()
    row = Contract.objects.filter(pk=contract.pk).values().get()
    assert not any(code in str(value) for value in row.values())
    assert re.fullmatch(r"[0-9a-f]{64}", contract.code_hash)
    assert contract.code_sent_to == sent_to
    assert sent_to == "l***@example.cn"
    assert contract.code_attempts == 0
    assert contract.code_expires_at == contract.code_sent_at + timedelta(minutes=10)


def test_a_second_code_within_a_minute_is_refused(contract):
    send_code(contract)
    contract.refresh_from_db()
    first_hash = contract.code_hash

    with pytest.raises(ValidationError) as refused:
        services.contract_send_code(contract=contract, user=contract.merchant.user)

    assert refused.value.code == "too_soon"
    contract.refresh_from_db()
    assert contract.code_hash == first_hash
    assert len(mail.outbox) == 1


def test_a_new_code_after_a_minute_replaces_the_old_one(contract):
    send_code(contract)
    contract.refresh_from_db()
    first_hash = contract.code_hash
    Contract.objects.filter(pk=contract.pk).update(
        code_sent_at=timezone.now() - timedelta(seconds=61), code_attempts=3
    )

    send_code(contract)

    contract.refresh_from_db()
    assert len(mail.outbox) == 2
    assert contract.code_attempts == 0
    assert contract.code_hash != first_hash  # one chance in a million to draw the same code
    assert timezone.now() - contract.code_sent_at < timedelta(seconds=5)


def test_the_code_view_answers_409_when_asked_again_too_soon(client, contract):
    client.force_login(contract.merchant.user)
    url = reverse("portal:contract-code", args=[contract.public_id])

    first = client.post(url)
    second = client.post(url)

    assert first.status_code == 200
    assert second.status_code == 409
    assert len(mail.outbox) == 1


def test_checking_a_signature_uses_no_deprecated_pillow_api():
    # Image.getdata() is deprecated in Pillow 13 and gone in Pillow 14: signing would break on
    # the next Pillow upgrade.
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        stored = services.contracts.signature_validate(signature_png())

    with Image.open(io.BytesIO(stored)) as image, Image.open(io.BytesIO(signature_png())) as drawn:
        assert (image.format, image.size) == ("PNG", drawn.size)


# --- refusals to sign ------------------------------------------------------------------------


def test_signing_with_another_name_is_refused_on_the_name(contract):
    code = send_code(contract)

    with pytest.raises(ValidationError) as refused:
        services.contract_sign(
            contract=contract,
            user=contract.merchant.user,
            signing=signing(code=code, typed_name="李大龙"),
        )

    assert list(refused.value.error_dict) == ["typed_name"]
    assert refused.value.error_dict["typed_name"][0].code == "name_mismatch"
    assert_still_unsigned(contract)
    assert contract.code_attempts == 0


def test_signing_without_consent_is_refused(contract):
    code = send_code(contract)

    with pytest.raises(ValidationError) as refused:
        services.contract_sign(
            contract=contract,
            user=contract.merchant.user,
            signing=signing(code=code, consent=False),
        )

    assert list(refused.value.error_dict) == ["consent"]
    assert refused.value.error_dict["consent"][0].code == "no_consent"
    assert_still_unsigned(contract)


@pytest.mark.parametrize(
    ("png", "code"),
    [(b"", "no_signature"), (signature_png(drawn=False), "empty_signature")],
    ids=["no-image", "transparent-png"],
)
def test_signing_without_a_drawn_signature_is_refused(contract, png, code):
    otp = send_code(contract)

    with pytest.raises(ValidationError) as refused:
        services.contract_sign(
            contract=contract,
            user=contract.merchant.user,
            signing=signing(code=otp, signature_png=png),
        )

    [error] = refused.value.error_dict["signature"]
    assert error.error_list[0].code == code
    assert_still_unsigned(contract)


def test_a_signature_that_is_not_base64_is_refused_by_the_page(client, contract):
    code = send_code(contract)
    client.force_login(contract.merchant.user)

    response = client.post(
        reverse("portal:contract-detail", args=[contract.public_id]),
        {
            "typed_name": LEGAL_NAME,
            "signature": "data:image/png;base64,@@not base64@@",
            "consent": "on",
            "code": code,
        },
    )

    assert response.status_code == 200
    assert response.context["form"].errors["signature"] == ["请在框内手写签名。"]
    assert_still_unsigned(contract)


def test_a_wrong_code_is_refused_and_the_attempt_is_kept(contract):
    code = send_code(contract)

    with pytest.raises(ValidationError) as refused:
        services.contract_sign(
            contract=contract, user=contract.merchant.user, signing=signing(code=wrong(code))
        )

    assert refused.value.error_dict["code"][0].code == "wrong_code"
    assert_still_unsigned(contract)
    assert contract.code_attempts == 1


def test_after_five_wrong_codes_even_the_right_code_is_refused(contract):
    code = send_code(contract)
    for _attempt in range(5):
        with pytest.raises(ValidationError):
            services.contract_sign(
                contract=contract, user=contract.merchant.user, signing=signing(code=wrong(code))
            )

    with pytest.raises(ValidationError) as refused:
        services.contract_sign(
            contract=contract, user=contract.merchant.user, signing=signing(code=code)
        )

    assert refused.value.error_dict["code"][0].code == "too_many_attempts"
    assert_still_unsigned(contract)
    assert contract.code_attempts == 5


def test_an_expired_code_is_refused(contract):
    code = send_code(contract)
    Contract.objects.filter(pk=contract.pk).update(
        code_expires_at=timezone.now() - timedelta(seconds=1)
    )

    with pytest.raises(ValidationError) as refused:
        services.contract_sign(
            contract=contract, user=contract.merchant.user, signing=signing(code=code)
        )

    assert refused.value.error_dict["code"][0].code == "code_expired"
    assert_still_unsigned(contract)


def test_an_expired_contract_cannot_be_signed(contract):
    code = send_code(contract)
    Contract.objects.filter(pk=contract.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    with pytest.raises(ValidationError) as refused:
        services.contract_sign(
            contract=contract, user=contract.merchant.user, signing=signing(code=code)
        )

    assert refused.value.code == "expired"
    assert_still_unsigned(contract)
    assert contract.code_attempts == 0


def test_another_customer_cannot_open_or_sign_a_contract(client, contract):
    code = send_code(contract)
    client.force_login(factories.CustomerFactory())
    url = reverse("portal:contract-detail", args=[contract.public_id])

    page = client.get(url)
    response = client.post(
        url,
        {
            "typed_name": LEGAL_NAME,
            "signature": signature_data_url(),
            "consent": "on",
            "code": code,
        },
    )
    code_response = client.post(reverse("portal:contract-code", args=[contract.public_id]))

    assert (page.status_code, response.status_code, code_response.status_code) == (404, 404, 404)
    assert_still_unsigned(contract)
    assert contract.code_attempts == 0


def test_another_user_is_refused_by_the_service_too(contract):
    code = send_code(contract)

    with pytest.raises(ValidationError) as refused:
        services.contract_sign(
            contract=contract, user=factories.CustomerFactory(), signing=signing(code=code)
        )

    assert refused.value.code == "not_yours"
    assert_still_unsigned(contract)


def test_a_contract_is_signed_only_once(contract):
    signed = sign(contract)
    signed_bytes = stored(signed.signed_document)

    with pytest.raises(ValidationError) as refused:
        services.contract_sign(
            contract=contract, user=contract.merchant.user, signing=signing(code="123456")
        )

    assert refused.value.code == "not_pending"
    contract.refresh_from_db()
    assert stored(contract.signed_document) == signed_bytes
    assert contract.merchant.events.filter(to_status=Merchant.Status.CONTRACT_SIGNED).count() == 1


def test_a_changed_byte_in_the_stored_pdf_stops_the_signing(contract):
    code = send_code(contract)
    path = contract.document.path
    with open(path, "rb") as f:
        pdf = bytearray(f.read())
    pdf[len(pdf) // 2] ^= 0x01
    with open(path, "wb") as f:
        f.write(pdf)

    with pytest.raises(ValidationError) as refused:
        services.contract_sign(
            contract=contract, user=contract.merchant.user, signing=signing(code=code)
        )

    assert refused.value.code == "tampered"
    assert_still_unsigned(contract)


# --- signing ---------------------------------------------------------------------------------


def test_signing_on_the_page_records_who_signed_what_and_from_where(client, contract):
    code = send_code(contract)
    user = contract.merchant.user
    client.force_login(user)
    url = reverse("portal:contract-detail", args=[contract.public_id])

    response = client.post(
        url,
        {
            "typed_name": LEGAL_NAME,
            "signature": signature_data_url(),
            "consent": "on",
            "code": code,
        },
        HTTP_USER_AGENT="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari",
        REMOTE_ADDR="203.0.113.9",
        follow=True,
    )

    contract.refresh_from_db()
    assert response.redirect_chain == [(url, 302)]
    assert "合同已签署，谢谢！" in response.content.decode()
    assert contract.status == Status.SIGNED
    assert contract.signer == user
    assert contract.signer_name == LEGAL_NAME
    assert contract.signer_ip == "203.0.113.9"
    assert contract.signer_user_agent == "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari"
    assert contract.signed_at is not None
    assert contract.code_hash == ""
    # The signature is kept re-encoded from its pixels: the same picture, none of the bytes
    # around it.
    with (
        Image.open(io.BytesIO(stored(contract.signature))) as kept,
        Image.open(io.BytesIO(signature_png())) as drawn,
    ):
        assert kept.format == "PNG"
        assert list(kept.convert("RGBA").getchannel("A").histogram()) == list(
            drawn.convert("RGBA").getchannel("A").histogram()
        )
    assert contract.signed_sha256 == hashlib.sha256(stored(contract.signed_document)).hexdigest()
    assert contract.merchant.status == Merchant.Status.CONTRACT_SIGNED
    assert Notification.objects.filter(user=user, kind="contract_signed").count() == 1


def test_the_signed_pdf_is_the_original_plus_a_signature_and_a_certificate_page(contract):
    original = stored(contract.document)

    signed = sign(contract)

    signed_pdf = stored(signed.signed_document)
    text = pdf_text(signed_pdf)
    assert page_count(signed_pdf) == page_count(original) + 2
    assert LEGAL_NAME in text
    assert hashlib.sha256(original).hexdigest() in text.replace("\n", "").replace(" ", "")
    assert signed.merchant.mid in text
    assert stored(contract.document) == original


def test_signing_moves_the_merchant_to_contract_signed_with_an_event(contract):
    signed = sign(contract)

    merchant = signed.merchant
    merchant.refresh_from_db()
    event = merchant.events.get()
    assert merchant.status == Merchant.Status.CONTRACT_SIGNED
    assert (event.from_status, event.to_status, event.actor, event.reason) == (
        Merchant.Status.CONTRACT_PENDING,
        Merchant.Status.CONTRACT_SIGNED,
        merchant.user,
        signed.number,
    )


# --- verification ----------------------------------------------------------------------------


def verify(client, **payload):
    return client.post(reverse("portal:contract-verify"), payload).content.decode()


def test_verifying_the_signed_pdf_says_it_is_the_signed_original(client):
    contract = signed_contract()

    body = verify(
        client,
        file=SimpleUploadedFile("c.pdf", stored(contract.signed_document), "application/pdf"),
    )

    assert f"这是合同 {contract.number} 的签署原件" in body
    assert "内容无任何改动" in body


def test_verifying_the_unsigned_pdf_says_it_is_the_offer(client):
    contract = signed_contract()

    body = verify(
        client, file=SimpleUploadedFile("c.pdf", stored(contract.document), "application/pdf")
    )

    assert f"这是合同 {contract.number} 签署前的版本，不是已签署的合同。" in body


def test_verifying_a_copy_with_one_changed_byte_says_it_is_not_ours(client):
    contract = signed_contract()
    pdf = bytearray(stored(contract.signed_document))
    pdf[len(pdf) // 2] ^= 0x01

    body = verify(client, file=SimpleUploadedFile("c.pdf", bytes(pdf), "application/pdf"))

    assert "这不是我们出具的合同，或者已被改动。" in body
    assert contract.number not in body


def test_verifying_by_number_and_hash(client):
    contract = signed_contract()

    body = verify(client, number=contract.number.lower(), sha256=contract.signed_sha256.upper())

    assert f"这是合同 {contract.number} 的签署原件" in body


def test_verifying_a_hash_under_another_contracts_number_says_it_is_not_ours(client):
    contract = signed_contract()
    other = pending_contract(approved_merchant())

    body = verify(client, number=other.number, sha256=contract.signed_sha256)

    assert "这不是我们出具的合同，或者已被改动。" in body


def test_verifying_an_empty_form_asks_for_the_pdf_or_the_number_and_hash(client):
    # What a browser sends for the form left empty.
    response = client.post(reverse("portal:contract-verify"), {"number": "", "sha256": ""})

    assert response.status_code == 200
    assert response.context["result"] is None
    assert response.context["form"].non_field_errors() == [
        "请上传 PDF，或输入合同编号及其 SHA-256。"
    ]


# --- reminders, expiry, renewal --------------------------------------------------------------


def test_an_unsigned_contract_is_reminded_once(contract):
    later = contract.created_at + timedelta(days=settings.CONTRACT_REMINDER_DAYS, minutes=1)

    first = services.contracts_remind_and_expire(now=later)
    second = services.contracts_remind_and_expire(now=later + timedelta(hours=1))

    contract.refresh_from_db()
    assert (first, second) == ((1, 0), (0, 0))
    assert contract.reminded_at == later
    assert contract.status == Status.PENDING
    reminder = Notification.objects.get(kind="contract_reminder")
    assert reminder.user == contract.merchant.user
    assert reminder.params["number"] == contract.number


def test_a_contract_is_not_reminded_before_the_reminder_day(contract):
    early = contract.created_at + timedelta(days=settings.CONTRACT_REMINDER_DAYS, minutes=-1)

    assert services.contracts_remind_and_expire(now=early) == (0, 0)
    assert not Notification.objects.filter(kind="contract_reminder").exists()


def test_an_unsigned_contract_expires_once_past_its_date(contract):
    past = contract.expires_at + timedelta(seconds=1)

    first = services.contracts_remind_and_expire(now=past)
    second = services.contracts_remind_and_expire(now=past + timedelta(days=1))

    contract.refresh_from_db()
    assert (first, second) == ((0, 1), (0, 0))
    assert contract.status == Status.EXPIRED
    expired = Notification.objects.get(kind="contract_expired")
    assert (expired.user, expired.params) == (contract.merchant.user, {"number": contract.number})


def test_a_signed_contract_neither_reminds_nor_expires():
    contract = signed_contract()

    outcome = services.contracts_remind_and_expire(now=contract.expires_at + timedelta(days=1))

    contract.refresh_from_db()
    assert outcome == (0, 0)
    assert contract.status == Status.SIGNED


def test_after_expiry_the_merchant_asks_for_a_new_contract(client, contract):
    services.contracts_remind_and_expire(now=contract.expires_at + timedelta(seconds=1))
    client.force_login(contract.merchant.user)

    response = client.post(reverse("portal:contract-renew"))

    renewed = pending_contract(contract.merchant)
    assert renewed.pk != contract.pk
    assert renewed.number != contract.number
    assert response.status_code == 302
    assert response["Location"] == reverse("portal:contract-detail", args=[renewed.public_id])
    assert list(contract.merchant.contracts.values_list("status", flat=True).order_by("pk")) == [
        Status.EXPIRED,
        Status.PENDING,
    ]


def test_a_renewal_while_a_contract_is_pending_is_refused(contract):
    with pytest.raises(ValidationError) as refused:
        services.contract_renew(merchant=contract.merchant, user=contract.merchant.user)

    assert refused.value.code == "already_pending"
    assert contract.merchant.contracts.count() == 1


# --- countersignature ------------------------------------------------------------------------


@pytest.fixture
def finance_client(client):
    client.force_login(factories.StaffFactory(group="finance"))
    return client


def countersigned_template(template):
    ContractTemplate.objects.filter(pk=template.pk).update(requires_countersignature=True)


def test_with_a_countersigned_template_signing_leaves_the_merchant_waiting(template):
    countersigned_template(template)

    contract = signed_contract()

    contract.merchant.refresh_from_db()
    assert contract.status == Status.SIGNED
    assert contract.countersigned_at is None
    assert contract.merchant.status == Merchant.Status.CONTRACT_PENDING


def test_a_finance_user_countersigns_and_the_merchant_moves_on(client, template):
    countersigned_template(template)
    contract = signed_contract()
    finance = factories.StaffFactory(group="finance")
    client.force_login(finance)

    response = client.post(reverse("admin:portal_contract_countersign", args=[contract.pk]))

    contract.refresh_from_db()
    contract.merchant.refresh_from_db()
    assert response.status_code == 302
    assert (contract.countersigned_by, contract.merchant.status) == (
        finance,
        Merchant.Status.CONTRACT_SIGNED,
    )
    assert contract.countersigned_at is not None
    assert contract.merchant.events.get().actor == finance


def test_a_reviewer_cannot_countersign(client, template):
    countersigned_template(template)
    contract = signed_contract()
    client.force_login(factories.StaffFactory(group="reviewer"))

    response = client.post(reverse("admin:portal_contract_countersign", args=[contract.pk]))

    contract.refresh_from_db()
    contract.merchant.refresh_from_db()
    assert response.status_code == 403
    assert contract.countersigned_at is None
    assert contract.merchant.status == Merchant.Status.CONTRACT_PENDING


def test_countersigning_twice_is_refused(template):
    countersigned_template(template)
    contract = signed_contract()
    finance = factories.StaffFactory(group="finance")
    services.contract_countersign(contract=contract, staff=finance)
    first_time = Contract.objects.get(pk=contract.pk).countersigned_at

    with pytest.raises(ValidationError) as refused:
        services.contract_countersign(contract=contract, staff=finance)

    assert refused.value.code == "already_countersigned"
    assert Contract.objects.get(pk=contract.pk).countersigned_at == first_time


def test_a_contract_waiting_for_the_countersignature_cannot_be_renewed(template):
    countersigned_template(template)
    contract = signed_contract()

    with pytest.raises(ValidationError):
        services.contract_renew(merchant=contract.merchant, user=contract.merchant.user)

    assert list(contract.merchant.contracts.values_list("status", flat=True)) == [Status.SIGNED]


# --- templates -------------------------------------------------------------------------------


def test_editing_a_template_makes_version_2_and_keeps_version_1_for_existing_contracts(
    finance_client, template, contract
):
    response = finance_client.post(
        reverse("admin:portal_contracttemplate_change", args=[template.pk]),
        {
            "code": template.code,
            "title": template.title,
            "body": "## 一、新条款\n新的内容。",
            "is_active": "on",
        },
    )

    assert response.status_code == 302
    versions = list(
        ContractTemplate.objects.filter(code=template.code)
        .order_by("version")
        .values_list("version", "body", "is_active")
    )
    assert versions == [(1, DEFAULT_BODY, False), (2, "## 一、新条款\n新的内容。", True)]
    contract.refresh_from_db()
    assert contract.template_id == template.pk
    assert contract.template.version == 1


# --- files -----------------------------------------------------------------------------------


def test_the_owner_downloads_the_signed_pdf(client):
    contract = signed_contract()
    client.force_login(contract.merchant.user)

    response = client.get(
        reverse("portal:contract-file", args=[contract.public_id]), {"signed": "1"}
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content) == stored(contract.signed_document)


def test_another_customer_cannot_download_the_signed_pdf(client):
    contract = signed_contract()
    client.force_login(factories.CustomerFactory())

    response = client.get(
        reverse("portal:contract-file", args=[contract.public_id]), {"signed": "1"}
    )

    assert response.status_code == 404


def test_staff_without_view_contract_get_403_on_the_admin_file(client):
    contract = signed_contract()
    client.force_login(factories.StaffFactory())

    response = client.get(reverse("admin:portal_contract_file", args=[contract.pk, "signed"]))

    assert response.status_code == 403


def test_staff_with_view_contract_get_the_signed_pdf_in_the_admin(client):
    contract = signed_contract()
    client.force_login(factories.StaffFactory(group="support"))

    response = client.get(reverse("admin:portal_contract_file", args=[contract.pk, "signed"]))

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == stored(contract.signed_document)
