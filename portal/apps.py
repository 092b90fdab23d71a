from django.apps import AppConfig
from django.apps import apps as global_apps
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def sync_staff_groups(sender, apps=global_apps, **kwargs):
    # migrate passes the migrated state's apps; flush (tests) passes none.
    from portal.staff_groups import staff_groups_sync

    staff_groups_sync(apps)


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("Merchants and onboarding")

    def ready(self):
        # After every migrate, and after a test database is flushed: groups get the
        # permissions of models created since their data migration ran.
        post_migrate.connect(sync_staff_groups, sender=self)
