"""
Documents of an application: uploaded (already cleaned by core/uploads.py), replaced, and
judged by a reviewer. A rejected document sends the application back to the applicant with
that document named, as any other item to fix.
"""

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.uploads import CleanUpload, storage_name
from portal.models import Application, ApplicationDocument, InfoRequestItem, User
from portal.models.documents import offered_slots, required_slots
from portal.onboarding import DOCUMENT_ITEM_PREFIX
from portal.services.onboarding import ApplicationStateError, application_request_info

Status = Application.Status
Verdict = ApplicationDocument.Verdict


def document_item(slot: str) -> str:
    return f"{DOCUMENT_ITEM_PREFIX}{slot}"


def documents_uploadable(application: Application) -> set[str]:
    """The slots the applicant may upload now: any in a draft; while information is asked
    for, the documents asked for and any required one still missing (a correction to the
    applicant type can make a licence necessary)."""
    if application.status == Status.DRAFT:
        return set(offered_slots(application))
    if application.status != Status.NEEDS_INFO:
        return set()
    requested = {
        item.removeprefix(DOCUMENT_ITEM_PREFIX)
        for item in application.info_requests.filter(
            resolved_at__isnull=True, item__startswith=DOCUMENT_ITEM_PREFIX
        ).values_list("item", flat=True)
    }
    current = documents_current(application)
    missing = {slot for slot in required_slots(application) if slot not in current}
    return requested | missing


def document_upload(
    *, application: Application, slot: str, document: CleanUpload, actor: User
) -> ApplicationDocument:
    """Store a cleaned document as the current one for ``slot``; the previous one is kept,
    marked replaced. Allowed in a draft, and while the reviewer asks for this document."""
    if slot not in offered_slots(application):
        raise ValidationError(_("This document is not needed for this application."), "slot")
    with transaction.atomic():
        locked = Application.objects.select_for_update().get(pk=application.pk)
        if slot not in documents_uploadable(locked):
            raise ApplicationStateError(
                _(
                    "Documents can be changed while the application is a draft, or when the "
                    "reviewer asks for them."
                ),
                code="not_editable",
            )
        now = timezone.now()
        for previous in locked.documents.filter(slot=slot, replaced_at__isnull=True):
            previous.replaced_at = now
            previous.save(update_fields=["replaced_at"])  # save(): the history records it
        stored = ApplicationDocument(
            application=locked,
            slot=slot,
            content_type=document.content_type,
            size=document.size,
            sha256=document.sha256,
            width=document.width,
            height=document.height,
            pages=document.pages,
            uploaded_by=actor,
        )
        stored.file.save(
            storage_name(slot, document.extension), ContentFile(document.content), save=False
        )
        # The file is written before the row: if the transaction rolls back, an orphan file
        # may remain, never a row pointing at nothing.
        stored.save()
    return stored


def documents_current(application: Application) -> dict[str, ApplicationDocument]:
    return {d.slot: d for d in application.documents.filter(replaced_at__isnull=True)}


def documents_missing(application: Application) -> list[str]:
    """Required slots with no current document, or whose document was rejected and not
    uploaded again, or that the reviewer asked for and that were not uploaded since."""
    current = documents_current(application)
    missing = [
        slot
        for slot in required_slots(application)
        if slot not in current or current[slot].verdict == Verdict.REJECTED
    ]
    for request in application.info_requests.filter(
        resolved_at__isnull=True, item__startswith=DOCUMENT_ITEM_PREFIX
    ).select_related("event"):
        slot = request.item.removeprefix(DOCUMENT_ITEM_PREFIX)
        fresh = current.get(slot)
        if (fresh is None or fresh.uploaded_at < request.event.created_at) and slot not in missing:
            missing.append(slot)
    return missing


def document_accept(*, document: ApplicationDocument, reviewer: User) -> ApplicationDocument:
    """Mark a document as checked and fine (while the application is reviewed, or waits
    for the applicant). Safe to repeat."""
    if document.application.status not in (Status.IN_REVIEW, Status.NEEDS_INFO):
        raise ApplicationStateError(
            _("Documents are judged while the application is in review."),
            code="not_in_review",
        )
    _judge(document, reviewer, Verdict.ACCEPTED, "")
    return document


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
        _judge(document, reviewer, Verdict.REJECTED, reason)
        item = document_item(document.slot)
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


def _judge(document: ApplicationDocument, reviewer: User, verdict: str, reason: str) -> None:
    if document.replaced_at is not None:
        raise ValidationError(
            _("This document was replaced by a newer one; judge that one."), code="replaced"
        )
    document.verdict = verdict
    document.verdict_reason = reason
    document.reviewed_by = reviewer
    document.reviewed_at = timezone.now()
    document.save(update_fields=["verdict", "verdict_reason", "reviewed_by", "reviewed_at"])


def documents_accept_pending(*, application: Application, reviewer: User) -> int:
    """On approval: the reviewer has seen every document not yet judged. Returns how many."""
    pending = list(application.documents.filter(replaced_at__isnull=True, verdict=Verdict.PENDING))
    for document in pending:
        _judge(document, reviewer, Verdict.ACCEPTED, "")
    return len(pending)
