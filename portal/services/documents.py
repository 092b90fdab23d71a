"""
Documents of an application: uploaded (already cleaned by core/uploads.py), replaced, and
judged by a reviewer. Rejecting one sends the application back, so that lives with the review
in portal/services/onboarding.py; which documents are missing is an application rule
(portal/application_rules.py).
"""

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.uploads import CleanUpload, storage_name
from portal.application_rules import documents_current
from portal.models import Application, ApplicationDocument, User
from portal.models.documents import offered_slots, required_slots
from portal.onboarding import DOCUMENT_ITEM_PREFIX, ApplicationStateError

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


def document_accept(*, document: ApplicationDocument, reviewer: User) -> ApplicationDocument:
    """Mark a document as checked and fine (while the application is reviewed, or waits
    for the applicant). Safe to repeat."""
    if document.application.status not in (Status.IN_REVIEW, Status.NEEDS_INFO):
        raise ApplicationStateError(
            _("Documents are judged while the application is in review."),
            code="not_in_review",
        )
    document_judge(document, reviewer, Verdict.ACCEPTED, "")
    return document


def document_judge(
    document: ApplicationDocument, reviewer: User, verdict: str, reason: str
) -> None:
    """Record a reviewer's verdict on a current document (the caller checks the state)."""
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
        document_judge(document, reviewer, Verdict.ACCEPTED, "")
    return len(pending)
