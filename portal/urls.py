"""The site's URLs: portal's own pages and API routes, then every other project app's, collected
from its ``urls.py`` (``urlpatterns``, ``api_urlpatterns``) by core/registry.py."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core import registry
from portal import api, views

account_patterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("signup/", views.signup, name="signup"),
    path("password/change/", views.PasswordChangeView.as_view(), name="password-change"),
    path("password/reset/", views.PasswordResetView.as_view(), name="password-reset"),
    path("password/reset/sent/", views.PasswordResetDoneView.as_view(), name="password-reset-done"),
    path(
        "password/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path(
        "password/reset/complete/",
        views.PasswordResetCompleteView.as_view(),
        name="password-reset-complete",
    ),
]

portal_patterns = [
    path("", views.home, name="home"),
    path("privacy/", views.privacy, name="privacy"),
    path("products/", views.products, name="products"),
    path("merchant/", views.merchant_home, name="merchant-home"),
    path("merchant/api-token/", views.api_token, name="api-token"),
    path("applications/", views.application_list, name="application-list"),
    path("applications/start/", views.application_start, name="application-start"),
    path("applications/<uuid:public_id>/", views.application_detail, name="application-detail"),
    path(
        "applications/<uuid:public_id>/step/<slug:step>/",
        views.application_step,
        name="application-step",
    ),
    path(
        "applications/<uuid:public_id>/review/",
        views.application_review,
        name="application-review",
    ),
    path("applications/<uuid:public_id>/fix/", views.application_fix, name="application-fix"),
    path(
        "applications/<uuid:public_id>/documents/",
        views.application_documents,
        name="application-documents",
    ),
    path("documents/<uuid:public_id>/", views.document_file, name="document-file"),
    path("merchant/contracts/<uuid:public_id>/", views.contract_detail, name="contract-detail"),
    path(
        "merchant/contracts/<uuid:public_id>/code/",
        views.contract_send_code,
        name="contract-code",
    ),
    path("merchant/contracts/<uuid:public_id>/pdf/", views.contract_file, name="contract-file"),
    path("merchant/contracts/renew/", views.contract_renew, name="contract-renew"),
    path("contracts/verify/", views.contract_verify, name="contract-verify"),
    path("merchant/terminals/", views.terminal_list, name="terminal-list"),
    path(
        "merchant/terminals/<uuid:public_id>/activate/",
        views.terminal_activate,
        name="terminal-activate",
    ),
    path("notifications/", views.notification_list, name="notification-list"),
    path("notifications/<uuid:public_id>/", views.notification_open, name="notification-open"),
]

# The API is one namespace ("api:…"): portal's routes, then every app's ``api_urlpatterns``.
api_patterns = [
    path("me/", api.MeView.as_view(), name="me"),
    path("applications/", api.ApplicationListView.as_view(), name="application-list"),
    path(
        "applications/<uuid:public_id>/",
        api.ApplicationDetailView.as_view(),
        name="application-detail",
    ),
    *registry.api_urlpatterns(),
]

# Every other project app's pages, from its own urls.py (core/registry.py).
app_patterns = registry.app_urlpatterns(root=__name__)

handler404 = "portal.views.errors.page_not_found"

urlpatterns = [
    path("", include((portal_patterns, "portal"))),
    *app_patterns,
    path("accounts/", include((account_patterns, "accounts"))),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics, name="metrics"),
    path("i18n/setlang/", views.set_language, name="set_language"),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_patterns, "api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file: the CSP allows no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]
