"""Contracts, their templates, and terminals in the admin: read-mostly, with the actions that
call the same services as the portal."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.admin import HistoryAdmin, StatusEventInline
from core.validators import fold_width
from portal import services
from portal.models import Contract, ContractEvent, ContractTemplate, Merchant, Terminal
from portal.services.contracts import contract_template_check
from portal.views.contracts import contract_file_response


class ContractTemplateForm(forms.ModelForm):
    class Meta:
        model = ContractTemplate
        fields = ["code", "title", "body", "requires_countersignature", "is_active"]

    def clean_body(self):
        body = self.cleaned_data["body"]
        contract_template_check(body)
        return body


@admin.register(ContractTemplate)
class ContractTemplateAdmin(admin.ModelAdmin):
    form = ContractTemplateForm
    list_display = [
        "title",
        "code",
        "version",
        "is_active",
        "requires_countersignature",
        "created_at",
    ]
    list_filter = ["is_active", "code"]
    search_fields = ["title", "code"]
    readonly_fields = ["version", "created_at", "created_by"]
    fields = [
        "code",
        "title",
        "body",
        "requires_countersignature",
        "is_active",
        "version",
        "created_at",
        "created_by",
    ]

    def save_model(self, request, obj, form, change):
        # Every edit is a new version: contracts already made keep the words they were made
        # with. The new version becomes the active one if the edited one was.
        if change:
            latest = ContractTemplate.objects.filter(code=obj.code).order_by("-version").first()
            obj.pk = None
            obj._state.adding = True
            obj.version = (latest.version if latest else 0) + 1
            if obj.is_active:
                ContractTemplate.objects.filter(code=obj.code, is_active=True).update(
                    is_active=False
                )
        elif obj.is_active:
            ContractTemplate.objects.filter(code=obj.code, is_active=True).update(is_active=False)
        obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def has_delete_permission(self, request, obj=None):
        return False


class ContractEventInline(StatusEventInline):
    model = ContractEvent


@admin.register(Contract)
class ContractAdmin(HistoryAdmin):
    inlines = [ContractEventInline]
    change_form_template = "admin/portal/contract/change_form.html"
    list_display = ["number", "merchant", "status", "created_at", "signed_at", "countersigned_at"]
    list_filter = ["status", "template", "created_at"]
    list_select_related = ["merchant", "template"]
    search_fields = ["number", "merchant__mid", "merchant__name"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    exclude = ["code_hash", "document", "signature", "signed_document"]
    readonly_fields = [
        f.name
        for f in Contract._meta.fields
        if f.name not in ("code_hash", "document", "signature", "signed_document")
    ] + ["files"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # a contract is never edited; countersigning is a button

    @admin.display(description=_("files"))
    def files(self, obj):
        links = [
            format_html(
                '<a href="{}">{}</a>',
                reverse("admin:portal_contract_file", args=[obj.pk, "offer"]),
                gettext("Contract as offered (PDF)"),
            )
        ]
        if obj.signed_document:
            links.append(
                format_html(
                    '<a href="{}">{}</a>',
                    reverse("admin:portal_contract_file", args=[obj.pk, "signed"]),
                    gettext("Signed contract with certificate (PDF)"),
                )
            )
        return format_html(" · ".join(["{}"] * len(links)), *links)

    def get_urls(self):
        return [
            path(
                "<int:pk>/file/<slug:which>/",
                self.admin_site.admin_view(self.file_view),
                name="portal_contract_file",
            ),
            path(
                "<int:pk>/countersign/",
                self.admin_site.admin_view(self.countersign_view),
                name="portal_contract_countersign",
            ),
            *super().get_urls(),
        ]

    def file_view(self, request, pk, which):
        if not self.has_view_permission(request):
            raise PermissionDenied
        contract = get_object_or_404(Contract, pk=pk)
        return contract_file_response(contract, signed=which == "signed")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        contract = self.get_object(request, object_id)
        can_countersign = bool(
            contract
            and contract.status == Contract.Status.SIGNED
            and contract.template.requires_countersignature
            and not contract.countersigned_at
            and request.user.has_perm("portal.countersign_contract")
        )
        extra_context = {**(extra_context or {}), "can_countersign": can_countersign}
        return super().change_view(request, object_id, form_url, extra_context)

    def countersign_view(self, request, pk):
        if request.method != "POST" or not request.user.has_perm("portal.countersign_contract"):
            raise PermissionDenied
        contract = get_object_or_404(Contract, pk=pk)
        try:
            services.contract_countersign(contract=contract, staff=request.user)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
        else:
            self.log_change(request, contract, "countersigned")
            self.message_user(request, gettext("Countersigned."), messages.SUCCESS)
        return redirect("admin:portal_contract_change", pk)


class ShipForm(forms.Form):
    carrier = forms.CharField(label=_("Carrier"), max_length=40)
    tracking_number = forms.CharField(label=_("Tracking number"), max_length=40)


class TerminalAssignForm(forms.ModelForm):
    """Adding a terminal: the same normalisation and checks as the service, as form errors."""

    class Meta:
        model = Terminal
        fields = ["merchant", "product", "serial_number", "tid", "model"]

    def clean_serial_number(self):
        serial = fold_width(self.cleaned_data["serial_number"]).strip().upper()
        if Terminal.objects.filter(serial_number=serial).exists():
            raise ValidationError(_("A terminal with this serial number exists."), code="taken")
        return serial

    def clean_tid(self):
        return fold_width(self.cleaned_data["tid"]).strip()

    def clean_merchant(self):
        merchant = self.cleaned_data["merchant"]
        if merchant.status in (Merchant.Status.SUSPENDED, Merchant.Status.CLOSED):
            raise ValidationError(
                _("A suspended or closed merchant gets no terminal."), code="merchant_inactive"
            )
        return merchant


@admin.register(Terminal)
class TerminalAdmin(HistoryAdmin):
    form = TerminalAssignForm
    change_form_template = "admin/portal/terminal/change_form.html"
    list_display = [
        "tid",
        "serial_number",
        "merchant",
        "model",
        "status",
        "tracking_number",
        "created_at",
    ]
    list_filter = ["status", "product", "created_at"]
    list_select_related = ["merchant", "product"]
    search_fields = ["tid", "serial_number", "merchant__mid", "merchant__name", "tracking_number"]
    raw_id_fields = ["merchant"]
    show_full_result_count = False

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["merchant", "product", "serial_number", "tid", "model"]
        return [
            "merchant",
            "product",
            "serial_number",
            "tid",
            "model",
            "status",
            "activation_code_shown",
            "carrier",
            "tracking_number",
            "shipped_at",
            "delivered_at",
            "activated_at",
            "activation_attempts",
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return self.get_fields(request, obj)

    @admin.display(description=_("activation code"))
    def activation_code_shown(self, obj):
        # Printed on the label in the box; staff read it to a merchant on the phone.
        return obj.activation_code

    def save_model(self, request, obj, form, change):
        if change:
            raise PermissionDenied
        assigned = services.terminal_assign(
            merchant=obj.merchant,
            product=obj.product,
            serial_number=obj.serial_number,
            tid=obj.tid,
            model=obj.model,
            actor=request.user,
        )
        obj.pk = assigned.pk
        obj.refresh_from_db()

    def has_delete_permission(self, request, obj=None):
        return False

    actions = ["unlock_activation"]

    def has_unlock_permission(self, request):
        return request.user.has_perm("portal.unlock_activation_terminal")

    @admin.action(
        description=_("Let the merchant try the activation code again"), permissions=["unlock"]
    )
    def unlock_activation(self, request, queryset):
        for terminal in queryset:
            services.terminal_activation_unlock(terminal=terminal, staff=request.user)
            self.log_change(request, terminal, "activation attempts reset")
        self.message_user(request, gettext("Done."), messages.SUCCESS)

    def get_urls(self):
        return [
            path(
                "<int:pk>/move/<slug:status>/",
                self.admin_site.admin_view(self.move_view),
                name="portal_terminal_move",
            ),
            *super().get_urls(),
        ]

    def move_view(self, request, pk, status):
        if request.method != "POST" or not self.has_change_permission(request):
            raise PermissionDenied
        terminal = get_object_or_404(Terminal, pk=pk)
        fields = {}
        if status == Terminal.Status.SHIPPED:
            form = ShipForm(request.POST)
            if not form.is_valid():
                self.message_user(
                    request, gettext("Give the carrier and the tracking number."), messages.ERROR
                )
                return redirect("admin:portal_terminal_change", pk)
            fields = form.cleaned_data
        if status not in Terminal.Status.values or status == Terminal.Status.ACTIVE:
            raise PermissionDenied  # only the merchant activates, with the code
        try:
            services.terminal_transition(
                terminal=terminal,
                to_status=status,
                actor=request.user,
                note=request.POST.get("note", "")[:500],
                **fields,
            )
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
        else:
            self.log_change(request, terminal, f"→ {status}")
            self.message_user(
                request,
                gettext("Terminal %(tid)s updated.") % {"tid": terminal.tid},
                messages.SUCCESS,
            )
        return redirect("admin:portal_terminal_change", pk)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        terminal = self.get_object(request, object_id)
        if terminal is not None:
            movable = self.has_change_permission(request, terminal)
            extra_context = {
                **(extra_context or {}),
                # Nothing here is edited in a form: the buttons below move the terminal on.
                "show_save": False,
                "show_save_and_continue": False,
                "show_save_and_add_another": False,
                "terminal": terminal,
                "next_statuses": [
                    (status, Terminal.Status(status).label)
                    for status in Terminal.ALLOWED_TRANSITIONS[terminal.status]
                    if status != Terminal.Status.ACTIVE and movable
                ],
                "ship_form": ShipForm(),
                "events": terminal.events.select_related("actor"),
            }
        return super().change_view(request, object_id, form_url, extra_context)
