"""The upload assets through `dg.materialize`, one `uploads` partition per dropped file.

Real local resources: a `LocalFolderObjectStore` in tmp_path, a migrated SQLite database with
the reference tables and company setup loaded, and an `SsnVault` with or without a key. The
expected rows are written out by hand from the file below, never taken from the code.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
from cryptography.fernet import Fernet

from assets.keys import ONBOARDING_KEY, RAW_FILE_KEY, UPLOADS_PARTITIONS, VALIDATED_KEY
from assets.uploads.assets import UPLOAD_ASSETS
from assets.uploads.inbox import partition_key_for
from assets.uploads.ledger import run_tags
from resources.database import OperationalDatabase
from resources.object_store import LocalFolderObjectStore
from resources.ssn import SsnVault
from schemas.tables import metadata as table_metadata
from support.seed import seeded_database

HEADER = (
    "Agency NPN,First Name,Last Name,Agent NPN,Agent Email,Agent SSN,LOA Category,States,"
    "Scorecard Type,Agent Type,CoCodes"
)
# Spreadsheet rows: 1 header, 2 Ann, 3 Bob, 4 blank, 5 Cy, 6 Di (bad), 7 blank, 8 Ed (bad),
# 9 Fay (bad).
AGENT_FILE = "\r\n".join(
    [
        HEADER,
        "9000001,Ann,Lee,10000001,ann.lee@example.com,123-45-6789,Life;Accident & Health,CA;TX,"
        "License & Appointment,Producer,91234",
        "9000001,Bob,Ray,10000002,,,,,,,",
        ",,,,,,,,,,",
        "9000002,Cy,Diaz,10000003,cy@example.com,987654321,Property,FL,License,Agency,",
        "9000001,Di,Ho,12A45,di@example,555-12-3456,,,,,",
        " , ,,,,,,,,,",
        "9000001,Ed,Fox,10000005,ed@example.com,,Life,CA;XX,License,Producer,",
        "9000001,Fay,Lu,10000006,fay@example.com,222-33-4444,Lief,TX,License,Producer,",
    ]
).encode("utf-8")
SSN_FORMS = ("123456789", "123-45-6789", "987654321", "987-65-4321", "555123456",
             "555-12-3456", "222334444", "222-33-4444")  # fmt: skip
KEY = "inbox/agent/roster.csv"
REPORT_KEY = "inbox/agent/roster.csv.errors.csv"


@pytest.fixture(scope="module")
def template_db(tmp_path_factory) -> Path:
    """A migrated database with the reference tables and company setup, copied per test."""
    path = tmp_path_factory.mktemp("template") / "npnflow.db"
    seeded_database(f"sqlite:///{path}").engine.dispose()
    return path


class Bucket:
    def __init__(self, tmp_path: Path, template_db: Path, ssn_key: str | None):
        db_path = tmp_path / "npnflow.db"
        shutil.copy(template_db, db_path)
        self.database = OperationalDatabase(url=f"sqlite:///{db_path}")
        self.store = LocalFolderObjectStore(root=str(tmp_path / "bucket"))
        self.vault = SsnVault(key=ssn_key)
        # Its artifacts in the test's folder: without a tempdir the instance makes a temporary
        # directory that nobody cleans up (a ResourceWarning when it is garbage collected).
        self.instance = dg.DagsterInstance.ephemeral(tempdir=str(tmp_path / "dagster"))

    @property
    def resources(self) -> dict[str, object]:
        return {"database": self.database, "object_store": self.store, "ssn_vault": self.vault}

    def drop(self, key: str, data: bytes) -> str:
        stored = self.store.put_bytes(key, data)
        partition = partition_key_for(key, stored.etag)
        self.instance.add_dynamic_partitions(UPLOADS_PARTITIONS.name, [partition])
        self._tags = run_tags(key, stored.etag, "agent")
        return partition

    def process(self, partition: str, *, with_tags: bool = True) -> dg.ExecuteInProcessResult:
        result = dg.materialize(
            UPLOAD_ASSETS,
            partition_key=partition,
            instance=self.instance,
            resources=self.resources,
            tags=self._tags if with_tags else None,
        )
        assert result.success
        return result

    def table(self, name: str) -> pd.DataFrame:
        return self.database.read_table(name)

    def snapshot(self, skip: tuple[str, ...] = ()) -> dict[str, list[tuple]]:
        """Every operational table's rows (timestamps of writes left out)."""
        out = {}
        for name in table_metadata.tables:
            if name in skip:
                continue
            frame = self.table(name).drop(columns=["updated_at", "id"], errors="ignore")
            out[name] = sorted(map(tuple, frame.astype(str).to_numpy().tolist()))
        return out


@pytest.fixture
def bucket(tmp_path, template_db) -> Bucket:
    return Bucket(tmp_path, template_db, ssn_key=None)


def _materialized(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    return {
        event.asset_key.to_user_string(): event.step_materialization_data.materialization.metadata
        for event in result.get_asset_materialization_events()
    }


def test_an_agent_file_onboards_its_valid_rows_and_reports_the_rest(bucket):
    partition = bucket.drop(KEY, AGENT_FILE)
    result = bucket.process(partition)

    producers = bucket.table("producers").set_index("npn")
    assert sorted(producers.index) == ["10000001", "10000002", "10000003"]
    assert producers.loc["10000001", ["first_name", "last_name", "email", "agency_npn"]].tolist() == [
        "Ann", "Lee", "ann.lee@example.com", "9000001"]  # fmt: skip
    assert set(producers["sync_status"]) == {"Not Started"}
    assert producers["is_active"].astype(bool).all()
    assert sorted(bucket.table("agencies")["agency_npn"]) == ["9000001", "9000002"]

    assignments = bucket.table("producer_assignments")
    ann = assignments[assignments.npn == "10000001"]
    assert sorted(zip(ann.loa_category, ann.state_code, ann.cocode, strict=True)) == [
        ("Accident & Health", "CA", "91234"), ("Accident & Health", "TX", "91234"),
        ("Life", "CA", "91234"), ("Life", "TX", "91234")]  # fmt: skip
    assert set(ann.scorecard_type) == {"License & Appointment"}
    cy = assignments[assignments.npn == "10000003"]
    assert cy[["loa_category", "state_code", "cocode", "agent_type"]].values.tolist() == [
        ["Property", "FL", "", "Agency"]]  # fmt: skip
    assert set(assignments.npn) == {"10000001", "10000003"}

    upload = bucket.table("uploads").set_index("upload_id").loc[partition]
    assert upload.status == "Processed"
    assert upload.object_key == KEY
    assert (upload.rows_total, upload.rows_blank, upload.rows_valid, upload.rows_rejected) == (
        8, 2, 3, 3)  # fmt: skip
    assert upload.error_report_key == REPORT_KEY

    errors = bucket.table("upload_row_errors")
    assert sorted(set(errors.row_number)) == [6, 8, 9]
    assert ("Agent NPN" in set(errors[errors.row_number == 6].column)) and (
        "States" in set(errors[errors.row_number == 8].column)
    )
    assert set(errors.upload_id) == {partition}

    report = bucket.store.get_bytes(REPORT_KEY).decode("utf-8-sig")
    lines = report.splitlines()
    assert lines[0].startswith("Row,Errors,Agency NPN")
    assert [line.split(",")[0] for line in lines[1:]] == ["6", "8", "9"]
    assert "12A45" in report and "Lief" in report

    metadata = _materialized(result)
    validated = metadata[VALIDATED_KEY.to_user_string()]
    assert validated["rows_valid"].value == 3 and validated["rows_rejected"].value == 3
    assert validated["rows_blank"].value == 2 and validated["rows_total"].value == 8
    assert "12A45" in validated["first_rejected_rows"].value
    assert validated["error_report"].value == REPORT_KEY
    onboarded = metadata[ONBOARDING_KEY.to_user_string()]
    assert onboarded["producers_new"].value == 3
    assert onboarded["producers_to_sync"].value == 3
    assert onboarded["assignments_written"].value == 5


def _all_text(bucket: Bucket, result: dg.ExecuteInProcessResult) -> str:
    parts = [repr(bucket.snapshot())]
    for event in result.all_events:
        parts.append(str(event.message))
        parts.append(repr(event.event_specific_data))
    parts.append(repr(_materialized(result)))
    for path in Path(bucket.store.root).rglob("*.errors.*"):
        parts.append(path.read_bytes().decode("utf-8-sig", errors="replace"))
    return "\n".join(parts)


def test_ssns_are_encrypted_with_a_key_and_never_appear_in_clear(tmp_path, template_db):
    key = Fernet.generate_key().decode()
    bucket = Bucket(tmp_path, template_db, ssn_key=key)
    result = bucket.process(bucket.drop(KEY, AGENT_FILE))
    producers = bucket.table("producers").set_index("npn")
    assert producers.loc["10000001", "ssn_last4"] == "6789"
    assert producers.loc["10000003", "ssn_last4"] == "4321"
    token = producers.loc["10000001", "ssn_encrypted"]
    assert Fernet(key.encode()).decrypt(token.encode()) == b"123456789"
    assert pd.isna(producers.loc["10000002", "ssn_encrypted"])
    text = _all_text(bucket, result)
    for ssn in SSN_FORMS:
        assert ssn not in text, ssn


def test_without_a_key_the_full_ssn_is_discarded(bucket):
    result = bucket.process(bucket.drop(KEY, AGENT_FILE))
    producers = bucket.table("producers").set_index("npn")
    assert producers.loc["10000001", "ssn_last4"] == "6789"
    assert producers["ssn_encrypted"].isna().all()
    text = _all_text(bucket, result)
    for ssn in SSN_FORMS:
        assert ssn not in text, ssn


def test_the_same_content_under_another_name_is_a_duplicate_and_changes_nothing(bucket):
    first = bucket.drop(KEY, AGENT_FILE)
    bucket.process(first)
    before = bucket.snapshot(skip=("uploads",))
    copy = bucket.drop("inbox/agent/roster (copy).csv", AGENT_FILE)
    result = bucket.process(copy)
    assert bucket.snapshot(skip=("uploads",)) == before
    upload = bucket.table("uploads").set_index("upload_id").loc[copy]
    assert upload.status == "Duplicate"
    assert first in upload.error_message
    keys = {e.asset_key for e in result.get_asset_materialization_events()}
    assert keys == {RAW_FILE_KEY}  # validation and onboarding skipped
    assert not bucket.store.exists("inbox/agent/roster (copy).csv.errors.csv")


def test_rematerializing_a_partition_is_idempotent_and_finds_its_file_without_tags(bucket):
    partition = bucket.drop(KEY, AGENT_FILE)
    bucket.process(partition)
    before = bucket.snapshot()
    errors_before = len(bucket.table("upload_row_errors"))
    # Launched from the UI: no sensor tags; the uploads row names the file.
    result = bucket.process(partition, with_tags=False)
    assert bucket.snapshot() == before
    assert len(bucket.table("upload_row_errors")) == errors_before
    raw = _materialized(result)[RAW_FILE_KEY.to_user_string()]
    assert raw["found_by"].value == "uploads table"


def test_a_partition_never_recorded_finds_its_file_in_the_listing(bucket):
    partition = bucket.drop(KEY, AGENT_FILE)
    result = bucket.process(partition, with_tags=False)
    assert _materialized(result)[RAW_FILE_KEY.to_user_string()]["found_by"].value == (
        "inbox listing"
    )
    assert len(bucket.table("producers")) == 3


def test_a_replaced_file_is_not_processed_under_the_old_partition(bucket):
    partition = bucket.drop(KEY, AGENT_FILE)
    bucket.process(partition)
    bucket.store.put_bytes(KEY, AGENT_FILE + b"\r\n9000001,Gil,Ng,10000007,,,,,,,")
    result = dg.materialize(
        UPLOAD_ASSETS,
        partition_key=partition,
        instance=bucket.instance,
        resources=bucket.resources,
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "replaced" in failure.event_specific_data.error.message
    assert "10000007" not in set(bucket.table("producers").npn)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty"),
        (b"Name,Favourite Colour\r\nAnn,blue\r\n", "missing the required column"),
        ((HEADER + "\r\n").encode(), "no rows to process"),
    ],
)
def test_a_rejected_file_changes_nothing_but_its_upload_row(bucket, data, expected):
    bucket.process(bucket.drop(KEY, AGENT_FILE))
    before = bucket.snapshot(skip=("uploads",))
    key = "inbox/agent/bad.csv"
    partition = bucket.drop(key, data)
    result = bucket.process(partition)
    assert bucket.snapshot(skip=("uploads",)) == before
    upload = bucket.table("uploads").set_index("upload_id").loc[partition]
    assert upload.status == "Rejected"
    assert expected in upload.error_message
    assert upload.error_report_key == f"{key}.errors.csv"
    report = bucket.store.get_bytes(f"{key}.errors.csv").decode("utf-8-sig").splitlines()
    assert len(report) == 2 and report[0] == "Row,Errors" and expected in report[1]
    keys = {e.asset_key for e in result.get_asset_materialization_events()}
    assert ONBOARDING_KEY not in keys


def test_an_appoint_file_is_validated_but_not_onboarded(bucket):
    data = b"NPN,States,CoCode,LOA Category\r\n10000001,CA,91234,Life\r\n10000002,XX,91234,Life\r\n"
    result = bucket.process(bucket.drop("inbox/appoint/requests.csv", data))
    assert bucket.table("producers").empty
    onboarding = _materialized(result)[ONBOARDING_KEY.to_user_string()]
    assert "appointments capability" in onboarding["note"].value
    upload = bucket.table("uploads").iloc[0]
    assert (upload.kind, upload.rows_valid, upload.rows_rejected) == ("appoint", 1, 1)
    assert bucket.store.exists("inbox/appoint/requests.csv.errors.csv")


def test_an_xlsx_upload_gets_both_reports(bucket):
    import io

    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER.split(","))
    sheet.append(["9000001", "Ann", "Lee", "10000001", "", "", "", "", "", "", ""])
    sheet.append(["9000001", "Bob", "Ray", "12A45", "", "", "", "", "", "", ""])
    buffer = io.BytesIO()
    workbook.save(buffer)
    bucket.process(bucket.drop("inbox/agent/roster.xlsx", buffer.getvalue()))
    assert bucket.store.exists("inbox/agent/roster.xlsx.errors.csv")
    assert bucket.store.exists("inbox/agent/roster.xlsx.errors.xlsx")
    assert list(bucket.table("producers").npn) == ["10000001"]


# Issue 13: an SSN typed anywhere, in any shape, and in any digits, reaches no table, event,
# metadata or report beyond its last four digits; a 9-digit NPN is stored, and shown masked.
ISSUE_13_FILE = "\r\n".join(
    [
        HEADER + ",Social Security Number",
        "9000001,Ann,Lee,10000001,ann@example.com,372-58-1946,,,,,,481 62 7359",
        "9000001,593.71.2468,Ray,10000002,,,,,,,,",
        "9000001,Cy,Diaz 684 02 7135,10000003,,,,,,,,",
        "9000001,Di,Ho,10000004,715392846@example.com,,,,,,,",
        "9000001,Ed,Fox,10000005,,\u0663\u0667\u0662-\u0665\u0668-\u0661\u0669\u0664\u0666,,,,,,",
        "9000001,Fay,Gill,826135792,fay@example.com,,,,,,,",
    ]
).encode("utf-8")
ISSUE_13_SSNS = ("37258", "48162", "59371", "68402", "71539")


@pytest.mark.parametrize("with_key", [True, False])
def test_ssns_in_every_shape_and_column_never_leave_the_ssn_column(tmp_path, template_db, with_key):
    import re
    import unicodedata

    bucket = Bucket(
        tmp_path, template_db, ssn_key=Fernet.generate_key().decode() if with_key else None
    )
    result = bucket.process(bucket.drop(KEY, ISSUE_13_FILE))
    upload = bucket.table("uploads").iloc[0]
    assert (upload.status, upload.rows_valid, upload.rows_rejected) == ("Processed", 2, 4)
    producers = bucket.table("producers").set_index("npn")
    assert sorted(producers.index) == ["10000001", "826135792"]  # a 9-digit NPN is an NPN
    assert producers.loc["10000001", "ssn_last4"] == "1946"
    onboarded = _materialized(result)[ONBOARDING_KEY.to_user_string()]
    assert "***-**-5792" in onboarded["producers"].value  # ... shown masked
    assert "826135792" not in repr(_materialized(result))
    text = _all_text(bucket, result).replace("\\u", "")  # reprs escape some digits
    text = "".join(str(unicodedata.digit(c)) if c.isdigit() else c for c in text)
    text = re.sub(r"[\s.\-]", "", text)
    for ssn in ISSUE_13_SSNS:
        assert ssn not in text, ssn


def test_a_clean_version_supersedes_the_error_report_an_earlier_version_left(bucket):
    """Issue 13: an old `.errors.csv` beside a corrected file must not read as its report."""
    bucket.process(bucket.drop(KEY, AGENT_FILE))
    assert bucket.store.exists(REPORT_KEY)
    old_report = bucket.store.get_bytes(REPORT_KEY).decode("utf-8-sig")
    assert "Row" in old_report and "Superseded" not in old_report

    clean = "\r\n".join(AGENT_FILE.decode().split("\r\n")[:3]).encode()  # header, Ann, Bob
    corrected = bucket.drop(KEY, clean)
    bucket.process(corrected)

    report = bucket.store.get_bytes(REPORT_KEY).decode("utf-8-sig")
    assert "Superseded" in report and corrected in report, report
    assert "no rejected rows" in report
    upload = bucket.table("uploads").set_index("upload_id").loc[corrected]
    assert upload["status"] == "Processed" and upload["rows_rejected"] == 0
    assert pd.isna(upload["error_report_key"])
    # A file that never had a report gets none.
    bucket.process(bucket.drop("inbox/agent/other.csv", clean.replace(b"Ann", b"Ana")))
    assert not bucket.store.exists("inbox/agent/other.csv.errors.csv")


def test_a_padded_npn_onboards_the_producer_nipr_knows_with_a_warning(bucket):
    data = "\r\n".join(
        [HEADER, "09000001,Ann,Lee,0010000001,,,,,,,", "9000001,Bob,Ray,10000001,,,,,,,"]
    ).encode("utf-8")
    partition = bucket.drop(KEY, data)
    result = bucket.process(partition)

    assert bucket.table("producers")["npn"].tolist() == ["10000001"]
    assert bucket.table("agencies")["agency_npn"].tolist() == ["9000001"]
    errors = bucket.table("upload_row_errors")
    assert errors[["row_number", "column"]].values.tolist() == [[3, "Agent NPN"]]
    assert "already on row 2" in errors.at[0, "message"]
    warnings = _materialized(result)[VALIDATED_KEY.to_user_string()]["warnings"].value
    assert "Agent NPN 0010000001 read as 10000001" in warnings
    assert "Agency NPN 09000001 read as 9000001" in warnings
