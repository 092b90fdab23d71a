import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from portal import services
from portal.models import Contract, Merchant, Terminal
from tests import factories
from tests import onboarding as data
from tests.e2e.conftest import scripts_ready, watch_for_csp_violations
from tests.e2e.test_accounts_flow import field
from tests.e2e.test_onboarding_flow import admin_log_in, log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def draw_signature(page):
    pad = page.get_by_test_id("signature-pad")
    pad.scroll_into_view_if_needed()  # the mouse only reaches what is on screen
    box = pad.bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + box["height"] * 0.7)
    page.mouse.down()
    for step in range(1, 12):
        x = box["x"] + 20 + step * (box["width"] - 40) / 11
        y = box["y"] + box["height"] * (0.3 if step % 2 else 0.7)
        page.mouse.move(x, y, steps=4)
    page.mouse.up()


def test_sign_the_contract_receive_the_terminal_and_activate_it(
    browser, live_server, page, screenshot, contract_template
):
    # given an approved applicant with a contract to sign, and a finance clerk
    reviewer = factories.StaffFactory(group="reviewer")
    applicant = factories.CustomerFactory(email="li@example.cn")
    application = data.in_review(reviewer, applicant)
    services.application_approve(application=application, reviewer=reviewer)
    merchant = Merchant.objects.get(user=applicant)
    finance = factories.StaffFactory(username="caiwu", group="finance")

    # the merchant opens the contract from the merchant area
    log_in(page, applicant.mobile)
    page.get_by_test_id("sign-contract").click()
    expect(page.get_by_test_id("contract-status")).to_have_text("待签署")
    expect(page.get_by_text("特约商户收单服务协议").first).to_be_visible()
    scripts_ready(page)  # the signature pad and the code button are static/js/signature.js's

    # a wrong name is refused and nothing is lost
    field(page, "您的姓名（与身份证一致）").fill("李大龙")
    draw_signature(page)
    field(
        page, "我已阅读全部合同条款，同意其内容，并同意以电子方式签署，与手写签名具有同等效力。"
    ).check()
    page.get_by_role("button", name="获取验证码").click()
    expect(page.locator("#code-status")).to_contain_text("验证码已发送至")
    code = re.search(r"\b(\d{6})\b", mail.outbox[-1].body)[1]
    field(page, "验证码").fill(code)
    page.get_by_role("button", name="签署合同").click()
    expect(page.get_by_text("请输入与身份证完全一致的姓名。")).to_be_visible()
    expect(field(page, "验证码")).to_have_value(code)

    # with the right name it is signed
    field(page, "您的姓名（与身份证一致）").fill("李小龙")
    screenshot("sign")
    page.get_by_role("button", name="签署合同").click()
    expect(page.get_by_test_id("contract-status")).to_have_text("已签署")
    contract = Contract.objects.get(merchant=merchant)
    expect(page.get_by_test_id("signed-sha256")).to_have_text(contract.signed_sha256)
    screenshot("signed")

    # finance assigns a terminal and ships it in the admin
    staff_context = browser.new_context(
        base_url=live_server.url, locale="zh-CN", viewport={"width": 1280, "height": 900}
    )
    staff = staff_context.new_page()
    staff_refused = watch_for_csp_violations(staff)
    admin_log_in(staff, finance.username)
    staff.goto("/admin/portal/terminal/add/")
    staff.locator("#id_merchant").fill(str(merchant.pk))
    staff.locator("#id_product").select_option(str(application.product_id))
    staff.locator("#id_serial_number").fill("SN20261126001")
    staff.locator("#id_tid").fill("12345678")
    staff.locator("#id_model").fill("P2 Pro")
    staff.locator("input[name=_save]").click()
    terminal = Terminal.objects.get(merchant=merchant)
    staff.goto(f"/admin/portal/terminal/{terminal.pk}/change/")
    staff.get_by_role("button", name="→ 待发货").click()
    staff.locator("input[name=carrier][form=move-shipped]").fill("顺丰速运")
    staff.locator("input[name=tracking_number][form=move-shipped]").fill("SF1234567890")
    staff.get_by_role("button", name="标记为已发货").click()
    expect(staff.get_by_text("终端 12345678 已更新。")).to_be_visible()
    staff_context.close()

    # the merchant follows the delivery and activates the terminal with the code in the box
    page.goto("/merchant/terminals/")
    card = page.get_by_test_id("terminal-12345678")
    expect(card.get_by_test_id("terminal-status")).to_have_text("已发货")
    expect(card).to_contain_text("SF1234567890")
    terminal.refresh_from_db()
    card.get_by_label("激活码（见包装盒内标签）").fill(terminal.activation_code)
    card.get_by_role("button", name="激活").click()
    expect(page.get_by_text("终端 12345678 已激活，现在可以收款了。")).to_be_visible()
    expect(card.get_by_test_id("terminal-status")).to_have_text("已激活")
    screenshot("terminal-active")
    page.goto("/merchant/")
    expect(page.get_by_test_id("merchant-card")).to_contain_text("已开通")
    assert staff_refused == [], "the Content-Security-Policy blocked something the admin needs"
