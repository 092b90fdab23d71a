"""Acquirers for staff: configure one (its secret written, never shown back), test the
connection with a signed call, see the breaker and every feed's last poll, and read what was
refused or failed."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from settlements.acquirer_client import AcquirerCallError, AcquirerClient, breaker_open
from settlements.admin.ledger import BigTableAdmin
from settlements.models import Acquirer, AcquirerError, AcquirerFeed, WebhookEvent


class AcquirerForm(forms.ModelForm):
    base_url = forms.URLField(label=_("API address"), max_length=300, assume_scheme="https")
    # Written, never read back: the field starts empty, and left empty keeps the secret.
    secret = forms.CharField(
        label=_("secret"),
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Leave empty to keep the secret already stored."),
    )

    class Meta:
        model = Acquirer
        fields = [
            "code",
            "name",
            "base_url",
            "key_id",
            "secret",
            "enabled",
            "transactions_poll_seconds",
            "payouts_poll_seconds",
        ]

    def clean_secret(self):
        secret = self.cleaned_data["secret"]
        if not secret and not (self.instance.pk and self.instance.secret):
            raise forms.ValidationError(_("Give the secret the acquirer issued with the key."))
        return secret or self.instance.secret


class AcquirerFeedInline(admin.TabularInline):
    model = AcquirerFeed
    extra = 0
    can_delete = False
    fields = [
        "kind",
        "high_water_mark",
        "last_polled_at",
        "last_success_at",
        "last_failure_at",
        "last_error",
        "records_applied",
        "records_refused",
        "stale_ignored",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Acquirer)
class AcquirerAdmin(admin.ModelAdmin):
    form = AcquirerForm
    change_form_template = "admin/settlements/acquirer/change_form.html"
    list_display = ["code", "name", "base_url", "enabled", "breaker", "last_success_at"]
    list_filter = ["enabled"]
    search_fields = ["code", "name"]
    inlines = [AcquirerFeedInline]
    readonly_fields = [
        "breaker",
        "breaker_failures",
        "breaker_opened_at",
        "last_success_at",
        "last_failure_at",
        "last_error",
    ]

    def get_fieldsets(self, request, obj=None):
        main = [
            "code",
            "name",
            "base_url",
            "key_id",
            "secret",
            "enabled",
            "transactions_poll_seconds",
            "payouts_poll_seconds",
        ]
        if obj is None:
            return [(None, {"fields": main})]
        return [(None, {"fields": main}), (_("Health"), {"fields": self.readonly_fields})]

    @admin.display(description=_("circuit breaker"))
    def breaker(self, obj):
        if breaker_open(obj):
            return format_html(
                '<strong style="color:#b02a37">{}</strong>',
                gettext("Open: calls paused after %(count)s failures in a row")
                % {"count": obj.breaker_failures},
            )
        if obj.breaker_failures >= settings.ACQUIRER_BREAKER_FAILURES:
            return gettext("Trying again")
        return gettext("Closed: calls go through")

    def get_urls(self):
        return [
            path(
                "<int:pk>/test/",
                self.admin_site.admin_view(self.test_connection),
                name="settlements_acquirer_test",
            ),
            *super().get_urls(),
        ]

    def test_connection(self, request, pk):
        """A signed call (the acquirer's view of one merchant, which may not exist) and what
        came back: proves the address, the key and the secret."""
        if not request.user.has_perm("settlements.test_acquirer"):
            raise PermissionDenied
        if request.method != "POST":
            return redirect("admin:settlements_acquirer_change", pk)
        acquirer = get_object_or_404(Acquirer, pk=pk)
        try:
            AcquirerClient(acquirer).call("GET", "/v1/merchants/000000000000000")
        except AcquirerCallError as exc:
            if exc.http_status == 404:
                messages.success(
                    request,
                    gettext(
                        "Connected at %(time)s: the acquirer accepted the signature "
                        "(and knows no merchant 000000000000000)."
                    )
                    % {"time": timezone.localtime().strftime("%H:%M:%S")},
                )
            else:
                messages.error(request, gettext("The call failed: %(error)s") % {"error": exc})
        else:
            messages.success(request, gettext("Connected: the acquirer answered the signed call."))
        return redirect("admin:settlements_acquirer_change", pk)

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        if obj is not None and request.user.has_perm("settlements.test_acquirer"):
            context["test_url"] = reverse("admin:settlements_acquirer_test", args=[obj.pk])
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)


@admin.register(AcquirerError)
class AcquirerErrorAdmin(BigTableAdmin):
    list_display = ["created_at", "acquirer", "source", "endpoint", "object_id", "message"]
    list_filter = ["source", "acquirer", ("created_at", admin.DateFieldListFilter)]
    list_select_related = ["acquirer"]
    search_fields = ["=object_id", "endpoint"]
    ordering = ["-created_at", "-pk"]


@admin.register(WebhookEvent)
class WebhookEventAdmin(BigTableAdmin):
    list_display = ["received_at", "acquirer", "type", "event_id", "applied_at", "error"]
    list_filter = ["type", "acquirer", ("received_at", admin.DateFieldListFilter)]
    list_select_related = ["acquirer"]
    search_fields = ["=event_id"]
    ordering = ["-received_at", "-pk"]
