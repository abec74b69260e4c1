"""The current-state checks on the scopes a day applied, and on whole tables, on SQLite and
PostgreSQL: what the daily check sees (the day's scopes, in full, keys counted by the
database) and what it must not see (rows of scopes the day did not touch)."""

import datetime as dt

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from assets.nipr import check_scope
from assets.nipr.check_scope import CheckScope
from assets.nipr.checks import check_table
from assets.reference.assets import company_config_tables, reference_tables
from npnflow.sandbox.generator import generate_world
from resources.database import OperationalDatabase
from schemas.migrate import upgrade
from schemas.tables import TABLES as TABLES_BY_NAME
from schemas.tables import nipr_scope_reports

TABLES = ("producers", "licenses", "license_loas", "appointments")
DAY = dt.date(2026, 3, 7)
EARLIER = dt.date(2026, 3, 5)
TOUCHED_PRODUCERS = 25
_TOUCHED: set[str] = set()  # set by the `database` fixture
CATEGORY = {
    "producers": "DEMOGRAPHICS",
    "licenses": "LICENSING",
    "license_loas": "LICENSING",
    "appointments": "APPOINTMENTS",
}


@pytest.fixture(scope="module")
def world_frames():
    frames = generate_world(
        seed=11, producers=300, companies=None, today=dt.date(2026, 3, 6)
    ).to_frames()
    return {
        table: frames[table][[c.name for c in TABLES_BY_NAME[table].c if c.name in frames[table]]]
        for table in TABLES
    }


def _scopes(frames, npns, category, table, day):
    if category == "DEMOGRAPHICS":  # of any state: names are not kept per state
        keys = frames["producers"][frames["producers"]["npn"].isin(npns)][["npn"]].assign(
            state_code="TX"
        )
    else:
        keys = frames[table][frames[table]["npn"].isin(npns)][["npn", "state_code"]]
    return keys.drop_duplicates().assign(
        category=category,
        data_as_of=dt.datetime(2026, 3, 7, 6, tzinfo=dt.UTC),
        report_date=day,
        source="alerts",
        applied_at=dt.datetime(2026, 3, 7, 16, tzinfo=dt.UTC),
    )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request, tmp_path, world_frames):
    """The world's tables; the first TOUCHED_PRODUCERS producers' scopes applied on DAY, the
    next ones on an EARLIER day (not this run's)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'npnflow.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    upgrade(url)
    database = OperationalDatabase(url=url)
    assert dg.materialize(
        [reference_tables, company_config_tables], resources={"database": database}
    ).success
    database.replace_tables(world_frames)
    npns = sorted(world_frames["producers"]["npn"])
    _TOUCHED.clear()
    _TOUCHED.update(npns[:TOUCHED_PRODUCERS])
    today, earlier = npns[:TOUCHED_PRODUCERS], npns[TOUCHED_PRODUCERS : 2 * TOUCHED_PRODUCERS]
    ledger = pd.concat(
        [
            _scopes(world_frames, group, category, table, day)
            for group, day in ((today, DAY), (earlier, EARLIER))
            for category, table in (
                ("DEMOGRAPHICS", "producers"),
                ("LICENSING", "licenses"),
                ("APPOINTMENTS", "appointments"),
            )
        ]
    )
    with database.begin() as connection:
        connection.execute(nipr_scope_reports.insert(), ledger.to_dict("records"))
    yield database
    database.engine.dispose()


def _touched(frame, _database):
    """Rows of the producers whose scopes DAY applied (the first TOUCHED_PRODUCERS)."""
    return frame["npn"].isin(_TOUCHED)


def _update(database, table, where, **values):
    source = TABLES_BY_NAME[table]
    with database.begin() as connection:
        connection.execute(
            source.update()
            .where(*(source.c[name] == value for name, value in where.items()))
            .values(**values)
        )


def _key_of(row, columns):
    return {name: row[name] for name in columns}


def test_the_day_check_reads_the_day_scopes_in_full_and_passes(database, world_frames):
    for table in TABLES:
        checked = check_table(database, table, CheckScope.of_days([DAY]), None)
        frame = world_frames[table]
        assert checked.outcome.success and not checked.outcome.failed_checks, table
        assert checked.table_row_count == len(frame)
        # The scopes' rows, all of them, and nothing of the producers the day left alone.
        assert checked.outcome.row_count == int(_touched(frame, database).sum()), table
        assert checked.outcome.row_count < checked.table_row_count
        assert checked.description.startswith("changed scopes: ")
    licensing = world_frames["licenses"][_touched(world_frames["licenses"], database)]
    checked = check_table(database, "license_loas", CheckScope.of_days([DAY]), None)
    assert checked.scope_count == len(licensing[["npn", "state_code"]].drop_duplicates())


def test_a_bad_date_in_a_touched_scope_fails_the_day_check_an_untouched_one_only_the_weekly(
    database, world_frames
):
    licenses = world_frames["licenses"].dropna(subset=["issue_date"])
    key = ["npn", "state_code", "license_number", "license_class_code"]
    touched = licenses[_touched(licenses, database)].iloc[0]
    untouched = licenses[~_touched(licenses, database)].iloc[-1]
    for row in (touched, untouched):
        _update(
            database,
            "licenses",
            _key_of(row, key),
            expiration_date=row["issue_date"] - dt.timedelta(days=1),
        )
    day = check_table(database, "licenses", CheckScope.of_days([DAY]), None).outcome
    assert not day.success
    assert day.failed_errors == ("expiration_on_or_after_issue",)
    dates = day.results.set_index("check").loc["expiration_on_or_after_issue"]
    assert dates["unexpected_count"] == 1
    whole = check_table(database, "licenses", CheckScope.whole_table(), None).outcome
    assert (
        whole.results.set_index("check").loc["expiration_on_or_after_issue"]["unexpected_count"]
        == 2
    )
    assert whole.row_count == len(world_frames["licenses"])


def test_an_unknown_code_and_a_bad_npn_in_a_touched_scope_are_caught(database, world_frames):
    loas = world_frames["license_loas"]
    key = ["npn", "state_code", "license_number", "license_class_code", "loa_code"]
    touched = loas[_touched(loas, database)].iloc[0]
    untouched = loas[~_touched(loas, database)].iloc[0]
    _update(database, "license_loas", _key_of(touched, key), loa_code="999999")
    _update(database, "license_loas", _key_of(untouched, key), loa_code="888888")
    day = check_table(database, "license_loas", CheckScope.of_days([DAY]), None).outcome
    assert day.success and day.failed_warnings == ("loa_code_is_known",)
    codes = day.results.set_index("check").loc["loa_code_is_known"]
    assert codes["unexpected_count"] == 1 and "999999" in codes["unexpected_sample"]
    assert "888888" not in codes["unexpected_sample"]

    appointments = world_frames["appointments"]
    row = appointments[_touched(appointments, database)].iloc[0]
    # A padded NPN is a producer NIPR does not know; the scope ledger names it too (as a
    # write through a door that forgot to canonicalise would).
    with database.begin() as connection:
        connection.execute(
            nipr_scope_reports.insert(),
            [
                {
                    "npn": "0" + row["npn"],
                    "state_code": row["state_code"],
                    "category": "APPOINTMENTS",
                    "data_as_of": dt.datetime(2026, 3, 7, 6, tzinfo=dt.UTC),
                    "report_date": DAY,
                    "source": "alerts",
                    "applied_at": dt.datetime(2026, 3, 7, 16, tzinfo=dt.UTC),
                }
            ],
        )
    _update(
        database,
        "appointments",
        _key_of(row, ["npn", "state_code", "cocode", "loa_code"]),
        npn="0" + row["npn"],
    )
    day = check_table(database, "appointments", CheckScope.of_days([DAY]), None).outcome
    assert not day.success and day.failed_errors == ("npn_is_digits_up_to_10",)


def test_duplicate_keys_are_counted_by_the_database_within_the_scope(database, world_frames):
    # A table that lost its primary key (the check must not lean on the constraint).
    with database.begin() as connection:
        connection.execute(sa.text("ALTER TABLE appointments RENAME TO appointments_kept"))
        connection.execute(sa.text("CREATE TABLE appointments AS SELECT * FROM appointments_kept"))
        connection.execute(sa.text("DROP TABLE appointments_kept"))
    appointments = world_frames["appointments"]
    twins = pd.concat(
        [
            appointments[_touched(appointments, database)].head(1),
            appointments[~_touched(appointments, database)].head(1),
        ]
    )
    with database.begin() as connection:
        connection.execute(TABLES_BY_NAME["appointments"].insert(), twins.to_dict("records"))
    day = check_table(database, "appointments", CheckScope.of_days([DAY]), None).outcome
    assert day.failed_errors == ("appointment_key_is_unique",)
    unique = day.results.set_index("check").loc["appointment_key_is_unique"]
    assert unique["unexpected_count"] == 2
    assert twins.iloc[0]["npn"] in unique["unexpected_sample"]
    assert "(x2)" in unique["unexpected_sample"]
    whole = check_table(database, "appointments", CheckScope.whole_table(), None).outcome
    assert (
        whole.results.set_index("check").loc["appointment_key_is_unique"]["unexpected_count"] == 4
    )


def test_rows_in_many_parts_add_up_to_one_part(database, world_frames, monkeypatch):
    licenses = world_frames["licenses"].dropna(subset=["issue_date"])
    key = ["npn", "state_code", "license_number", "license_class_code"]
    for row in (licenses.iloc[0], licenses.iloc[-1]):
        _update(
            database,
            "licenses",
            _key_of(row, key),
            expiration_date=row["issue_date"] - dt.timedelta(days=3),
            license_class_code="ZZ",
        )
    whole = check_table(database, "licenses", CheckScope.whole_table(), 1651)
    monkeypatch.setattr(check_scope, "PART_ROWS", 97)
    parts = check_table(database, "licenses", CheckScope.whole_table(), 1651)
    pd.testing.assert_frame_equal(whole.outcome.results, parts.outcome.results)
    assert parts.outcome.row_count == len(world_frames["licenses"])
    assert set(parts.outcome.failed_checks) == {
        "expiration_on_or_after_issue",
        "license_class_code_is_known",
    }


def test_the_row_count_bound_is_the_whole_table_count_whatever_the_scope(database, world_frames):
    rows = len(world_frames["appointments"])
    day = check_table(database, "appointments", CheckScope.of_days([DAY]), rows * 2).outcome
    bound = day.results.set_index("check").loc["row_count_within_bounds"]
    assert not bound["success"] and bound["observed_value"] == str(rows)
    assert check_table(database, "appointments", CheckScope.of_days([DAY]), rows).outcome.success


def test_a_day_that_applied_nothing_checks_no_rows(database):
    checked = check_table(database, "licenses", CheckScope.of_days([dt.date(2026, 1, 1)]), None)
    assert checked.outcome.success and checked.outcome.row_count == 0
    assert checked.scope_count == 0


def test_the_day_check_leans_on_the_primary_key_the_weekly_check_counts(database, monkeypatch):
    # With the table's primary key in place the database refused every duplicate: the day's
    # check does not count them again; the whole-table check does, verifying the constraint.
    counted: list[str] = []
    count = check_scope._duplicates

    def spy(connection, rows, table):
        counted.append(table)
        return count(connection, rows, table)

    monkeypatch.setattr(check_scope, "_duplicates", spy)
    day = check_table(database, "appointments", CheckScope.of_days([DAY]), None).outcome
    assert day.success and counted == []
    unique = day.results.set_index("check").loc["appointment_key_is_unique"]
    assert unique["success"] and unique["unexpected_count"] == 0
    assert check_table(database, "appointments", CheckScope.whole_table(), None).outcome.success
    assert counted == ["appointments"]
