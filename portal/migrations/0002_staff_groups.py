"""Staff groups. Each later app grants its own models' permissions in its own migration."""

from django.db import migrations

from portal.migrations import _permissions

GROUP_PERMISSIONS = {
    # Reviews applications and documents: reads accounts and merchants.
    "reviewer": ["portal.view_user", "portal.view_merchant"],
    # Answers merchants: reads accounts and merchants.
    "support": ["portal.view_user", "portal.view_merchant"],
    # Suspends and reinstates merchants.
    "risk": ["portal.view_user", "portal.view_merchant", "portal.change_merchant"],
    # Watches payouts and ships terminals: reads merchants.
    "finance": ["portal.view_merchant"],
}


def create_groups(apps, schema_editor):
    _permissions.grant(apps, GROUP_PERMISSIONS)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUP_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
