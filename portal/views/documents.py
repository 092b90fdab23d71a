from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from core import uploads
from core.decorators import customer_required
from portal import selectors, services
from portal.models import Application, ApplicationDocument, PiiAccess
from portal.models.documents import offered_slots, required_slots
from portal.onboarding import DOCUMENT_ITEM_PREFIX
from portal.views.onboarding import step_states

Status = Application.Status


@require_http_methods(["GET", "POST"])
@customer_required
@never_cache
def application_documents(request, public_id):
    application = selectors.application_get_for_applicant(user=request.user, public_id=public_id)
    requested = {
        r.item.removeprefix(DOCUMENT_ITEM_PREFIX): r
        for r in selectors.application_open_requests(application=application)
        if r.item.startswith(DOCUMENT_ITEM_PREFIX)
    }
    editable = services.documents_uploadable(application)
    if request.method == "POST":
        slot = request.POST.get("slot", "")
        upload = request.FILES.get("file")
        if uploads.upload_too_large(request):
            messages.error(
                request,
                _("The file is larger than %(mb)s MB. Take the photo again at a lower resolution.")
                % {"mb": settings.DOCUMENT_MAX_BYTES // (1024 * 1024)},
            )
        elif slot not in editable:
            messages.error(request, _("This document cannot be changed now."))
        elif upload is None:
            messages.error(request, _("Choose a photo or a PDF to upload."))
        else:
            try:
                document = uploads.upload_clean(upload)
                services.document_upload(
                    application=application, slot=slot, document=document, actor=request.user
                )
            except ValidationError as exc:
                label = ApplicationDocument.Slot(slot).label
                messages.error(request, f"{label}: {' '.join(exc.messages)}")
            else:
                messages.success(
                    request,
                    _("%(document)s uploaded.")
                    % {"document": ApplicationDocument.Slot(slot).label},
                )
        return redirect("portal:application-documents", application.public_id)
    current = services.documents_current(application)
    required = set(required_slots(application))
    slots = [
        {
            "slot": slot,
            "label": ApplicationDocument.Slot(slot).label,
            "required": slot in required,
            "document": current.get(slot),
            "editable": slot in editable,
            "request": requested.get(slot),
        }
        for slot in offered_slots(application)
    ]
    context = {
        "application": application,
        "slots": slots,
        "missing": services.documents_missing(application),
        "steps": step_states(application),
        "max_mb": settings.DOCUMENT_MAX_BYTES // (1024 * 1024),
    }
    return render(request, "portal/applications/documents.html", context)


@require_GET
@never_cache
def document_file(request, public_id):
    """A document's file, to its applicant or to staff allowed to see documents; everyone
    else gets 404, as if it did not exist."""
    document = get_object_or_404(
        ApplicationDocument.objects.select_related("application"), public_id=public_id
    )
    user = request.user
    allowed = user.is_authenticated and (
        (user.is_customer and document.application.applicant_id == user.pk)
        or (user.is_staff and user.has_perm("portal.view_applicationdocument"))
    )
    if not allowed:
        raise Http404("no such document")
    if user.is_staff:
        services.pii_access_record(
            user=user,
            kind=PiiAccess.Kind.DOCUMENT,
            target=document.application.number,
            detail=document.slot,
            request=request,
        )
    extension = {"image/jpeg": ".jpg", "image/png": ".png", "application/pdf": ".pdf"}[
        document.content_type
    ]
    response = FileResponse(
        document.file.open("rb"),
        content_type=document.content_type,
        as_attachment=request.GET.get("download") == "1",
        filename=uploads.safe_download_name(
            f"{document.application.number}-{document.slot}", extension
        ),
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    # Nothing in the file may run; sandboxing would also stop browsers showing PDFs, which
    # were already checked for scripts on upload.
    sandbox = "" if document.content_type == "application/pdf" else "; sandbox"
    response["Content-Security-Policy"] = (
        f"default-src 'none'; img-src 'self'; style-src 'unsafe-inline'{sandbox}"
    )
    return response
