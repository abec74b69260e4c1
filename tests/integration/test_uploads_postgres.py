"""The upload assets against PostgreSQL: the upserts (ON CONFLICT) and the one transaction per
upload behave as on SQLite, and a re-run changes nothing."""

from __future__ import annotations

import dagster as dg
import pytest
from cryptography.fernet import Fernet

from assets.keys import UPLOADS_PARTITIONS
from assets.uploads.assets import UPLOAD_ASSETS
from assets.uploads.inbox import partition_key_for
from assets.uploads.ledger import run_tags
from resources.object_store import LocalFolderObjectStore
from resources.ssn import SsnVault
from support.seed import seeded_database

pytestmark = pytest.mark.postgres

AGENT_FILE = (
    b"Agency NPN,First Name,Last Name,Agent NPN,Agent Email,Agent SSN,LOA Category,States,"
    b"Scorecard Type,Agent Type,CoCodes\r\n"
    b"9000001,Ann,Lee,10000001,ann@example.com,123-45-6789,Life;Property,CA;TX,License,Producer,\r\n"
    b"9000001,Bob,Ray,10000002,,,,,,,\r\n"
    b"9000001,Cy,Diaz,1000000X,,,,,,,\r\n"
)


def test_an_agent_upload_on_postgresql_is_written_once_and_idempotent(fresh_postgres_url, tmp_path):
    database = seeded_database(fresh_postgres_url)
    store = LocalFolderObjectStore(root=str(tmp_path / "bucket"))
    key = "inbox/agent/roster.csv"
    stored = store.put_bytes(key, AGENT_FILE)
    partition = partition_key_for(key, stored.etag)
    ssn_key = Fernet.generate_key().decode()
    resources = {"database": database, "object_store": store, "ssn_vault": SsnVault(key=ssn_key)}
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(UPLOADS_PARTITIONS.name, [partition])
        for _ in range(2):
            result = dg.materialize(
                UPLOAD_ASSETS,
                partition_key=partition,
                instance=instance,
                resources=resources,
                tags=run_tags(key, stored.etag, "agent"),
            )
            assert result.success
            producers = database.read_table("producers").set_index("npn")
            assert sorted(producers.index) == ["10000001", "10000002"]
            token = producers.loc["10000001", "ssn_encrypted"]
            assert Fernet(ssn_key.encode()).decrypt(token.encode()) == b"123456789"
            assert len(database.read_table("producer_assignments")) == 4
            errors = database.read_table("upload_row_errors")
            assert errors.row_number.tolist() == [4]
    database.engine.dispose()


def test_late_nuls_and_foreign_digits_are_row_errors_and_the_rest_is_onboarded(
    fresh_postgres_url, tmp_path
):
    """Issue 13: a NUL after the first 64 KB made PostgreSQL refuse the whole upload ("A string
    literal cannot contain NUL"), and an Arabic-Indic SSN crashed onboarding with a key. Both
    are now row errors; every other row is onboarded."""
    database = seeded_database(fresh_postgres_url)
    store = LocalFolderObjectStore(root=str(tmp_path / "bucket"))
    header, first_row = AGENT_FILE.split(b"\r\n")[:2]
    filler = [
        f"9000001,Ann,Lee,{10000100 + i},,,,,,,".encode() for i in range(2_000)
    ]  # pushes the bad rows past the first 64 KB
    bad = [
        b"9000001,Nul,Npn,713\x0000132,,,,,,,",
        b"9000001,Nu\x00l,Name,10009998,,,,,,,",
        "9000001,Foreign,Digits,10009999,,١٢٣-٤٥-٦٧٨٩,,,,,".encode(),
    ]
    data = b"\r\n".join([header, first_row, *filler, *bad, b""])
    assert data.index(b"\x00") > 65_536
    key = "inbox/agent/late.csv"
    stored = store.put_bytes(key, data)
    partition = partition_key_for(key, stored.etag)
    resources = {
        "database": database,
        "object_store": store,
        "ssn_vault": SsnVault(key=Fernet.generate_key().decode()),
    }
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(UPLOADS_PARTITIONS.name, [partition])
        result = dg.materialize(
            UPLOAD_ASSETS,
            partition_key=partition,
            instance=instance,
            resources=resources,
            tags=run_tags(key, stored.etag, "agent"),
        )
    assert result.success
    upload = database.read_table("uploads").iloc[0]
    assert (upload.status, upload.rows_valid, upload.rows_rejected) == ("Processed", 2_001, 3)
    producers = set(database.read_table("producers")["npn"])
    assert len(producers) == 2_001 and "10009998" not in producers and "10009999" not in producers
    errors = database.read_table("upload_row_errors")
    assert sorted(set(errors["row_number"])) == [2_003, 2_004, 2_005]
    assert not errors["message"].str.contains("\x00", regex=False).any()
    database.engine.dispose()
