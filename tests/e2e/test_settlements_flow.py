"""The demo merchant, on a phone, finds out where their money is: a late payout on the
dashboard, the transactions of one terminal and channel, a CSV of them, and the late payout's
detail with what to quote to the bank; then the same pages in English."""

import csv
import io
import re

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from portal.management.commands.seed_demo import DEMO_MERCHANT_MOBILE, DEMO_PASSWORD
from settlements.models import Payout, Transaction
from tests.e2e.conftest import opened, scripts_ready
from tests.e2e.test_accounts_flow import field, open_menu

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TERMINAL = "10000002"


def test_the_demo_merchant_finds_a_late_payout_and_the_transactions_behind_it(
    page, screenshot, tmp_path
):
    call_command("seed_demo", allow_production=True, stdout=io.StringIO())
    late = list(Payout.objects.overdue().order_by("-settlement_date"))
    assert late, "the demo data has late payouts"

    # the merchant logs in and lands on the dashboard
    page.goto("/accounts/login/")
    field(page, "手机号或邮箱").fill(DEMO_MERCHANT_MOBILE)
    field(page, "密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_test_id("dashboard-figures")).to_be_visible()

    # every late payout has its banner, saying it is late
    banners = page.get_by_test_id("late-payout")
    expect(banners).to_have_count(len(late))
    expect(banners.first).to_contain_text("延迟")
    expect(page.get_by_test_id("recent-payouts")).to_be_visible()
    screenshot("dashboard-zh")

    # they look for the WeChat Pay takings of one terminal
    page.get_by_test_id("nav-transactions").click()
    expect(page.get_by_test_id("transaction-rows")).to_be_visible()
    scripts_ready(page)  # the filters open with Bootstrap's script
    page.get_by_test_id("toggle-filters").click()
    opened(page.get_by_test_id("filter-form"))
    page.get_by_label("支付方式").select_option("wechat_pay")
    page.get_by_label("终端号").fill(TERMINAL)
    page.get_by_test_id("apply-filters").click()

    wanted = Transaction.objects.filter(tid=TERMINAL, channel="wechat_pay")
    assert wanted.count() > 0
    expect(page.get_by_test_id("totals-count")).to_have_text(re.compile(rf"\b{wanted.count()}\b"))
    rows = page.get_by_test_id("transaction-row")
    expect(rows.first).to_contain_text(TERMINAL)
    assert all(TERMINAL in text and "微信" in text for text in rows.all_inner_texts())
    screenshot("transactions-zh")

    # the CSV export carries exactly the filtered transactions
    with page.expect_download() as download_info:
        page.get_by_test_id("export-csv").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".csv")
    path = tmp_path / "export.csv"
    download.save_as(path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("\ufeff"), "Excel needs the BOM to read Chinese"
    records = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    header, lines = records[0], records[1:]
    assert len(lines) == wanted.count()
    tid_column = next(i for i, name in enumerate(header) if name.startswith("终端号"))
    assert {line[tid_column] for line in lines} == {TERMINAL}

    # the latest late payout's detail says what to quote to the bank
    page.get_by_test_id("nav-payouts").click()
    page.get_by_test_id("only-late").click()
    expect(page.get_by_test_id("payout-row")).to_have_count(len(late))
    page.get_by_test_id("payout-row").first.locator("a").first.click()
    expect(page.get_by_test_id("payout-detail")).to_be_visible()
    expect(page.get_by_test_id("payout-late-help")).to_be_visible()
    expect(page.get_by_test_id("quote-to-bank")).to_contain_text(
        late[0].settlement_date.isoformat()
    )
    expect(page.get_by_test_id("payout-composition")).to_be_visible()
    expect(page.get_by_test_id("payout-timeline")).to_be_visible()
    account = page.get_by_test_id("payout-account").inner_text()
    assert "*" in account and not re.search(r"\d{8}", account), "the account number is masked"
    screenshot("payout-zh")

    # in English the same pages speak English
    open_menu(page)
    page.get_by_test_id("language-menu").click()
    page.get_by_role("button", name="English").click()
    expect(page.get_by_test_id("payout-late-help")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Payout")
    screenshot("payout-en")
    page.goto("/merchant/")
    expect(page.get_by_test_id("late-payout").first).to_contain_text("late")
    screenshot("dashboard-en")
