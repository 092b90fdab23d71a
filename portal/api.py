from django.db.models import Prefetch
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from core.pagination import CursorPagination
from portal.models import Application, ApplicationEvent
from portal.onboarding import fix_item_label


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


# What a call can answer besides 200, so that a client generated from /api/schema/ expects it.
REFUSALS = {
    401: OpenApiResponse(ErrorSerializer, description="No token, or one that is not valid."),
    403: OpenApiResponse(ErrorSerializer, description="Staff accounts have no merchant API."),
    404: OpenApiResponse(
        ErrorSerializer,
        description="Not yours or not there, not a merchant yet, or a page link (cursor) "
        "that is not valid.",
    ),
}
SEARCH_ERRORS = OpenApiResponse(
    {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    description="The search is not valid: each field named with what is wrong with it.",
)


class MerchantSummarySerializer(serializers.Serializer):
    mid = serializers.CharField()
    name = serializers.CharField()
    status = serializers.CharField()


class MeSerializer(serializers.Serializer):
    mobile = serializers.CharField()
    email = serializers.EmailField(allow_blank=True)
    date_joined = serializers.DateTimeField()
    merchant = MerchantSummarySerializer(allow_null=True)


class MeView(APIView):
    """The signed-in account and, once approved, its merchant record."""

    @extend_schema(
        responses={200: MeSerializer, 401: REFUSALS[401], 403: REFUSALS[403]},
        operation_id="me_retrieve",
    )
    def get(self, request):
        user = request.user
        data = {
            "mobile": user.mobile,
            "email": user.email,
            "date_joined": user.date_joined,
            "merchant": getattr(user, "merchant", None),
        }
        return Response(MeSerializer(data).data)


class InfoRequestSerializer(serializers.Serializer):
    item = serializers.CharField(help_text="What to fix (a key such as `settlement_account`).")
    item_label = serializers.SerializerMethodField()
    reason = serializers.CharField()
    resolved = serializers.SerializerMethodField()

    def get_item_label(self, obj) -> str:
        return fix_item_label(obj.item)

    def get_resolved(self, obj) -> bool:
        return obj.resolved_at is not None


class ApplicationEventSerializer(serializers.Serializer):
    status = serializers.CharField(source="to_status")
    status_label = serializers.CharField(source="get_to_status_display")
    reason = serializers.CharField(source="get_rejection_reason_display", allow_blank=True)
    note = serializers.CharField(source="reason", allow_blank=True)
    at = serializers.DateTimeField(source="created_at")
    questions = InfoRequestSerializer(source="info_requests", many=True)


class ApplicationSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    number = serializers.CharField()
    status = serializers.CharField()
    status_label = serializers.CharField(source="get_status_display")
    product = serializers.CharField(source="product.code", allow_null=True, default=None)
    created_at = serializers.DateTimeField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    mid = serializers.CharField(source="merchant.mid", allow_null=True, default=None)


class ApplicationDetailSerializer(ApplicationSerializer):
    timeline = ApplicationEventSerializer(source="events", many=True)
    open_questions = serializers.SerializerMethodField()

    @extend_schema_field(InfoRequestSerializer(many=True))
    def get_open_questions(self, obj):
        pending = [r for r in obj.info_requests.all() if r.resolved_at is None]
        return InfoRequestSerializer(pending, many=True).data


@extend_schema_view(get=extend_schema(responses={200: ApplicationSerializer, **REFUSALS}))
class ApplicationListView(ListAPIView):
    """Your own applications, newest first."""

    serializer_class = ApplicationSerializer
    pagination_class = CursorPagination

    def get_queryset(self):
        return Application.objects.filter(applicant=self.request.user).select_related(
            "product", "merchant"
        )


@extend_schema_view(get=extend_schema(responses={200: ApplicationDetailSerializer, **REFUSALS}))
class ApplicationDetailView(RetrieveAPIView):
    """One of your applications with its timeline and the questions still open."""

    serializer_class = ApplicationDetailSerializer
    lookup_field = "public_id"

    def get_queryset(self):
        return (
            Application.objects.filter(applicant=self.request.user)
            .select_related("product", "merchant")
            .prefetch_related(
                Prefetch("events", queryset=ApplicationEvent.objects.order_by("created_at", "pk")),
                "events__info_requests",
                "info_requests",
            )
        )
