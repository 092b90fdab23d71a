from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Case, Q, Value, When
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from simple_history.admin import SimpleHistoryAdmin

from core import jobs
from core.models import Job, JobEvent
from core.transitions import TransitionNotAllowed


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


class JobEventInline(StatusEventInline):
    model = JobEvent


class StuckFilter(admin.SimpleListFilter):
    title = _("stuck")
    parameter_name = "stuck"

    def lookups(self, request, model_admin):
        return [("yes", _("Stuck: its worker was lost"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(jobs.stuck())
        return queryset


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    """Background jobs for staff: what runs, what is stuck (its worker was lost; the sweep
    takes it back within a minute or two), what failed and why, with a retry."""

    list_display = [
        "pk",
        "kind",
        "subject_link",
        "status",
        "stuck",
        "attempts_made",
        "locked_until",
        "error",
        "created_at",
        "updated_at",
    ]
    list_filter = [StuckFilter, "status", "kind"]
    list_select_related = ["subject_type"]
    search_fields = ["=subject_id", "kind", "locked_by"]
    ordering = ["-created_at", "-pk"]
    inlines = [JobEventInline]
    actions = ["retry"]
    show_full_result_count = False
    fields = [
        "kind",
        "subject_link",
        "status",
        "attempts",
        "max_attempts",
        "locked_until",
        "locked_by",
        "available_at",
        "rung_at",
        "last_error",
        "created_by",
        "created_at",
        "started_at",
        "finished_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(is_stuck=Case(When(jobs.stuck(), then=Value(True)), default=Value(False)))
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_retry_permission(self, request):
        return request.user.has_perm("core.retry_job")

    @admin.display(description=_("stuck"), boolean=True, ordering="is_stuck")
    def stuck(self, obj):
        return obj.is_stuck

    @admin.display(description=_("attempts"))
    def attempts_made(self, obj):
        return f"{obj.attempts}/{obj.max_attempts}"

    @admin.display(description=_("last error"))
    def error(self, obj):
        return Truncator(obj.last_error).chars(80)

    @admin.display(description=_("subject"))
    def subject_link(self, obj):
        model = obj.subject_type.model_class()
        label = f"{model._meta.verbose_name} #{obj.subject_id}" if model else obj.subject_id
        try:
            url = reverse(
                f"admin:{obj.subject_type.app_label}_{obj.subject_type.model}_change",
                args=[obj.subject_id],
            )
        except NoReverseMatch:
            return label
        return format_html('<a href="{}">{}</a>', url, label)

    @admin.action(description=_("Retry the selected failed or stuck jobs"), permissions=["retry"])
    def retry(self, request, queryset):
        retried = 0
        for job in queryset.filter(Q(status=Job.Status.FAILED) | jobs.stuck()):
            try:
                jobs.job_retry(job=job, actor=request.user)
            except TransitionNotAllowed:
                continue  # the sweep or a worker moved it meanwhile
            retried += 1
        self.message_user(
            request,
            ngettext("%(count)d job will run again.", "%(count)d jobs will run again.", retried)
            % {"count": retried},
            messages.SUCCESS if retried else messages.WARNING,
        )
