"""The ledger in the admin: read-only for money and status, never counting a big table in
full, with the calendar editable by finance and reconciliation runs started from here."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from core.admin import HistoryAdmin, StatusEventInline
from settlements import calendar, services
from settlements.models import (
    CalendarDay,
    CalendarYear,
    Discrepancy,
    Payout,
    PayoutEvent,
    ReconciliationRun,
    ReconciliationRunEvent,
    Transaction,
)
from settlements.reconciliation import reconciliation_retry, reconciliation_start

COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    """Counts at most COUNT_CAP + 1 rows: a COUNT(*) over millions of transactions would make
    every changelist page slow, and nobody pages that far anyway."""

    @cached_property
    def count(self):
        return self.object_list[: COUNT_CAP + 1].count()


class ReadOnlyAdmin(admin.ModelAdmin):
    """Money and status change only through services, never by editing a row."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class BigTableAdmin(ReadOnlyAdmin):
    paginator = CappedCountPaginator
    show_full_result_count = False
    list_per_page = 50

    # Exact matches only, each on an indexed column chosen by the shape of the term: a
    # LIKE '%…%' over the whole table is exactly what this admin must never run.
    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(self.search_condition(term)), False


def local_time(moment):
    return date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT") if moment else "—"


@admin.register(Transaction)
class TransactionAdmin(BigTableAdmin):
    list_display = [
        "occurred",
        "merchant",
        "tid",
        "type",
        "channel",
        "amount",
        "fee",
        "acquirer_fee",
        "fee_mismatch",
        "status",
        "settlement_date",
        "payout_link",
    ]
    list_filter = [
        "status",
        "type",
        "channel",
        "fee_mismatch",
        "settlement_cycle",
        "acquirer",
        ("settlement_date", admin.DateFieldListFilter),
    ]
    list_select_related = ["merchant", "payout"]
    search_fields = ["acquirer_id"]
    search_help_text = _(
        "Exact match: transaction ID, MID (15 digits), RRN (12), TID (8) or card last four."
    )
    ordering = ["-occurred_at", "-pk"]
    fieldsets = [
        (None, {"fields": ["acquirer", "acquirer_id", "merchant", "tid", "occurred_at"]}),
        (
            _("Money"),
            {
                "fields": [
                    "type",
                    "channel",
                    "status",
                    "amount",
                    "fee",
                    "acquirer_fee",
                    "net",
                    "fee_mismatch",
                ]
            },
        ),
        (
            _("References"),
            {
                "fields": [
                    "card_masked",
                    "rrn",
                    "trace_no",
                    "batch_no",
                    "auth_code",
                    "original",
                    "original_acquirer_id",
                ]
            },
        ),
        (
            _("Settlement"),
            {
                "fields": [
                    "settlement_cycle",
                    "settlement_date",
                    "payout",
                    "acquirer_payout_id",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
    ]

    def search_condition(self, term):
        condition = Q(acquirer_id=term)
        if term.isdigit():
            by_length = {15: "merchant__mid", 12: "rrn", 8: "tid", 4: "card_last4"}
            if len(term) in by_length:
                condition |= Q(**{by_length[len(term)]: term})
        return condition

    def lookup_allowed(self, lookup, value, request=None):
        # A payout's page links here filtered to its transactions.
        return lookup == "payout__id__exact" or super().lookup_allowed(lookup, value, request)

    @admin.display(description=_("time"), ordering="occurred_at")
    def occurred(self, obj):
        return local_time(obj.occurred_at)

    @admin.display(description=_("payout"))
    def payout_link(self, obj):
        if obj.payout is None:
            return "—"
        url = reverse("admin:settlements_payout_change", args=[obj.payout_id])
        return format_html('<a href="{}">{}</a>', url, obj.payout.acquirer_id)


class LateFilter(admin.SimpleListFilter):
    title = _("late")
    parameter_name = "late"

    def lookups(self, request, model_admin):
        return [("yes", _("Late")), ("no", _("On time or paid"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.overdue()
        if self.value() == "no":
            return queryset.not_overdue()
        return queryset


class CauseFilter(admin.SimpleListFilter):
    title = _("cause")
    parameter_name = "cause"

    def lookups(self, request, model_admin):
        return Payout.Cause.choices

    def queryset(self, request, queryset):
        cause = self.value()
        if not cause:
            return queryset
        if cause == Payout.Cause.UNKNOWN:
            # A code the portal has never heard of counts as unknown too.
            return queryset.exclude(reason_code="").exclude(
                reason_code__in=[
                    code for code in Payout.ReasonCode.values if code != Payout.ReasonCode.UNKNOWN
                ]
            )
        return queryset.filter(reason_code__in=Payout.reason_codes_for_cause(cause))


class PayoutEventInline(StatusEventInline):
    model = PayoutEvent
    fields = ["occurred_at", "from_status", "to_status", "reason_code", "reason", "source", "actor"]
    ordering = ["occurred_at", "pk"]


class ReconciliationRunEventInline(StatusEventInline):
    model = ReconciliationRunEvent


@admin.register(Payout)
class PayoutAdmin(BigTableAdmin):
    list_display = [
        "acquirer_id",
        "merchant",
        "settlement_date",
        "cycle",
        "net_amount",
        "status",
        "cause_label",
        "expected",
        "late",
        "paid",
    ]
    list_filter = [
        "status",
        LateFilter,
        CauseFilter,
        "acquirer",
        "cycle",
        ("settlement_date", admin.DateFieldListFilter),
    ]
    list_select_related = ["merchant"]
    search_fields = ["acquirer_id"]
    search_help_text = _("Exact match: payout reference, MID (15 digits) or bank reference.")
    ordering = ["-settlement_date", "-pk"]
    inlines = [PayoutEventInline]
    readonly_fields = ["transactions_link", "cause_label"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "acquirer",
                    "acquirer_id",
                    "merchant",
                    "settlement_date",
                    "cycle",
                    "transactions_link",
                ]
            },
        ),
        (
            _("Money"),
            {
                "fields": [
                    "gross_amount",
                    "fee_amount",
                    "adjustment_amount",
                    "net_amount",
                    "transaction_count",
                ]
            },
        ),
        (
            _("Status"),
            {
                "fields": [
                    "status",
                    "reason_code",
                    "cause_label",
                    "reason",
                    "expected_at",
                    "paid_at",
                    "bank_reference",
                    "acquirer_updated_at",
                ]
            },
        ),
        (_("Destination"), {"fields": ["account_masked", "bank_name"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).with_lateness()

    def search_condition(self, term):
        condition = Q(acquirer_id=term) | Q(bank_reference=term)
        if term.isdigit() and len(term) == 15:
            condition |= Q(merchant__mid=term)
        return condition

    @admin.display(description=_("cause"))
    def cause_label(self, obj):
        return obj.get_cause_display() or "—"

    @admin.display(description=_("expected"), ordering="expected_at")
    def expected(self, obj):
        return local_time(obj.expected_at)

    @admin.display(description=_("paid"), ordering="paid_at")
    def paid(self, obj):
        return local_time(obj.paid_at)

    @admin.display(description=_("late"), boolean=True)
    def late(self, obj):
        return obj.is_late

    @admin.display(description=_("transactions"))
    def transactions_link(self, obj):
        url = reverse("admin:settlements_transaction_changelist")
        return format_html(
            '<a href="{}?payout__id__exact={}">{}</a>',
            url,
            obj.pk,
            ngettext("%(count)s transaction", "%(count)s transactions", obj.transaction_count)
            % {"count": obj.transaction_count},
        )

    def lookup_allowed(self, lookup, value, request=None):
        return lookup == "payout__id__exact" or super().lookup_allowed(lookup, value, request)


# -- Calendar -----------------------------------------------------------------------------------


class YearFilter(admin.SimpleListFilter):
    title = _("year")
    parameter_name = "year"

    def lookups(self, request, model_admin):
        years = CalendarYear.objects.order_by("-year").values_list("year", flat=True)
        return [(str(year), str(year)) for year in years]

    def queryset(self, request, queryset):
        if self.value() and self.value().isdigit():
            return queryset.filter(date__year=int(self.value()))
        return queryset


@admin.register(CalendarDay)
class CalendarDayAdmin(HistoryAdmin):
    list_display = ["date", "weekday", "kind", "name", "name_en", "source"]
    list_filter = [YearFilter, "kind", "source"]
    search_fields = ["name", "name_en"]
    fields = ["date", "kind", "name", "name_en", "source", "updated_at"]
    readonly_fields = ["source", "updated_at"]
    ordering = ["-date"]
    change_list_template = "admin/settlements/calendarday/change_list.html"

    @admin.display(description=_("weekday"))
    def weekday(self, obj):
        return date_format(obj.date, "l")

    def save_model(self, request, obj, form, change):
        obj.source = CalendarYear.Source.STAFF
        super().save_model(request, obj, form, change)
        services.calendar_day_saved(day=obj)

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        calendar.forget_calendar()

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        calendar.forget_calendar()

    def get_urls(self):
        seed = path(
            "seed/",
            self.admin_site.admin_view(self.seed_view),
            name="settlements_calendarday_seed",
        )
        return [seed, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        missing = services.calendar_missing_years()
        if missing and request.method == "GET":
            messages.warning(
                request,
                gettext(
                    "No holiday data for %(years)s: those years count only weekends as days "
                    "off, so payout dates may be wrong around public holidays. Add the State "
                    "Council's holidays and adjusted working days (调休) here."
                )
                % {"years": ", ".join(map(str, missing))},
            )
        extra_context = {**(extra_context or {}), "known_years": CalendarYear.objects.all()}
        return super().changelist_view(request, extra_context)

    def seed_view(self, request):
        if request.method != "POST":
            return redirect("admin:settlements_calendarday_changelist")
        if not self.has_add_permission(request):
            raise PermissionDenied
        added = services.calendar_seed_from_library()
        if added:
            messages.success(
                request,
                gettext("Added the holidays of %(years)s from the holiday library.")
                % {"years": ", ".join(map(str, added))},
            )
        else:
            messages.info(
                request, gettext("The holiday library knows no year that is missing here.")
            )
        return redirect("admin:settlements_calendarday_changelist")


@admin.register(CalendarYear)
class CalendarYearAdmin(ReadOnlyAdmin):
    list_display = ["year", "source", "created_at"]
    ordering = ["-year"]


# -- Reconciliation -----------------------------------------------------------------------------


class ReconciliationImportForm(forms.Form):
    file = forms.FileField(
        label=_("Reconciliation file (CSV)"),
        help_text=_("The acquirer's daily file, as downloaded."),
    )
    settlement_date = forms.DateField(
        label=_("Settlement date"),
        required=False,
        help_text=_("Leave empty when the file name contains the date (2026-11-25 or 20261125)."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    inlines = [ReconciliationRunEventInline]
    actions = ["retry"]
    list_display = [
        "settlement_date",
        "file_name",
        "status",
        "line_count",
        "matched_count",
        "discrepancies_link",
        "malformed_count",
        "created_by",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "acquirer", ("settlement_date", admin.DateFieldListFilter)]
    list_select_related = ["created_by"]
    search_fields = ["file_name", "sha256"]
    ordering = ["-created_at", "-pk"]
    readonly_fields = ["discrepancies_link"]
    fields = [
        "acquirer",
        "settlement_date",
        "file_name",
        "sha256",
        "status",
        "attempts",
        "line_count",
        "matched_count",
        "discrepancies_link",
        "malformed_count",
        "error",
        "created_by",
        "created_at",
        "finished_at",
    ]

    def has_add_permission(self, request, obj=None):
        return request.user.has_perm("settlements.add_reconciliationrun")

    def has_retry_permission(self, request):
        return request.user.has_perm("settlements.add_reconciliationrun")

    @admin.action(description=_("Import the selected failed runs again"), permissions=["retry"])
    def retry(self, request, queryset):
        retried = skipped = 0
        for run in queryset.filter(status=ReconciliationRun.Status.FAILED):
            try:
                reconciliation_retry(run=run, actor=request.user)
            except ValidationError as exc:
                self.message_user(request, f"{run}: {' '.join(exc.messages)}", messages.ERROR)
                skipped += 1
            else:
                retried += 1
        skipped += queryset.exclude(status=ReconciliationRun.Status.FAILED).count()
        if retried:
            self.message_user(
                request,
                ngettext(
                    "%(count)d run is being imported again.",
                    "%(count)d runs are being imported again.",
                    retried,
                )
                % {"count": retried},
                messages.SUCCESS,
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d run was left as it is: only failed runs are imported again.",
                    "%(count)d runs were left as they are: only failed runs are imported again.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )

    @admin.display(description=_("discrepancies"))
    def discrepancies_link(self, obj):
        url = reverse("admin:settlements_discrepancy_changelist")
        return format_html(
            '<a href="{}?run__id__exact={}">{}</a>', url, obj.pk, obj.discrepancy_count
        )

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ReconciliationImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                run, created = reconciliation_start(
                    source=upload,
                    file_name=upload.name,
                    settlement_date=form.cleaned_data["settlement_date"],
                    user=request.user,
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                if created:
                    messages.success(
                        request,
                        gettext("The file is being imported. Refresh this page to follow the run."),
                    )
                elif run.status == ReconciliationRun.Status.FAILED:
                    messages.success(
                        request,
                        gettext(
                            "This file's earlier import had failed: it is being imported again. "
                            "Refresh this page to follow the run."
                        ),
                    )
                else:
                    messages.info(
                        request,
                        gettext(
                            "This exact file was imported before (run of %(date)s): nothing "
                            "was changed."
                        )
                        % {"date": date_format(run.settlement_date)},
                    )
                return redirect("admin:settlements_reconciliationrun_change", run.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Import a reconciliation file"),
            "form": form,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/settlements/reconciliationrun/import.html", context)


class ResolvedFilter(admin.SimpleListFilter):
    title = _("resolved")
    parameter_name = "resolved"

    def lookups(self, request, model_admin):
        return [("no", _("Open")), ("yes", _("Resolved"))]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(Discrepancy)
class DiscrepancyAdmin(BigTableAdmin):
    list_display = [
        "run",
        "kind",
        "line_no",
        "acquirer_transaction_id",
        "transaction_link",
        "ours",
        "theirs",
        "detail",
        "resolved",
    ]
    list_filter = [ResolvedFilter, "kind", ("run__settlement_date", admin.DateFieldListFilter)]
    list_select_related = ["run", "transaction"]
    search_fields = ["acquirer_transaction_id"]
    search_help_text = _("Exact match: transaction ID.")
    ordering = ["-run__created_at", "kind", "line_no", "pk"]
    actions = ["resolve"]

    def search_condition(self, term):
        return Q(acquirer_transaction_id=term)

    def lookup_allowed(self, lookup, value, request=None):
        return lookup == "run__id__exact" or super().lookup_allowed(lookup, value, request)

    def has_change_permission(self, request, obj=None):
        # Only through the "resolve" action; the row itself is evidence and stays as found.
        return obj is None and request.user.has_perm("settlements.change_discrepancy")

    @admin.display(description=_("transaction"))
    def transaction_link(self, obj):
        if obj.transaction_id is None:
            return "—"
        url = reverse("admin:settlements_transaction_change", args=[obj.transaction_id])
        return format_html('<a href="{}">{}</a>', url, obj.transaction.acquirer_id)

    @admin.display(description=_("resolved"), boolean=True)
    def resolved(self, obj):
        return obj.resolved_at is not None

    @admin.action(description=_("Mark as resolved"), permissions=["change"])
    def resolve(self, request, queryset):
        count = services.discrepancy_resolve(
            discrepancy_ids=list(queryset.values_list("pk", flat=True)), user=request.user
        )
        self.message_user(
            request,
            ngettext(
                "%(count)s discrepancy marked as resolved.",
                "%(count)s discrepancies marked as resolved.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )
