from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.admin import TokenProxy

from core.admin import StatusEventInline
from portal import services
from portal.models import Heartbeat, Merchant, MerchantEvent, PiiAccess, User
from portal.services.merchant_files import EXPORT_PERMISSION, merchant_file_export

# Token keys are secrets the merchant saw once; nobody reads them back in the admin.
admin.site.unregister(TokenProxy)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "mobile", "email", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_superuser", "is_active", "groups"]
    search_fields = ["username", "mobile", "email"]
    ordering = ["-date_joined"]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Contact"), {"fields": ("mobile", "email", "first_name", "last_name")}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    readonly_fields = ["last_login", "date_joined"]


class MerchantEventInline(StatusEventInline):
    model = MerchantEvent


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
    inlines = [MerchantEventInline]
    actions = ["export_file", "offer_contract"]
    list_display = ["mid", "name", "status", "user", "created_at"]
    list_filter = ["status", "created_at"]
    list_select_related = ["user"]
    search_fields = ["mid", "name", "user__mobile", "user__email"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    # MID, account and status change only through services (approval, contract, activation):
    # moving a merchant to another account would move its money with no audit trail.
    readonly_fields = ["mid", "user", "status", "created_at", "updated_at"]

    def has_add_permission(self, request):
        # Merchants come from approved applications, never from a blank form.
        return False

    def has_offer_permission(self, request):
        return request.user.has_perm("portal.add_contract")

    @admin.action(description=_("Offer the contract again"), permissions=["offer"])
    def offer_contract(self, request, queryset):
        offered = 0
        for merchant in queryset.select_related("user"):
            try:
                services.contract_offer(merchant=merchant)
            except ValidationError as exc:
                self.message_user(
                    request, f"{merchant.mid}: {' '.join(exc.messages)}", messages.ERROR
                )
            else:
                offered += 1
                self.log_change(request, merchant, "contract offered")
        if offered:
            self.message_user(
                request,
                gettext("%(count)d contract(s) offered.") % {"count": offered},
                messages.SUCCESS,
            )

    def has_export_permission(self, request):
        return request.user.has_perm(EXPORT_PERMISSION)

    @admin.action(description=_("Download the merchant file (archive)"), permissions=["export"])
    def export_file(self, request, queryset):
        merchants = list(queryset[:2])
        if len(merchants) != 1:
            self.message_user(request, _("Choose one merchant at a time."), messages.WARNING)
            return None
        merchant = merchants[0]
        archive = merchant_file_export(merchant=merchant, staff=request.user)
        response = HttpResponse(archive, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="merchant-{merchant.mid}.zip"'
        response["Cache-Control"] = "private, no-store"
        return response


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "seen_at"]
    readonly_fields = ["name", "seen_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PiiAccess)
class PiiAccessAdmin(admin.ModelAdmin):
    """Who saw full identity data, when and how: for superusers (and anyone given the view
    permission); nobody can change or delete an entry here."""

    list_display = ["at", "user", "kind", "target", "detail", "ip_address"]
    list_filter = ["kind", "at"]
    search_fields = ["user__username", "target"]
    date_hierarchy = "at"
    list_select_related = ["user"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
