"""Staff groups. Each later app grants its own models' permissions in its own migration."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

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


def ensure_permissions(apps):
    # Permissions are normally created after all migrations have run; create them now so
    # the groups can be granted them in the same migration run on a fresh database.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None


def create_groups(apps, schema_editor):
    ensure_permissions(apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in GROUP_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=name)
        for dotted in codenames:
            app_label, codename = dotted.split(".")
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUP_PERMISSIONS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
