"""
The staff groups and what each may do. The groups are the project's; the permissions are
declared by each app in its ``staff.py`` (``STAFF_PERMISSIONS = {group: ["app.codename", …]}``)
and merged here. ``staff_groups_sync`` applies them after every ``migrate`` (and after a test
database is flushed), so a group never lacks what it is meant to have. It only adds: a
permission granted by hand in the admin is left alone.
"""

from django.contrib.auth.management import create_permissions

from core import registry

# Who works in the admin, and what for.
STAFF_GROUPS = {
    "reviewer": "reviews applications and documents and decides them",
    "support": "answers merchants: accounts, terminals, transactions, payouts, tickets",
    "risk": "suspends and reinstates merchants, investigates",
    "finance": "keeps the catalogue and prices, ships terminals, reconciles, keeps the calendar",
}


# What staff may do with the background jobs (core/jobs.py): everyone sees them, finance,
# who runs the imports, retries them.
STAFF_PERMISSIONS: dict[str, list[str]] = {
    "support": ["core.view_job", "core.view_jobevent"],
    "risk": ["core.view_job", "core.view_jobevent"],
    "finance": ["core.view_job", "core.view_jobevent", "core.retry_job"],
}


def staff_permissions() -> dict[str, list[str]]:
    """Every group's permissions, from every app, as "app_label.codename"."""
    table: dict[str, list[str]] = {group: [] for group in STAFF_GROUPS}
    for label, declared in registry.declarations("staff", "STAFF_PERMISSIONS"):
        for group, permissions in declared.items():
            if group not in table:
                raise ValueError(f"{label}.staff names a group that does not exist: {group}")
            table[group].extend(permissions)
    return table


def staff_groups_sync(apps) -> None:
    """Create the groups and grant them their permissions (those whose models exist in
    ``apps`` yet: a migration may run before later models are created). Safe to repeat."""
    # Permissions are normally created after all migrations have run; create them now so
    # that a migration on a fresh database can grant them.
    # (create_permissions skips an app config without models_module, which the historical
    # configs a migration sees never have.)
    for app_config in apps.get_app_configs():
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = models_module or True
        try:
            create_permissions(app_config, apps=apps, verbosity=0)
        finally:
            app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, dotted_names in staff_permissions().items():
        group, _created = Group.objects.get_or_create(name=name)
        wanted = [tuple(dotted.split(".")) for dotted in dotted_names]
        permissions = [
            permission
            for permission in Permission.objects.filter(
                content_type__app_label__in={app for app, _codename in wanted}
            ).select_related("content_type")
            if (permission.content_type.app_label, permission.codename) in wanted
        ]
        group.permissions.add(*permissions)
