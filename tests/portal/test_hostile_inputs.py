"""Hostile and unusual input against documents, contracts and terminals: each gets a clear
refusal, never a 500 and never half-stored data."""

import io
import smtplib
import zlib
from struct import pack

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from portal import services
from portal.models import Contract, ContractTemplate, Merchant, Terminal
from tests import factories
from tests import onboarding as data
from tests.contracts import (
    approved_merchant,
    pending_contract,
    send_code,
    sign,
    signature_data_url,
    signed_contract,
)
from tests.helpers import assert_constant_queries

pytestmark = pytest.mark.django_db


class FailingMailBackend:
    """A mail server that is down."""

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise smtplib.SMTPServerDisconnected("connection refused")


@pytest.fixture
def finance(client):
    return factories.StaffFactory(group="finance")


def shipped_terminal(merchant: Merchant, staff) -> Terminal:
    terminal = services.terminal_assign(
        merchant=merchant,
        product=data.product(),
        serial_number="SN20261126A",
        tid="87654321",
        model="P2",
        actor=staff,
    )
    services.terminal_transition(terminal=terminal, to_status="ready_to_ship", actor=staff)
    return services.terminal_transition(
        terminal=terminal,
        to_status="shipped",
        actor=staff,
        carrier="顺丰速运",
        tracking_number="SF1",
    )


# --- terminals -------------------------------------------------------------------------------


def test_an_activation_code_typed_in_full_width_digits_works(client, finance):
    contract = signed_contract()
    terminal = shipped_terminal(contract.merchant, finance)
    full_width = "".join(chr(ord(d) - ord("0") + ord("０")) for d in terminal.activation_code)
    client.force_login(contract.merchant.user)

    client.post(
        reverse("portal:terminal-activate", args=[terminal.public_id]), {"code": full_width}
    )

    terminal.refresh_from_db()
    assert terminal.status == Terminal.Status.ACTIVE


def test_a_non_digit_activation_code_is_a_wrong_code_not_a_crash(client, finance):
    contract = signed_contract()
    terminal = shipped_terminal(contract.merchant, finance)
    client.force_login(contract.merchant.user)

    response = client.post(
        reverse("portal:terminal-activate", args=[terminal.public_id]),
        {"code": "١٢٣٤٥٦٧٨"},
        follow=True,
    )

    assert response.status_code == 200
    assert "激活码不正确" in response.content.decode()
    terminal.refresh_from_db()
    assert (terminal.status, terminal.activation_attempts) == ("shipped", 1)


def test_a_suspended_merchant_cannot_activate(client, finance):
    contract = signed_contract()
    terminal = shipped_terminal(contract.merchant, finance)
    services.merchant_transition(merchant=contract.merchant, to_status="suspended", actor=finance)

    with pytest.raises(services.TerminalStateError):
        services.terminal_activate(
            terminal=terminal, user=contract.merchant.user, code=terminal.activation_code
        )

    terminal.refresh_from_db()
    assert terminal.status == Terminal.Status.SHIPPED


def add_terminal(client, merchant, **fields):
    payload = {
        "merchant": merchant.pk,
        "product": data.product().pk,
        "serial_number": "SN20261126A",
        "tid": "12345678",
        "model": "P2",
        "_save": "1",
    }
    payload.update(fields)
    return client.post(reverse("admin:portal_terminal_add"), payload)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"serial_number": "sn20261126a"}, "serial_number"),  # the existing one, in lower case
        ({"tid": "١٢٣٤٥٦٧٨"}, "tid"),  # digits, but not ASCII ones
        ({"tid": "1234567"}, "tid"),
    ],
)
def test_adding_a_bad_terminal_in_the_admin_is_a_form_error(client, finance, fields, field):
    contract = signed_contract()
    client.force_login(finance)
    add_terminal(client, contract.merchant, tid="11112222")

    response = add_terminal(client, contract.merchant, **fields)

    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert Terminal.objects.count() == 1


def test_full_width_digits_in_a_tid_are_stored_as_ascii(client, finance):
    contract = signed_contract()
    client.force_login(finance)

    add_terminal(client, contract.merchant, tid="１２３４５６７８")

    assert Terminal.objects.get().tid == "12345678"


def test_no_terminal_for_a_suspended_merchant_in_the_admin(client, finance):
    contract = signed_contract()
    services.merchant_transition(merchant=contract.merchant, to_status="suspended", actor=finance)
    client.force_login(finance)

    response = add_terminal(client, contract.merchant)

    assert "merchant" in response.context["adminform"].form.errors
    assert not Terminal.objects.exists()


def test_the_terminal_page_offers_buttons_not_a_save_that_would_fail(client, finance):
    contract = signed_contract()
    terminal = shipped_terminal(contract.merchant, finance)
    url = reverse("admin:portal_terminal_change", args=[terminal.pk])

    client.force_login(finance)
    finance_page = client.get(url).content.decode()
    client.force_login(factories.StaffFactory(group="support"))
    support_page = client.get(url).content.decode()

    assert 'name="_save"' not in finance_page
    assert 'form="move-delivered"' in finance_page
    assert 'form="move-delivered"' not in support_page


def test_support_lets_a_locked_out_merchant_try_again(client, finance):
    contract = signed_contract()
    terminal = shipped_terminal(contract.merchant, finance)
    Terminal.objects.filter(pk=terminal.pk).update(activation_attempts=5)
    client.force_login(factories.StaffFactory(group="support"))

    client.post(
        reverse("admin:portal_terminal_changelist"),
        {"action": "unlock_activation", "_selected_action": [terminal.pk]},
    )

    terminal.refresh_from_db()
    assert terminal.activation_attempts == 0
    assert terminal.events.filter(reason="activation attempts reset").exists()


# --- signatures and codes --------------------------------------------------------------------


def png_with_chunk(kind: bytes, data: bytes) -> bytes:
    image = io.BytesIO()
    Image.new("RGBA", (300, 100), (0, 0, 0, 0)).save(image, "PNG")
    png = image.getvalue()
    chunk = pack(">I", len(data)) + kind + data + pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return png[:-12] + chunk + png[-12:]  # before IEND


@pytest.mark.parametrize(
    "png",
    [
        png_with_chunk(b"zTXt", b"x\x00\x00" + zlib.compress(b"A" * 2_000_000)),
        Image.new("RGB", (300, 100), "white").tobytes(),  # not even a PNG
    ],
    ids=["huge-ztxt-chunk", "raw-pixels"],
)
def test_a_hostile_signature_is_refused_not_a_crash(png):
    with pytest.raises(ValidationError) as refused:
        services.contracts.signature_validate(png)

    assert refused.value.code in {"bad_signature", "no_signature"}


def test_a_blank_white_signature_is_not_a_signature():
    white = io.BytesIO()
    Image.new("RGB", (600, 200), "white").save(white, "PNG")

    with pytest.raises(ValidationError) as refused:
        services.contracts.signature_validate(white.getvalue())

    assert refused.value.code == "empty_signature"


def test_a_code_that_cannot_be_sent_is_not_waiting_to_be_typed(client, settings):
    contract = pending_contract(approved_merchant())
    settings.EMAIL_BACKEND = "tests.portal.test_hostile_inputs.FailingMailBackend"
    client.force_login(contract.merchant.user)

    response = client.post(reverse("portal:contract-code", args=[contract.public_id]))

    assert response.status_code == 409
    assert "验证码暂时无法发送" in response.json()["detail"]
    contract.refresh_from_db()
    assert (contract.code_hash, contract.code_sends) == ("", 0)


def test_without_an_e_mail_the_code_goes_by_sms_in_development(settings, caplog):
    settings.DEBUG = True
    applicant = factories.CustomerFactory(email="")
    contract = pending_contract(approved_merchant(applicant=applicant))
    contract.merchant.application.__class__.objects.filter(
        pk=contract.merchant.application.pk
    ).update(contact_email="")

    with caplog.at_level("WARNING", logger="portal.otp"):
        where = services.contract_send_code(contract=contract, user=applicant)

    assert where == f"{applicant.mobile[:3]}****{applicant.mobile[-4:]}"
    assert "SMS to" in caplog.text
    assert applicant.mobile not in caplog.text


def test_in_production_without_an_sms_gateway_the_code_is_refused_clearly(settings):
    settings.DEBUG = False
    settings.OTP_SMS_SENDER = "portal.otp.log_sms"  # the development one: refuses here
    applicant = factories.CustomerFactory(email="")
    contract = pending_contract(approved_merchant(applicant=applicant))
    contract.merchant.application.__class__.objects.filter(
        pk=contract.merchant.application.pk
    ).update(contact_email="")

    with pytest.raises(services.ContractStateError) as refused:
        services.contract_send_code(contract=contract, user=applicant)

    assert refused.value.code == "not_sent"
    contract.refresh_from_db()
    assert contract.code_hash == ""


def test_codes_per_contract_are_limited():
    contract = pending_contract(approved_merchant())
    Contract.objects.filter(pk=contract.pk).update(code_sends=services.contracts.CODE_MAX_SENDS)

    with pytest.raises(services.ContractStateError) as refused:
        services.contract_send_code(contract=contract, user=contract.merchant.user)

    assert refused.value.code == "too_many_codes"
    assert mail.outbox == [] or "验证码" not in mail.outbox[-1].subject


def test_a_code_in_full_width_digits_signs():
    contract = pending_contract(approved_merchant())
    code = send_code(contract)
    full_width = "".join(chr(ord(d) - ord("0") + ord("０")) for d in code)

    signed = sign(contract, code=full_width)

    assert signed.status == Contract.Status.SIGNED


# --- contract wording ------------------------------------------------------------------------


def test_the_signing_page_shows_the_terms_as_printed_not_as_edited_since(client):
    contract = pending_contract(approved_merchant())
    printed_name = contract.merchant.name
    Merchant.objects.filter(pk=contract.merchant.pk).update(name="改过的名字")
    client.force_login(contract.merchant.user)

    body = client.get(reverse("portal:contract-detail", args=[contract.public_id])).content

    assert printed_name in body.decode()
    assert "改过的名字" not in body.decode()


@pytest.mark.parametrize(
    "body",
    ["## 一\n{% if mid %}是{% endif %}", "## 一\n{{ secret_key }}", "## 一\n{% debug %}", "无章节"],
)
def test_a_template_that_would_break_or_leak_is_refused_in_the_admin(admin_client, body):
    before = ContractTemplate.objects.count()

    response = admin_client.post(
        reverse("admin:portal_contracttemplate_add"),
        {"code": "other", "title": "其他", "body": body, "is_active": ""},
    )

    assert response.status_code == 200
    assert "body" in response.context["adminform"].form.errors
    assert ContractTemplate.objects.count() == before


def test_a_name_the_contract_font_cannot_print_is_refused_on_the_application(
    customer_client, customer
):
    application, _created = services.application_start(applicant=customer)

    response = customer_client.post(
        reverse("portal:application-step", args=[application.public_id, "business"]),
        {"business_name": "龍記茶餐廳", "action": "next"},
    )

    errors = response.context["form"].errors.as_data()["business_name"]
    assert errors[0].code == "unprintable"
    assert "龍記廳" in response.content.decode()


def test_finance_countersigns_from_the_contract_page(client, contract_template):
    ContractTemplate.objects.filter(pk=contract_template.pk).update(requires_countersignature=True)
    contract = signed_contract()
    finance = factories.StaffFactory(group="finance")
    client.force_login(finance)

    page = client.get(reverse("admin:portal_contract_change", args=[contract.pk])).content.decode()
    client.post(reverse("admin:portal_contract_countersign", args=[contract.pk]))

    assert 'data-testid="countersign-form"' in page
    contract.refresh_from_db()
    assert contract.countersigned_by == finance


def test_staff_offer_a_contract_to_a_merchant_who_has_none(client, contract_template):
    merchant = approved_merchant()
    merchant.contracts.all().delete()
    client.force_login(factories.StaffFactory(group="finance"))

    client.post(
        reverse("admin:portal_merchant_changelist"),
        {"action": "offer_contract", "_selected_action": [merchant.pk]},
    )

    assert merchant.contracts.filter(status=Contract.Status.PENDING).count() == 1


# --- uploads ---------------------------------------------------------------------------------


def test_an_upload_over_the_limit_is_not_stored(customer_client, customer, settings):
    settings.UPLOAD_MAX_BYTES = 64 * 1024
    application, _created = services.application_start(applicant=customer)
    big = SimpleUploadedFile("big.jpg", b"\xff\xd8\xff" + b"0" * 200_000, "image/jpeg")

    response = customer_client.post(
        reverse("portal:application-documents", args=[application.public_id]),
        {"slot": "id_front", "file": big},
        follow=True,
    )

    assert "文件超过" in response.content.decode()
    assert not application.documents.exists()


def test_the_documents_page_keeps_a_constant_number_of_queries(customer_client, customer):
    reviewer = factories.StaffFactory(group="reviewer")
    application = data.in_review(reviewer, customer)
    slots = iter(["id_front", "id_back", "holding_id", "bank_card"])
    services.application_request_info(
        application=application, reviewer=reviewer, items=[("mcc", "请修改")]
    )

    def one_more_request():
        application.info_requests.create(
            event=application.events.last(), item=f"document:{next(slots)}", reason="请重拍"
        )

    assert_constant_queries(
        lambda: customer_client.get(
            reverse("portal:application-documents", args=[application.public_id])
        ),
        one_more_request,
    )


def test_the_signing_form_keeps_the_signature_after_an_error(client):
    contract = pending_contract(approved_merchant())
    client.force_login(contract.merchant.user)
    data_url = signature_data_url()

    response = client.post(
        reverse("portal:contract-detail", args=[contract.public_id]),
        {"typed_name": "别人", "signature": data_url, "consent": "on", "code": "000000"},
    )

    assert response.status_code == 200
    assert f'value="{data_url}"' in response.content.decode()
