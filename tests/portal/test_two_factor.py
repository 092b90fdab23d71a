"""Staff give a second factor (TOTP) after their password before any admin page opens, when
STAFF_REQUIRE_2FA is on (by default in production mode)."""

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests import factories
from tests.factories import PASSWORD
from tests.helpers import production_settings

pytestmark = pytest.mark.django_db

TWO_FACTOR = "/admin/two-factor/"
PAYOUTS = "/admin/settlements/payout/"


@pytest.fixture(autouse=True)
def required(settings):
    settings.STAFF_REQUIRE_2FA = True


@pytest.fixture
def finance():
    return factories.StaffFactory(username="caiwu", group="finance")


def code_for(device: TOTPDevice, *, later: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time += later * device.step
    return f"{totp.token():06d}"


def log_in(client, user):
    return client.post(
        "/admin/login/", {"username": user.username, "password": PASSWORD, "next": PAYOUTS}
    )


def enrolled(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def test_the_password_alone_opens_no_admin_page(client, finance):
    log_in(client, finance)

    response = client.get(PAYOUTS)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert client.get(response["Location"])["Location"] == f"{TWO_FACTOR}?next={PAYOUTS}"


def test_after_the_password_the_login_leads_to_the_second_factor(client, finance):
    response = log_in(client, finance)

    assert response.status_code == 302
    follow = client.get(response["Location"], follow=True)
    assert follow.redirect_chain[-1][0] == f"{TWO_FACTOR}?next={PAYOUTS}"
    assert follow.status_code == 200


def test_first_sign_in_enrols_an_app_with_a_qr_code_and_a_typed_key(client, finance):
    log_in(client, finance)

    body = client.get(TWO_FACTOR).content.decode()

    device = TOTPDevice.objects.get(user=finance)
    assert device.confirmed is False
    assert 'data-testid="two-factor-qr"' in body and "<svg" in body
    typed_key = body.split('data-testid="two-factor-secret">')[1].split("<")[0].replace(" ", "")
    assert device.config_url.split("secret=")[1].split("&")[0] == typed_key
    assert "/admin/settlements/" not in body  # no app list yet


def test_the_first_right_code_confirms_the_app_and_opens_the_admin(client, finance):
    log_in(client, finance)
    client.get(TWO_FACTOR)
    device = TOTPDevice.objects.get(user=finance)

    response = client.post(TWO_FACTOR, {"token": code_for(device), "next": PAYOUTS})

    assert response.status_code == 302
    assert response["Location"] == PAYOUTS
    device.refresh_from_db()
    assert device.confirmed is True
    assert client.get(PAYOUTS).status_code == 200


def test_a_wrong_code_says_so_and_keeps_the_admin_closed(client, finance):
    log_in(client, finance)
    client.get(TWO_FACTOR)
    device = TOTPDevice.objects.get(user=finance)
    wrong = code_for(device, later=10)

    response = client.post(TWO_FACTOR, {"token": wrong})

    assert response.status_code == 200
    assert response.context["form"].errors["token"]
    device.refresh_from_db()
    assert device.confirmed is False
    assert device.throttling_failure_count == 1
    assert client.get(PAYOUTS).status_code == 302


def test_codes_right_after_a_wrong_one_are_refused_for_a_while(client, finance):
    device = enrolled(finance)
    log_in(client, finance)
    client.post(TWO_FACTOR, {"token": code_for(device, later=10)})

    response = client.post(TWO_FACTOR, {"token": code_for(device)})

    assert response.status_code == 200
    assert "错误次数过多" in str(response.context["form"].errors["token"])
    assert client.get(PAYOUTS).status_code == 302


@pytest.mark.parametrize(
    "token", ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦", "12345\u200b6", "' OR 1=1", "9" * 5000]
)
def test_malformed_codes_are_refused_without_counting_as_a_guess(client, finance, token):
    device = enrolled(finance)
    log_in(client, finance)

    response = client.post(TWO_FACTOR, {"token": token})

    assert response.status_code == 200
    assert response.context["form"].errors["token"]
    device.refresh_from_db()
    assert device.throttling_failure_count == 0


def test_a_code_typed_in_full_width_digits_with_a_space_is_accepted(client, finance):
    device = enrolled(finance)
    log_in(client, finance)
    code = code_for(device)
    full_width = "".join(chr(ord(digit) + 0xFEE0) for digit in code)

    response = client.post(TWO_FACTOR, {"token": f"{full_width[:3]} {full_width[3:]}"})

    assert response.status_code == 302
    assert client.get(PAYOUTS).status_code == 200


def test_an_enrolled_member_gives_the_code_and_sees_no_qr_code_again(client, finance):
    device = enrolled(finance)
    log_in(client, finance)

    page = client.get(TWO_FACTOR).content.decode()
    response = client.post(TWO_FACTOR, {"token": code_for(device)})

    assert "two-factor-qr" not in page and "two-factor-secret" not in page
    assert response.status_code == 302
    assert client.get(PAYOUTS).status_code == 200
    assert TOTPDevice.objects.filter(user=finance).count() == 1


def test_a_code_is_good_once(client, finance):
    device = enrolled(finance)
    token = code_for(device)
    log_in(client, finance)
    client.post(TWO_FACTOR, {"token": token})
    other = client.__class__()
    log_in(other, finance)

    response = other.post(TWO_FACTOR, {"token": token})

    assert response.status_code == 200
    assert other.get(PAYOUTS).status_code == 302


def test_superusers_give_the_second_factor_too(client):
    boss = factories.StaffFactory(username="boss", is_superuser=True)
    log_in(client, boss)

    assert client.get("/admin/").status_code == 302


def test_the_next_page_must_be_on_this_site(client, finance):
    device = enrolled(finance)
    log_in(client, finance)

    response = client.post(
        TWO_FACTOR, {"token": code_for(device), "next": "https://evil.example/admin/"}
    )

    assert response["Location"] == "/admin/"


def test_the_step_is_for_staff_only(client):
    merchant = factories.MerchantFactory()
    client.force_login(merchant.user)

    response = client.get(TWO_FACTOR)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert not TOTPDevice.objects.exists()


def test_without_the_requirement_the_password_is_enough(client, finance, settings):
    settings.STAFF_REQUIRE_2FA = False
    log_in(client, finance)

    assert client.get(PAYOUTS).status_code == 200


def test_production_mode_requires_the_second_factor_by_default():
    assert production_settings("STAFF_REQUIRE_2FA") == {"STAFF_REQUIRE_2FA": True}
