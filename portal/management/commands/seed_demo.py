from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from core import registry
from core.staff import STAFF_GROUPS
from portal import demo
from portal.contract_defaults import default_template_ensure
from portal.models import ContractTemplate, Merchant, User

# Printed by the command and by `make run`; never valid outside a demo database.
DEMO_PASSWORD = "demo-pass-2026"

DEMO_MERCHANT_MOBILE = "13800138000"
DEMO_MERCHANT_EMAIL = "merchant@demo.pos-portal.local"
DEMO_MERCHANT_NAME = "演示便利店 Demo Store"
# The demo merchant's second and third terminals: (serial, TID, product, model).
DEMO_TERMINALS = [
    ("DEMO00000002", "10000002", "smart", "DEMO-S1"),
    ("DEMO00000003", "10000003", "qr-stand", "DEMO-Q1"),
]


class Command(BaseCommand):
    help = (
        "Create the demo logins (a superuser, one staff user per group, a merchant, applicants "
        "with applications in every status) and the terminal catalogue, and print the logins. "
        "Safe to run again: it keeps what is there and resets the demo passwords."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Seed even though DEBUG is false (demo passwords are public: think twice).",
        )

    def handle(self, *args, allow_production=False, **options):
        if not settings.DEBUG and not allow_production:
            raise CommandError(
                "Refusing to create demo accounts with well-known passwords while DEBUG is "
                "false. Pass --allow-production if this really is a demo installation."
            )
        with transaction.atomic():
            logins = [self.seed_superuser(), *self.seed_staff()]
            demo.seed_catalogue()
            default_template_ensure(ContractTemplate)
            reviewer = User.objects.get(username="reviewer")
            today = timezone.localdate()
            logins.append(self.seed_merchant(reviewer=reviewer, today=today))
            summary = self.seed_apps()
            logins += demo.seed_applications(reviewer=reviewer, today=today, password=DEMO_PASSWORD)
        self.print_logins(logins)
        for line in summary:
            self.stdout.write(line)

    def seed_superuser(self) -> tuple[str, str]:
        self.upsert_user(
            "admin", is_staff=True, is_superuser=True, email="admin@demo.pos-portal.local"
        )
        return ("admin", "superuser, /admin/")

    def seed_staff(self) -> list[tuple[str, str]]:
        logins = []
        for name in STAFF_GROUPS:
            user = self.upsert_user(name, is_staff=True, is_superuser=False)
            user.groups.set([Group.objects.get(name=name)])
            logins.append((name, f"staff, group {name}, /admin/"))
        return logins

    def seed_merchant(self, *, reviewer: User, today) -> tuple[str, str]:
        user = self.upsert_user(
            DEMO_MERCHANT_MOBILE,
            is_staff=False,
            is_superuser=False,
            mobile=DEMO_MERCHANT_MOBILE,
            email=DEMO_MERCHANT_EMAIL,
            first_name="大伟",
            last_name="王",
        )
        demo.seed_merchant_application(
            user=user, name="王大伟", business=DEMO_MERCHANT_NAME, reviewer=reviewer, today=today
        )
        merchant = Merchant.objects.get(user=user)
        demo.make_merchant_active(
            merchant,
            staff=User.objects.get(username="finance"),
            serial="DEMO00000001",
            tid="10000001",
        )
        return (DEMO_MERCHANT_MOBILE, f"active merchant {merchant.mid}, /merchant/")

    def seed_apps(self) -> list[str]:
        """Three terminals, then what every other app seeds for the demo merchant (its
        ``demo.seed_demo``: ninety days of payments and payouts…); the lines to print."""
        merchant = Merchant.objects.get(user__mobile=DEMO_MERCHANT_MOBILE)
        finance = User.objects.get(username="finance")
        for serial, tid, product, model in DEMO_TERMINALS:
            demo.add_terminal(
                merchant, staff=finance, product_code=product, serial=serial, tid=tid, model=model
            )
        return [
            line
            for _label, seed in registry.declarations("demo", "seed_demo")
            for line in seed(merchant=merchant)
        ]

    def upsert_user(self, username: str, **fields) -> User:
        user, _created = User.objects.update_or_create(username=username, defaults=fields)
        user.set_password(DEMO_PASSWORD)
        user.is_active = True
        user.save()
        return user

    def print_logins(self, logins: list[tuple[str, str]]) -> None:
        self.stdout.write(self.style.SUCCESS(f"Demo logins (password for all: {DEMO_PASSWORD})"))
        width = max(len(login) for login, _role in logins)
        for login, role in logins:
            self.stdout.write(f"  {login.ljust(width)}  {role}")
