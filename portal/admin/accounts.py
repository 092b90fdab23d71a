from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.admin import TokenProxy

from portal.models import Heartbeat, Merchant, User

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


@admin.register(Merchant)
class MerchantAdmin(admin.ModelAdmin):
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


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "seen_at"]
    readonly_fields = ["name", "seen_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
