import re

import pytest
from playwright.sync_api import expect

from portal.models import User
from tests.e2e.conftest import opened, scripts_ready

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MOBILE = "13955556666"
PASSWORD = "a-strong-pass-1"


def field(page, label):
    # Crispy forms mark required fields with an asterisk inside the label.
    return page.get_by_label(re.compile(rf"^\s*{re.escape(label)}\s*\*?\s*$"))


def open_menu(page):
    # On a phone the navigation sits behind the toggler, which Bootstrap's script opens.
    scripts_ready(page)
    page.get_by_role("button", name=re.compile("菜单|Menu")).click()
    opened(page.locator("#nav-main"))


def log_out(page):
    open_menu(page)
    page.get_by_role("button", name=re.compile("退出登录|Log out")).click()
    # Wait for the logout to land on the home page before going anywhere else: a page
    # opened meanwhile would still see the session.
    # (The path alone: "/$" would also match /merchant/ and pass before the logout landed.)
    expect(page).to_have_url(re.compile(r"^https?://[^/]+/$"))
    expect(page.get_by_role("link", name=re.compile("^(登录|Log in)$")).first).to_be_attached(
        timeout=15_000
    )


def test_sign_up_log_in_and_see_the_merchant_area_in_chinese_and_english(page, screenshot):
    # given a visitor on the home page, in Chinese by default
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    screenshot("home-zh")

    # when they sign up with a mobile number
    page.get_by_role("link", name="注册账户").click()
    field(page, "手机号或邮箱").fill("+86 139 5555 6666")
    field(page, "密码").fill(PASSWORD)
    field(page, "确认密码").fill(PASSWORD)
    field(page, "我已阅读并同意隐私政策和服务条款").check()
    screenshot("signup-zh")
    page.get_by_role("button", name="注册账户").click()

    # then they are in the merchant area, signed in
    expect(page).to_have_url(re.compile("/merchant/$"))
    expect(page.get_by_role("alert")).to_contain_text("欢迎！您的账户已创建。")
    expect(page.get_by_role("heading", name="商户中心")).to_be_visible()
    expect(page.get_by_test_id("no-merchant-card")).to_contain_text("尚未开通商户")
    expect(page.get_by_test_id("account-login")).to_have_text("139****6666")
    screenshot("merchant-zh")
    assert User.objects.filter(mobile=MOBILE).count() == 1

    # when they log out and log in again
    log_out(page)
    page.goto("/accounts/login/")
    field(page, "手机号或邮箱").fill(MOBILE)
    field(page, "密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="商户中心")).to_be_visible()

    # when they switch to English
    open_menu(page)
    page.get_by_test_id("language-menu").click()
    page.get_by_role("button", name="English").click()

    # then the merchant area speaks English, and keeps doing so after logging in again
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Merchant area")).to_be_visible()
    expect(page.get_by_test_id("no-merchant-card")).to_contain_text("No merchant account yet")
    screenshot("merchant-en")
    log_out(page)
    page.goto("/accounts/login/")
    expect(page.get_by_role("link", name="Forgot your password?")).to_be_visible()
    field(page, "Mobile number or e-mail").fill(MOBILE)
    field(page, "Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Merchant area")).to_be_visible()


def test_a_wrong_password_says_so_and_keeps_the_login(page, customer, screenshot):
    page.goto("/accounts/login/")
    field(page, "手机号或邮箱").fill(customer.mobile)
    field(page, "密码").fill("not-the-password")
    page.get_by_role("button", name="登录").click()

    expect(page.get_by_text("手机号/邮箱或密码不正确。密码区分大小写。")).to_be_visible()
    expect(field(page, "手机号或邮箱")).to_have_value(customer.mobile)
    screenshot("login-error-zh")


def test_a_rejected_sign_up_keeps_what_was_typed(page, screenshot):
    page.goto("/accounts/signup/")
    field(page, "手机号或邮箱").fill("12345")
    field(page, "密码").fill(PASSWORD)
    field(page, "确认密码").fill("something-else-2")
    field(page, "我已阅读并同意隐私政策和服务条款").check()
    page.get_by_role("button", name="注册账户").click()

    expect(page.get_by_text("请输入中国大陆手机号：以13-19开头的11位数字。")).to_be_visible()
    expect(page.get_by_text("两次输入的密码不一致。")).to_be_visible()
    expect(field(page, "手机号或邮箱")).to_have_value("12345")
    screenshot("signup-errors-zh")
    assert not User.objects.exists()
