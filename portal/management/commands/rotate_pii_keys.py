from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from core import pii
from core.fields import EncryptedTextField

BATCH = 500


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted value under the first key of PII_ENCRYPTION_KEYS, and "
        "recompute the blind indexes under PII_HASH_KEY. Run it after putting a new key "
        "first; when it has finished, the old key can be removed. Safe to run again. (The "
        "history tables keep no full numbers, only masks and the blind indexes of their day.)"
    )

    def handle(self, *args, **options):
        for model in apps.get_models():
            fields = [f for f in model._meta.fields if isinstance(f, EncryptedTextField)]
            if not fields:
                continue
            count = self.rotate_model(model, fields)
            self.stdout.write(f"{model._meta.label}: {count} row(s) re-encrypted")

    def rotate_model(self, model, fields) -> int:
        names = [f.attname for f in fields]
        hashes = [
            (name, f"{name}_hash", purpose)
            for name, purpose in (("id_number", "resident_id"), ("account_number", "bank_account"))
            if name in names and any(f.name == f"{name}_hash" for f in model._meta.fields)
        ]
        count = 0
        pks = list(model._base_manager.order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(pks), BATCH):
            with transaction.atomic():
                rows = model._base_manager.select_for_update().filter(
                    pk__in=pks[start : start + BATCH]
                )
                for row in rows:
                    updates = {}
                    for name in names:
                        # Saving the decrypted value encrypts it again under the first key.
                        updates[name] = getattr(row, name)
                    for name, hash_name, purpose in hashes:
                        value = getattr(row, name)
                        updates[hash_name] = (
                            pii.blind_index(value, purpose=purpose) if value else ""
                        )
                    # update(), not save(): rotating keys is not a change of the data and must
                    # not add a history record or touch updated_at.
                    model._base_manager.filter(pk=row.pk).update(**updates)
                    count += 1
        return count
