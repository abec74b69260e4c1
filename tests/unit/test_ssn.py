"""SsnVault: last four digits kept, the full SSN encrypted with a key or discarded without."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from resources.ssn import InvalidSsn, SsnKeyError, SsnVault, generate_key, ssn_vault_for


def test_with_a_key_the_ssn_is_encrypted_and_decrypts_back():
    key = generate_key()
    last4, token = SsnVault(key=key).protect("123-45-6789")
    assert last4 == "6789"
    assert token is not None and "123456789" not in token
    assert Fernet(key.encode()).decrypt(token.encode()) == b"123456789"
    # Fernet tokens are randomised: the same SSN twice gives two different tokens.
    assert SsnVault(key=key).protect("123456789")[1] != token


def test_without_a_key_the_full_ssn_is_discarded():
    assert SsnVault().protect("123456789") == ("6789", None)
    assert not SsnVault().encrypts


def test_a_bad_key_or_value_fails_without_showing_it():
    with pytest.raises(SsnKeyError) as bad_key:
        SsnVault(key="not-a-fernet-key").protect("123456789")
    assert "not-a-fernet-key" not in str(bad_key.value)
    with pytest.raises(InvalidSsn) as bad_value:
        SsnVault().protect("12345678")
    assert "12345678" not in str(bad_value.value)


def test_the_key_never_shows_in_repr():
    key = generate_key()
    assert key not in repr(SsnVault(key=key))


def test_the_key_comes_from_the_environment_only_when_set():
    import dagster as dg

    assert ssn_vault_for({}).key is None
    assert ssn_vault_for({"NPNFLOW_SSN_KEY": "x"}).key == dg.EnvVar("NPNFLOW_SSN_KEY")


@pytest.mark.parametrize(
    "typed",
    [
        "١٢٣-٤٥-٦٧٨٩",  # Arabic-Indic digits
        "１２３４５６７８９",  # full-width digits
        "123-45-678٩",  # one non-ASCII digit is enough
        "123\x0045\x006789",
    ],
)
@pytest.mark.parametrize("with_key", [True, False])
def test_digits_other_than_0_to_9_are_refused_never_encoded(typed: str, with_key: bool):
    vault = SsnVault(key=generate_key() if with_key else None)
    with pytest.raises(InvalidSsn) as refused:
        vault.protect(typed)
    assert typed not in str(refused.value)


def test_spaces_and_dots_separate_digits_and_the_last_four_are_ascii():
    key = generate_key()
    for typed in ("123 45 6789", "123.45.6789", "123-45-6789"):
        last4, token = SsnVault(key=key).protect(typed)
        assert last4 == "6789" and last4.isascii()
        assert token is not None
        assert Fernet(key.encode()).decrypt(token.encode()) == b"123456789"


def test_the_fingerprint_is_keyed_and_the_same_for_the_same_digits_only():
    import hashlib

    key = generate_key()
    fingerprint = SsnVault(key=key).fingerprinter()
    typed = fingerprint("123-45-6789")
    assert typed is not None and len(typed) == 64
    assert fingerprint("123456789") == fingerprint("123 45 6789") == typed
    assert fingerprint("123456780") != typed
    # Keyed: not the plain hash of the digits, and another key gives another fingerprint.
    assert typed != hashlib.sha256(b"123456789").hexdigest()
    assert SsnVault(key=generate_key()).fingerprinter()("123456789") != typed
    assert SsnVault(key=key).fingerprinter()("123456789") == typed  # stable for the key


def test_without_a_key_there_is_no_fingerprint_and_bad_values_fail_alike():
    assert SsnVault().fingerprinter()("123-45-6789") is None
    for vault in (SsnVault(), SsnVault(key=generate_key())):
        with pytest.raises(InvalidSsn) as refused:
            vault.fingerprinter()("12345678")
        assert "12345678" not in str(refused.value)
