import io
import re

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from portal.models import Application, Merchant
from tests import factories
from tests import onboarding as data
from tests.e2e.conftest import scripts_ready, watch_for_csp_violations
from tests.e2e.test_accounts_flow import field
from tests.factories import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def log_in(page, login):
    page.goto("/accounts/login/")
    field(page, "手机号或邮箱").fill(login)
    field(page, "密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()


def admin_log_in(page, username):
    page.goto("/admin/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("input[type=submit]").click()


def continue_(page):
    page.get_by_role("button", name=re.compile("保存并继续")).click()


def photo(slot: str) -> dict:
    """A phone photo as the browser hands it over (any real JPEG/PNG would do)."""
    image = Image.new("RGB", (640, 400), (240, 240, 250))
    ImageDraw.Draw(image).rectangle((40, 40, 600, 360), outline=(0, 0, 0), width=4)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return {"name": f"IMG_{slot}.jpg", "mimeType": "image/jpeg", "buffer": buffer.getvalue()}


def test_apply_review_fix_and_become_a_merchant(
    browser, live_server, page, screenshot, contract_template
):
    # given a terminal on sale, an applicant and a reviewer
    data.product("mpos")
    applicant = factories.CustomerFactory(mobile="13912340000", email="li@example.cn")
    reviewer = factories.StaffFactory(username="shenhe", group="reviewer")

    # the applicant picks a terminal
    log_in(page, applicant.mobile)
    page.goto("/products/")
    page.get_by_role("button", name="申请此终端").click()

    # step 1: identity, with a mistake first
    expect(page.get_by_role("heading", name="身份信息")).to_be_visible()
    page.get_by_label("个人（无营业执照）").check()
    field(page, "姓名").fill("李小龙")
    field(page, "身份证号码").fill(data.resident_id()[:-1] + "0")
    field(page, "证件有效期起").fill("2020-01-01")
    field(page, "证件有效期止").fill("2040-01-01")
    continue_(page)
    expect(page.get_by_text("其余内容已保存")).to_be_visible()
    expect(page.get_by_text("最后一位校验码与前17位不符", exact=False)).to_be_visible()
    screenshot("identity-error")
    field(page, "身份证号码").fill(data.resident_id())
    continue_(page)

    # step 2: business, with the cascading region selects
    expect(page.get_by_role("heading", name="经营信息")).to_be_visible()
    scripts_ready(page)  # static/js/regions.js fills the cities once a province is chosen
    field(page, "经营名称").fill("小龙便利店")
    field(page, "省份").select_option("31")
    field(page, "城市").select_option("3101")
    field(page, "区县").select_option("310104")
    field(page, "详细地址").fill("漕溪北路 1 号")
    field(page, "经营类别").select_option("5411")
    field(page, "预计月刷卡交易额（元）").fill("80000")
    screenshot("business")
    continue_(page)

    # step 3: settlement card, recognised from its BIN
    expect(page.get_by_role("heading", name="结算账户")).to_be_visible()
    field(page, "卡号或账号").fill(data.debit_card())
    field(page, "开户支行").fill("上海徐汇支行")
    field(page, "账户名").fill("李小龙")
    continue_(page)

    # step 4: terminal and delivery
    expect(page.get_by_role("heading", name="终端与收货")).to_be_visible()
    field(page, "寄到经营地址，收件人为本人").check()
    continue_(page)

    # documents: photos taken with the phone, each uploaded as soon as it is chosen
    expect(page.get_by_role("heading", name="资料")).to_be_visible()
    for slot in ("id_front", "id_back", "holding_id", "bank_card"):
        # Each upload reloads the page: the slot shows 已上传 before static/js/uploads.js
        # listens again, and a photo chosen before that would never be sent.
        scripts_ready(page)
        page.get_by_test_id(f"file-{slot}").set_input_files(photo(slot))
        # Shrinking, uploading and re-encoding a photo takes seconds on a busy 2-core machine.
        expect(page.get_by_test_id(f"slot-{slot}")).to_contain_text("已上传", timeout=20_000)
    screenshot("documents")
    page.get_by_role("link", name=re.compile("继续确认提交")).click()

    # review and submit
    expect(page.get_by_text("中国工商银行")).to_be_visible()
    expect(page.get_by_text(data.resident_id())).to_have_count(0)
    screenshot("review")
    page.get_by_role("button", name="提交申请").click()
    expect(page.get_by_test_id("application-status")).to_have_text("已提交")
    application = Application.objects.get(applicant=applicant)

    # the reviewer asks for a correction in the admin
    staff_context = browser.new_context(
        base_url=live_server.url, locale="zh-CN", viewport={"width": 1280, "height": 900}
    )
    staff = staff_context.new_page()
    staff_refused = watch_for_csp_violations(staff)
    admin_log_in(staff, reviewer.username)
    staff.goto(f"/admin/portal/application/{application.pk}/change/")
    staff.get_by_role("button", name="开始审核").click()
    expect(staff.get_by_test_id("admin-status")).to_have_text("审核中")
    staff.locator("#id_info-0-item").select_option("business_name")
    staff.locator("#id_info-0-reason").fill("与门头招牌不一致")
    staff.get_by_role("button", name="退回补充资料").click()
    expect(staff.get_by_test_id("admin-status")).to_have_text("待补充资料")

    # the applicant sees why, fixes only that, and sends it again
    page.goto("/merchant/")
    expect(page.get_by_test_id("unread-count")).to_be_visible()
    page.goto(f"/applications/{application.public_id}/")
    expect(page.get_by_test_id("needs-info")).to_contain_text("与门头招牌不一致")
    page.get_by_role("link", name="修改并重新提交").click()
    expect(field(page, "姓名")).to_have_count(0)
    field(page, "经营名称").fill("小龙超市")
    screenshot("fix")
    page.get_by_role("button", name="提交修改").click()
    expect(page.get_by_test_id("application-status")).to_have_text("已提交")

    # the reviewer approves
    staff.reload()
    staff.get_by_role("button", name="开始审核").click()
    staff.get_by_role("button", name="批准并创建商户").click()
    expect(staff.get_by_test_id("admin-status")).to_have_text("已批准")
    staff_context.close()

    # the applicant is now a merchant
    merchant = Merchant.objects.get(user=applicant)
    page.goto("/merchant/")
    expect(page.get_by_test_id("merchant-card")).to_contain_text(merchant.mid)
    expect(page.get_by_test_id("merchant-card")).to_contain_text("小龙超市")
    screenshot("merchant")
    page.get_by_test_id("notifications-link").click()
    expect(page.get_by_text(f"申请 {application.number} 已批准")).to_be_visible()
    assert staff_refused == [], "the Content-Security-Policy blocked something the admin needs"
