"""
The merchant file: what an acquirer must keep on record for a merchant (identity, address,
category, fees, settlement account, what it may accept and since when, the signed contract
and its certificate, the documents), as one archive for staff. It holds full identity data,
so exporting it needs its own permission and every export is recorded.
"""

import io
import json
import zipfile

from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from portal import reference
from portal.models import Contract, Merchant, PiiAccess, User
from portal.services.audit import pii_access_record

EXPORT_PERMISSION = "portal.export_merchant_file"


def merchant_file_export(*, merchant: Merchant, staff: User) -> bytes:
    """A zip archive of the merchant's file; records who exported it and when."""
    if not staff.has_perm(EXPORT_PERMISSION):
        raise PermissionDenied("needs the permission to export merchant files")
    application = getattr(merchant, "application", None)
    schedule = merchant.fee_schedule
    signed = merchant.contracts.filter(status=Contract.Status.SIGNED).order_by("-signed_at").first()
    record = {
        "exported_at": timezone.now().isoformat(),
        "exported_by": staff.username,
        "merchant": {
            "mid": merchant.mid,
            "name": merchant.name,
            "status": merchant.status,
            "created_at": merchant.created_at.isoformat(),
            "status_history": [
                {"from": e.from_status, "to": e.to_status, "at": e.created_at.isoformat()}
                for e in merchant.events.order_by("created_at")
            ],
        },
        "fees": _fees(schedule),
        "transaction_types": _transaction_types(merchant, schedule),
        "contract": _contract(signed),
    }
    if application is not None:
        province, city, district = reference.region_names(
            application.province, application.city, application.district
        )
        record["application"] = application.number
        record["identity"] = {
            "applicant_type": application.applicant_type,
            "legal_name": application.legal_name,
            "resident_id_number": application.id_number,
            "id_valid_from": _date(application.id_valid_from),
            "id_valid_until": "long-term"
            if application.id_long_term
            else _date(application.id_valid_until),
            "mobile": application.contact_mobile,
            "email": application.contact_email,
            "unified_social_credit_code": application.licence_number,
        }
        record["business"] = {
            "name": application.business_name,
            "address": {
                "province": province,
                "city": city,
                "district": district,
                "street": application.street,
                "codes": [application.province, application.city, application.district],
            },
            "mcc": application.mcc,
            "expected_monthly_volume": str(application.expected_monthly_volume),
        }
        record["settlement_account"] = {
            "type": application.account_type,
            "number": application.account_number,
            "bank_code": application.bank_code,
            "bank": application.bank_name,
            "branch": application.bank_branch,
            "holder": application.account_holder,
        }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("merchant.json", json.dumps(record, ensure_ascii=False, indent=2))
        if signed is not None:
            archive.writestr(f"contract/{signed.number}-signed.pdf", _read(signed.signed_document))
        if application is not None:
            for document in application.documents.filter(replaced_at__isnull=True):
                extension = document.file.name.rsplit(".", 1)[-1]
                archive.writestr(f"documents/{document.slot}.{extension}", _read(document.file))
    LogEntry.objects.log_actions(
        user_id=staff.pk,
        queryset=Merchant.objects.filter(pk=merchant.pk),
        action_flag=CHANGE,
        change_message="exported the merchant file (full identity data)",
        single_object=True,
    )
    pii_access_record(user=staff, kind=PiiAccess.Kind.EXPORT, target=merchant.mid)
    return buffer.getvalue()


def _fees(schedule) -> dict | None:
    if schedule is None:
        return None
    return {
        "code": schedule.code,
        "debit_rate": str(schedule.debit_rate),
        "debit_cap": str(schedule.debit_cap) if schedule.debit_cap is not None else None,
        "credit_rate": str(schedule.credit_rate),
        "unionpay_qr_rate": str(schedule.unionpay_qr_rate),
        "wechat_pay_rate": str(schedule.wechat_pay_rate),
        "alipay_rate": str(schedule.alipay_rate),
        "settlement_cycle": schedule.settlement_cycle,
        "d0_surcharge_rate": str(schedule.d0_surcharge_rate),
    }


def _transaction_types(merchant: Merchant, schedule) -> list[dict]:
    """What the merchant may accept and since when: every channel of its fee schedule, from
    the day it became active (empty until then)."""
    activated = (
        merchant.events.filter(to_status=Merchant.Status.ACTIVE).order_by("created_at").first()
    )
    if schedule is None or activated is None:
        return []
    return [
        {"channel": channel, "enabled_at": activated.created_at.isoformat()}
        for channel in ("debit_card", "credit_card", "unionpay_qr", "wechat_pay", "alipay")
    ]


def _contract(contract: Contract | None) -> dict | None:
    if contract is None:
        return None
    return {
        "number": contract.number,
        "template": f"{contract.template.code} v{contract.template.version}",
        "sha256_offered": contract.document_sha256,
        "sha256_signed": contract.signed_sha256,
        "signed_at": contract.signed_at.isoformat() if contract.signed_at else None,
        "signer_name": contract.signer_name,
        "signer_ip": contract.signer_ip,
        "countersigned_at": contract.countersigned_at.isoformat()
        if contract.countersigned_at
        else None,
    }


def _date(value) -> str | None:
    return value.isoformat() if value else None


def _read(field) -> bytes:
    with field.open("rb") as f:
        return f.read()
