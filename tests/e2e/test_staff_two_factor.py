"""A finance clerk's first sign-in to the admin in production mode: password, then enrolling an
authenticator app from the QR code, then the admin."""

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from tests import factories
from tests.e2e.test_onboarding_flow import admin_log_in
from tests.portal.test_two_factor import code_for

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_clerk_enrols_an_authenticator_app_and_reaches_the_admin(page, screenshot, settings):
    settings.STAFF_REQUIRE_2FA = True
    clerk = factories.StaffFactory(username="caiwu", group="finance")

    admin_log_in(page, clerk.username)

    expect(page.get_by_test_id("two-factor")).to_be_visible()
    expect(page.get_by_test_id("two-factor-qr").locator("svg")).to_be_visible()
    expect(page.get_by_test_id("two-factor-secret")).not_to_be_empty()
    screenshot("enrol")
    device = TOTPDevice.objects.get(user=clerk)
    page.get_by_label("身份验证器应用中的验证码").fill(code_for(device))
    page.get_by_test_id("two-factor-submit").click()

    expect(page.locator("#site-name")).to_be_visible()
    expect(page.get_by_role("link", name="结算款")).to_be_visible()
    device.refresh_from_db()
    assert device.confirmed
