from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from portal import api, views

admin.site.site_header = _("POS Merchant Portal administration")
admin.site.site_title = _("POS Merchant Portal")
admin.site.index_title = _("Staff workspace")

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
    path("merchant/", views.merchant_home, name="merchant-home"),
    path("merchant/api-token/", views.api_token, name="api-token"),
]

api_v1_patterns = [
    path("me/", api.MeView.as_view(), name="me"),
]

urlpatterns = [
    path("", include((portal_patterns, "portal"))),
    path("accounts/", include((account_patterns, "accounts"))),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include((api_v1_patterns, "api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
