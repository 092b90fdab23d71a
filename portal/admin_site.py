"""The staff admin site, with a second factor (TOTP, django-otp) when ``STAFF_REQUIRE_2FA`` is
on — by default in production mode.

A staff member logs in with the admin's usual form, then is sent to ``/admin/two-factor/``:
the first time to enrol an authenticator app (QR code and the key to type in, confirmed by a
first code), every later time to give the current code. Until then every admin page answers
with that step, not with data. A lost phone: a superuser deletes the member's device in the
admin (OTP → TOTP devices) and the member enrols again.
"""

import re
import unicodedata
from base64 import b32encode

import segno
from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from core import ratelimit


def second_factor_missing(request) -> bool:
    """A signed-in staff member who still owes the second factor."""
    user = request.user
    return (
        settings.STAFF_REQUIRE_2FA and user.is_active and user.is_staff and not user.is_verified()
    )


class TokenForm(forms.Form):
    token = forms.CharField(
        label=_("Code from the authenticator app"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def clean_token(self) -> str:
        # Full-width digits from a Chinese input method and spaces ("123 456") are the same code.
        token = unicodedata.normalize("NFKC", self.cleaned_data["token"]).replace(" ", "")
        if not re.fullmatch(r"[0-9]{6}", token):
            raise forms.ValidationError(gettext("Enter the 6 digits the app shows."))
        return token


class PortalAdminSite(admin.AdminSite):
    site_header = _("POS Merchant Portal administration")
    site_title = _("POS Merchant Portal")
    index_title = _("Staff workspace")

    def has_permission(self, request):
        return super().has_permission(request) and not second_factor_missing(request)

    def get_urls(self):
        urls = [path("two-factor/", self.two_factor_view, name="two-factor")]
        return urls + super().get_urls()

    @method_decorator(never_cache)
    @method_decorator(ratelimit.limit_posts("login"))
    def login(self, request, extra_context=None):
        # Password accepted but no second factor yet: the admin would show its login form
        # again ("not authorised"); the two-factor step is what is missing.
        if request.user.is_authenticated and second_factor_missing(request):
            target = reverse("admin:two-factor", current_app=self.name)
            next_url = request.GET.get(REDIRECT_FIELD_NAME)
            if next_url:
                target += f"?{REDIRECT_FIELD_NAME}={next_url}"
            return redirect(target)
        return super().login(request, extra_context)

    @method_decorator(never_cache)
    @method_decorator(sensitive_post_parameters("token"))
    def two_factor_view(self, request):
        if not request.user.is_authenticated or not request.user.is_staff:
            return redirect("admin:login")
        if not second_factor_missing(request):
            return redirect(self._next_url(request))
        with transaction.atomic():
            device = (
                TOTPDevice.objects.select_for_update()
                .filter(user=request.user)
                .order_by("-confirmed", "pk")
                .first()
            )
            if device is None:
                device = TOTPDevice.objects.create(
                    user=request.user, name=gettext("Authenticator app"), confirmed=False
                )
            form = TokenForm(request.POST or None)
            if request.method == "POST" and form.is_valid():
                allowed, _details = device.verify_is_allowed()
                if not allowed:
                    form.add_error(
                        "token", gettext("Too many wrong codes. Wait a minute, then try again.")
                    )
                elif device.verify_token(form.cleaned_data["token"]):
                    if not device.confirmed:
                        device.confirmed = True
                        device.save(update_fields=["confirmed"])
                    otp_login(request, device)
                    return redirect(self._next_url(request))
                else:
                    form.add_error(
                        "token",
                        gettext(
                            "That code is not right. Check the phone's time is set automatically "
                            "and enter the code the app shows now."
                        ),
                    )
        context = {
            **self.each_context(request),
            # Nothing of the admin until the second factor is given: no app list, no sidebar.
            "available_apps": [],
            "is_nav_sidebar_enabled": False,
            "title": gettext("Two-factor sign-in"),
            "form": form,
            "enrolling": not device.confirmed,
            "next": self._next_url(request),
        }
        if not device.confirmed:
            context["qr_svg"] = segno.make(device.config_url, error="m").svg_inline(
                scale=5, title=gettext("QR code for the authenticator app")
            )
            context["secret"] = device_secret(device)
        return render(request, "admin/two_factor.html", context)

    def _next_url(self, request) -> str:
        next_url = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME)
        if next_url and url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return next_url
        return reverse("admin:index", current_app=self.name)


def device_secret(device: TOTPDevice) -> str:
    """The key in base32, in groups of four, for typing into an app without a camera."""
    key = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(key[i : i + 4] for i in range(0, len(key), 4))
