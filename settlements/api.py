"""The merchant API for the ledger: the signed-in merchant's own transactions, payouts and
dashboard figures. Filters are the web page's (settlements.filters), pages are cursors."""

from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from core.pagination import CursorPagination
from portal.api import REFUSALS, SEARCH_ERRORS
from settlements import selectors
from settlements.filters import PayoutFilter, TransactionFilter
from settlements.models import Payout, Transaction

MONEY = {"max_digits": 14, "decimal_places": 2}


def merchant_of(request):
    merchant = getattr(request.user, "merchant", None)
    if merchant is None:
        raise NotFound("Transactions and payouts appear once you are a merchant.")
    return merchant


class TransactionSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    acquirer_id = serializers.CharField(help_text="The acquirer's transaction ID.")
    occurred_at = serializers.DateTimeField()
    terminal_id = serializers.CharField(source="tid")
    type = serializers.CharField()
    type_label = serializers.CharField(source="get_type_display")
    channel = serializers.CharField()
    channel_label = serializers.CharField(source="get_channel_display")
    status = serializers.CharField()
    amount = serializers.DecimalField(
        **MONEY, help_text="Signed: sales positive, refunds, voids and reversals negative."
    )
    fee = serializers.DecimalField(**MONEY, help_text="By your fee schedule.")
    net = serializers.DecimalField(**MONEY)
    acquirer_fee = serializers.DecimalField(**MONEY, help_text="As the acquirer charged it.")
    card_masked = serializers.CharField(allow_blank=True)
    rrn = serializers.CharField(allow_blank=True)
    trace_no = serializers.CharField(allow_blank=True)
    batch_no = serializers.CharField(allow_blank=True)
    auth_code = serializers.CharField(allow_blank=True)
    settlement_cycle = serializers.CharField()
    settlement_date = serializers.DateField(allow_null=True)
    payout = serializers.UUIDField(source="payout.public_id", allow_null=True, default=None)
    anomalies = serializers.SerializerMethodField(
        help_text="What needs attention: fee_mismatch, reversed, refunded, unsettled."
    )

    def get_anomalies(self, obj) -> list[str]:
        flags = {
            "fee_mismatch": obj.fee_mismatch,
            "reversed": getattr(obj, "is_reversed", False),
            "refunded": getattr(obj, "is_refunded", False),
            "unsettled": getattr(obj, "is_unsettled_late", False),
        }
        return [name for name, present in flags.items() if present]


class PayoutEventSerializer(serializers.Serializer):
    status = serializers.CharField(source="to_status")
    status_label = serializers.CharField(source="get_to_status_display")
    reason_code = serializers.CharField(allow_blank=True)
    reason = serializers.CharField(allow_blank=True)
    at = serializers.DateTimeField(source="occurred_at")


class PayoutSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    acquirer_id = serializers.CharField(help_text="The payout reference to quote to your bank.")
    settlement_date = serializers.DateField()
    cycle = serializers.CharField()
    gross_amount = serializers.DecimalField(**MONEY)
    fee_amount = serializers.DecimalField(**MONEY)
    adjustment_amount = serializers.DecimalField(**MONEY)
    net_amount = serializers.DecimalField(**MONEY, help_text="gross − fees + adjustments")
    transaction_count = serializers.IntegerField()
    status = serializers.ChoiceField(choices=Payout.Status.choices)
    status_label = serializers.CharField(source="get_status_display")
    reason_code = serializers.CharField(source="known_reason_code", allow_blank=True)
    reason = serializers.CharField(allow_blank=True)
    cause = serializers.CharField(allow_blank=True)
    expected_at = serializers.DateTimeField()
    is_late = serializers.BooleanField(
        help_text="Not paid PAYOUT_LATE_AFTER (24 hours by default) after the expected arrival."
    )
    paid_at = serializers.DateTimeField(allow_null=True)
    bank_reference = serializers.CharField(allow_blank=True)
    account_masked = serializers.CharField(allow_blank=True)
    bank_name = serializers.CharField(allow_blank=True)


class PayoutDetailSerializer(PayoutSerializer):
    timeline = PayoutEventSerializer(source="events", many=True)


class DayPointSerializer(serializers.Serializer):
    day = serializers.DateField()
    takings = serializers.DecimalField(**MONEY)
    count = serializers.IntegerField()
    payouts = serializers.DecimalField(**MONEY)


class DashboardSerializer(serializers.Serializer):
    today = serializers.DateField()
    today_takings = serializers.DecimalField(**MONEY)
    today_count = serializers.IntegerField()
    month_takings = serializers.DecimalField(**MONEY)
    month_count = serializers.IntegerField()
    unpaid = serializers.DecimalField(**MONEY, help_text="Not yet paid out, after fees.")
    next_payout = PayoutSerializer(allow_null=True)
    late_payouts = PayoutSerializer(many=True)
    recent_payouts = PayoutSerializer(many=True)
    series = DayPointSerializer(many=True, help_text="The last 30 days, oldest first.")


class TransactionPagination(CursorPagination):
    ordering = ("-occurred_at", "-pk")


class PayoutPagination(CursorPagination):
    ordering = ("-settlement_date", "-pk")


@extend_schema_view(
    get=extend_schema(responses={200: TransactionSerializer, 400: SEARCH_ERRORS, **REFUSALS})
)
class TransactionListView(ListAPIView):
    """Your transactions, newest first, filtered like the Transactions page."""

    serializer_class = TransactionSerializer
    pagination_class = TransactionPagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = TransactionFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema reads the model, no merchant
            return Transaction.objects.none()
        return selectors.transaction_list(merchant=merchant_of(self.request))


@extend_schema_view(get=extend_schema(responses={200: TransactionSerializer, **REFUSALS}))
class TransactionDetailView(RetrieveAPIView):
    """One of your transactions."""

    serializer_class = TransactionSerializer
    lookup_field = "public_id"

    def get_queryset(self):
        return selectors.transaction_list(merchant=merchant_of(self.request))


@extend_schema_view(
    get=extend_schema(responses={200: PayoutSerializer, 400: SEARCH_ERRORS, **REFUSALS})
)
class PayoutListView(ListAPIView):
    """Your payouts, latest settlement date first."""

    serializer_class = PayoutSerializer
    pagination_class = PayoutPagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = PayoutFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # the schema reads the model, no merchant
            return Payout.objects.none()
        return selectors.payout_list(merchant=merchant_of(self.request))


@extend_schema_view(get=extend_schema(responses={200: PayoutDetailSerializer, **REFUSALS}))
class PayoutDetailView(RetrieveAPIView):
    """One of your payouts with its status timeline."""

    serializer_class = PayoutDetailSerializer

    def get_object(self):
        return selectors.payout_get(
            merchant=merchant_of(self.request), public_id=self.kwargs["public_id"]
        )


@extend_schema_view(get=extend_schema(responses={200: TransactionSerializer, **REFUSALS}))
class PayoutTransactionListView(ListAPIView):
    """The transactions one of your payouts carries."""

    serializer_class = TransactionSerializer
    pagination_class = TransactionPagination

    def get_queryset(self):
        payout = get_object_or_404(
            Payout.objects.filter(merchant=merchant_of(self.request)),
            public_id=self.kwargs["public_id"],
        )
        return selectors.payout_transactions(payout=payout).select_related("payout")


class DashboardView(APIView):
    """Today's and this month's takings, money not yet paid out, the next and late payouts,
    and the last 30 days — the dashboard's figures."""

    @extend_schema(
        responses={200: DashboardSerializer, **REFUSALS}, operation_id="dashboard_retrieve"
    )
    def get(self, request):
        summary = selectors.dashboard_summary(merchant=merchant_of(request))
        return Response(DashboardSerializer(summary).data)
