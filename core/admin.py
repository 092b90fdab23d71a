from django.contrib import admin
from django.core.exceptions import PermissionDenied
from simple_history.admin import SimpleHistoryAdmin


class HistoryAdmin(SimpleHistoryAdmin):
    """Change history to read, never to restore.

    django-simple-history saves a POSTed old-version form after checking only *view or
    change* permission; SIMPLE_HISTORY_REVERT_DISABLED merely hides the button. Restoring
    would skip the services' status rules, events and signatures (a signed contract turned
    back to pending), so old versions are GET-only for everyone."""

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


class StatusEventInline(admin.TabularInline):
    """A row's status timeline under its change form: every event, read-only (the events are
    written by ``core.transitions`` alone)."""

    extra = 0
    can_delete = False
    fields = ["created_at", "from_status", "to_status", "actor", "source", "reason"]

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False
