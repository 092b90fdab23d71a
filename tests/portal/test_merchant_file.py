import io
import json
import warnings
import zipfile

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from portal import services
from portal.models import Merchant
from portal.services.merchant_files import merchant_file_export
from tests import factories
from tests import onboarding as data
from tests.contracts import signed_contract

pytestmark = pytest.mark.django_db

EXPORT_MESSAGE = "exported the merchant file (full identity data)"


@pytest.fixture
def contract(contract_template):
    return signed_contract()


@pytest.fixture
def merchant(contract):
    return contract.merchant


@pytest.fixture
def risk():
    return factories.StaffFactory(group="risk")


def stored(field) -> bytes:
    with field.open("rb") as f:
        return f.read()


def unzip(archive: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        return {name: z.read(name) for name in z.namelist()}


def export_action(client, merchant):
    return client.post(
        reverse("admin:portal_merchant_changelist"),
        {"action": "export_file", "_selected_action": [merchant.pk]},
    )


def test_a_reviewer_may_not_export_the_merchant_file(merchant):
    reviewer = factories.StaffFactory(group="reviewer")

    with pytest.raises(PermissionDenied):
        merchant_file_export(merchant=merchant, staff=reviewer)

    assert not LogEntry.objects.filter(change_message=EXPORT_MESSAGE).exists()


def test_recording_an_export_uses_no_deprecated_django_api(merchant, risk):
    # log_action() is deprecated since Django 5.1 and gone in 6.0.
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        merchant_file_export(merchant=merchant, staff=risk)

    assert LogEntry.objects.filter(change_message=EXPORT_MESSAGE).count() == 1


def test_the_archive_holds_the_record_the_signed_contract_and_the_documents(
    merchant, contract, risk
):
    application = merchant.application
    documents = {d.slot: d for d in application.documents.filter(replaced_at__isnull=True)}

    files = unzip(merchant_file_export(merchant=merchant, staff=risk))

    assert sorted(files) == [
        f"contract/{contract.number}-signed.pdf",
        "documents/bank_card.png",
        "documents/holding_id.png",
        "documents/id_back.png",
        "documents/id_front.png",
        "merchant.json",
    ]
    assert files[f"contract/{contract.number}-signed.pdf"] == stored(contract.signed_document)
    for slot, document in documents.items():
        assert files[f"documents/{slot}.png"] == stored(document.file)


def test_the_record_holds_the_full_id_and_account_numbers_and_the_fees(merchant, contract, risk):
    files = unzip(merchant_file_export(merchant=merchant, staff=risk))

    record = json.loads(files["merchant.json"])
    assert record["exported_by"] == risk.username
    assert record["application"] == merchant.application.number
    assert record["merchant"]["mid"] == merchant.mid
    assert record["merchant"]["status"] == Merchant.Status.CONTRACT_SIGNED
    assert record["identity"]["legal_name"] == "李小龙"
    assert record["identity"]["resident_id_number"] == data.resident_id()
    assert record["identity"]["id_valid_until"] == "2040-01-01"
    assert record["settlement_account"]["number"] == data.debit_card()
    assert record["settlement_account"]["holder"] == "李小龙"
    assert record["business"]["address"]["codes"] == ["31", "3101", "310104"]
    assert record["fees"] == {
        "code": "test-standard",
        "debit_rate": "0.0050",
        "debit_cap": "20.00",
        "credit_rate": "0.0060",
        "unionpay_qr_rate": "0.0038",
        "wechat_pay_rate": "0.0038",
        "alipay_rate": "0.0038",
        "settlement_cycle": "t1",
        "d0_surcharge_rate": "0.0000",
    }
    assert record["contract"]["number"] == contract.number
    assert record["contract"]["sha256_offered"] == contract.document_sha256
    assert record["contract"]["sha256_signed"] == contract.signed_sha256
    assert record["contract"]["signer_name"] == "李小龙"
    assert record["transaction_types"] == []


def test_an_export_is_recorded_with_who_made_it(merchant, risk):
    merchant_file_export(merchant=merchant, staff=risk)

    entry = LogEntry.objects.get(change_message=EXPORT_MESSAGE)
    assert (entry.user, entry.object_id, entry.action_flag) == (risk, str(merchant.pk), CHANGE)
    assert entry.content_type.model_class() is Merchant


def test_the_admin_action_returns_the_zip(client, merchant, risk):
    client.force_login(risk)

    response = export_action(client, merchant)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == (
        f'attachment; filename="merchant-{merchant.mid}.zip"'
    )
    assert response["Cache-Control"] == "private, no-store, max-age=0, no-cache, must-revalidate"
    assert "merchant.json" in unzip(response.content)
    assert LogEntry.objects.filter(change_message=EXPORT_MESSAGE, user=risk).count() == 1


def test_the_admin_action_gives_a_reviewer_no_file(client, merchant):
    client.force_login(factories.StaffFactory(group="reviewer"))

    response = export_action(client, merchant)

    # The reviewer has no action at all: the changelist is shown again, with no file.
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert not LogEntry.objects.filter(change_message=EXPORT_MESSAGE).exists()


def test_the_admin_offers_the_export_action_only_with_the_permission(client, merchant, risk):
    url = reverse("admin:portal_merchant_changelist")
    client.force_login(factories.StaffFactory(group="reviewer"))
    reviewer_page = client.get(url)
    client.force_login(risk)
    risk_actions = client.get(url).context["action_form"].fields["action"].choices

    assert reviewer_page.status_code == 200
    assert reviewer_page.context["action_form"] is None
    assert "export_file" in dict(risk_actions)


def test_the_record_lists_the_channels_once_the_merchant_is_active(merchant, risk):
    finance = factories.StaffFactory(group="finance")
    terminal = services.terminal_assign(
        merchant=merchant,
        product=data.product(),
        serial_number="SN-000001",
        tid="10000001",
        model="P30",
        actor=finance,
    )
    services.terminal_transition(terminal=terminal, to_status="ready_to_ship", actor=finance)
    services.terminal_transition(
        terminal=terminal,
        to_status="shipped",
        actor=finance,
        carrier="顺丰速运",
        tracking_number="SF1234567890",
    )
    services.terminal_activate(terminal=terminal, user=merchant.user, code=terminal.activation_code)
    merchant.refresh_from_db()

    record = json.loads(unzip(merchant_file_export(merchant=merchant, staff=risk))["merchant.json"])

    activated_at = merchant.events.get(to_status=Merchant.Status.ACTIVE).created_at.isoformat()
    assert record["merchant"]["status"] == Merchant.Status.ACTIVE
    assert record["transaction_types"] == [
        {"channel": channel, "enabled_at": activated_at}
        for channel in ("debit_card", "credit_card", "unionpay_qr", "wechat_pay", "alipay")
    ]
    assert [(e["from"], e["to"]) for e in record["merchant"]["status_history"]] == [
        ("contract_pending", "contract_signed"),
        ("contract_signed", "terminal_shipped"),
        ("terminal_shipped", "active"),
    ]
