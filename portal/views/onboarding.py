from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.decorators import customer_required
from portal import application_rules, presenters, reference, selectors, services
from portal.forms.onboarding import STEP_FORMS
from portal.models import Application, TerminalProduct
from portal.onboarding import DOCUMENT_ITEM_PREFIX, STEPS, STEPS_BY_SLUG

Status = Application.Status


@require_GET
def products(request):
    return render(request, "portal/products.html", {"products": selectors.product_list_active()})


@require_POST
@customer_required
def application_start(request):
    product = None
    if product_code := request.POST.get("product"):
        product = get_object_or_404(TerminalProduct, code=product_code, is_active=True)
    try:
        application, created = services.application_start(applicant=request.user, product=product)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("portal:merchant-home")
    if not created:
        messages.info(request, _("You already have an application in progress; here it is."))
        return redirect(application_next_url(application))
    return redirect("portal:application-step", application.public_id, STEPS[0].slug)


def application_next_url(application: Application) -> str:
    if application.status == Status.DRAFT:
        incomplete = application_rules.incomplete_steps(application, today=timezone.localdate())
        if incomplete:
            return reverse(
                "portal:application-step", args=[application.public_id, incomplete[0].slug]
            )
        if services.documents_missing(application):
            return reverse("portal:application-documents", args=[application.public_id])
        return reverse("portal:application-review", args=[application.public_id])
    if application.status == Status.NEEDS_INFO:
        return reverse("portal:application-fix", args=[application.public_id])
    return reverse("portal:application-detail", args=[application.public_id])


@require_GET
@customer_required
def application_list(request):
    applications = selectors.application_list_for_applicant(user=request.user)
    return render(request, "portal/applications/list.html", {"applications": applications})


@require_GET
@customer_required
def application_detail(request, public_id):
    application = selectors.application_get_for_applicant(user=request.user, public_id=public_id)
    context = {
        "application": application,
        "timeline": selectors.application_timeline(application=application),
        "open_requests": selectors.application_open_requests(application=application),
        "steps": step_states(application),
        "next_url": application_next_url(application),
    }
    return render(request, "portal/applications/detail.html", context)


def step_states(application: Application) -> list[dict]:
    if application.status != Status.DRAFT:
        return []
    incomplete = {
        s.slug for s in application_rules.incomplete_steps(application, today=timezone.localdate())
    }
    states = [{"step": step, "done": step.slug not in incomplete} for step in STEPS]
    states.append({"documents": True, "done": not services.documents_missing(application)})
    return states


# Full ID and card numbers never go into error reports.
SECRET_POST_FIELDS = (
    "id_number",
    "account_number",
    "identity-id_number",
    "settlement-account_number",
)


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters(*SECRET_POST_FIELDS)
@customer_required
@never_cache
def application_step(request, public_id, step):
    application = selectors.application_get_for_applicant(user=request.user, public_id=public_id)
    if step not in STEPS_BY_SLUG:
        raise Http404("no such step")
    if application.status != Status.DRAFT:
        messages.info(request, _("This application was submitted and can no longer be edited."))
        return redirect(application_next_url(application))
    step_def = STEPS_BY_SLUG[step]
    form_class = STEP_FORMS[step]
    today = timezone.localdate()
    data = request.POST if request.method == "POST" else None
    form = form_class(data, application=application, today=today)
    if request.method == "POST":
        valid = form.is_valid()
        values = form.values()
        try:
            if values:
                services.application_save_fields(application=application, values=values)
        except ValidationError as exc:  # submitted in another tab meanwhile
            messages.error(request, " ".join(exc.messages))
            return redirect(application_next_url(application))
        for warning in form.warnings:
            messages.warning(request, warning)
        if request.POST.get("action") == "exit":
            # A draft may be left half-done: keep what is valid and let the applicant go.
            messages.success(
                request,
                _("Draft saved. Continue any time, from any device, under “My applications”."),
            )
            if not valid:
                messages.warning(
                    request,
                    _("Some entries of this step were not saved because they need correcting."),
                )
            return redirect("portal:application-detail", application.public_id)
        if valid:
            return redirect(_after(application, step_def))
        messages.error(
            request,
            _("Some entries need correcting (marked below). Everything else has been saved."),
        )
    context = {
        "application": application,
        "form": form,
        "step": step_def,
        "steps": step_states(application),
        "step_number": STEPS.index(step_def) + 1,
        "regions_url": reference.REGIONS_STATIC_PATH,
    }
    return render(request, "portal/applications/step.html", context)


def _after(application: Application, step) -> str:
    index = STEPS.index(step)
    if index + 1 < len(STEPS):
        return reverse(
            "portal:application-step", args=[application.public_id, STEPS[index + 1].slug]
        )
    return reverse("portal:application-documents", args=[application.public_id])


@require_http_methods(["GET", "POST"])
@customer_required
@never_cache
def application_review(request, public_id):
    application = selectors.application_get_for_applicant(user=request.user, public_id=public_id)
    if application.status != Status.DRAFT:
        return redirect(application_next_url(application))
    today = timezone.localdate()
    if request.method == "POST":
        try:
            services.application_submit(application=application, actor=request.user, today=today)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request, _("Application submitted. We will tell you as soon as it is reviewed.")
            )
            return redirect("portal:application-detail", application.public_id)
    sections = []
    for step, (_title, rows) in zip(
        STEPS, presenters.application_summary(application), strict=True
    ):
        checked = application_rules.step_check(application, step, today=today)
        sections.append(
            {
                "step": step,
                "valid": not checked.errors,
                "warnings": checked.warnings,
                "rows": rows,
            }
        )
    context = {
        "application": application,
        "sections": sections,
        "steps": step_states(application),
    }
    return render(request, "portal/applications/review.html", context)


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters(*SECRET_POST_FIELDS)
@customer_required
@never_cache
def application_fix(request, public_id):
    application = selectors.application_get_for_applicant(user=request.user, public_id=public_id)
    if application.status != Status.NEEDS_INFO:
        return redirect(application_next_url(application))
    requests = selectors.application_open_requests(application=application)
    today = timezone.localdate()
    editable = services.application_editable_fields(application=application, today=today)
    data = request.POST if request.method == "POST" else None
    step_forms, all_valid = [], True
    for step in STEPS:
        if not editable & set(step.fields):
            continue
        # Built in step order, each after the corrections before it are applied (in memory
        # only): a new applicant type changes what the business and account steps ask for.
        form = STEP_FORMS[step.slug](
            data, application=application, today=today, editable=editable, prefix=step.slug
        )
        step_forms.append(form)
        if data is not None:
            all_valid = form.is_valid() and all_valid
            for name, value in form.values().items():
                setattr(application, name, value)
    if data is not None:
        values = {name: value for form in step_forms for name, value in form.values().items()}
        try:
            if values:
                services.application_save_fields(application=application, values=values)
            if all_valid:
                services.application_submit(
                    application=application, actor=request.user, today=today
                )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            if all_valid:
                messages.success(request, _("Thank you. Your corrections were sent for review."))
                return redirect("portal:application-detail", application.public_id)
            messages.error(
                request,
                _("Some entries need correcting (marked below). Everything else has been saved."),
            )
        for form in step_forms:
            for warning in form.warnings:
                messages.warning(request, warning)
    missing_documents = set(services.documents_missing(application))
    document_requests = [
        {
            "item": r.item,
            "uploaded": r.item.removeprefix(DOCUMENT_ITEM_PREFIX) not in missing_documents,
        }
        for r in requests
        if r.item.startswith(DOCUMENT_ITEM_PREFIX)
    ]
    context = {
        "application": application,
        "requests": requests,
        "document_requests": document_requests,
        "forms": step_forms,
        "regions_url": reference.REGIONS_STATIC_PATH,
    }
    return render(request, "portal/applications/fix.html", context)
