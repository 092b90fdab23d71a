from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def seed_calendar(sender, **kwargs):
    # After every migrate (and after tests flush the database): years the holiday library
    # has learned since the last run are added; years already present are left untouched.
    # Here, not at the top: services import models, which do not exist while apps load.
    from settlements.services import calendar_seed_from_library

    calendar_seed_from_library()


class SettlementsConfig(AppConfig):
    name = "settlements"
    verbose_name = _("Settlements")

    def ready(self):
        post_migrate.connect(seed_calendar, sender=self)
