"""An agent file writes only what differs from the stored rows (issue 17), on SQLite and on
PostgreSQL: the same roster again rewrites nothing (tokens, `updated_at` and assignments as
they were), and a file that changes a few producers rewrites those few, leaving the tables
exactly as replacing everything would."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pandas as pd
import pytest
import sqlalchemy as sa

from assets.reference.loading import load_company_config, load_reference_data
from assets.uploads import store as upload_store
from assets.uploads.reading import read_upload
from assets.uploads.validation import validate_upload
from resources import paths
from resources.ssn import SsnVault, generate_key
from schemas import migrate
from schemas.tables import producer_assignments, producers

HEADER = (
    "Agency NPN,First Name,Last Name,Agent NPN,Agent Email,Agent SSN,LOA Category,States,"
    "Scorecard Type,Agent Type,CoCodes"
)
ROSTER = [
    "9000001,Ann,Lee,10000001,ann@example.com,123-45-6789,Life,CA;TX,License & Appointment,Producer,91234",
    "9000001,Bob,Ray,10000002,bob@example.com,223-45-6789,Life;Property,FL,License,Producer,",
    "9000002,Cy,Diaz,10000003,,323-45-6789,,,,,",
]
FIRST = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)
SECOND = dt.datetime(2026, 12, 2, 9, tzinfo=dt.UTC)
THIRD = dt.datetime(2026, 12, 3, 9, tzinfo=dt.UTC)


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    """SQLite, then PostgreSQL (conftest's `database_url`), migrated to head."""
    migrate.upgrade(database_url)
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def setup() -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    reference = load_reference_data(paths.reference_dir())
    return reference, load_company_config(paths.config_dir(), reference)["companies"]


def _onboard(engine, setup, rows: list[str], upload_id: str, now: dt.datetime, vault):
    reference, companies = setup
    raw = read_upload("\r\n".join([HEADER, *rows]).encode(), f"{upload_id}.csv")
    validated = validate_upload(raw, "agent", reference, companies)
    assert validated.rows_rejected == 0, validated.row_errors
    with engine.begin() as connection:
        upload_store.save_upload_row(
            connection,
            upload_id,
            {
                "object_key": f"inbox/agent/{upload_id}.csv",
                "content_sha256": upload_id,
                "kind": "agent",
                "received_at": now,
                "status": "Received",
            },
        )
        return upload_store.apply_validated_upload(
            connection,
            upload_id,
            validated,
            error_report_key=None,
            protect=vault.protector(),
            now=now,
            fingerprint=vault.fingerprinter(),
        )


def _producers(engine) -> pd.DataFrame:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(producers).order_by(producers.c.npn)).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=[c.name for c in producers.c])


def _assignments(engine) -> set[tuple]:
    with engine.connect() as connection:
        return {tuple(r) for r in connection.execute(sa.select(producer_assignments))}


def _as_utc(value) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def test_the_same_roster_again_rewrites_nothing(engine, setup) -> None:
    vault = SsnVault(key=generate_key())
    _onboard(engine, setup, ROSTER, "U1", FIRST, vault)
    before, assigned = _producers(engine), _assignments(engine)
    assert before.ssn_fingerprint.notna().all() and before.ssn_encrypted.notna().all()

    plan = _onboard(engine, setup, ROSTER, "U2", SECOND, vault)

    assert plan is not None and plan.unchanged_npns == {"10000001", "10000002", "10000003"}
    after = _producers(engine)
    pd.testing.assert_frame_equal(after, before)  # tokens and updated_at untouched
    assert {_as_utc(v) for v in after.updated_at} == {FIRST}
    assert _assignments(engine) == assigned


def test_a_file_that_changes_a_few_producers_leaves_what_replacing_everything_would(
    engine, setup
) -> None:
    vault = SsnVault(key=generate_key())
    _onboard(engine, setup, ROSTER, "U1", FIRST, vault)
    first = _producers(engine).set_index("npn")
    changed = [
        ROSTER[0].replace("CA;TX", "CA;NV"),  # one state swapped: TX out, NV in
        ROSTER[1].replace("223-45-6789", "223-45-0000"),  # another SSN
        ROSTER[2],
    ]

    plan = _onboard(engine, setup, changed, "U2", THIRD, vault)

    assert plan is not None and plan.unchanged_npns == {"10000001", "10000003"}
    after = _producers(engine).set_index("npn")
    assert after.loc["10000002", "ssn_last4"] == "0000"
    assert after.loc["10000002", "ssn_encrypted"] != first.loc["10000002", "ssn_encrypted"]
    assert _as_utc(after.loc["10000002", "updated_at"]) == THIRD
    for npn in ("10000001", "10000003"):
        assert after.loc[npn, "ssn_encrypted"] == first.loc[npn, "ssn_encrypted"]
        assert _as_utc(after.loc[npn, "updated_at"]) == FIRST
    # The assignments are exactly the file's: Ann's TX rows gone, NV rows in, Bob's kept.
    expected = {
        tuple(row)
        for row in plan.assignments[[c.name for c in producer_assignments.c]].itertuples(
            index=False, name=None
        )
    }
    assert _assignments(engine) == expected
    assert {(a[0], a[2]) for a in expected if a[0] == "10000001"} == {
        ("10000001", "CA"),
        ("10000001", "NV"),
    }
