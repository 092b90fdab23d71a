import re

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.urls import reverse
from rest_framework.authtoken.models import Token

from portal import services
from portal.models import User
from tests import factories, onboarding
from tests.factories import PASSWORD
from tests.helpers import assert_constant_queries

pytestmark = pytest.mark.django_db

SIGNUP = reverse("accounts:signup")
LOGIN = reverse("accounts:login")
MERCHANT_HOME = reverse("portal:merchant-home")


def signup_data(**overrides):
    data = {
        "login": "13912345678",
        "password1": "a-strong-pass-1",
        "password2": "a-strong-pass-1",
        "accept_terms": "on",
    }
    data.update(overrides)
    return data


def login(client, username, password=PASSWORD, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


# --- sign-up ---------------------------------------------------------------------------------


def test_sign_up_with_a_mobile_number_logs_in_and_opens_the_merchant_area(client):
    response = client.post(SIGNUP, signup_data(login="+86 139 1234 5678"))

    assert response.status_code == 302
    assert response.url == MERCHANT_HOME
    user = User.objects.get()
    assert (user.mobile, user.username, user.is_staff) == ("13912345678", "13912345678", False)
    assert client.session[SESSION_KEY] == str(user.pk)


def test_sign_up_with_an_email(client):
    response = client.post(SIGNUP, signup_data(login="Wang.Fang@Example.cn"))

    assert response.status_code == 302
    assert User.objects.get().email == "Wang.Fang@example.cn"


def test_sign_up_follows_a_next_url_on_this_site(client):
    response = client.post(SIGNUP + "?next=/merchant/api-token/", signup_data())

    assert response.url == "/merchant/api-token/"


def test_sign_up_ignores_a_next_url_on_another_site(client):
    response = client.post(SIGNUP + "?next=https://evil.example/", signup_data())

    assert response.url == MERCHANT_HOME


def test_sign_up_with_full_width_digits_stores_the_ascii_number(client):
    client.post(SIGNUP, signup_data(login="１３９１２３４５６７８"))

    assert User.objects.get().mobile == "13912345678"


def test_a_taken_mobile_is_refused_and_nothing_is_saved(client, customer):
    response = client.post(SIGNUP, signup_data(login=customer.mobile))

    assert response.status_code == 200
    assert "该手机号或邮箱已注册" in response.content.decode()
    assert User.objects.count() == 1


def test_a_taken_email_in_another_case_is_refused(client, customer):
    response = client.post(SIGNUP, signup_data(login=customer.email.upper()))

    assert response.status_code == 200
    assert response.context["form"].errors["login"][0].startswith("该手机号或邮箱已注册")
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"login": "12345"}, "login", "请输入中国大陆手机号：以13-19开头的11位数字。"),
        ({"login": "wangfang"}, "login", "请输入中国大陆手机号或电子邮箱。"),
        ({"password2": "another-pass-2"}, "password2", "两次输入的密码不一致。"),
        ({"password1": "12345678", "password2": "12345678"}, "password1", "这个密码太常见了。"),
        ({"password1": "short", "password2": "short"}, "password1", "密码长度太短。"),
        ({"accept_terms": ""}, "accept_terms", "注册前须同意隐私政策。"),
    ],
)
def test_bad_sign_up_gets_a_specific_message_and_keeps_what_was_typed(
    client, overrides, field, message
):
    data = signup_data(**overrides)

    response = client.post(SIGNUP, data)

    assert response.status_code == 200
    errors = response.context["form"].errors[field]
    assert any(error.startswith(message) for error in errors), errors
    assert f'value="{data["login"]}"' in response.content.decode()
    assert not User.objects.exists()


def test_sign_up_errors_are_in_english_for_english_visitors(client):
    response = client.post(SIGNUP, signup_data(login="12345"), HTTP_ACCEPT_LANGUAGE="en")

    assert response.context["form"].errors["login"] == [
        "Enter a mainland China mobile number: 11 digits starting with 13-19."
    ]


def test_a_signed_in_customer_visiting_sign_up_goes_to_the_merchant_area(customer_client):
    assert customer_client.get(SIGNUP).url == MERCHANT_HOME


# --- login and logout ------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["mobile", "mobile_formatted", "email", "email_upper"])
def test_customers_log_in_with_mobile_or_email(client, customer, how):
    username = {
        "mobile": customer.mobile,
        "mobile_formatted": "+86 "
        + " ".join((customer.mobile[:3], customer.mobile[3:7], customer.mobile[7:])),
        "email": customer.email,
        "email_upper": customer.email.upper(),
    }[how]

    response = login(client, username)

    assert response.status_code == 302
    assert response.url == MERCHANT_HOME
    assert client.session[SESSION_KEY] == str(customer.pk)


def test_staff_log_in_with_username_and_land_in_the_admin(client, staff_user):
    response = login(client, staff_user.username)

    assert response.url == reverse("admin:index")


def test_a_wrong_password_is_refused_with_a_clear_message(client, customer):
    response = login(client, customer.mobile, "not-the-password")

    assert response.status_code == 200
    assert "手机号/邮箱或密码不正确" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_logging_in_rotates_the_session_key(client, customer):
    client.get(LOGIN)
    client.session.save()
    before = client.session.session_key

    login(client, customer.mobile)

    assert client.session.session_key != before


def test_inactive_accounts_cannot_log_in(client):
    user = factories.CustomerFactory(is_active=False)

    response = login(client, user.mobile)

    assert response.status_code == 200
    assert SESSION_KEY not in client.session


def test_logout_needs_a_post(customer_client):
    assert customer_client.get(reverse("accounts:logout")).status_code == 405

    response = customer_client.post(reverse("accounts:logout"))

    assert response.url == reverse("portal:home")
    assert SESSION_KEY not in customer_client.session


def test_repeated_failures_lock_the_login_out_even_with_the_right_password(client, customer):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, customer.mobile, "wrong-password")

    response = login(client, customer.mobile)

    assert response.status_code == 429
    body = response.content.decode()
    assert "登录失败次数过多" in body
    assert "请 30 分钟后再试" in body
    assert SESSION_KEY not in client.session


@pytest.mark.parametrize(
    "spelling", ["+86 {m}", "{m_spaced}", "{email_upper}", "１{m_tail}"], ids=str
)
def test_a_lockout_holds_however_the_login_is_retyped(client, customer, spelling):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, customer.mobile, "wrong-password")
    retyped = spelling.format(
        m=customer.mobile,
        m_spaced=f"{customer.mobile[:3]} {customer.mobile[3:7]} {customer.mobile[7:]}",
        email_upper=customer.email.upper(),
        m_tail=customer.mobile[1:],
    )

    response = login(client, retyped)

    assert response.status_code == 429
    assert SESSION_KEY not in client.session


def test_a_password_reset_lifts_the_lockout_and_revokes_the_api_token(client, customer):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, customer.mobile, "wrong-password")
    services.api_token_regenerate(user=customer)

    reset_password(client, customer, "a-new-pass-77")
    response = login(client, customer.mobile, "a-new-pass-77")

    assert response.status_code == 302
    assert not Token.objects.filter(user=customer).exists()


def test_a_staff_username_shaped_like_a_mobile_still_logs_in(client):
    staff = factories.StaffFactory(username="13700000000")

    response = login(client, "13700000000")

    assert response.url == reverse("admin:index")
    assert client.session[SESSION_KEY] == str(staff.pk)


def test_a_lockout_does_not_block_the_same_account_from_another_address(client, customer):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, customer.mobile, "wrong-password", REMOTE_ADDR="203.0.113.9")

    response = login(client, customer.mobile, REMOTE_ADDR="198.51.100.7")

    assert response.status_code == 302
    assert AccessAttempt.objects.filter(ip_address="203.0.113.9").exists()


def test_a_successful_login_resets_the_failure_count(client, customer):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        login(client, customer.mobile, "wrong-password")
    login(client, customer.mobile)
    client.logout()

    response = login(client, customer.mobile, "wrong-password")

    assert response.status_code == 200


# --- password reset and change ---------------------------------------------------------------


def reset_link(client, customer) -> str:
    client.post(reverse("accounts:password-reset"), {"email": customer.email.upper()})
    return re.search(r"http://testserver(/accounts/password/reset/\S+/)", mail.outbox[-1].body)[1]


def reset_password(client, customer, new_password):
    form_page = client.get(reset_link(client, customer), follow=True)
    assert form_page.context["validlink"] is True
    return client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": new_password, "new_password2": new_password},
    )


def test_password_reset_by_email_end_to_end(client, customer):
    response = client.post(reverse("accounts:password-reset"), {"email": customer.email.upper()})

    assert response.url == reverse("accounts:password-reset-done")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [customer.email]
    assert message.subject == "重置您的 POS 商户门户密码"
    assert message.alternatives[0][1] == "text/html"

    done = reset_password(client, customer, "a-new-pass-77")

    assert done.url == reverse("accounts:password-reset-complete")
    customer.refresh_from_db()
    assert customer.check_password("a-new-pass-77")


def test_a_reset_link_works_only_once(client, customer):
    link = reset_link(client, customer)
    form_page = client.get(link, follow=True)
    client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "a-new-pass-77", "new_password2": "a-new-pass-77"},
    )

    again = client.get(link, follow=True)

    assert again.context["validlink"] is False
    assert "此链接已失效" in again.content.decode()


def test_password_reset_for_an_unknown_address_looks_the_same_and_sends_nothing(client):
    response = client.post(reverse("accounts:password-reset"), {"email": "nobody@example.cn"})

    assert response.url == reverse("accounts:password-reset-done")
    assert mail.outbox == []


def test_password_change_keeps_the_customer_logged_in(customer_client, customer):
    response = customer_client.post(
        reverse("accounts:password-change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a-new-pass-77",
            "new_password2": "a-new-pass-77",
        },
    )

    assert response.url == MERCHANT_HOME
    customer.refresh_from_db()
    assert customer.check_password("a-new-pass-77")
    assert customer_client.get(MERCHANT_HOME).status_code == 200


# --- who may go where ------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in_from_the_merchant_area(client):
    response = client.get(MERCHANT_HOME)

    assert response.status_code == 302
    assert response.url == f"{LOGIN}?next={MERCHANT_HOME}"


def test_staff_are_refused_the_merchant_area(client, staff_user):
    client.force_login(staff_user)

    response = client.get(MERCHANT_HOME)

    assert response.status_code == 403
    assert "您无权访问此页面" in response.content.decode()


def test_a_new_customer_sees_that_no_merchant_exists_yet(customer_client):
    response = customer_client.get(MERCHANT_HOME)

    assert response.status_code == 200
    assert "尚未开通商户" in response.content.decode()


def test_a_merchant_sees_their_own_mid_and_status(client, merchant):
    other = factories.MerchantFactory()
    client.force_login(merchant.user)

    body = client.get(MERCHANT_HOME).content.decode()

    assert merchant.mid in body
    assert "待签约" in body
    assert other.mid not in body


def test_the_merchant_area_masks_the_login(customer_client, customer):
    body = customer_client.get(MERCHANT_HOME).content.decode()

    assert f"{customer.mobile[:3]}****{customer.mobile[-4:]}" in body
    assert customer.mobile not in body


def test_customers_cannot_enter_the_admin(customer_client):
    response = customer_client.get(reverse("admin:index"))

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_the_merchant_area_keeps_a_constant_number_of_queries(client, merchant, staff_user):
    client.force_login(merchant.user)
    serials = iter(range(10_000_000, 10_000_100))

    def one_more_terminal():
        serial = next(serials)
        services.terminal_assign(
            merchant=merchant,
            product=onboarding.product(),
            serial_number=f"SN{serial}",
            tid=str(serial)[:8],
            model="P2",
            actor=staff_user,
        )

    one_more_terminal()

    assert_constant_queries(lambda: client.get(MERCHANT_HOME), one_more_terminal)
