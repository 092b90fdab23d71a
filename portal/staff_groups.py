"""
The staff groups and what each may do: one table for the whole portal. Every app's
permissions are listed here; ``staff_groups_sync`` applies the table after every ``migrate``
(and after a test database is flushed), so a group never lacks what it is meant to have.
It only adds: a permission granted by hand in the admin is left alone.
"""

from django.contrib.auth.management import create_permissions

STAFF_GROUPS: dict[str, list[str]] = {
    # Reviews applications and documents and decides them.
    "reviewer": [
        "portal.view_user",
        "portal.view_merchant",
        "portal.view_application",
        "portal.review_application",
        "portal.view_feeschedule",
        "portal.view_terminalproduct",
        "portal.view_applicationdocument",
        "portal.view_contract",
        "portal.view_contracttemplate",
    ],
    # Answers merchants: reads accounts, merchants and applications.
    "support": [
        "portal.view_user",
        "portal.view_merchant",
        "portal.view_application",
        "portal.view_terminalproduct",
        "portal.view_contract",
        "portal.view_terminal",
        # Customer service lets a merchant on the phone retry a terminal's activation code.
        "portal.unlock_activation_terminal",
        # "Where is my money?": the transactions and payouts a merchant asks about.
        "settlements.view_transaction",
        "settlements.view_payout",
        "settlements.view_calendarday",
    ],
    # Suspends and reinstates merchants; reads applications for investigations.
    "risk": [
        "portal.view_user",
        "portal.view_merchant",
        "portal.change_merchant",
        "portal.view_application",
        "portal.view_applicationdocument",
        "portal.view_contract",
        "portal.view_terminal",
        "portal.export_merchant_file",
        "settlements.view_transaction",
        "settlements.view_payout",
    ],
    # Keeps the catalogue and its prices, watches payouts, ships terminals.
    "finance": [
        "portal.view_merchant",
        "portal.view_application",
        "portal.view_feeschedule",
        "portal.add_feeschedule",
        "portal.change_feeschedule",
        "portal.view_terminalproduct",
        "portal.add_terminalproduct",
        "portal.change_terminalproduct",
        "portal.view_contract",
        "portal.add_contract",
        "portal.countersign_contract",
        "portal.view_contracttemplate",
        "portal.add_contracttemplate",
        "portal.change_contracttemplate",
        "portal.view_terminal",
        "portal.add_terminal",
        "portal.change_terminal",
        "portal.unlock_activation_terminal",
        # Settlements: the ledger is read-only; finance keeps the calendar and reconciles.
        "settlements.view_transaction",
        "settlements.view_payout",
        "settlements.view_calendaryear",
        "settlements.view_calendarday",
        "settlements.add_calendarday",
        "settlements.change_calendarday",
        "settlements.delete_calendarday",
        "settlements.view_reconciliationrun",
        "settlements.add_reconciliationrun",
        "settlements.view_discrepancy",
        "settlements.change_discrepancy",
    ],
}


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
    for name, dotted_names in STAFF_GROUPS.items():
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
