"""The staff groups reviewer, support, risk and finance, with the permissions in
each app's staff.py (core/staff.py applies them again after every migrate as later apps add models)."""

from django.db import migrations

from core.staff import STAFF_GROUPS, staff_groups_sync


def create_groups(apps, schema_editor):
    staff_groups_sync(apps)


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=STAFF_GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
