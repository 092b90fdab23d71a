from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView


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

    @extend_schema(responses=MeSerializer, operation_id="me_retrieve")
    def get(self, request):
        user = request.user
        data = {
            "mobile": user.mobile,
            "email": user.email,
            "date_joined": user.date_joined,
            "merchant": getattr(user, "merchant", None),
        }
        return Response(MeSerializer(data).data)
