import gettext
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone, translation
from django.views.defaults import server_error

from tests.helpers import REPO

pytestmark = pytest.mark.django_db

CATALOGUE = REPO / "locale" / "zh_Hans" / "LC_MESSAGES"


def test_the_site_speaks_chinese_by_default(client):
    body = client.get(reverse("portal:home")).content.decode()

    assert '<html lang="zh-hans">' in body
    assert "刷卡、扫码收款" in body
    assert "登录" in body


def test_a_chinese_browser_gets_chinese(client):
    body = client.get(reverse("portal:home"), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9").content

    assert "刷卡、扫码收款" in body.decode()


def test_an_english_browser_gets_english(client):
    body = client.get(reverse("portal:home"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.8").content

    assert "Take card and QR payments" in body.decode()


def test_the_language_switcher_remembers_the_choice(client):
    response = client.post(
        reverse("set_language"), {"language": "en", "next": reverse("accounts:login")}
    )

    assert response.status_code == 302
    assert response.url == reverse("accounts:login")
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert "Forgot your password?" in client.get(response.url).content.decode()


def test_pages_are_built_for_phones(client):
    body = client.get(reverse("accounts:login")).content.decode()

    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in body
    assert 'class="navbar-toggler"' in body


@pytest.mark.parametrize("url_name", ["portal:home", "accounts:login", "accounts:signup"])
def test_pages_load_nothing_from_other_sites(client, url_name):
    body = client.get(reverse(url_name)).content.decode()

    external = re.findall(r'(?:src|href)="((?:https?:)?//[^"]+)"', body)
    assert external == []
    for asset in re.findall(r'(?:src|href)="/static/([^"]+)"', body):
        assert finders.find(asset), f"{asset} is referenced but not vendored in static/"


def test_flash_messages_are_shown_once(client):
    client.post(
        reverse("accounts:signup"),
        {
            "login": "13911112222",
            "password1": "a-strong-pass-1",
            "password2": "a-strong-pass-1",
            "accept_terms": "on",
        },
    )

    first = client.get(reverse("portal:merchant-home")).content.decode()
    second = client.get(reverse("portal:merchant-home")).content.decode()

    assert "欢迎！您的账户已创建。" in first
    assert "欢迎！您的账户已创建。" not in second


@pytest.mark.parametrize(
    ("language", "text"), [("zh-hans", "页面不存在"), ("en", "Page not found")]
)
def test_404_page_in_both_languages(client, language, text):
    response = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE=language)

    assert response.status_code == 404
    assert text in response.content.decode()


@pytest.mark.parametrize(
    ("language", "text"),
    [("zh-hans", "我们这边出了点问题"), ("en", "Something went wrong on our side")],
)
def test_500_page_in_both_languages_needs_no_request_context(language, text):
    with translation.override(language):
        response = server_error(RequestFactory().get("/"))

    assert response.status_code == 500
    assert text in response.content.decode()


def test_403_page_in_english(client, staff_user):
    client.force_login(staff_user)

    response = client.get(reverse("portal:merchant-home"), HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 403
    assert "You do not have access to this page" in response.content.decode()


def test_an_expired_form_explains_itself_instead_of_a_bare_csrf_error():
    client = Client(enforce_csrf_checks=True)

    response = client.post(reverse("accounts:login"), {"username": "x", "password": "y"})

    assert response.status_code == 403
    assert "此页面已过期" in response.content.decode()


def test_every_message_has_a_chinese_translation():
    entries = parse_po(CATALOGUE / "django.po")

    untranslated = [msgid for msgid, (msgstr, fuzzy) in entries.items() if not msgstr or fuzzy]
    assert untranslated == []


def test_the_compiled_catalogue_matches_its_source():
    # The .mo is shipped; a .po edited without `make messages` would not show on the site.
    with (CATALOGUE / "django.mo").open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    entries = parse_po(CATALOGUE / "django.po")

    stale = [
        msgid
        for msgid, (msgstr, _fuzzy) in entries.items()
        if "\x00" not in msgid and compiled.gettext(msgid) != msgstr
    ]
    assert stale == []


def parse_po(path: Path) -> dict[str, tuple[str, bool]]:
    """msgid → (msgstr, fuzzy) for a .po file; plural entries are keyed "singular\\x00plural",
    entries with a context "context\\x04msgid"."""
    entries = {}
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        lines = block.splitlines()
        fuzzy = any(line.startswith("#,") and "fuzzy" in line for line in lines)
        fields, current = {}, None
        for line in lines:
            if match := re.match(r'(msgctxt|msgid_plural|msgid|msgstr(?:\[0\])?) "(.*)"$', line):
                current = match.group(1)
                fields[current] = unescape(match.group(2))
            elif line.startswith('"') and current:
                fields[current] += unescape(line[1:-1])
        if not fields.get("msgid"):
            continue  # the header
        msgid = fields["msgid"]
        if "msgctxt" in fields:
            # Stored in the .mo as "context\x04msgid", so the compiled lookup finds it.
            msgid = fields["msgctxt"] + "\x04" + msgid
        if "msgid_plural" in fields:
            msgid += "\x00" + fields["msgid_plural"]
        entries[msgid] = (fields.get("msgstr", fields.get("msgstr[0]", "")), fuzzy)
    return entries


def unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


def test_english_pages_show_iso_dates(customer_client, customer):
    body = customer_client.get(reverse("portal:merchant-home"), HTTP_ACCEPT_LANGUAGE="en")

    assert f"{timezone.localdate(customer.date_joined):%Y-%m-%d}" in body.content.decode()
