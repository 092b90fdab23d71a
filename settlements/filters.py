"""The transaction search, shared by the web page, its exports and the API, so a filter means
the same thing everywhere."""

from datetime import date, timedelta

import django_filters
from django import forms
from django.core.validators import RegexValidator
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.validators import fold_width
from settlements import selectors
from settlements.models import Channel, Payout, Transaction

MAX_DAYS = 366


class Anomaly:
    ANY = "any"
    FEE_MISMATCH = "fee_mismatch"
    REVERSED = "reversed"
    REFUNDED = "refunded"
    UNSETTLED = "unsettled"

    choices = [
        (ANY, _("Any issue")),
        (FEE_MISMATCH, _("Fee differs from the acquirer's")),
        (REVERSED, _("Voided or reversed")),
        (REFUNDED, _("Refunded")),
        (UNSETTLED, _("Not yet in a payout")),
    ]


class TransactionFilterForm(forms.Form):
    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end:
            if start > end:
                self.add_error("date_to", _("The end date is before the start date."))
            elif (end - start).days >= MAX_DAYS:
                self.add_error(
                    "date_to",
                    _("Search at most %(days)s days at a time.") % {"days": MAX_DAYS},
                )
        low, high = data.get("amount_min"), data.get("amount_max")
        if low is not None and high is not None and low > high:
            self.add_error("amount_max", _("The largest amount is below the smallest."))
        return data


def digits(count: int, message):
    # ASCII digits only: \d would also pass other scripts' digits (٠١٢٣), which no TID, RRN
    # or card number holds, so the search would quietly find nothing.
    return [RegexValidator(rf"^[0-9]{{{count}}}\Z", message)]


class DigitsField(forms.CharField):
    def to_python(self, value):
        # Chinese input methods type full-width digits (１２３４): searched as 1234.
        return fold_width(super().to_python(value))


class DigitsFilter(django_filters.CharFilter):
    field_class = DigitsField


class TransactionFilter(django_filters.FilterSet):
    date_from = django_filters.DateFilter(
        label=_("From"), method="filter_date_from", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = django_filters.DateFilter(
        label=_("To"), method="filter_date_to", widget=forms.DateInput(attrs={"type": "date"})
    )
    channel = django_filters.ChoiceFilter(
        label=_("Channel"), choices=Channel.choices, empty_label=_("All channels")
    )
    type = django_filters.ChoiceFilter(
        label=_("Type"), choices=Transaction.Type.choices, empty_label=_("All types")
    )
    status = django_filters.ChoiceFilter(
        label=_("Result"), choices=Transaction.Status.choices, empty_label=_("All results")
    )
    amount_min = django_filters.NumberFilter(
        label=_("Amount from (CNY)"),
        method="filter_amount_min",
        min_value=0,
        max_digits=12,
        decimal_places=2,
    )
    amount_max = django_filters.NumberFilter(
        label=_("Amount up to (CNY)"),
        method="filter_amount_max",
        min_value=0,
        max_digits=12,
        decimal_places=2,
    )
    tid = DigitsFilter(
        label=_("Terminal (TID)"),
        validators=digits(8, _("A terminal ID has 8 digits.")),
    )
    rrn = DigitsFilter(
        label=_("Reference number (RRN)"),
        validators=digits(12, _("A reference number has 12 digits.")),
    )
    card_last4 = DigitsFilter(
        label=_("Card last four"),
        validators=digits(4, _("Enter the last four digits of the card.")),
    )
    payout = django_filters.UUIDFilter(label=_("Payout"), field_name="payout__public_id")
    anomaly = django_filters.ChoiceFilter(
        label=_("Needs attention"),
        choices=Anomaly.choices,
        method="filter_anomaly",
        empty_label=_("Everything"),
    )

    class Meta:
        model = Transaction
        form = TransactionFilterForm
        fields = []

    # The first and last days a date can name bound nothing, and have no bound to compute:
    # 0001-01-01 00:00 in Beijing is before the first UTC datetime, and no day follows
    # 9999-12-31.
    def filter_date_from(self, queryset, name, value):
        if value == date.min:
            return queryset
        return queryset.filter(occurred_at__gte=selectors.local_day_start(value))

    def filter_date_to(self, queryset, name, value):
        if value == date.max:
            return queryset
        return queryset.filter(occurred_at__lt=selectors.local_day_start(value + timedelta(1)))

    # Merchants think of a ¥100 refund as "100": amount ranges match the size, either sign.
    def filter_amount_min(self, queryset, name, value):
        return queryset.filter(Q(amount__gte=value) | Q(amount__lte=-value))

    def filter_amount_max(self, queryset, name, value):
        return queryset.filter(amount__lte=value, amount__gte=-value)

    def filter_anomaly(self, queryset, name, value):
        conditions = {
            Anomaly.FEE_MISMATCH: Q(fee_mismatch=True),
            Anomaly.REVERSED: Q(is_reversed=True),
            Anomaly.REFUNDED: Q(is_refunded=True),
            Anomaly.UNSETTLED: Q(is_unsettled_late=True),
        }
        if value == Anomaly.ANY:
            condition = Q()
            for each in conditions.values():
                condition |= each
            return queryset.filter(condition)
        return queryset.filter(conditions[value])

    @property
    def active_count(self) -> int:
        """How many filters the merchant set (shown on the collapsed filter button)."""
        if not self.is_bound or not self.form.is_valid():
            return 0
        return sum(1 for value in self.form.cleaned_data.values() if value not in (None, ""))


class PayoutFilterForm(forms.Form):
    # What NullBooleanSelect reads as yes or no (or, empty and "unknown", as either). Any
    # other value it would also read as either, listing every payout to a caller who asked
    # for the late ones with late=1 or late=yes.
    LATE_VALUES = {"", "unknown", "true", "false", "True", "False", "2", "3"}

    def clean(self):
        data = super().clean()
        late = self.data.get("late")
        if late is not None and late not in self.LATE_VALUES:
            message = forms.ChoiceField.default_error_messages["invalid_choice"]
            self.add_error("late", message % {"value": late})
        return data


class PayoutFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=Payout.Status.choices, empty_label=_("All statuses")
    )
    late = django_filters.BooleanFilter(label=_("Late"), field_name="is_late")
    settlement_date_from = django_filters.DateFilter(
        label=_("From"), field_name="settlement_date", lookup_expr="gte"
    )
    settlement_date_to = django_filters.DateFilter(
        label=_("To"), field_name="settlement_date", lookup_expr="lte"
    )

    class Meta:
        model = Payout
        form = PayoutFilterForm
        fields = []
