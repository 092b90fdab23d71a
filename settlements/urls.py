from django.urls import path, re_path

from settlements import api, views

app_name = "settlements"

urlpatterns = [
    path("webhooks/acquirer/", views.acquirer_webhook, name="acquirer-webhook"),
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

# Under /api/v1/, in the "api" namespace (collected by portal/urls.py).
api_urlpatterns = [
    path("dashboard/", api.DashboardView.as_view(), name="dashboard"),
    path("transactions/", api.TransactionListView.as_view(), name="transaction-list"),
    path(
        "transactions/<uuid:public_id>/",
        api.TransactionDetailView.as_view(),
        name="transaction-detail",
    ),
    path("payouts/", api.PayoutListView.as_view(), name="payout-list"),
    path("payouts/<uuid:public_id>/", api.PayoutDetailView.as_view(), name="payout-detail"),
    path(
        "payouts/<uuid:public_id>/transactions/",
        api.PayoutTransactionListView.as_view(),
        name="payout-transactions",
    ),
]
