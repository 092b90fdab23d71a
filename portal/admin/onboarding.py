"""
The reviewer's side of onboarding: the catalogue, and applications read on one page and
decided with buttons that call the same services as everything else. Nothing about an
application is edited in a form here; every decision is a transition with an event row.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.forms import formset_factory
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core import pii
from core.admin import HistoryAdmin
from portal import presenters, reference, selectors, services
from portal.identity import corporate_account_validate, resident_id_validate
from portal.models import (
    Application,
    ApplicationDocument,
    ApplicationEvent,
    FeeSchedule,
    PiiAccess,
    RiskFlag,
    TerminalProduct,
)
from portal.onboarding import FIX_ITEM_CHOICES

REVIEW_PERMISSION = "portal.review_application"


@admin.register(FeeSchedule)
class FeeScheduleAdmin(HistoryAdmin):
    list_display = [
        "code",
        "name",
        "debit_rate",
        "debit_cap",
        "credit_rate",
        "wechat_pay_rate",
        "alipay_rate",
        "settlement_cycle",
        "is_active",
    ]
    list_filter = ["is_active", "settlement_cycle"]
    search_fields = ["code", "name", "name_en"]


@admin.register(TerminalProduct)
class TerminalProductAdmin(HistoryAdmin):
    list_display = ["code", "name", "kind", "price", "deposit", "fee_schedule", "is_active"]
    list_filter = ["is_active", "kind", "fee_schedule"]
    list_select_related = ["fee_schedule"]
    search_fields = ["code", "name", "name_en"]
    autocomplete_fields = ["fee_schedule"]


class ProvinceFilter(admin.SimpleListFilter):
    title = _("province")
    parameter_name = "province"

    def lookups(self, request, model_admin):
        return reference.province_choices()

    def queryset(self, request, queryset):
        return queryset.filter(province=self.value()) if self.value() else queryset


class RiskFlagFilter(admin.SimpleListFilter):
    title = _("risk flag")
    parameter_name = "flag"

    def lookups(self, request, model_admin):
        return [("any", _("Any flag")), *RiskFlag.Code.choices]

    def queryset(self, request, queryset):
        if self.value() == "any":
            return queryset.filter(risk_flags__isnull=False).distinct()
        if self.value():
            return queryset.filter(risk_flags__code=self.value())
        return queryset


class ApproveForm(forms.Form):
    note = forms.CharField(
        label=_("Note to the applicant (optional)"), required=False, widget=forms.Textarea
    )


class RejectForm(forms.Form):
    reason = forms.ChoiceField(label=_("Reason"), choices=ApplicationEvent.RejectionReason.choices)
    note = forms.CharField(
        label=_("Explanation the applicant will read"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class InfoRequestForm(forms.Form):
    item = forms.ChoiceField(label=_("What to fix"), choices=[("", "—"), *FIX_ITEM_CHOICES])
    reason = forms.CharField(label=_("Why (the applicant reads this)"), required=False)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("item") and not cleaned.get("reason", "").strip():
            self.add_error("reason", _("Say why, so the applicant knows what to change."))
        return cleaned


InfoRequestFormSet = formset_factory(InfoRequestForm, extra=3)


@admin.register(Application)
class ApplicationAdmin(HistoryAdmin):
    change_form_template = "admin/portal/application/change_form.html"
    list_display = [
        "number",
        "legal_name",
        "applicant_type",
        "product",
        "province_name",
        "status",
        "flag_count",
        "submitted_at",
    ]
    list_filter = [
        "status",
        "product",
        "applicant_type",
        ProvinceFilter,
        "submitted_at",
        RiskFlagFilter,
    ]
    list_select_related = ["product"]
    search_fields = ["number", "legal_name", "contact_mobile", "id_number_masked", "business_name"]
    search_help_text = _(
        "Application number, name, mobile, business name; a full ID or account number is "
        "matched exactly."
    )
    date_hierarchy = "submitted_at"
    show_full_result_count = False
    actions = ["start_review"]
    exclude = ["id_number", "account_number"]
    readonly_fields = [
        field.name
        for field in Application._meta.fields
        if field.name not in ("id_number", "account_number")
    ]

    def get_queryset(self, request):
        # distinct: the risk-flag filter joins the same table and would count each flag twice.
        return super().get_queryset(request).annotate(flags=Count("risk_flags", distinct=True))

    @admin.display(description=_("province"), ordering="province")
    def province_name(self, obj):
        return dict(reference.province_choices()).get(obj.province, obj.province)

    @admin.display(description=_("flags"), ordering="flags")
    def flag_count(self, obj):
        return obj.flags or ""

    def get_search_results(self, request, queryset, search_term):
        found = _blind_index_search(search_term)
        if found is None:
            return super().get_search_results(request, queryset, search_term)
        # A full ID or account number: only its blind index is searched. No searchable field can
        # hold such a number, and a LIKE query would put it in the database's statement logs.
        exact, what = found
        results = queryset.filter(exact)
        # Finding whose number this is reveals as much as reading it: recorded.
        services.pii_access_record(
            user=request.user,
            kind=PiiAccess.Kind.SEARCH,
            target=", ".join(results.values_list("number", flat=True)[:5]),
            detail=what,
            request=request,
        )
        return results, False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_review_permission(self, request):
        return request.user.has_perm(REVIEW_PERMISSION)

    @admin.action(
        description=_("Start reviewing the selected applications"), permissions=["review"]
    )
    def start_review(self, request, queryset):
        moved = services.applications_start_review(
            applications=queryset.filter(status=Application.Status.SUBMITTED),
            reviewer=request.user,
        )
        self.message_user(
            request,
            gettext("%(count)d application(s) taken into review.") % {"count": moved},
            messages.SUCCESS,
        )

    # Decisions -------------------------------------------------------------------------------

    def get_urls(self):
        decide = self.admin_site.admin_view(self.decide_view)
        judge = self.admin_site.admin_view(self.document_view)
        return [
            path("<int:pk>/decide/<slug:decision>/", decide, name="portal_application_decide"),
            path(
                "<int:pk>/documents/<int:document_pk>/<slug:verdict>/",
                judge,
                name="portal_application_document",
            ),
            *super().get_urls(),
        ]

    def document_view(self, request, pk, document_pk, verdict):
        if request.method != "POST" or not request.user.has_perm(REVIEW_PERMISSION):
            raise PermissionDenied
        document = get_object_or_404(ApplicationDocument, pk=document_pk, application_id=pk)
        try:
            if verdict == "accept":
                services.document_accept(document=document, reviewer=request.user)
                done = gettext("%(document)s accepted.")
            elif verdict == "reject":
                services.document_reject(
                    document=document,
                    reviewer=request.user,
                    reason=request.POST.get("reason", "")[:500],
                )
                done = gettext("%(document)s rejected; the applicant was asked for a new one.")
            else:
                raise PermissionDenied
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
        else:
            label = document.get_slot_display()
            self.log_change(request, document.application, f"{document.slot}: {verdict}")
            self.message_user(request, done % {"document": label}, messages.SUCCESS)
        return redirect("admin:portal_application_change", pk)

    def decide_view(self, request, pk, decision):
        if request.method != "POST":
            return redirect("admin:portal_application_change", pk)
        if not request.user.has_perm(REVIEW_PERMISSION):
            raise PermissionDenied
        application = get_object_or_404(Application, pk=pk)
        handlers = {
            "start-review": self._start_review,
            "approve": self._approve,
            "reject": self._reject,
            "request-info": self._request_info,
        }
        if decision not in handlers:
            return redirect("admin:portal_application_change", pk)
        try:
            done = handlers[decision](request, application)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
        else:
            if done:
                self.log_change(request, application, done)
                self.message_user(request, done, messages.SUCCESS)
        return redirect("admin:portal_application_change", pk)

    def _start_review(self, request, application):
        services.application_start_review(application=application, reviewer=request.user)
        return gettext("You are now reviewing %(number)s.") % {"number": application.number}

    def _approve(self, request, application):
        form = ApproveForm(request.POST)
        form.is_valid()
        application = services.application_approve(
            application=application, reviewer=request.user, note=form.cleaned_data["note"]
        )
        return gettext("Approved: merchant %(mid)s created.") % {"mid": application.merchant.mid}

    def _reject(self, request, application):
        form = RejectForm(request.POST)
        if not form.is_valid():
            raise ValidationError(_("Choose a reason for the rejection."))
        services.application_reject(
            application=application,
            reviewer=request.user,
            reason=form.cleaned_data["reason"],
            note=form.cleaned_data["note"],
        )
        return gettext("Rejected.")

    def _request_info(self, request, application):
        formset = InfoRequestFormSet(request.POST, prefix="info")
        if not formset.is_valid():
            errors = [str(e) for form in formset for field in form.errors.values() for e in field]
            raise ValidationError(errors or [gettext("Check the items.")])
        items = [
            (form.cleaned_data["item"], form.cleaned_data["reason"])
            for form in formset
            if form.cleaned_data.get("item")
        ]
        services.application_request_info(
            application=application,
            reviewer=request.user,
            items=items,
            note=request.POST.get("info-note", ""),
        )
        return gettext("Sent back to the applicant with %(count)d item(s) to fix.") % {
            "count": len(items)
        }

    def change_view(self, request, object_id, form_url="", extra_context=None):
        application = self.get_object(request, unquote(object_id))
        if application is None:  # unknown or malformed id: the admin's own "not found"
            return super().change_view(request, object_id, form_url, extra_context)
        flags = list(application.risk_flags.all())
        extra_context = {
            **(extra_context or {}),
            "application": application,
            "summary": presenters.application_summary(application),
            "corrections": presenters.application_corrections(application),
            "flags": [(flag, presenters.risk_flag_explanation(flag)) for flag in flags],
            "timeline": selectors.application_timeline(application=application),
            "open_requests": selectors.application_open_requests(application=application),
            "duplicates": selectors.application_duplicates(application=application),
            "documents": [
                {
                    "document": document,
                    "accept_url": reverse(
                        "admin:portal_application_document",
                        args=[application.pk, document.pk, "accept"],
                    ),
                    "reject_url": reverse(
                        "admin:portal_application_document",
                        args=[application.pk, document.pk, "reject"],
                    ),
                }
                for document in application.documents.filter(replaced_at__isnull=True)
                .select_related("reviewed_by")
                .order_by("slot")
            ],
            "can_review": request.user.has_perm(REVIEW_PERMISSION),
            "approve_form": ApproveForm(),
            "reject_form": RejectForm(),
            "info_formset": InfoRequestFormSet(prefix="info"),
            "decide_urls": {
                decision.replace("-", "_"): reverse(
                    "admin:portal_application_decide", args=[application.pk, decision]
                )
                for decision in ("start-review", "approve", "reject", "request-info")
            },
        }
        return super().change_view(request, object_id, form_url, extra_context)


def _blind_index_search(term: str) -> tuple[Q, str] | None:
    """A full ID or account number typed into the search box, matched through its blind index
    (the numbers themselves are encrypted and cannot be searched): the filter, and which kind
    of number it was."""
    term = term.strip()
    if not term:
        return None
    try:
        number = resident_id_validate(term, today=timezone.localdate()).number
        return Q(id_number_hash=pii.blind_index(number, purpose="resident_id")), "resident ID"
    except ValidationError:
        pass
    try:
        number = corporate_account_validate(term)
    except ValidationError:
        return None
    return Q(account_number_hash=pii.blind_index(number, purpose="bank_account")), "bank account"
