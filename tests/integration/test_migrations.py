"""The Alembic migrations build the SPEC section 3 contract, on SQLite and on PostgreSQL.

The expected tables, keys and columns below are typed from SPEC section 3, not read from
schemas/tables.py, so a wrong table definition fails here instead of agreeing with itself.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.exc import IntegrityError

from schemas import migrate
from schemas.tables import metadata

# table -> (primary key columns in order, other contract columns). None: a surrogate key.
SPEC_TABLES: dict[str, tuple[tuple[str, ...] | None, tuple[str, ...]]] = {
    # Reference and configuration
    "jurisdictions": (("state_code",), ("name",)),
    "license_classes": (("state_code", "license_class_code"), ("license_class",)),
    "lines_of_authority": (("state_code", "loa_code"), ("loa_name",)),
    "loa_categories": (("state_code", "loa_code", "loa_category"), ()),
    "companies": (("cocode",), ("company_name", "fein", "producer_assignment_required")),
    "company_loa_categories": (("cocode", "loa_category"), ()),
    "company_state_settings": (("cocode", "state_code"), ("state_company_id", "jit")),
    "gateway_business_rules": (
        ("cocode", "state_code", "license_class_code", "loa_code"),
        ("loa_category", "active"),
    ),
    "termination_reasons": (("reason_code",), ("description",)),
    "state_termination_reasons": (("state_code", "reason_code"), ("is_default",)),
    "state_fees": (
        ("state_code", "transaction_kind"),
        ("resident_fee", "nonresident_fee", "per_loa", "billed_by_state"),
    ),
    # Producers and NIPR data
    "agencies": (("agency_npn",), ("agency_name",)),
    "producers": (
        ("npn",),
        (
            "first_name",
            "last_name",
            "email",
            "agency_npn",
            "agent_type",
            "is_active",
            "sync_status",
            "last_synced_at",
            "ssn_last4",
            "ssn_encrypted",
        ),
    ),
    "licenses": (
        ("npn", "state_code", "license_number", "license_class_code"),
        (
            "license_class",
            "is_resident",
            "is_active",
            "issue_date",
            "expiration_date",
            "nipr_updated_at",
        ),
    ),
    "license_loas": (
        # The class joined the key (migration 0007): one license number, several classes.
        ("npn", "state_code", "license_number", "license_class_code", "loa_code"),
        ("loa_name", "is_active", "issue_date"),
    ),
    "appointments": (
        ("npn", "state_code", "cocode", "loa_code"),
        (
            "company_name",
            "status",
            "effective_date",
            "termination_reason",
            "status_reason_date",
            "renewal_date",
        ),
    ),
    "producer_assignments": (
        ("npn", "loa_category", "state_code", "cocode"),
        ("scorecard_type", "agent_type"),
    ),
    "nipr_subscriptions": (("npn",), ("subscription_name", "added_at", "removed_at")),
    # Uploads, transactions and submissions
    "uploads": (
        ("upload_id",),
        (
            "object_key",
            "content_sha256",
            "kind",
            "received_at",
            "status",
            "rows_total",
            "rows_blank",
            "rows_valid",
            "rows_rejected",
        ),
    ),
    "upload_row_errors": (None, ("upload_id", "row_number", "column", "message")),
    "transaction_batches": (
        ("batch_id",),
        (
            "kind",
            "cocode",
            "upload_id",
            "status",
            "approval_version",
            "approved_by",
            "approved_at",
            "submit_immediately",
            "estimated_fees",
        ),
    ),
    "transactions": (
        ("transaction_id",),
        (
            "batch_id",
            "kind",
            "request_row",
            "npn",
            "state_code",
            "cocode",
            "loa_category",
            "loa_code",
            "license_number",
            "is_jit",
            "eligibility_reason",
            "status",
            "termination_reason_code",
            "effective_date",
            "estimated_fee",
            "idempotency_key",
            "nipr_status",
            "nipr_message",
            "submitted_at",
            "completed_at",
        ),
    ),
    "submission_attempts": (
        None,
        ("batch_id", "approval_version", "chunk", "sent_at", "request_digest", "response_status"),
    ),
    "portals": (("portal_id",), ("portal_name", "seats_total")),
    "portal_users": (
        ("npn", "portal_id"),
        ("email", "status", "invited_at", "invitation_token_hash"),
    ),
}

# Tables beyond the SPEC that other modules rely on (the agreed additions).
ADDED_TABLES: dict[str, tuple[str, ...]] = {
    "license_class_loas": ("state_code", "license_class_code", "loa_code"),
    "producer_license_classes": ("state_code", "license_class_code"),
    "state_appointment_rules": ("state_code",),
    "upload_request_rows": ("upload_id", "position"),
    "nipr_transaction_fees": ("transaction_kind",),
    "appointment_standing": ("npn", "state_code", "cocode", "loa_code"),
    "at_risk_digests": ("digest_id",),
    "at_risk_notified_lines": ("npn", "state_code", "cocode", "loa_code", "risk_reason"),
    "state_appointment_renewals": ("state_code",),
    "appointment_renewal_plan": ("cocode", "state_code", "npn", "loa_code"),
    "batch_events": ("event_id",),
    "upload_droppers": ("content_sha256", "dropped_by"),
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database; the SQLite file sits in a folder that does not exist yet."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'not-yet' / 'npnflow.db'}"
    return request.getfixturevalue("fresh_postgres_url")


def _inspect(database_url: str, inspect_with):
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            return inspect_with(connection)
    finally:
        engine.dispose()


def _schema_snapshot(database_url: str) -> dict[str, object]:
    def snapshot(connection: sa.Connection) -> dict[str, object]:
        inspector = sa.inspect(connection)
        return {
            table: (
                [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
                inspector.get_pk_constraint(table),
                sorted((i["name"], tuple(i["column_names"])) for i in inspector.get_indexes(table)),
                sorted(
                    (u["name"], tuple(u["column_names"]))
                    for u in inspector.get_unique_constraints(table)
                ),
            )
            for table in sorted(inspector.get_table_names())
        }

    return _inspect(database_url, snapshot)


def _schema_differences(database_url: str, target: sa.MetaData) -> list[object]:
    def differences(connection: sa.Connection) -> list[object]:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "version_table": migrate.VERSION_TABLE,
            },
        )
        return compare_metadata(context, target)

    return _inspect(database_url, differences)


def test_a_new_database_is_migrated_to_head(database_url: str) -> None:
    assert migrate.current_revision(database_url) is None

    migrate.upgrade(database_url)

    assert migrate.current_revision(database_url) == migrate.head_revision()


def test_every_spec_table_exists_with_its_key_and_columns(database_url: str) -> None:
    migrate.upgrade(database_url)

    def read(connection: sa.Connection) -> dict[str, tuple[list[str], set[str]]]:
        inspector = sa.inspect(connection)
        return {
            table: (
                inspector.get_pk_constraint(table)["constrained_columns"],
                {c["name"] for c in inspector.get_columns(table)},
            )
            for table in inspector.get_table_names()
        }

    found = _inspect(database_url, read)

    missing_tables = sorted((set(SPEC_TABLES) | set(ADDED_TABLES)) - set(found))
    assert missing_tables == []
    for table, (key, columns) in SPEC_TABLES.items():
        found_key, found_columns = found[table]
        if key is None:
            assert found_key == ["id"], table
        else:
            assert found_key == list(key), table
        missing_columns = sorted((set(key or ()) | set(columns)) - found_columns)
        assert missing_columns == [], table
    for table, key in ADDED_TABLES.items():
        assert found[table][0] == list(key), table


def test_upgrading_twice_changes_nothing_and_keeps_the_data(database_url: str) -> None:
    migrate.upgrade(database_url)
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    with engine.begin() as connection:
        connection.execute(
            metadata.tables["producers"].insert(), {"npn": "0001234", "last_name": "Doe"}
        )
    before = _schema_snapshot(database_url)

    migrate.upgrade(database_url)

    assert _schema_snapshot(database_url) == before
    assert migrate.current_revision(database_url) == migrate.head_revision()
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT npn, sync_status FROM producers")).all()
    engine.dispose()
    # NPNs are text: the leading zeros survive. The status starts at the database default.
    assert [tuple(row) for row in rows] == [("0001234", "Not Started")]


def test_tables_py_and_the_migrations_do_not_drift(database_url: str) -> None:
    migrate.upgrade(database_url)

    assert _schema_differences(database_url, metadata) == []


def test_the_drift_check_notices_a_column_the_migrations_lack(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'npnflow.db'}"
    migrate.upgrade(database_url)
    changed = sa.MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["producers"].append_column(sa.Column("nickname", sa.String()))

    differences = _schema_differences(database_url, changed)

    assert [d[:3] for d in differences if d[0] == "add_column"] == [
        ("add_column", None, "producers")
    ]


def test_downgrade_to_base_and_upgrade_again(database_url: str) -> None:
    migrate.upgrade(database_url)

    migrate.downgrade(database_url, "base")

    remaining = _inspect(database_url, lambda c: set(sa.inspect(c).get_table_names()))
    assert remaining <= {migrate.VERSION_TABLE}
    assert migrate.current_revision(database_url) is None

    migrate.upgrade(database_url)

    assert _schema_differences(database_url, metadata) == []
    assert migrate.current_revision(database_url) == migrate.head_revision()


def test_the_submission_ledger_refuses_a_second_attempt_for_the_same_chunk(
    database_url: str,
) -> None:
    migrate.upgrade(database_url)
    batches = metadata.tables["transaction_batches"]
    attempts = metadata.tables["submission_attempts"]
    transactions = metadata.tables["transactions"]
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    attempt = {"batch_id": "B1", "approval_version": 1, "chunk": 0}
    try:
        with engine.begin() as connection:
            connection.execute(
                batches.insert(), {"batch_id": "B1", "kind": "appointment", "status": "Approved"}
            )
            connection.execute(attempts.insert(), attempt)
            connection.execute(
                transactions.insert(),
                {
                    "transaction_id": "T1",
                    "batch_id": "B1",
                    "kind": "appointment",
                    "npn": "123",
                    "idempotency_key": "K1",
                },
            )
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(attempts.insert(), attempt)
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(
                transactions.insert(),
                {
                    "transaction_id": "T2",
                    "batch_id": "B1",
                    "kind": "appointment",
                    "npn": "123",
                    "idempotency_key": "K1",
                },
            )
        with engine.begin() as connection:  # a new approval version is a new attempt
            connection.execute(attempts.insert(), {**attempt, "approval_version": 2})
            count = connection.execute(sa.select(sa.func.count()).select_from(attempts))
            assert count.scalar_one() == 2
    finally:
        engine.dispose()


def test_env_runs_on_the_connection_the_caller_passes() -> None:
    # An in-memory SQLite database exists only on its own connection: the tables can only
    # appear here if env.py migrated this connection instead of opening one from the URL.
    engine = sa.create_engine("sqlite://", poolclass=sa.StaticPool)
    config = migrate.alembic_config("sqlite://")
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        connection.commit()
        tables = set(sa.inspect(connection).get_table_names())
    engine.dispose()

    assert set(SPEC_TABLES) <= tables


def test_the_content_claim_refuses_a_second_upload_of_the_same_content(database_url: str) -> None:
    """Migration 0006: of two runs recording the same content, the database refuses one."""
    migrate.upgrade(database_url)
    uploads = metadata.tables["uploads"]
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    upload = {
        "object_key": "inbox/a.csv",
        "content_sha256": "abc",
        "kind": "appoint",
        "received_at": dt.datetime.now(dt.UTC),
    }
    try:
        with engine.begin() as connection:
            for upload_id, status in (("U1", "Processed"), ("U2", "Duplicate"), ("U3", "Rejected")):
                connection.execute(
                    uploads.insert(), {**upload, "upload_id": upload_id, "status": status}
                )
        for status in ("Received", "Processed"):
            with pytest.raises(IntegrityError), engine.begin() as connection:
                connection.execute(
                    uploads.insert(), {**upload, "upload_id": "U4", "status": status}
                )
        with engine.begin() as connection:  # a rejection releases the claim
            connection.execute(
                uploads.update().where(uploads.c.upload_id == "U1").values(status="Rejected")
            )
            connection.execute(
                uploads.insert(), {**upload, "upload_id": "U4", "status": "Received"}
            )
    finally:
        engine.dispose()


def test_the_claims_migration_stops_on_doubles_a_race_left_and_names_them(
    database_url: str,
) -> None:
    migrate.upgrade(database_url, "0005")
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    try:
        with engine.begin() as connection:
            for upload_id in ("U1", "U2"):
                connection.execute(
                    sa.text(
                        "INSERT INTO uploads (upload_id, object_key, content_sha256, kind, "
                        "received_at, status) VALUES (:u, 'inbox/a.csv', 'abcdef0123456789', "
                        "'appoint', CURRENT_TIMESTAMP, 'Processed')"
                    ),
                    {"u": upload_id},
                )
    finally:
        engine.dispose()
    with pytest.raises(Exception, match="Migration 0006 stops.*abcdef012345.*2 uploads"):
        migrate.upgrade(database_url)
    assert migrate.current_revision(database_url) == "0005"


def test_the_nipr_fee_table_is_seeded_and_transactions_carry_the_nipr_fee(
    database_url: str,
) -> None:
    """Migration 0008: NIPR's fee per transaction kind exists before the reference job runs
    again, and each transaction has a column for NIPR's fee beside the state fee."""
    migrate.upgrade(database_url)

    def read(connection: sa.Connection) -> tuple[list[tuple[str, float, bool]], set[str]]:
        fees = connection.execute(
            sa.text(
                "SELECT transaction_kind, nipr_fee, is_assumption FROM nipr_transaction_fees "
                "ORDER BY transaction_kind"
            )
        ).all()
        columns = {c["name"] for c in sa.inspect(connection).get_columns("transactions")}
        return [(k, float(f), bool(a)) for k, f, a in fees], columns

    fees, columns = _inspect(database_url, read)

    assert [(kind, assumed) for kind, _, assumed in fees] == [
        ("appointment", True),
        ("termination", True),
    ]
    assert all(fee > 0 for _, fee, _ in fees)  # an estimate, never "free" by default
    assert {"estimated_fee", "estimated_nipr_fee"} <= columns


def _seed_license_lines_before_0007(database_url: str) -> None:
    """Producers and lines as the old key held them (migration 0006)."""
    statements = [
        # 100: one class per number, the rows are exact.
        "INSERT INTO producers (npn, sync_status) VALUES ('100', 'Success')",
        "INSERT INTO licenses (npn, state_code, license_number, license_class_code, is_active) "
        "VALUES ('100', 'TX', 'TX-1', '3', true)",
        "INSERT INTO license_loas (npn, state_code, license_number, loa_code, is_active) "
        "VALUES ('100', 'TX', 'TX-1', '16', true), ('100', 'TX', 'TX-1', '14', false)",
        # 200: VA number 123 under classes 66 and 3 (the old apply kept one class's LOA 42).
        "INSERT INTO producers (npn, sync_status) VALUES ('200', 'Success')",
        "INSERT INTO licenses (npn, state_code, license_number, license_class_code, is_active) "
        "VALUES ('200', 'VA', '123', '66', true), ('200', 'VA', '123', '3', true)",
        "INSERT INTO license_loas (npn, state_code, license_number, loa_code, is_active) "
        "VALUES ('200', 'VA', '123', '42', false)",
        # 300: a line whose number has no license row at all.
        "INSERT INTO producers (npn, sync_status) VALUES ('300', 'Success')",
        "INSERT INTO license_loas (npn, state_code, license_number, loa_code, is_active) "
        "VALUES ('300', 'CA', 'CA-9', '16', true)",
    ]
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(sa.text(statement))
    finally:
        engine.dispose()


def _read(database_url: str, query: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(sa.text(query))]
    finally:
        engine.dispose()


def test_license_lines_take_their_class_in_place_and_guessed_producers_sync_again(
    database_url: str,
) -> None:
    """Migration 0007: every row is kept, with its license's class; where the class had to
    be guessed (several classes, or no license row) the producer is picked by the next
    initial sync, whose Entity Info restores each class's own lines."""
    migrate.upgrade(database_url, "0006")
    _seed_license_lines_before_0007(database_url)

    migrate.upgrade(database_url)

    lines = _read(
        database_url,
        "SELECT npn, state_code, license_number, license_class_code, loa_code, is_active "
        "FROM license_loas ORDER BY npn, loa_code",
    )
    assert lines == [
        ("100", "TX", "TX-1", "3", "14", False),
        ("100", "TX", "TX-1", "3", "16", True),
        ("200", "VA", "123", "3", "42", False),  # the lowest of classes 3 and 66
        ("300", "CA", "CA-9", "", "16", True),  # no license row: the placeholder class
    ]
    statuses = _read(database_url, "SELECT npn, sync_status FROM producers ORDER BY npn")
    assert statuses == [("100", "Success"), ("200", "Not Started"), ("300", "Not Started")]
    # The new key holds the same line under the other class of the number.
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(
                metadata.tables["license_loas"].insert(),
                {
                    "npn": "200",
                    "state_code": "VA",
                    "license_number": "123",
                    "license_class_code": "66",
                    "loa_code": "42",
                    "is_active": True,
                },
            )
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(
                metadata.tables["license_loas"].insert(),
                {
                    "npn": "200",
                    "state_code": "VA",
                    "license_number": "123",
                    "license_class_code": "66",
                    "loa_code": "42",
                },
            )
    finally:
        engine.dispose()
    assert _schema_differences(database_url, metadata) == []


def test_downgrading_0007_folds_the_classes_back_keeping_the_active_line(
    database_url: str,
) -> None:
    migrate.upgrade(database_url)
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    rows = [
        {"license_class_code": "3", "is_active": False},
        {"license_class_code": "66", "is_active": True},
    ]
    try:
        with engine.begin() as connection:
            connection.execute(
                metadata.tables["producers"].insert(), {"npn": "200", "sync_status": "Success"}
            )
            for row in rows:
                connection.execute(
                    metadata.tables["license_loas"].insert(),
                    {"npn": "200", "state_code": "VA", "license_number": "123", "loa_code": "42"}
                    | row,
                )
    finally:
        engine.dispose()

    migrate.downgrade(database_url, "0006")

    assert _read(database_url, "SELECT npn, loa_code, is_active FROM license_loas") == [
        ("200", "42", True)
    ]
    assert _read(database_url, "SELECT sync_status FROM producers") == [("Not Started",)]


def _seed_padded_npns_before_0011(database_url: str) -> None:
    """A padded producer with a canonical twin, one without, and an all-zero NPN (0010)."""
    statements = [
        "INSERT INTO producers (npn, first_name, sync_status) VALUES "
        "('48905991', 'Canonical', 'Success'), ('048905991', 'Padded', 'Not Found'), "
        "('0077', 'Alone', 'Not Found'), ('000', 'Zeros', 'Not Found')",
        "UPDATE producers SET agency_npn = '09000001' WHERE npn = '0077'",
        "INSERT INTO agencies (agency_npn, agency_name) VALUES ('09000001', 'Agency')",
        "INSERT INTO producer_assignments (npn, loa_category, state_code, cocode) VALUES "
        "('48905991', 'Life', 'CA', '91234'), ('048905991', 'Life', 'CA', '91234'), "
        "('048905991', 'Life', 'TX', '91234')",
        "INSERT INTO portals (portal_id, portal_name, seats_total) VALUES ('P1', 'Agents', 2)",
        "INSERT INTO portal_users (npn, portal_id, status) VALUES "
        "('48905991', 'P1', 'Registered'), ('048905991', 'P1', 'Invited'), ('0077', 'P1', 'Invited')",
        "INSERT INTO nipr_subscriptions (npn, subscription_name, invalid_reason) VALUES "
        "('48905991', 'S', NULL), ('048905991', 'S', 'Entity was not found')",
        "INSERT INTO request_rejections (kind, npn, eligibility_reason, status) VALUES "
        "('appointment', '048905991', 'Producer Not Found', 'Request Rejected')",
    ]
    engine = sa.create_engine(database_url, poolclass=sa.NullPool)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(sa.text(statement))
    finally:
        engine.dispose()


def test_padded_npns_become_canonical_and_the_canonical_twin_wins(database_url: str) -> None:
    """Migration 0011 (docs/decisions/0029-canonical-npns.md)."""
    migrate.upgrade(database_url, "0010")
    _seed_padded_npns_before_0011(database_url)

    migrate.upgrade(database_url)

    def state() -> dict[str, list[tuple[object, ...]]]:
        return {
            "producers": _read(
                database_url,
                "SELECT npn, first_name, sync_status, agency_npn FROM producers ORDER BY npn",
            ),
            "agencies": _read(database_url, "SELECT agency_npn FROM agencies"),
            "assignments": _read(
                database_url,
                "SELECT npn, state_code FROM producer_assignments ORDER BY npn, state_code",
            ),
            "seats": _read(
                database_url, "SELECT npn, status FROM portal_users ORDER BY npn, status"
            ),
            "targets": _read(database_url, "SELECT npn FROM nipr_subscriptions"),
            "rejections": _read(database_url, "SELECT npn FROM request_rejections"),
        }

    migrated = state()
    assert migrated == {
        "producers": [
            ("000", "Zeros", "Not Found", None),  # no NIPR number to move it to
            ("48905991", "Canonical", "Success", None),  # the twin wins, as it was
            ("77", "Alone", "Not Started", "9000001"),  # synced again under its real NPN
        ],
        "agencies": [("9000001",)],
        # The twin's CA line kept, the padded producer's TX line moved to it.
        "assignments": [("48905991", "CA"), ("48905991", "TX")],
        # The padded producer's seat is freed; the lone one's seat is now the real producer's.
        "seats": [("48905991", "Registered"), ("77", "Invited")],
        "targets": [("48905991",)],
        "rejections": [("48905991",)],
    }
    # The downgrade keeps the canonical rows; upgrading again changes nothing.
    migrate.downgrade(database_url, "0010")
    migrate.upgrade(database_url)
    assert state() == migrated
    assert _schema_differences(database_url, metadata) == []
