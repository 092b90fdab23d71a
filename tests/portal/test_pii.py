import hashlib
import hmac
import io

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from core import pii
from portal import services
from portal.models import Application
from tests import onboarding as data

pytestmark = pytest.mark.django_db

ID_NUMBER = data.resident_id()
CARD_NUMBER = data.debit_card()


def raw_numbers(table: str, pk: int) -> tuple[str | None, str | None]:
    """The encrypted columns as stored, bypassing the field's decryption."""
    queries = {
        "application": "SELECT id_number, account_number FROM portal_application WHERE id = %s",
    }
    with connection.cursor() as cursor:
        cursor.execute(queries[table], [pk])
        return cursor.fetchone()


def hmac_hex(key: str, message: str) -> str:
    return hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()


def test_the_id_and_account_columns_hold_fernet_tokens_not_the_numbers(settings):
    application = data.draft()

    stored_id, stored_account = raw_numbers("application", application.pk)

    assert ID_NUMBER not in stored_id
    assert CARD_NUMBER not in stored_account
    key = Fernet(settings.PII_ENCRYPTION_KEYS[0])
    assert key.decrypt(stored_id.encode()).decode() == ID_NUMBER
    assert key.decrypt(stored_account.encode()).decode() == CARD_NUMBER


def test_the_model_reads_back_the_plaintext():
    application = data.draft()

    reloaded = Application.objects.get(pk=application.pk)

    assert (reloaded.id_number, reloaded.account_number) == (ID_NUMBER, CARD_NUMBER)


def test_the_history_keeps_no_copy_of_the_numbers_only_their_masks_and_indexes():
    application = data.submitted()

    history_columns = {f.name for f in Application.history.model._meta.fields}
    rows = list(
        application.history.order_by("history_id").values_list(
            "id_number_masked", "id_number_hash", "account_number_masked"
        )
    )

    assert {"id_number", "account_number"}.isdisjoint(history_columns)
    assert rows[-1] == (
        application.id_number_masked,
        application.id_number_hash,
        application.account_number_masked,
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM portal_historicalapplication")
        dumped = repr(cursor.fetchall())
    assert ID_NUMBER not in dumped
    assert CARD_NUMBER not in dumped


def test_the_same_number_is_stored_differently_each_time():
    first = data.draft()
    second = data.draft()

    first_id, first_account = raw_numbers("application", first.pk)
    second_id, second_account = raw_numbers("application", second.pk)

    assert (first.id_number, first.account_number) == (second.id_number, second.account_number)
    assert first_id != second_id
    assert first_account != second_account
    assert first.id_number_hash == second.id_number_hash


def test_encrypting_one_value_twice_gives_two_tokens():
    assert pii.encrypt(ID_NUMBER) != pii.encrypt(ID_NUMBER)


def test_filtering_on_an_encrypted_field_raises_instead_of_matching_nothing():
    data.draft()

    with pytest.raises(FieldError, match="Unsupported lookup 'exact' for EncryptedTextField"):
        Application.objects.filter(id_number=ID_NUMBER)


def test_a_partial_match_on_an_encrypted_field_raises_too():
    with pytest.raises(FieldError, match="Unsupported lookup 'startswith'"):
        Application.objects.filter(account_number__startswith="622202")


def test_is_null_is_the_one_lookup_an_encrypted_field_allows(customer):
    empty, _created = services.application_start(applicant=customer)
    filled = data.draft()

    assert list(Application.objects.filter(id_number__isnull=True)) == [empty]
    assert list(Application.objects.filter(id_number__isnull=False)) == [filled]


def test_a_value_encrypted_under_another_key_raises_on_read(settings):
    application = data.draft()

    settings.PII_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(pii.PIIDecryptionError):
        Application.objects.get(pk=application.pk)


def test_a_key_that_is_not_a_fernet_key_is_a_configuration_error(settings):
    application = data.draft()

    settings.PII_ENCRYPTION_KEYS = ["not-a-fernet-key"]

    with pytest.raises(ImproperlyConfigured, match="not a Fernet key"):
        Application.objects.get(pk=application.pk)


def test_no_encryption_key_at_all_is_a_configuration_error(settings):
    settings.PII_ENCRYPTION_KEYS = []

    with pytest.raises(ImproperlyConfigured, match="PII_ENCRYPTION_KEYS is empty"):
        pii.encrypt(ID_NUMBER)


def test_rotation_lets_the_new_key_alone_read_every_value(settings):
    old_key = settings.PII_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    application = data.submitted()
    updated_at = application.updated_at
    settings.PII_ENCRYPTION_KEYS = [new_key, old_key]

    call_command("rotate_pii_keys", stdout=io.StringIO())

    settings.PII_ENCRYPTION_KEYS = [new_key]
    application = Application.objects.get(pk=application.pk)
    assert (application.id_number, application.account_number) == (ID_NUMBER, CARD_NUMBER)
    assert application.updated_at == updated_at


def test_rotation_stores_tokens_of_the_new_key(settings):
    old_key = settings.PII_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    application = data.submitted()
    settings.PII_ENCRYPTION_KEYS = [new_key, old_key]

    call_command("rotate_pii_keys", stdout=io.StringIO())

    stored_id, stored_account = raw_numbers("application", application.pk)
    assert Fernet(new_key).decrypt(stored_id.encode()).decode() == ID_NUMBER
    assert Fernet(new_key).decrypt(stored_account.encode()).decode() == CARD_NUMBER
    assert ID_NUMBER not in stored_id
    assert CARD_NUMBER not in stored_account


def test_rotation_reports_how_many_rows_it_re_encrypted(settings):
    data.submitted()
    data.draft(id_number=data.resident_id(sequence=456))
    settings.PII_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.PII_ENCRYPTION_KEYS]
    out = io.StringIO()

    call_command("rotate_pii_keys", stdout=out)

    assert "portal.Application: 2 row(s) re-encrypted" in out.getvalue().splitlines()


def test_rotation_recomputes_the_blind_indexes_under_a_new_hash_key(settings):
    application = data.submitted()
    old_hash = application.id_number_hash
    settings.PII_HASH_KEY = "rotated-hash-key"

    call_command("rotate_pii_keys", stdout=io.StringIO())

    application.refresh_from_db()
    expected_id_hash = hmac_hex("rotated-hash-key", f"resident_id:{ID_NUMBER}")
    expected_account_hash = hmac_hex("rotated-hash-key", f"bank_account:{CARD_NUMBER}")
    assert application.id_number_hash == expected_id_hash != old_hash
    assert application.account_number_hash == expected_account_hash


def test_after_a_hash_key_change_duplicates_are_still_found(settings):
    first = data.submitted()
    settings.PII_HASH_KEY = "rotated-hash-key"
    call_command("rotate_pii_keys", stdout=io.StringIO())

    second = data.submitted(account_number=data.debit_card(2))

    assert list(second.risk_flags.values_list("code", "details")) == [
        ("duplicate_id", {"applications": [first.number]})
    ]


def test_rotating_twice_is_harmless(settings):
    application = data.submitted()
    settings.PII_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.PII_ENCRYPTION_KEYS]

    call_command("rotate_pii_keys", stdout=io.StringIO())
    call_command("rotate_pii_keys", stdout=io.StringIO())

    application = Application.objects.get(pk=application.pk)
    assert (application.id_number, application.account_number) == (ID_NUMBER, CARD_NUMBER)
    assert application.id_number_hash == pii.blind_index(ID_NUMBER, purpose="resident_id")
