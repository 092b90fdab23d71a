from django.db import models
from django.db.models.lookups import IsNull

from core import pii


class EncryptedTextField(models.TextField):
    """Text stored encrypted (see core.pii); Python code sees the plaintext.

    It cannot be filtered on (the ciphertext differs on every save): search a blind-index
    column instead. ``isnull`` is the one lookup allowed.
    """

    description = "Encrypted text"

    def from_db_value(self, value, expression, connection):
        return None if value is None else pii.decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return None if value is None else pii.encrypt(value)

    def get_lookup(self, lookup_name):
        if lookup_name == "isnull":
            return IsNull
        return None
