from django.urls import path, re_path

from settlements import views

app_name = "settlements"

urlpatterns = [
    path("merchant/transactions/", views.transaction_list, name="transaction-list"),
    re_path(
        r"^merchant/transactions/export\.(?P<fmt>csv|xlsx)$",
        views.transaction_export,
        name="transaction-export",
    ),
    path(
        "merchant/transactions/<uuid:public_id>/",
        views.transaction_detail,
        name="transaction-detail",
    ),
    path("merchant/payouts/", views.payout_list, name="payout-list"),
    path("merchant/payouts/<uuid:public_id>/", views.payout_detail, name="payout-detail"),
    path("merchant/statements/", views.statement_list, name="statement-list"),
    re_path(
        r"^merchant/statements/(?P<month>\d{4}-\d{2})\.(?P<fmt>pdf|csv)$",
        views.statement_download,
        name="statement-download",
    ),
]
