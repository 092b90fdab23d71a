import hmac

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_safe
from prometheus_client import CONTENT_TYPE_LATEST

from core import metrics as core_metrics
from core import ratelimit
from core.decorators import customer_required
from core.http import client_ip
from core.panels import merchant_home_panels
from portal import forms, health, selectors, services


@require_GET
def home(request):
    return render(request, "portal/home.html")


@require_GET
def privacy(request):
    return render(request, "portal/privacy.html")


@require_safe
@never_cache
def metrics(request):
    """Prometheus metrics, for a scraper that gives METRICS_TOKEN or comes from one of
    METRICS_ALLOWED_IPS; everyone else gets the 404 of a page that does not exist."""
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    allowed = (token and hmac.compare_digest(given.encode(), token.encode())) or (
        client_ip(request) in settings.METRICS_ALLOWED_IPS
    )
    if not allowed:
        raise Http404
    return HttpResponse(core_metrics.exposition(), content_type=CONTENT_TYPE_LATEST)


@require_safe
@never_cache
def healthz(request):
    report = health.run_checks()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)


@method_decorator(ratelimit.limit_posts("login"), name="dispatch")
class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    form_class = forms.LoginForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        if self.request.user.is_staff:
            return reverse("admin:index")
        return super().get_default_redirect_url()


@require_http_methods(["GET", "POST"])
@never_cache
@ratelimit.limit_posts("signup")
def signup(request):
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    form = forms.SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_sign_up(
                login=form.cleaned_data["login"], password=form.cleaned_data["password1"]
            )
        except ValidationError as exc:
            form.add_error("login", exc)
        else:
            login(request, user, backend="portal.auth.LoginBackend")
            messages.success(request, _("Welcome! Your account is ready."))
            next_url = request.GET.get("next", "")
            if url_has_allowed_host_and_scheme(
                next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
            ):
                return redirect(next_url)
            return redirect(settings.LOGIN_REDIRECT_URL)
    return render(request, "accounts/signup.html", {"form": form})


@method_decorator(ratelimit.limit_posts("password_reset"), name="dispatch")
class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset_form.html"
    form_class = forms.PasswordResetForm
    email_template_name = "accounts/emails/password_reset.txt"
    html_email_template_name = "accounts/emails/password_reset.html"
    subject_template_name = "accounts/emails/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password-reset-done")

    def form_valid(self, form):
        # Past the limit for this address, say "sent" as always (the page never tells whether
        # an account exists) but send nothing: nobody can flood someone's mailbox from here.
        address = form.cleaned_data["email"].strip().lower()
        if not ratelimit.hit("password_reset_address", address).allowed:
            return redirect(self.get_success_url())
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    form_class = forms.SetPasswordForm
    success_url = reverse_lazy("accounts:password-reset-complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        services.user_password_reset_completed(user=form.user)
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"
    form_class = forms.PasswordChangeForm
    success_url = reverse_lazy("portal:merchant-home")

    def form_valid(self, form):
        messages.success(self.request, _("Your password has been changed."))
        return super().form_valid(form)


@require_GET
@customer_required
def merchant_home(request):
    merchant = getattr(request.user, "merchant", None)
    application = (
        None if merchant else selectors.application_list_for_applicant(user=request.user).first()
    )
    contract = merchant.contracts.order_by("-created_at").first() if merchant else None
    terminals = selectors.terminal_list_for(user=request.user) if merchant else []
    context = {
        "merchant": merchant,
        "application": application,
        "contract": contract,
        "terminals": terminals,
        # What the other apps show here: the money overview, open tickets (core/panels.py).
        "panels": merchant_home_panels(request),
    }
    return render(request, "merchant/home.html", context)


NEW_TOKEN_SESSION_KEY = "portal:new-api-token"  # noqa: S105 (a session key name)


@require_http_methods(["GET", "POST"])
@customer_required
@never_cache
def api_token(request):
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "create":
            token = services.api_token_regenerate(user=request.user)
            # Shown once, on the page this POST redirects to, then forgotten.
            request.session[NEW_TOKEN_SESSION_KEY] = token.key
            messages.success(
                request, _("A new API token was created. Copy it now: it is shown only once.")
            )
        elif action == "revoke":
            if services.api_token_revoke(user=request.user):
                messages.success(request, _("Your API token has been revoked."))
        else:
            return HttpResponseBadRequest(_("Unknown action."))
        return redirect("portal:api-token")
    context = {
        "token": selectors.api_token_get(user=request.user),
        "new_key": request.session.pop(NEW_TOKEN_SESSION_KEY, None),
    }
    return render(request, "merchant/api_token.html", context)
