from django.apps import AppConfig
from django.apps import apps as global_apps
from django.core import checks
from django.db.models.signals import post_migrate


def sync_staff_groups(sender, apps=global_apps, **kwargs):
    # migrate passes the migrated state's apps; flush (tests) passes none.
    # Here, not at the top: core.staff reads auth models, which do not exist while apps load.
    from core.staff import staff_groups_sync

    staff_groups_sync(apps)


def check_visibility_timeout(app_configs, **kwargs):
    # Here, not at the top: core.jobs reads the job models, which do not exist while apps load.
    from core.jobs import visibility_timeout_problem

    problem = visibility_timeout_problem()
    return [checks.Error(problem, id="core.E001")] if problem else []


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core"

    def ready(self):
        # After every migrate, and after a test database is flushed: groups get the
        # permissions of models created since their data migration ran.
        post_migrate.connect(sync_staff_groups, sender=self)
        checks.register(check_visibility_timeout)
