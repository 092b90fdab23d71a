"""What each staff group may do with onboarding: reviewers decide applications, finance keeps
the catalogue and its prices, support and risk read."""

from django.db import migrations

from portal.migrations import _permissions

GRANTS = {
    "reviewer": [
        "portal.view_application",
        "portal.review_application",
        "portal.view_feeschedule",
        "portal.view_terminalproduct",
    ],
    "support": ["portal.view_application", "portal.view_terminalproduct"],
    "risk": ["portal.view_application"],
    "finance": [
        "portal.view_application",
        "portal.view_feeschedule",
        "portal.add_feeschedule",
        "portal.change_feeschedule",
        "portal.view_terminalproduct",
        "portal.add_terminalproduct",
        "portal.change_terminalproduct",
    ],
}


def grant(apps, schema_editor):
    _permissions.grant(apps, GRANTS)


def revoke(apps, schema_editor):
    _permissions.revoke(apps, GRANTS)


class Migration(migrations.Migration):
    dependencies = [("portal", "0004_onboarding")]

    operations = [migrations.RunPython(grant, revoke)]
