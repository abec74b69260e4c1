"""Batch review and approval (SPEC section 8) on an in-memory SQLite database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import sqlalchemy as sa

from assets.batches import approval
from assets.batches.approval import (
    BatchActionRefused,
    BatchNotFound,
    approve_batch,
    batch_detail,
    list_batches,
    reject_batch,
    retry_batch,
)
from schemas import statuses
from schemas.tables import TABLES, metadata

COCODE = "12345"
UPLOAD = "U-0001"
T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 11, 24, 10, 2, tzinfo=dt.UTC)

_TRANSACTION_DEFAULTS = {
    "kind": "appointment",
    "request_row": None,
    "npn": "1000001",
    "state_code": "TX",
    "cocode": COCODE,
    "loa_category": "Life",
    "loa_code": "16",
    "license_number": "L-1",
    "is_jit": False,
    "eligibility_reason": "In Good Standing",
    "status": statuses.READY_TO_SUBMIT,
    "estimated_fee": None,
    "nipr_status": None,
    "nipr_message": None,
    "completed_at": None,
}


@pytest.fixture
def connection():
    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.connect() as connection:
        connection.execute(
            TABLES["companies"].insert(),
            [
                {"cocode": COCODE, "company_name": "Acme Life"},
                {"cocode": "67890", "company_name": "Zenith Casualty"},
            ],
        )
        connection.execute(
            TABLES["uploads"].insert(),
            [
                {
                    "upload_id": upload_id,
                    "object_key": f"inbox/appoint/{name}",
                    "content_sha256": upload_id,
                    "kind": "appoint",
                    "received_at": T0,
                    "status": "processed",
                }
                for upload_id, name in ((UPLOAD, "acme.csv"), ("U-0002", "other.csv"))
            ],
        )
        yield connection
    engine.dispose()


def add_batch(
    connection,
    batch_id: str,
    transactions: list[dict],
    *,
    status: str = statuses.BATCH_PENDING_REVIEW,
    created_at: dt.datetime = T0,
    cocode: str = COCODE,
    upload_id: str | None = UPLOAD,
    kind: str = "appointment",
    **batch_columns,
) -> None:
    """A batch and its transactions, as batch creation would write them."""
    ready_fees = sum(
        (
            Decimal(str(t.get("estimated_fee") or 0))
            for t in transactions
            if t.get("status", statuses.READY_TO_SUBMIT) == statuses.READY_TO_SUBMIT
        ),
        Decimal(0),
    )
    connection.execute(
        TABLES["transaction_batches"].insert(),
        [
            {
                "batch_id": batch_id,
                "kind": kind,
                "cocode": cocode,
                "upload_id": upload_id,
                "status": status,
                "estimated_fees": ready_fees,
                "created_at": created_at,
                **batch_columns,
            }
        ],
    )
    if transactions:
        connection.execute(
            TABLES["transactions"].insert(),
            [
                {
                    **_TRANSACTION_DEFAULTS,
                    "transaction_id": f"T-{batch_id}-{i:03d}",
                    "batch_id": batch_id,
                    "kind": kind,
                    "cocode": cocode,
                    "request_row": i + 2,
                    **t,
                }
                for i, t in enumerate(transactions)
            ],
        )


def ready(fee: str | None = "30.00", **more) -> dict:
    return {"status": statuses.READY_TO_SUBMIT, "estimated_fee": fee, **more}


def held(fee: str = "20.00", **more) -> dict:
    return {"status": statuses.HELD_JIT, "estimated_fee": fee, "is_jit": True, **more}


def not_eligible(reason: str = "Required License Not Found", **more) -> dict:
    return {"status": statuses.NOT_ELIGIBLE, "eligibility_reason": reason, **more}


def batch_row(connection, batch_id: str):
    batches = TABLES["transaction_batches"]
    return (
        connection.execute(sa.select(batches).where(batches.c.batch_id == batch_id)).one()._mapping
    )


def transaction_statuses(connection, batch_id: str) -> dict[str, str]:
    t = TABLES["transactions"]
    rows = connection.execute(
        sa.select(t.c.transaction_id, t.c.status).where(t.c.batch_id == batch_id)
    ).all()
    return {r.transaction_id: r.status for r in rows}


# ============================================================================================
# Statuses
# ============================================================================================


def test_final_and_open_statuses_partition_the_transaction_statuses():
    assert set(statuses.FINAL_TRANSACTION_STATUSES) == {
        "Not Eligible",
        "Accepted",
        "Rejected",
        "Error",
        "Cancelled",
        "Recorded",  # issue 14: a registry state's line, never sent
    }
    assert set(statuses.OPEN_TRANSACTION_STATUSES) == {
        "Ready to Submit",
        "Held (JIT)",
        "Submitted",
        "Pending State Review",
    }
    # A cancelled line no longer blocks a new request for it (SPEC 6 step 6).
    assert statuses.CANCELLED not in statuses.OPEN_TRANSACTION_STATUSES


# ============================================================================================
# list_batches
# ============================================================================================


def test_list_batches_newest_first_with_counts_fees_company_and_file(connection):
    add_batch(connection, "B-0001", [ready("10.10"), ready("20.20"), held("5.00"), not_eligible()])
    add_batch(
        connection,
        "B-0002",
        [
            {"status": statuses.SUBMITTED, "estimated_fee": "7.00"},
            {"status": statuses.PENDING_STATE_REVIEW, "estimated_fee": "7.00"},
            {"status": statuses.ACCEPTED, "estimated_fee": "7.00"},
            not_eligible(),
        ],
        status=statuses.BATCH_SUBMITTED,
        created_at=T0 + dt.timedelta(hours=1),
        approved_by="Dana",
        approved_at=T0 + dt.timedelta(hours=1, minutes=5),
        approval_version=1,
    )
    frame = list_batches(connection)

    assert list(frame.columns) == list(approval.LIST_COLUMNS)
    assert list(frame["batch_id"]) == ["B-0002", "B-0001"]
    first = frame.set_index("batch_id").loc["B-0001"]
    assert first["company_name"] == "Acme Life"
    assert first["upload_object_key"] == "inbox/appoint/acme.csv"
    assert (
        first["transactions"],
        first["ready_to_submit"],
        first["held_jit"],
        first["not_eligible"],
        first["submitted"],
        first["final"],
    ) == (4, 2, 1, 1, 0, 1)
    # Exact cents: 10.10 + 20.20 is 30.300000000000001 in floating point.
    assert first["fees_to_send"] == Decimal("30.30")
    assert first["estimated_fees"] == Decimal("30.30")
    assert first["fees_held"] == Decimal("5.00")
    second = frame.set_index("batch_id").loc["B-0002"]
    assert (second["submitted"], second["final"], second["ready_to_submit"]) == (2, 2, 0)
    assert second["approved_by"] == "Dana"
    assert second["approved_at"] == T0 + dt.timedelta(hours=1, minutes=5)


def test_list_batches_filters(connection):
    add_batch(connection, "B-0001", [ready()])
    add_batch(connection, "B-0002", [ready()], status=statuses.BATCH_APPROVED, upload_id="U-0002")
    add_batch(connection, "B-0003", [ready()], kind="termination")
    add_batch(connection, "B-0004", [])  # a batch with no transactions still lists, with zeros

    def ids(**filters):
        return sorted(list_batches(connection, **filters)["batch_id"])

    assert ids(status="Approved") == ["B-0002"]
    assert ids(kind="termination") == ["B-0003"]
    assert ids(upload_id="U-0002") == ["B-0002"]
    assert ids(status="Pending Review", kind="appointment") == ["B-0001", "B-0004"]
    assert ids(status="Completed") == []
    empty = list_batches(connection).set_index("batch_id").loc["B-0004"]
    assert empty["transactions"] == 0 and empty["fees_to_send"] == Decimal("0.00")
    with pytest.raises(ValueError, match="unknown batch status 'Pending'"):
        list_batches(connection, status="Pending")


# ============================================================================================
# batch_detail
# ============================================================================================


def test_batch_detail_transactions_counts_fees_and_rejected_rows(connection):
    add_batch(
        connection,
        "B-0001",
        [
            ready("10.10", npn="111"),
            ready("20.20", npn="222"),
            held("5.25"),
            not_eligible(),
            not_eligible("Already Appointed"),
        ],
    )
    rejections = TABLES["request_rejections"]
    connection.execute(
        rejections.insert(),
        [
            {
                "upload_id": UPLOAD,
                "kind": "appointment",
                "request_row": 9,
                "npn": "999",
                "state_code": "TX",
                "cocode": COCODE,
                "eligibility_reason": "Producer Not Found",
                "status": statuses.REQUEST_REJECTED,
            },
            # Another company's request in the same upload: another batch's business.
            {
                "upload_id": UPLOAD,
                "kind": "appointment",
                "request_row": 10,
                "npn": "998",
                "state_code": "TX",
                "cocode": "67890",
                "eligibility_reason": "Producer Inactive",
                "status": statuses.REQUEST_REJECTED,
            },
            # Another upload.
            {
                "upload_id": "U-0002",
                "kind": "appointment",
                "request_row": 3,
                "npn": "997",
                "state_code": "TX",
                "cocode": COCODE,
                "eligibility_reason": "Producer Not Synced",
                "status": statuses.REQUEST_REJECTED,
            },
        ],
    )

    detail = batch_detail(connection, "B-0001")

    assert detail.batch_id == "B-0001" and detail.status == statuses.BATCH_PENDING_REVIEW
    assert detail.batch["company_name"] == "Acme Life"
    assert detail.batch["upload_object_key"] == "inbox/appoint/acme.csv"
    assert list(detail.transactions.columns) == list(approval.TRANSACTION_COLUMNS)
    assert list(detail.transactions["request_row"]) == [2, 3, 4, 5, 6]
    assert detail.fees_to_send == Decimal("30.30")
    assert detail.fees_held == Decimal("5.25")
    counts = {
        (c.eligibility_reason, c.status): (c.transactions, c.estimated_fees)
        for c in detail.counts.itertuples()
    }
    assert counts == {
        ("In Good Standing", "Ready to Submit"): (2, Decimal("30.30")),
        ("In Good Standing", "Held (JIT)"): (1, Decimal("5.25")),
        ("Required License Not Found", "Not Eligible"): (1, None),
        ("Already Appointed", "Not Eligible"): (1, None),
    }
    assert list(detail.counts["status"])[:2] == ["Ready to Submit", "Held (JIT)"]
    assert detail.count(statuses.NOT_ELIGIBLE) == 2
    assert detail.request_rejections.to_dict("records") == [
        {
            "request_row": 9,
            "npn": "999",
            "state_code": "TX",
            "loa_category": None,
            "loa_code": None,
            "eligibility_reason": "Producer Not Found",
            "status": "Request Rejected",
        }
    ]


def test_batch_detail_unknown_batch_names_it_and_the_list_command(connection):
    with pytest.raises(BatchNotFound) as raised:
        batch_detail(connection, "B-NOPE")
    assert "B-NOPE" in str(raised.value)
    assert "npnflow batches list" in str(raised.value)


# ============================================================================================
# approve_batch
# ============================================================================================


def test_approve_records_who_and_when_and_bumps_the_version(connection):
    add_batch(
        connection, "B-0001", [ready("30.00"), ready("330.00"), held("20.00"), not_eligible()]
    )

    result = approve_batch(connection, "B-0001", approved_by="  Dana  ", now=NOW)

    assert result.status == statuses.BATCH_APPROVED
    assert result.approval_version == 1
    assert result.by == "Dana" and result.at == NOW
    assert (result.transactions_to_send, result.fees_to_send) == (2, Decimal("360.00"))
    assert (result.transactions_held, result.fees_held) == (1, Decimal("20.00"))
    row = batch_row(connection, "B-0001")
    assert row["status"] == "Approved"
    assert row["approval_version"] == 1
    assert row["approved_by"] == "Dana"
    assert approval.as_utc(row["approved_at"]) == NOW
    # Approval itself changes no transaction: the submission run does.
    assert set(transaction_statuses(connection, "B-0001").values()) == {
        "Ready to Submit",
        "Held (JIT)",
        "Not Eligible",
    }


def test_approve_stores_utc_whatever_the_callers_zone(connection):
    add_batch(connection, "B-0001", [ready()])
    new_york = dt.timezone(dt.timedelta(hours=-5))
    approve_batch(connection, "B-0001", approved_by="Dana", now=NOW.astimezone(new_york))
    assert approval.as_utc(batch_row(connection, "B-0001")["approved_at"]) == NOW


def test_approving_twice_is_refused_naming_who_approved_and_when(connection):
    add_batch(connection, "B-0001", [ready()])
    approve_batch(connection, "B-0001", approved_by="Dana", now=NOW)
    with pytest.raises(BatchActionRefused) as raised:
        approve_batch(connection, "B-0001", approved_by="Lee", now=NOW)
    message = str(raised.value)
    assert "already Approved" in message
    assert "Dana" in message and "2026-11-24 10:02 UTC" in message
    assert "npnflow batches retry B-0001" in message
    assert raised.value.status == "Approved"
    row = batch_row(connection, "B-0001")
    assert (row["approval_version"], row["approved_by"]) == (1, "Dana")


APPROVED_EARLIER = {"approved_by": "Dana", "approved_at": T0, "approval_version": 1}


@pytest.mark.parametrize(
    ("status", "columns", "expected"),
    [
        ("Submitting", APPROVED_EARLIER, ["Submitting", "Dana", "2026-11-24 09:00 UTC", "retry"]),
        ("Submitted", APPROVED_EARLIER, ["Submitted", "Dana", "2026-11-24 09:00 UTC", "retry"]),
        ("Completed", APPROVED_EARLIER, ["Completed", "Dana", "new upload"]),
        ("Completed", {}, ["Completed", "never approved"]),
        (
            "Rejected",
            {"rejected_by": "Lee", "rejected_at": T0},
            ["Rejected by Lee at 2026-11-24 09:00 UTC", "new upload"],
        ),
    ],
)
def test_approve_is_refused_unless_pending_review(connection, status, columns, expected):
    add_batch(connection, "B-0001", [ready()], status=status, **columns)
    before = dict(batch_row(connection, "B-0001"))
    with pytest.raises(BatchActionRefused) as raised:
        approve_batch(connection, "B-0001", approved_by="Kim", now=NOW)
    message = str(raised.value)
    assert message.startswith("Not approved: B-0001")
    for part in expected:
        assert part in message
    assert dict(batch_row(connection, "B-0001")) == before


def test_approve_is_refused_for_a_blank_name_or_an_unknown_batch(connection):
    add_batch(connection, "B-0001", [ready()])
    with pytest.raises(BatchActionRefused, match="name is required"):
        approve_batch(connection, "B-0001", approved_by="   ", now=NOW)
    with pytest.raises(BatchNotFound, match="B-0404"):
        approve_batch(connection, "B-0404", approved_by="Dana", now=NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        approve_batch(connection, "B-0001", approved_by="Dana", now=NOW.replace(tzinfo=None))
    assert batch_row(connection, "B-0001")["status"] == statuses.BATCH_PENDING_REVIEW


def test_approve_is_refused_when_nothing_is_ready_to_submit(connection):
    add_batch(connection, "B-0001", [held("20.00"), held("20.00"), not_eligible()])
    with pytest.raises(BatchActionRefused) as raised:
        approve_batch(connection, "B-0001", approved_by="Dana", now=NOW)
    assert "nothing to send" in str(raised.value)
    assert "2 Held (JIT)" in str(raised.value)
    assert batch_row(connection, "B-0001")["approval_version"] == 0


def test_concurrent_approvals_bump_the_version_once(connection, monkeypatch):
    """Two analysts read the batch as Pending Review; the second conditional UPDATE matches
    nothing, so the second approval is refused and the sensor sees one version, one run."""
    add_batch(connection, "B-0001", [ready("30.00")])
    seen_by_lee = approval._read_batch(connection, "B-0001")  # before Dana's approval lands
    approve_batch(connection, "B-0001", approved_by="Dana", now=NOW)

    real_read = approval._read_batch
    reads = []

    def stale_then_real(conn, batch_id):
        reads.append(batch_id)
        return dict(seen_by_lee) if len(reads) == 1 else real_read(conn, batch_id)

    monkeypatch.setattr(approval, "_read_batch", stale_then_real)
    with pytest.raises(BatchActionRefused) as raised:
        approve_batch(connection, "B-0001", approved_by="Lee", now=NOW + dt.timedelta(seconds=1))
    assert "someone else changed B-0001" in str(raised.value)
    assert "Dana" in str(raised.value)
    row = batch_row(connection, "B-0001")
    assert (row["approval_version"], row["approved_by"]) == (1, "Dana")


def test_a_rejection_racing_an_approval_cancels_nothing(connection, monkeypatch):
    add_batch(connection, "B-0001", [ready("30.00"), held()])
    seen_by_lee = approval._read_batch(connection, "B-0001")
    approve_batch(connection, "B-0001", approved_by="Dana", now=NOW)
    real_read = approval._read_batch
    reads = []

    def stale_then_real(conn, batch_id):
        reads.append(batch_id)
        return dict(seen_by_lee) if len(reads) == 1 else real_read(conn, batch_id)

    monkeypatch.setattr(approval, "_read_batch", stale_then_real)
    with pytest.raises(BatchActionRefused, match="someone else changed"):
        reject_batch(connection, "B-0001", rejected_by="Lee", now=NOW)
    assert batch_row(connection, "B-0001")["status"] == statuses.BATCH_APPROVED
    assert statuses.CANCELLED not in transaction_statuses(connection, "B-0001").values()


# ============================================================================================
# reject_batch
# ============================================================================================


def test_reject_cancels_open_transactions_and_keeps_not_eligible(connection):
    add_batch(connection, "B-0001", [ready("30.00"), ready("12.50"), held("20.00"), not_eligible()])

    result = reject_batch(connection, "B-0001", rejected_by="Lee", now=NOW)

    assert (result.transactions_cancelled, result.fees_not_sent) == (3, Decimal("42.50"))
    assert result.transactions_not_eligible == 1
    assert (result.rejected_by, result.rejected_at) == ("Lee", NOW)
    row = batch_row(connection, "B-0001")
    assert (row["status"], row["rejected_by"]) == ("Rejected", "Lee")
    assert approval.as_utc(row["rejected_at"]) == NOW
    assert row["approval_version"] == 0 and row["approved_by"] is None
    assert sorted(transaction_statuses(connection, "B-0001").values()) == [
        "Cancelled",
        "Cancelled",
        "Cancelled",
        "Not Eligible",
    ]
    t = TABLES["transactions"]
    completed = connection.execute(
        sa.select(t.c.completed_at).where(t.c.status == statuses.CANCELLED)
    ).scalars()
    assert {approval.as_utc(c) for c in completed} == {NOW}
    # The batch now reads as all final: nothing left open to block a new request.
    listed = list_batches(connection).iloc[0]
    assert (listed["final"], listed["transactions"], listed["fees_to_send"]) == (
        4,
        4,
        Decimal("0.00"),
    )


@pytest.mark.parametrize("status", ["Approved", "Submitting", "Submitted", "Completed"])
def test_reject_is_refused_once_approved(connection, status):
    add_batch(connection, "B-0001", [ready()], status=status, **APPROVED_EARLIER)
    with pytest.raises(BatchActionRefused) as raised:
        reject_batch(connection, "B-0001", rejected_by="Lee", now=NOW)
    message = str(raised.value)
    assert "only a Pending Review batch can be rejected" in message
    assert status in message and "Dana" in message
    assert batch_row(connection, "B-0001")["status"] == status
    assert set(transaction_statuses(connection, "B-0001").values()) == {"Ready to Submit"}


def test_reject_twice_and_blank_names_are_refused(connection):
    add_batch(connection, "B-0001", [ready()])
    with pytest.raises(BatchActionRefused, match="name is required"):
        reject_batch(connection, "B-0001", rejected_by="", now=NOW)
    reject_batch(connection, "B-0001", rejected_by="Lee", now=NOW)
    with pytest.raises(BatchActionRefused, match="Rejected by Lee at 2026-11-24 10:02 UTC"):
        reject_batch(connection, "B-0001", rejected_by="Kim", now=NOW)
    assert batch_row(connection, "B-0001")["rejected_by"] == "Lee"


# ============================================================================================
# retry_batch
# ============================================================================================


@pytest.mark.parametrize("status", ["Approved", "Submitting", "Submitted"])
def test_retry_bumps_the_version_and_keeps_the_approval(connection, status):
    add_batch(
        connection,
        "B-0001",
        [
            ready("30.00"),
            {"status": statuses.SUBMITTED, "estimated_fee": "15.00"},
            {"status": statuses.ACCEPTED, "estimated_fee": "15.00"},
        ],
        status=status,
        **APPROVED_EARLIER,
    )

    result = retry_batch(connection, "B-0001", requested_by="Sam", now=NOW)

    assert (result.status, result.approval_version, result.by) == ("Approved", 2, "Sam")
    assert (result.transactions_to_send, result.fees_to_send) == (1, Decimal("30.00"))
    assert result.transactions_in_flight == 1
    assert result.approved_by == "Dana" and result.approved_at == T0
    row = batch_row(connection, "B-0001")
    assert (row["status"], row["approval_version"], row["approved_by"]) == ("Approved", 2, "Dana")
    # Each retry is a new (batch_id, approval_version), hence a new run key for the sensor.
    assert retry_batch(connection, "B-0001", requested_by="Sam", now=NOW).approval_version == 3


def test_retry_of_a_pending_batch_says_to_approve_it(connection):
    add_batch(connection, "B-0001", [ready()])
    with pytest.raises(BatchActionRefused) as raised:
        retry_batch(connection, "B-0001", requested_by="Sam", now=NOW)
    assert "never approved" in str(raised.value)
    assert "npnflow batches approve B-0001" in str(raised.value)
    assert batch_row(connection, "B-0001")["approval_version"] == 0


@pytest.mark.parametrize(
    ("status", "columns", "expected"),
    [
        ("Completed", APPROVED_EARLIER, "is Completed"),
        ("Rejected", {"rejected_by": "Lee", "rejected_at": T0}, "Rejected by Lee"),
    ],
)
def test_retry_is_refused_for_finished_batches(connection, status, columns, expected):
    add_batch(connection, "B-0001", [ready()], status=status, **columns)
    with pytest.raises(BatchActionRefused, match=expected):
        retry_batch(connection, "B-0001", requested_by="Sam", now=NOW)
    assert batch_row(connection, "B-0001")["status"] == status


def test_retry_is_refused_when_every_transaction_is_final(connection):
    add_batch(
        connection,
        "B-0001",
        [{"status": statuses.ACCEPTED}, {"status": statuses.ERROR}, not_eligible(), held()],
        status=statuses.BATCH_SUBMITTED,
        **APPROVED_EARLIER,
    )
    with pytest.raises(BatchActionRefused, match="nothing left to send") as raised:
        retry_batch(connection, "B-0001", requested_by="Sam", now=NOW)
    assert "1 held" in str(raised.value)
    assert batch_row(connection, "B-0001")["approval_version"] == 1


def test_approve_then_retry_versions_run_one_two(connection):
    add_batch(connection, "B-0001", [ready()])
    assert approve_batch(connection, "B-0001", approved_by="Dana", now=NOW).approval_version == 1
    assert retry_batch(connection, "B-0001", requested_by="Dana", now=NOW).approval_version == 2
