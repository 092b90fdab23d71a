import base64
import binascii

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from core import ratelimit, uploads
from core.decorators import customer_required
from core.http import client_ip
from portal import services
from portal.models import Contract
from portal.services.contracts import CONSENT_TEXT

Status = Contract.Status
SIGNATURE_PREFIX = "data:image/png;base64,"


class SignForm(forms.Form):
    typed_name = forms.CharField(
        label=gettext_lazy("Your full legal name"),
        max_length=50,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    signature = forms.CharField(widget=forms.HiddenInput, required=False, max_length=800_000)
    consent = forms.BooleanField(label=CONSENT_TEXT, required=False)
    code = forms.CharField(
        label=gettext_lazy("One-time code"),
        max_length=6,
        required=False,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9]*"}
        ),
    )

    def signature_png(self) -> bytes:
        value = self.cleaned_data.get("signature", "")
        if not value.startswith(SIGNATURE_PREFIX):
            return b""
        try:
            return base64.b64decode(value.removeprefix(SIGNATURE_PREFIX), validate=True)
        except (binascii.Error, ValueError):
            return b""


def _contract_for(request, public_id) -> Contract:
    return get_object_or_404(
        Contract.objects.select_related("merchant", "template"),
        public_id=public_id,
        merchant__user=request.user,
    )


@require_http_methods(["GET", "POST"])
@sensitive_post_parameters("code", "typed_name", "signature")
@customer_required
@never_cache
def contract_detail(request, public_id):
    contract = _contract_for(request, public_id)
    form = SignForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        signing = services.SigningRequest(
            typed_name=form.cleaned_data["typed_name"],
            code=form.cleaned_data["code"],
            signature_png=form.signature_png(),
            consent=form.cleaned_data["consent"],
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent", ""),
        )
        try:
            services.contract_sign(contract=contract, user=request.user, signing=signing)
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for field, errors in exc.error_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form.add_error(None, exc)
        else:
            messages.success(request, _("Contract signed. Thank you!"))
            return redirect("portal:contract-detail", contract.public_id)
    context = {
        "contract": contract,
        "form": form,
        "sections": contract.terms.get("sections", []),
        "fields": contract.terms.get("fields", []),
        "signable": contract.status == Status.PENDING,
    }
    return render(request, "portal/contracts/detail.html", context)


@require_POST
@customer_required
def contract_send_code(request, public_id):
    contract = _contract_for(request, public_id)
    verdict = ratelimit.hit("one_time_code", f"user:{request.user.pk}")
    if not verdict.allowed:
        return ratelimit.too_many(request, verdict, json=True)
    try:
        sent_to = services.contract_send_code(contract=contract, user=request.user)
    except ValidationError as exc:
        return JsonResponse({"detail": " ".join(exc.messages)}, status=409)
    return JsonResponse(
        {"detail": _("Code sent to %(where)s. It is valid for 10 minutes.") % {"where": sent_to}}
    )


@require_http_methods(["GET"])
@customer_required
@never_cache
def contract_file(request, public_id):
    contract = _contract_for(request, public_id)
    return contract_file_response(contract, signed=request.GET.get("signed") == "1")


def contract_file_response(contract: Contract, *, signed: bool) -> FileResponse:
    field = contract.signed_document if signed else contract.document
    if not field:
        raise Http404("not signed yet")
    suffix = "-signed" if signed else ""
    response = FileResponse(
        field.open("rb"),
        content_type="application/pdf",
        filename=uploads.safe_download_name(f"{contract.number}{suffix}", ".pdf"),
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
@customer_required
def contract_renew(request):
    merchant = getattr(request.user, "merchant", None)
    if merchant is None:
        raise Http404("not a merchant")
    try:
        contract = services.contract_renew(merchant=merchant, user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("portal:merchant-home")
    return redirect("portal:contract-detail", contract.public_id)


class VerifyForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Contract PDF"), required=False)
    number = forms.CharField(label=gettext_lazy("Contract number"), max_length=24, required=False)
    sha256 = forms.CharField(label=gettext_lazy("SHA-256"), max_length=80, required=False)

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("file") and not (cleaned.get("number") and cleaned.get("sha256")):
            raise ValidationError(
                _("Upload the PDF, or enter the contract number and its SHA-256."),
                code="nothing_to_verify",
            )
        return cleaned


@require_http_methods(["GET", "POST"])
def contract_verify(request):
    posted = request.method == "POST"
    form = VerifyForm(request.POST if posted else None, request.FILES if posted else None)
    result = None
    if posted and uploads.upload_too_large(request):
        form.add_error(None, _("The file is larger than any contract we issue."))
    elif request.method == "POST" and form.is_valid():
        upload = form.cleaned_data.get("file")
        pdf = None
        if upload is not None:
            if upload.size > settings.UPLOAD_MAX_BYTES:
                form.add_error("file", _("The file is larger than any contract we issue."))
            else:
                pdf = upload.read()
        if not form.errors:
            result = services.contract_verify(
                pdf=pdf, number=form.cleaned_data["number"], sha256=form.cleaned_data["sha256"]
            )
    return render(request, "portal/contracts/verify.html", {"form": form, "result": result})
