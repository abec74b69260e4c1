"""The upload ledger's decisions (`assets/uploads/ledger.py`): no Dagster, no I/O."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from assets.uploads import ledger
from assets.uploads.inbox import partition_key_for


@dataclass(frozen=True)
class Listed:
    key: str
    etag: str
    last_modified: dt.datetime = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)


def test_run_tags_name_the_partition_only_when_they_hash_to_it():
    partition = partition_key_for("inbox/agent/a.csv", "e1")
    tags = ledger.run_tags("inbox/agent/a.csv", "e1", "agent")
    assert ledger.object_from_tags(tags, partition) == ("inbox/agent/a.csv", "e1")
    other = partition_key_for("inbox/agent/a.csv", "e2")
    assert ledger.object_from_tags(tags, other) is None
    assert ledger.object_from_tags({}, partition) is None


def test_a_partition_is_found_in_a_listing_of_its_folder():
    partition = partition_key_for("inbox/agent/b.csv", "e2")
    listing = [Listed("inbox/agent/a.csv", "e1"), Listed("inbox/agent/b.csv", "e2")]
    assert ledger.find_partition_object(listing, partition).key == "inbox/agent/b.csv"
    assert ledger.find_partition_object(listing[:1], partition) is None
    assert ledger.listing_prefix(partition) == "inbox/agent/"
    assert ledger.listing_prefix(partition_key_for("inbox/x.csv", "e")) == "inbox/"


def test_report_keys_keep_the_whole_file_name():
    assert ledger.error_report_keys("inbox/agent/r.csv", "csv") == ["inbox/agent/r.csv.errors.csv"]
    assert ledger.error_report_keys("inbox/agent/r.xlsx", "xlsx") == [
        "inbox/agent/r.xlsx.errors.csv",
        "inbox/agent/r.xlsx.errors.xlsx",
    ]


def test_the_rejection_report_is_one_safe_line():
    report = ledger.file_rejection_report_csv("=cmd| 123-45-6789 is wrong").decode("utf-8-sig")
    lines = report.splitlines()
    assert lines[0] == "Row,Errors"
    assert lines[1].startswith("(file),'=cmd|")  # neutralised: no spreadsheet formula
    assert "123-45-6789" not in report and "***-**-6789" in report


def test_etags_are_checked_against_the_content_when_they_are_md5s():
    import hashlib

    data = b"abc"
    assert ledger.content_matches_etag(data, hashlib.md5(data).hexdigest())
    assert not ledger.content_matches_etag(b"abd", hashlib.md5(data).hexdigest())
    assert ledger.content_matches_etag(b"anything", "0123abcd-3")  # multipart: not an MD5


def test_receipt_status():
    sha = "f" * 64
    assert (
        ledger.receipt_status(
            previous_status=None, previous_sha256=None, sha256=sha, duplicate_of=None
        )
        == ledger.RECEIVED
    )
    assert (
        ledger.receipt_status(
            previous_status="Processed", previous_sha256=sha, sha256=sha, duplicate_of=None
        )
        == ledger.PROCESSED
    )
    assert (
        ledger.receipt_status(
            previous_status="Processed", previous_sha256="0" * 64, sha256=sha, duplicate_of=None
        )
        == ledger.RECEIVED
    )
    assert (
        ledger.receipt_status(
            previous_status=None, previous_sha256=None, sha256=sha, duplicate_of="other"
        )
        == ledger.DUPLICATE
    )
    assert ledger.should_process(ledger.RECEIVED) and ledger.should_process(ledger.PROCESSED)
    assert not ledger.should_process(ledger.DUPLICATE)
    assert not ledger.should_process(ledger.REJECTED)
