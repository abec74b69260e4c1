"""The validated request rows stored once (`upload_request_rows`, migration 0005) read back
exactly as the validator exploded them, on SQLite and on PostgreSQL; agent rows (SSNs) are
never stored; an upload validated before the migration says how to get its rows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from assets.reference.loading import load_company_config, load_reference_data
from assets.uploads import request_rows
from assets.uploads import store as upload_store
from assets.uploads.reading import read_upload
from assets.uploads.validation import ValidatedUpload, validate_upload
from resources import paths
from resources.ssn import SsnVault
from schemas import migrate
from schemas.tables import upload_request_rows

APPOINT = (
    "NPN,States,CoCode,LOA Category,Line of Authority,Agent Type,Submit,Submit Just In Time,"
    "Effective Date,County\r\n"
    "0001234,ca; tx,91234,Life,,,TRUE,,2026-01-02,\r\n"  # two states, a default agent type
    "124,OH,91234,,Life,Producer,no,yes,03/04/2026,Kings\r\n"  # a line mapped to its category
    "x125,OH,91234,Life,,,,,,\r\n"  # rejected: not an NPN
    "126,VA,93456,Accident & Health,,Producer,FALSE,FALSE,,\r\n"
)
TERMINATE = (
    "Agent NPN,States,Line of Authority,CoCode,Termination Reason Code,Effective Date,"
    "Submit Immediately\r\n"
    "123,CA;TX,Life,91234,,,TRUE\r\n"  # the state's default reason
    "124,OH,life,91234,voluntary termination,2026-02-03,\r\n"
    "125,OH,Life,1234,,,\r\n"  # rejected: a 4-digit CoCode
)
PORTAL = "NPN,Portal\r\n10000001,Agent Portal\r\n10000002,agents\r\nabc,Agent Portal\r\n"
OFFBOARD = (
    "Agent NPN,Termination Reason Code,Effective Date,CoCodes\r\n"
    "0001234,,,\r\n"  # every company, default reasons
    "124,voluntary termination,11/30/2026,91234; 92345\r\n"  # a `;`-list kept as typed
    "x125,,,\r\n"  # rejected: not an NPN
)
ALL_REJECTED = {
    "appoint": "NPN,States,CoCode,LOA Category\r\nx,CA,91234,Life\r\n",
    "terminate": "Agent NPN,States,Line of Authority,CoCode\r\nx,CA,Life,91234\r\n",
    "portal_invite": "NPN,Portal\r\nx,Agent Portal\r\n",
    "offboard": "Agent NPN\r\nx\r\n",
}
CASES = {
    "appoint": ("appoint", APPOINT),
    "terminate": ("terminate", TERMINATE),
    "portal_invite": ("portal_invite", PORTAL),
    "offboard": ("offboard", OFFBOARD),
    **{f"{kind}, every row rejected": (kind, text) for kind, text in ALL_REJECTED.items()},
}
AGENT = (
    "Agency NPN,First Name,Last Name,Agent NPN,Agent Email,Agent SSN\r\n"
    "9000001,Ann,Lee,10000001,ann@example.com,123-45-6789\r\n"
)
NOW = dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def reference() -> dict[str, pd.DataFrame]:
    return load_reference_data(paths.reference_dir())


@pytest.fixture(scope="module")
def companies(reference) -> pd.DataFrame:
    return load_company_config(paths.config_dir(), reference)["companies"]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """A database migrated to head by the Alembic migrations (0005 included)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'npnflow.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    migrate.upgrade(url)
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    yield engine
    engine.dispose()


def _validate(text: str, kind: str, reference, companies) -> ValidatedUpload:
    return validate_upload(read_upload(text.encode(), "upload.csv"), kind, reference, companies)


def _apply(engine: sa.Engine, upload_id: str, validated: ValidatedUpload) -> None:
    """What core_uploads__validated does: record the upload, then apply it in one transaction."""
    with engine.begin() as connection:
        upload_store.save_upload_row(
            connection,
            upload_id,
            {
                "object_key": f"inbox/{validated.kind}/{upload_id}.csv",
                "content_sha256": upload_id,
                "kind": validated.kind,
                "received_at": NOW,
                "status": "Received",
            },
        )
        upload_store.apply_validated_upload(
            connection,
            upload_id,
            validated,
            error_report_key=None,
            protect=SsnVault(key=None).protector(),
            now=NOW,
        )


@pytest.mark.parametrize("case", list(CASES))
def test_the_stored_request_rows_read_back_exactly_as_exploded(
    engine, reference, companies, case
) -> None:
    kind, text = CASES[case]
    validated = _validate(text, kind, reference, companies)
    _apply(engine, "U1", validated)

    with engine.connect() as connection:
        stored = request_rows.read_request_rows(connection, "U1", kind)

    expected = validated.exploded()
    assert validated.rows_rejected >= 1
    assert expected.empty == ("rejected" in case)
    pd.testing.assert_frame_equal(stored, expected, check_exact=True)
    # What `npnflow check` evaluates without storing anything: the rows read back, exactly.
    pd.testing.assert_frame_equal(request_rows.request_rows_of(validated), stored, check_exact=True)


def test_the_round_trip_keeps_dates_booleans_canonical_npns_and_order(
    engine, reference, companies
) -> None:
    validated = _validate(APPOINT, "appoint", reference, companies)
    _apply(engine, "U1", validated)

    with engine.connect() as connection:
        stored = request_rows.read_request_rows(connection, "U1", "appoint")

    assert stored[["request_row", "npn", "state_code"]].values.tolist() == [
        [2, "1234", "CA"],  # typed 0001234: stored as NIPR writes it (schemas/npns.py)
        [2, "1234", "TX"],
        [3, "124", "OH"],
        [5, "126", "VA"],
    ]
    assert stored["effective_date"].tolist()[:3] == [pd.Timestamp("2026-01-02")] * 2 + [
        pd.Timestamp("2026-03-04")
    ]
    assert pd.isna(stored["effective_date"].iloc[3])
    assert stored["submit"].tolist() == [True, True, False, False]
    assert stored["submit_just_in_time"].tolist() == [False, False, True, False]
    assert stored["loa_category"].tolist() == ["Life", "Life", "Life", "Accident & Health"]


def test_processing_again_replaces_the_rows_and_a_rejection_removes_them(
    engine, reference, companies
) -> None:
    validated = _validate(TERMINATE, "terminate", reference, companies)
    _apply(engine, "U1", validated)
    _apply(engine, "U1", validated)
    count = sa.select(sa.func.count()).select_from(upload_request_rows)
    with engine.connect() as connection:
        assert connection.execute(count).scalar_one() == len(validated.exploded())

    with engine.begin() as connection:
        upload_store.mark_rejected(connection, "U1", "The file is empty.", None)
        assert connection.execute(count).scalar_one() == 0


def test_an_agent_upload_stores_no_request_row_so_no_ssn(engine, reference, companies) -> None:
    validated = _validate(AGENT, "agent", reference, companies)
    assert validated.valid_rows["ssn"].tolist() == ["123456789"]

    _apply(engine, "U1", validated)

    with engine.connect() as connection:
        rows = connection.execute(sa.select(upload_request_rows)).all()
        with pytest.raises(ValueError, match="'agent' uploads are not stored"):
            request_rows.read_request_rows(connection, "U1", "agent")
    assert rows == []


def test_an_upload_validated_before_the_rows_were_stored_says_what_to_do(engine) -> None:
    with engine.begin() as connection:
        upload_store.save_upload_row(
            connection,
            "inbox__appoint__old.csv__abc",
            {
                "object_key": "inbox/appoint/old.csv",
                "content_sha256": "abc",
                "kind": "appoint",
                "received_at": NOW,
                "status": "Processed",
                "rows_valid": 3,
            },
        )

    with engine.connect() as connection, pytest.raises(request_rows.RequestRowsMissing) as caught:
        request_rows.read_request_rows(connection, "inbox__appoint__old.csv__abc", "appoint")

    assert str(caught.value) == (
        "Upload inbox__appoint__old.csv__abc has no stored request rows: it was validated "
        "before they were stored (migration 0005), or not validated yet. Materialize "
        "core_uploads__validated again for partition inbox__appoint__old.csv__abc (it reads "
        "the file once more and stores its rows), then this step."
    )


def test_an_offboard_upload_keeps_one_row_per_producer_with_its_cocodes_as_typed(
    engine, reference, companies
) -> None:
    validated = _validate(OFFBOARD, "offboard", reference, companies)
    _apply(engine, "U1", validated)
    with engine.connect() as connection:
        stored = request_rows.read_request_rows(connection, "U1", "offboard")
    assert stored["npn"].tolist() == ["1234", "124"]  # typed 0001234: canonical
    assert stored["cocodes"].tolist()[1] == "91234;92345"
    assert pd.isna(stored["cocodes"].tolist()[0])
    assert stored["termination_reason_code"].tolist()[1] == "VOLUNTARY_TERMINATION"
    assert stored["effective_date"].tolist()[1] == pd.Timestamp("2026-11-30")
