"""`npnflow batches show` of a batch larger than a page (issue 17, item 6): it reads only the
lines it prints (LIMIT/OFFSET) and counts the whole batch in SQL, and prints what it printed
when it read the whole batch: the same counts by reason, the same lines, the same totals. On
SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from assets.batches.detail import (
    NIPR_FEE_STATUSES,
    NIPR_FEES,
    batch_detail,
    batch_page,
    is_missing_value,
    list_batch_rows,
    list_batches,
    reason_counts_of_batch,
)
from assets.batches.outcomes import reason_counts
from assets.rules.nipr_fees import SENT_STATUSES
from npnflow.cli import main
from schemas import statuses
from schemas.migrate import upgrade
from schemas.tables import TABLES

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
BATCH = "B-PAGES"
LINES = 130
REJECTED_ROWS = 70

# (status, eligibility reason, NIPR message, fee, NIPR fee): a mix that groups in every way
# the reason table does, a NIPR message blank or missing included.
KINDS_OF_LINE = [
    (statuses.READY_TO_SUBMIT, "In Good Standing", None, "10.00", "0.75"),
    (statuses.HELD_JIT, "In Good Standing", None, "20.00", None),
    (statuses.NOT_ELIGIBLE, "Required License Not Found", None, None, None),
    (statuses.REJECTED, "In Good Standing", "Not licensed (NIPR 10102)", "10.00", "0.75"),
    (statuses.REJECTED, "In Good Standing", "Already appointed (NIPR 10105)", "12.50", "0.75"),
    (statuses.REJECTED, "In Good Standing", "   ", "10.00", "0.75"),
    (statuses.ERROR, None, None, "5.00", "0.75"),
    (statuses.ACCEPTED, "In Good Standing", "Approved (NIPR 0)", "10.00", "0.75"),
    (statuses.PENDING_STATE_REVIEW, "In Good Standing", "Sent to state (NIPR 10003)", "7.25", None),
]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path, monkeypatch) -> Iterator[str]:
    if request.param == "sqlite":
        database_url = f"sqlite:///{tmp_path / 'npnflow.db'}"
    else:
        database_url = request.getfixturevalue("fresh_postgres_url")
    upgrade(database_url)
    monkeypatch.setenv("NPNFLOW_DATABASE_URL", database_url)
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    with engine.begin() as connection:
        connection.execute(
            TABLES["companies"].insert(), [{"cocode": "12345", "company_name": "Acme Life"}]
        )
        connection.execute(
            TABLES["uploads"].insert(),
            [
                {
                    "upload_id": "U-PAGES",
                    "object_key": "inbox/appoint/big.csv",
                    "content_sha256": "abc",
                    "kind": "appoint",
                    "received_at": T0,
                    "status": "processed",
                }
            ],
        )
        connection.execute(
            TABLES["transaction_batches"].insert(),
            [
                {
                    "batch_id": BATCH,
                    "kind": "appointment",
                    "cocode": "12345",
                    "upload_id": "U-PAGES",
                    "status": statuses.BATCH_SUBMITTED,
                    "approval_version": 1,
                    "created_at": T0,
                }
            ],
        )
        lines = []
        for i in range(LINES):
            status, reason, message, fee, nipr_fee = KINDS_OF_LINE[i * 7 % len(KINDS_OF_LINE)]
            lines.append(
                {
                    "transaction_id": f"T-{i:04d}",
                    "batch_id": BATCH,
                    "kind": "appointment",
                    # Out of id order, and some rows sharing a request row: the page follows
                    # the listing's order, not the ids'.
                    "request_row": (LINES - i) // 2 + 2,
                    "npn": f"100{i:05d}",
                    "state_code": ("TX", "CA", "NY")[i % 3],
                    "cocode": "12345",
                    "loa_category": "Life",
                    "loa_code": "16",
                    "license_number": f"L-{i}",
                    "is_jit": status == statuses.HELD_JIT,
                    "eligibility_reason": reason,
                    "status": status,
                    "estimated_fee": None if fee is None else Decimal(fee),
                    "estimated_nipr_fee": None if nipr_fee is None else Decimal(nipr_fee),
                    "nipr_status": None if message is None else "PC",
                    "nipr_message": message,
                    "created_at": T0,
                }
            )
        connection.execute(TABLES["transactions"].insert(), lines)
        connection.execute(
            TABLES["request_rejections"].insert(),
            [
                {
                    "upload_id": "U-PAGES",
                    "kind": "appointment",
                    "request_row": 500 + i,
                    "npn": f"200{i:05d}",
                    "state_code": "TX",
                    "cocode": "12345",
                    "loa_category": "Life",
                    "eligibility_reason": "Producer Not Found",
                    "status": statuses.REQUEST_REJECTED,
                    "created_at": T0,
                }
                for i in range(REJECTED_ROWS)
            ],
        )
    yield database_url
    engine.dispose()


def _show(*args: str) -> str:
    result = CliRunner().invoke(main, ["batches", "show", BATCH, *args])
    assert result.exit_code == 0, result.output
    return result.output


def _table(output: str, heading: str) -> list[str]:
    """The rows of the table under the line starting with `heading`, whitespace collapsed (a
    table of fewer rows may have narrower columns)."""
    lines = output.split("\n" + heading, 1)[1].splitlines()[1:]
    rows = []
    for line in lines[2:]:  # the headers and the rule
        if not line.strip():
            break
        rows.append(" ".join(line.split()))
    return rows


def _same(value: object, other: object) -> bool:
    """Equal, or both missing (a frame holds NaN or NaT where a row holds None)."""
    return (is_missing_value(value) and is_missing_value(other)) or value == other


def test_the_counts_by_reason_are_those_of_every_line(url):
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.connect() as connection:
        everything = batch_detail(connection, BATCH)
        counted = reason_counts_of_batch(connection, BATCH)
    engine.dispose()
    expected = reason_counts(everything.transactions)
    pd.testing.assert_frame_equal(pd.DataFrame(counted, columns=list(expected.columns)), expected)
    assert sum(group["transactions"] for group in counted) == LINES
    # A blank NIPR message reads as the eligibility reason, merged with its other lines.
    assert "   " not in {group["reason"] for group in counted}


def test_the_nipr_fee_statuses_are_those_nipr_charges():
    assert NIPR_FEE_STATUSES == SENT_STATUSES


def test_a_page_is_the_same_lines_as_the_whole_batch_read_at_once(url):
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.connect() as connection:
        everything = batch_detail(connection, BATCH)
        whole = everything.transactions.to_dict("records")
        rejected = everything.request_rejections.to_dict("records")
        for offset, limit in ((0, 50), (50, 50), (100, 50), (125, 10), (LINES, 5), (0, None)):
            page = batch_page(connection, BATCH, limit=limit, offset=offset)
            end = None if limit is None else offset + limit
            lines = [line._asdict() for line in page.lines]
            assert [line["transaction_id"] for line in lines] == [
                line["transaction_id"] for line in whole[offset:end]
            ]
            for line, expected in zip(lines, whole[offset:end], strict=True):
                assert list(line) == list(expected)
                assert all(_same(line[c], expected[c]) for c in line), (line, expected)
            assert [r._asdict() for r in page.rejections] == rejected[offset:end]
            assert page.lines_total == LINES and page.rejections_total == REJECTED_ROWS
            for status in statuses.TRANSACTION_STATUSES:
                assert page.count(status) == everything.count(status)
            assert page.fees(statuses.READY_TO_SUBMIT) == everything.fees_to_send
            assert page.fees(statuses.HELD_JIT) == everything.fees_held
            assert page.fees(statuses.READY_TO_SUBMIT, NIPR_FEES) == everything.nipr_fees_to_send
    engine.dispose()


def test_show_prints_the_first_page_as_it_did_reading_the_whole_batch(url):
    paged, everything = _show(), _show("--all")
    assert f"Transactions ({LINES}), the first 50; --all prints every one:" in paged
    assert f"Transactions ({LINES}):" in everything
    reasons = _table(everything, "Transactions by status")
    assert _table(paged, "Transactions by status") == reasons and len(reasons) == 9
    all_lines = _table(everything, f"Transactions ({LINES})")
    assert len(all_lines) == LINES
    assert _table(paged, f"Transactions ({LINES})") == all_lines[:50]
    heading = "Request rows of this upload for CoCode 12345 that created no transaction"
    assert f"{heading} ({REJECTED_ROWS}, the first 50):" in paged
    assert _table(paged, heading) == _table(everything, heading)[:50]
    # The totals cover the whole batch whatever the page.
    assert (
        paged.split("\nReady to Submit, not sent yet")[1]
        == everything.split("\nReady to Submit, not sent yet")[1]
    )


def test_show_offset_prints_the_next_page(url):
    everything = _table(_show("--all"), f"Transactions ({LINES})")
    second = _show("--offset", "50", "--limit", "50")
    assert f"Transactions ({LINES}), 51 to 100; --all prints every one:" in second
    assert _table(second, f"Transactions ({LINES})") == everything[50:100]
    last = _show("--offset", "120")
    assert f"Transactions ({LINES}), 121 to 130; --all prints every one:" in last
    assert _table(last, f"Transactions ({LINES})") == everything[120:]


def test_the_listed_rows_are_the_listed_frames_values(url):
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.connect() as connection:
        for filters in ({}, {"status": statuses.BATCH_SUBMITTED}, {"upload_id": "U-PAGES"}):
            rows = list_batch_rows(connection, **filters)
            frame = list_batches(connection, **filters)
            assert len(rows) == len(frame) == 1
            for row, expected in zip(rows, frame.to_dict("records"), strict=True):
                assert list(row) == list(expected)
                assert all(_same(row[c], expected[c]) for c in row), (row, expected)
        assert list_batch_rows(connection, status=statuses.BATCH_COMPLETED) == []
    engine.dispose()
