"""
Encryption and blind indexes for personal data (ID numbers, bank account numbers).

Values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under ``PII_ENCRYPTION_KEYS``: the
first key encrypts, every key decrypts, so keys rotate by putting a new one first and running
``manage.py rotate_pii_keys``. Equality search (duplicate ID numbers, the same bank card on two
applications) goes through a keyed hash (HMAC-SHA256 under ``PII_HASH_KEY``), never through the
ciphertext, which is different every time. A token no key can open raises: it never comes
back as ciphertext pretending to be data.
"""

import hashlib
import hmac
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver


class PIIDecryptionError(Exception):
    """A stored value cannot be decrypted with any configured key."""


@cache
def _fernet() -> MultiFernet:
    keys = settings.PII_ENCRYPTION_KEYS
    if not keys:
        raise ImproperlyConfigured("PII_ENCRYPTION_KEYS is empty")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "PII_ENCRYPTION_KEYS holds a key that is not a Fernet key (32 url-safe base64 bytes)"
        ) from exc


@receiver(setting_changed)
def _forget_keys(*, setting, **kwargs):
    if setting in ("PII_ENCRYPTION_KEYS", "PII_HASH_KEY"):
        _fernet.cache_clear()


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeEncodeError) as exc:
        raise PIIDecryptionError(
            "cannot decrypt a stored value: the key that encrypted it is not in "
            "PII_ENCRYPTION_KEYS, or the value was altered"
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt under the current first key (no-op in meaning, new ciphertext)."""
    try:
        return _fernet().rotate(token.encode("ascii")).decode("ascii")
    except InvalidToken as exc:
        raise PIIDecryptionError("cannot rotate a value no configured key can decrypt") from exc


def blind_index(value: str, *, purpose: str) -> str:
    """A keyed hash for equality search. ``purpose`` keeps an ID number and a card number
    with the same digits apart."""
    message = f"{purpose}:{value}".encode()
    return hmac.new(settings.PII_HASH_KEY.encode(), message, hashlib.sha256).hexdigest()
