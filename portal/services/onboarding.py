"""
Applications for a terminal: drafts saved step by step, submission, review, and approval into
a merchant. Every status change goes through ``core.transitions`` on a locked row: the
allowed-transitions table, a conditional update and the timeline event in one transaction, so
two reviewers acting at once produce one decision and one clear refusal.
"""

import logging
import secrets
from collections.abc import Iterable
from datetime import date

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core import pii, transitions
from core.masking import mask_account_number, mask_middle
from core.transitions import TransitionNotAllowed, transition
from portal import application_rules, identity, reference
from portal.models import (
    Application,
    ApplicationDocument,
    ApplicationEvent,
    InfoRequestItem,
    RiskFlag,
    TerminalProduct,
    User,
)
from portal.onboarding import (
    DOCUMENT_ITEM_PREFIX,
    DOCUMENT_LABELS,
    FIX_ITEMS_BY_KEY,
    ApplicationStateError,
    editable_fields,
)
from portal.services.contracts import ContractStateError, contract_offer
from portal.services.documents import document_judge, documents_accept_pending
from portal.services.merchants import merchant_create
from portal.services.notifications import notify

Status = Application.Status
logger = logging.getLogger(__name__)
_NUMBER_ATTEMPTS = 10


def application_start(
    *, applicant: User, product: TerminalProduct | None = None
) -> tuple[Application, bool]:
    """The applicant's application in progress, or a new draft. Returns (application, created).

    Safe to repeat: an applicant has at most one open application (a database constraint), so
    a second start resumes the first instead of splitting the work.
    """
    if not applicant.is_customer:
        raise ValidationError(_("Staff accounts cannot apply for a terminal."), code="staff")
    if hasattr(applicant, "merchant"):
        raise ValidationError(
            _("This account is already a merchant. Call customer service for more terminals."),
            code="already_merchant",
        )
    existing = applicant.applications.filter(status__in=Application.OPEN_STATUSES).first()
    if existing:
        return existing, False
    for _attempt in range(_NUMBER_ATTEMPTS):
        number = f"AP{timezone.localdate():%Y%m%d}{secrets.randbelow(10**6):06d}"
        try:
            with transaction.atomic():
                application = Application.objects.create(
                    applicant=applicant,
                    number=number,
                    product=product,
                    contact_mobile=applicant.mobile,
                    contact_email=applicant.email,
                    legal_name=f"{applicant.last_name}{applicant.first_name}",
                )
                transitions.event_record(application, from_status="", actor=applicant)
                return application, True
        except IntegrityError:
            existing = applicant.applications.filter(status__in=Application.OPEN_STATUSES).first()
            if existing:  # a second tab started one at the same moment
                return existing, False
    raise RuntimeError("could not draw a free application number")


def application_save_fields(
    *, application: Application, values: dict, editable: Iterable[str] | None = None
) -> Application:
    """Store what the applicant entered (already validated by a step form).

    In a draft every field may change; while information is requested only the fields of the
    requested items (``editable``) may. Derived columns (blind indexes, masks, bank) follow.
    Safe to repeat with the same values.
    """
    with transaction.atomic():
        locked = Application.objects.select_for_update().get(pk=application.pk)
        if locked.status == Status.DRAFT:
            allowed = None
        elif locked.status == Status.NEEDS_INFO:
            allowed = application_editable_fields(application=locked)
            if editable is not None:
                allowed &= set(editable)
        else:
            raise ApplicationStateError(
                _("This application was submitted and can no longer be edited."),
                code="not_editable",
            )
        for name, value in values.items():
            if allowed is not None and name not in allowed:
                raise ApplicationStateError(
                    _("Only the items the reviewer asked about can be changed now."),
                    code="not_requested",
                )
            setattr(locked, name, value)
        _derive(locked, changed=values.keys())
        locked.save()
    application.refresh_from_db()
    return application


def _derive(application: Application, *, changed: Iterable[str]) -> None:
    changed = set(changed)
    if "id_number" in changed:
        number = application.id_number or ""
        application.id_number_hash = (
            pii.blind_index(number, purpose="resident_id") if number else ""
        )
        application.id_number_masked = mask_middle(number, keep_start=3, keep_end=4)
    if "id_long_term" in changed and application.id_long_term:
        application.id_valid_until = None
    if changed & {"account_number", "account_type", "bank_code"}:
        number = application.account_number or ""
        application.account_number_hash = (
            pii.blind_index(number, purpose="bank_account") if number else ""
        )
        application.account_number_masked = mask_account_number(number)
        card = (
            reference.card_lookup(number)
            if number and application.account_type == Application.AccountType.PERSONAL
            else None
        )
        if card:
            application.bank_code = card.bank.code
        if card and card.account_class:  # the BIN table knows better than the applicant
            application.account_class = card.account_class
        elif application.account_type != Application.AccountType.PERSONAL:
            application.account_class = None
        bank = reference.bank_get(application.bank_code) if application.bank_code else None
        application.bank_name = bank.name_zh if bank else ""


def application_editable_fields(*, application: Application, today: date | None = None) -> set[str]:
    """What the applicant may change while information is requested: the requested items,
    what depends on them, and anything that has stopped being valid since it was submitted
    (an ID card that expired meanwhile) — otherwise the application could never go back."""
    keys = application.info_requests.filter(resolved_at__isnull=True).values_list("item", flat=True)
    return editable_fields(keys) | application_rules.invalid_fields(
        application, today=today or timezone.localdate()
    )


def _transition(
    application: Application,
    to_status: str,
    *,
    actor: User | None,
    reason: str = "",
    note: str = "",
    **updates,
) -> ApplicationEvent:
    """Move a locked application to ``to_status`` with its event. Call inside atomic() with
    the row locked (select_for_update), after checking anything the move depends on."""
    return transition(
        application,
        to_status,
        actor=actor,
        reason=note,
        updates=updates,
        event={"rejection_reason": reason},
    )


def _locked(application: Application) -> Application:
    return (
        Application.objects.select_for_update().select_related("applicant").get(pk=application.pk)
    )


def _application_url(application: Application) -> str:
    return reverse("portal:application-detail", args=[application.public_id])


def application_submit(
    *, application: Application, actor: User, today: date | None = None
) -> Application:
    """Send a complete draft (or a corrected application) for review and flag its risks.

    Raises ``ValidationError`` listing the incomplete steps, ``ApplicationStateError`` if it
    was already submitted. Not repeatable: a second call is refused.
    """
    today = today or timezone.localdate()
    with transaction.atomic():
        locked = _locked(application)
        if locked.status not in (Status.DRAFT, Status.NEEDS_INFO):
            raise ApplicationStateError(
                _("This application has already been submitted."), code="already_submitted"
            )
        incomplete = application_rules.incomplete_steps(locked, today=today)
        if incomplete:
            raise ValidationError(
                _("Complete these steps first: %(steps)s.")
                % {"steps": "、".join(str(step.title) for step in incomplete)},
                code="incomplete",
            )
        missing = application_rules.documents_missing(locked)
        if missing:
            raise ValidationError(
                _("Upload these documents first: %(documents)s.")
                % {"documents": "、".join(str(DOCUMENT_LABELS[slot]) for slot in missing)},
                code="documents_missing",
            )
        resubmission = locked.status == Status.NEEDS_INFO
        _transition(
            locked,
            Status.SUBMITTED,
            actor=actor,
            submitted_at=timezone.now(),
            submission_count=locked.submission_count + 1,
        )
        if resubmission:
            locked.info_requests.filter(resolved_at__isnull=True).update(resolved_at=timezone.now())
        application_risk_flags_compute(application=locked, today=today)
        notify(
            user=locked.applicant,
            email=locked.contact_email,
            kind="application_submitted",
            params={"number": locked.number},
            url=_application_url(locked),
        )
    application.refresh_from_db()
    return application


def application_start_review(*, application: Application, reviewer: User) -> Application:
    """A reviewer takes a submitted application. Refused if someone already did."""
    with transaction.atomic():
        locked = _locked(application)
        _transition(locked, Status.IN_REVIEW, actor=reviewer, reviewer=reviewer)
        notify(
            user=locked.applicant,
            email=locked.contact_email,
            kind="application_in_review",
            params={"number": locked.number},
            url=_application_url(locked),
        )
    application.refresh_from_db()
    return application


def application_request_info(
    *, application: Application, reviewer: User, items: list[tuple[str, str]], note: str = ""
) -> Application:
    """Send the application back to the applicant with what to fix: (item key, reason) pairs."""
    if not items:
        raise ValidationError(_("Name at least one item to fix."), code="no_items")
    for key, reason in items:
        if key not in FIX_ITEMS_BY_KEY:
            raise ValidationError(_("Unknown item: %(item)s.") % {"item": key}, code="bad_item")
        if not reason.strip():
            raise ValidationError(_("Give a reason for every item."), code="no_reason")
    with transaction.atomic():
        locked = _locked(application)
        if any(key == "licence_number" for key, _reason in items) and not locked.is_licensed:
            raise ValidationError(
                _("This applicant has no business licence: ask for the applicant type instead."),
                code="item_not_applicable",
            )
        event = _transition(locked, Status.NEEDS_INFO, actor=reviewer, note=note)
        InfoRequestItem.objects.bulk_create(
            InfoRequestItem(application=locked, event=event, item=key, reason=reason.strip())
            for key, reason in items
        )
        notify(
            user=locked.applicant,
            email=locked.contact_email,
            kind="application_needs_info",
            params={"number": locked.number, "count": len(items)},
            url=_application_url(locked),
        )
    application.refresh_from_db()
    return application


def application_approve(*, application: Application, reviewer: User, note: str = "") -> Application:
    """Approve: the applicant becomes a merchant with a new MID and the product's fee
    schedule, and is offered the contract. Documents not judged yet count as accepted (the
    reviewer saw them); a rejected or missing one refuses. Exactly once: a second approval,
    even at the same moment, is refused."""
    with transaction.atomic():
        locked = _locked(application)
        if not transitions.allowed(Application, locked.status, Status.APPROVED):
            raise TransitionNotAllowed(
                model=Application, current=locked.status, target=Status.APPROVED
            )
        missing = application_rules.documents_missing(locked)
        if missing:
            raise ValidationError(
                _("A required document is missing or was rejected: %(documents)s.")
                % {"documents": "、".join(str(DOCUMENT_LABELS[slot]) for slot in missing)},
                code="documents_missing",
            )
        documents_accept_pending(application=locked, reviewer=reviewer)
        merchant = merchant_create(
            user=locked.applicant,
            name=locked.business_name or locked.legal_name,
            region_code=(locked.city or f"{locked.province}00")[:4],
            mcc=locked.mcc,
            fee_schedule=locked.product.fee_schedule if locked.product else None,
        )
        _transition(
            locked,
            Status.APPROVED,
            actor=reviewer,
            note=note,
            merchant=merchant,
            decided_at=timezone.now(),
        )
        try:
            contract_offer(merchant=merchant, application=locked)
        except ContractStateError as exc:
            # The approval stands; staff offer the contract from the merchant's page once
            # a template is active.
            logger.error("no contract offered to merchant %s: %s", merchant.mid, exc)
        notify(
            user=locked.applicant,
            email=locked.contact_email,
            kind="application_approved",
            params={"number": locked.number, "mid": merchant.mid},
            url=reverse("portal:merchant-home"),
        )
    application.refresh_from_db()
    return application


def application_reject(
    *, application: Application, reviewer: User, reason: str, note: str = ""
) -> Application:
    """Reject with a reason from the list (and optional free text the applicant sees)."""
    if reason not in ApplicationEvent.RejectionReason.values:
        raise ValidationError(_("Choose a reason for the rejection."), code="no_reason")
    if reason == ApplicationEvent.RejectionReason.OTHER and not note.strip():
        raise ValidationError(_("Explain the reason when choosing “Other”."), code="no_explanation")
    with transaction.atomic():
        locked = _locked(application)
        _transition(
            locked,
            Status.REJECTED,
            actor=reviewer,
            reason=reason,
            note=note.strip(),
            decided_at=timezone.now(),
        )
        notify(
            user=locked.applicant,
            email=locked.contact_email,
            kind="application_rejected",
            params={"number": locked.number, "reason": reason, "note": note.strip()},
            url=_application_url(locked),
        )
    application.refresh_from_db()
    return application


def application_risk_flags_compute(*, application: Application, today: date) -> list[RiskFlag]:
    """Recompute the reviewer's risk flags from the application as it stands. Safe to repeat:
    the previous flags are replaced."""
    flags: list[RiskFlag] = []

    def flag(code: str, **details):
        flags.append(RiskFlag(application=application, code=code, details=details))

    # Other people's applications: one's own earlier, rejected application is not a duplicate.
    others = Application.objects.exclude(applicant=application.applicant_id).exclude(
        status=Status.DRAFT
    )
    if application.id_number_hash:
        same_id = list(
            others.filter(id_number_hash=application.id_number_hash).values_list(
                "number", flat=True
            )
        )
        if same_id:
            flag(RiskFlag.Code.DUPLICATE_ID, applications=same_id)
    if application.account_number_hash:
        same_account = list(
            others.filter(account_number_hash=application.account_number_hash).values_list(
                "number", flat=True
            )
        )
        if same_account:
            flag(RiskFlag.Code.DUPLICATE_ACCOUNT, applications=same_account)
    expected_holder = (
        application.legal_name
        if application.account_type == Application.AccountType.PERSONAL
        else application.business_name
    )
    if application.account_holder and not identity.holder_name_matches(
        application.account_holder, expected_holder
    ):
        flag(
            RiskFlag.Code.NAME_MISMATCH,
            holder=application.account_holder,
            expected=expected_holder,
        )
    if application.id_number:
        age = identity.resident_id_validate(application.id_number, today=today).age(today)
        if age < 18:
            flag(RiskFlag.Code.UNDER_18, age=age)
        elif age > 70:
            flag(RiskFlag.Code.OVER_70, age=age)
    mcc = reference.mcc_get(application.mcc) if application.mcc else None
    if (
        mcc
        and application.expected_monthly_volume is not None
        and application.expected_monthly_volume > mcc.high_volume_threshold
    ):
        flag(
            RiskFlag.Code.HIGH_VOLUME,
            expected=str(application.expected_monthly_volume),
            threshold=str(mcc.high_volume_threshold),
            mcc=mcc.code,
        )
    RiskFlag.objects.filter(application=application).delete()
    return RiskFlag.objects.bulk_create(flags)


def applications_start_review(*, applications: Iterable[Application], reviewer: User) -> int:
    """Bulk: take every submitted application in ``applications`` into review. Returns how
    many moved; the others (already taken, or not submitted) are left alone."""
    moved = 0
    for application in applications:
        try:
            application_start_review(application=application, reviewer=reviewer)
        except ApplicationStateError:
            continue
        moved += 1
    return moved


def document_reject(
    *, document: ApplicationDocument, reviewer: User, reason: str
) -> ApplicationDocument:
    """Reject a document and ask the applicant for a new one, saying why. The application
    goes back to the applicant (or, if it already waits for them, gains this item)."""
    reason = reason.strip()
    if not reason:
        raise ValidationError(_("Say why the document is rejected."), code="no_reason")
    with transaction.atomic():
        application = Application.objects.select_for_update().get(pk=document.application_id)
        document_judge(document, reviewer, ApplicationDocument.Verdict.REJECTED, reason)
        item = f"{DOCUMENT_ITEM_PREFIX}{document.slot}"
        if application.status == Status.IN_REVIEW:
            application_request_info(
                application=application, reviewer=reviewer, items=[(item, reason)]
            )
        elif application.status == Status.NEEDS_INFO:
            event = application.events.filter(to_status=Status.NEEDS_INFO).latest("created_at")
            InfoRequestItem.objects.get_or_create(
                application=application,
                event=event,
                item=item,
                resolved_at=None,
                defaults={"reason": reason},
            )
        else:
            raise ApplicationStateError(
                _("Documents are judged while the application is in review."),
                code="not_in_review",
            )
    return document
