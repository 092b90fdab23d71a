"""What an app declares in its own modules reaches the wiring with no edit to portal: the
fake app in tests/fakeapp declares one of everything, and adding it to PROJECT_APPS (one line
in the settings) is all it takes. The real apps' parts come the same way."""

import pytest
from django.conf import settings
from django.test import RequestFactory, override_settings
from django.urls import reverse

from core import notifications, registry
from core.panels import merchant_home_panels
from core.staff import staff_permissions
from portal.celery import app as celery_app


@pytest.fixture
def fake_app():
    with override_settings(
        INSTALLED_APPS=[*settings.INSTALLED_APPS, "tests.fakeapp"],
        PROJECT_APPS=[*settings.PROJECT_APPS, "tests.fakeapp"],
    ):
        yield


def test_an_apps_pages_are_collected(fake_app):
    includes = [pattern.urlconf_name for pattern in registry.app_urlpatterns(root="portal.urls")]

    assert [module.__name__ for module in includes][-1] == "tests.fakeapp.urls"


def test_the_collecting_module_is_not_included_in_itself():
    includes = [pattern.urlconf_name for pattern in registry.app_urlpatterns(root="portal.urls")]

    assert [module.__name__ for module in includes] == ["settlements.urls"]


def test_an_apps_api_routes_are_collected(fake_app):
    names = [pattern.name for pattern in registry.api_urlpatterns()]

    assert names[-1] == "fake"
    assert "payout-list" in names


def test_an_apps_notification_texts_are_collected(fake_app):
    rendered = notifications.render("fake_happened", {"what": "done"})

    assert (rendered.title, rendered.body) == ("Fake done", "It was done.")


def test_notification_texts_of_a_removed_app_are_forgotten(fake_app):
    assert notifications.known("fake_happened")

    with override_settings(PROJECT_APPS=list(settings.PROJECT_APPS[:-1])):
        assert not notifications.known("fake_happened")


def test_an_apps_staff_permissions_join_its_group(fake_app):
    assert "fakeapp.view_thing" in staff_permissions()["support"]
    assert "fakeapp.view_thing" not in staff_permissions()["finance"]


def test_an_apps_beat_entries_are_collected(fake_app):
    schedule = registry.merged("tasks", "BEAT_SCHEDULE")

    assert schedule["fake-sweep"]["task"] == "fakeapp.sweep_task"
    assert schedule["heartbeat"]["task"] == "portal.heartbeat_task"


def test_beat_runs_every_apps_entries():
    celery_app.finalize()

    assert {"heartbeat", "contracts-remind-and-expire", "purge-login-logs"} <= set(
        celery_app.conf.beat_schedule
    )


@pytest.mark.django_db
def test_an_apps_merchant_home_panel_is_shown_when_it_has_something(fake_app, customer):
    request = RequestFactory().get("/merchant/", {"fake": "1"})
    request.user = customer

    shown = merchant_home_panels(request)

    assert [(panel.template, panel.context) for panel in shown] == [
        ("fakeapp/panel.html", {"fake": True})
    ]


@pytest.mark.django_db
def test_a_panel_with_nothing_to_show_is_left_out(fake_app, customer):
    request = RequestFactory().get("/merchant/")
    request.user = customer

    assert merchant_home_panels(request) == []


@pytest.mark.django_db
def test_an_apps_demo_seeding_is_collected(fake_app, merchant):
    seeds = dict(registry.declarations("demo", "seed_demo"))

    assert seeds["fakeapp"](merchant=merchant) == [f"  fake demo for {merchant.mid}"]
    assert "settlements" in seeds


def test_two_apps_declaring_the_same_thing_is_refused(fake_app, monkeypatch):
    from tests.fakeapp import notifications as fake_texts  # the module the test changes

    monkeypatch.setitem(
        fake_texts.TEXTS, "application_submitted", fake_texts.TEXTS["fake_happened"]
    )

    with pytest.raises(ValueError, match="application_submitted"):
        registry.merged("notifications", "TEXTS")


def test_the_real_apps_declare_their_own_parts():
    assert reverse("api:payout-list") == "/api/v1/payouts/"
    assert reverse("settlements:payout-list") == "/merchant/payouts/"
    assert "settlements.view_payout" in staff_permissions()["support"]
    assert "portal.view_application" in staff_permissions()["reviewer"]
    assert notifications.known("application_approved")
