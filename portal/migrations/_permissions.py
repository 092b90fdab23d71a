"""Granting permissions to staff groups from data migrations (each app grants its own)."""

from django.contrib.auth.management import create_permissions


def ensure_permissions(apps) -> None:
    # Permissions are normally created after all migrations have run; create them now so a
    # fresh database can grant them in the same run.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None


def _permission(apps, dotted: str):
    app_label, codename = dotted.split(".")
    return apps.get_model("auth", "Permission").objects.get(
        content_type__app_label=app_label, codename=codename
    )


def grant(apps, grants: dict[str, list[str]]) -> None:
    ensure_permissions(apps)
    Group = apps.get_model("auth", "Group")
    for name, dotted_names in grants.items():
        group, _created = Group.objects.get_or_create(name=name)
        group.permissions.add(*(_permission(apps, dotted) for dotted in dotted_names))


def revoke(apps, grants: dict[str, list[str]]) -> None:
    Group = apps.get_model("auth", "Group")
    for name, dotted_names in grants.items():
        group = Group.objects.filter(name=name).first()
        if group:
            group.permissions.remove(*(_permission(apps, dotted) for dotted in dotted_names))
