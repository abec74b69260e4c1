"""The daily sync's reads of current-state rows (`store.read_current_rows`,
`store.read_scope_rows`, `store.read_tracked_npns`), by a join on a temporary table of the NPNs (assets/nipr/npn_join.py),
on SQLite and PostgreSQL: exactly the rows and values a plain `select()` gives for those NPNs,
for a few NPNs (an IN list) and for more (the temporary table), and the temporary table gone
when the read ends, inside a transaction that goes on writing; an Alerts apply on the rows of
its scopes only decides exactly the writes it decides on every row of its producers."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from assets.nipr import daily_sync, store
from assets.nipr.current_state import DATA_TABLES, NAME_COLUMNS, apply_report
from assets.nipr.npn_join import LISTED_NPNS, TEMPORARY_TABLE_PREFIX, scope_join
from assets.nipr.parsing import (
    ALERTS,
    APPOINTMENT_COLUMNS,
    LICENSE_COLUMNS,
    LICENSE_LOA_COLUMNS,
    PRODUCER_COLUMNS,
    SCOPE_COLUMNS,
    ParsedReport,
)
from resources.database import OperationalDatabase, frame_to_rows
from resources.scoped_reads import index_probes
from schemas.migrate import upgrade
from schemas.tables import metadata

PRODUCERS = LISTED_NPNS * 3
STAMP = dt.datetime(2026, 3, 6, 12, 30, tzinfo=dt.UTC)


def _npn(i: int) -> str:
    return str(10_000_000 + i)


def _rows(i: int) -> dict[str, list[dict[str, object]]]:
    """Producer i: every third has no rows at all, the others rows in two states, with
    missing values, dates, booleans and timestamps among them."""
    npn = _npn(i)
    people: list[dict[str, object]] = [
        {"npn": npn, "first_name": f"F{i}", "last_name": None if i % 5 else "L", "email": None}
    ]
    if i % 3 == 0:
        return {"producers": people}
    states = ("CA", "TX")
    return {
        "producers": people,
        "licenses": [
            {
                "npn": npn,
                "state_code": s,
                "license_number": f"L{i}",
                "license_class_code": "1",
                "license_class": "Producer",
                "is_resident": s == "TX",
                "is_active": None if i % 7 == 0 else i % 2 == 0,
                "issue_date": dt.date(2020, 1, 1 + i % 28),
                "expiration_date": None if i % 4 == 0 else dt.date(2028, 2, 1),
                "nipr_updated_at": None if i % 2 else STAMP,
            }
            for s in states
        ],
        "license_loas": [
            {
                "npn": npn,
                "state_code": s,
                "license_number": f"L{i}",
                "license_class_code": "1",
                "loa_code": code,
                "loa_name": code.title(),
                "is_active": True,
                "issue_date": None,
            }
            for s in states
            for code in ("LIFE", "HEALTH")
        ],
        "appointments": [
            {
                "npn": npn,
                "state_code": "CA",
                "cocode": "12345",
                "loa_code": "LIFE",
                "company_name": "Co",
                "status": "Appointed",
                "effective_date": dt.date(2024, 5, 6),
                "termination_reason": None,
                "status_reason_date": None,
                "renewal_date": dt.date(2027, 5, 6),
            }
        ],
        "nipr_scope_reports": [
            {
                "npn": npn,
                "state_code": s,
                "category": category,
                "data_as_of": STAMP,
                "report_date": dt.date(2026, 3, 6) if i % 2 else None,
                "source": "alerts" if i % 2 else "entity_info",
                "applied_at": STAMP,
            }
            for s in states
            for category in ("LICENSING", "APPOINTMENTS")
        ],
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'npnflow.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    upgrade(url)
    database = OperationalDatabase(url=url)
    tables: dict[str, list[dict[str, object]]] = {}
    for i in range(PRODUCERS):
        for name, rows in _rows(i).items():
            tables.setdefault(name, []).extend(rows)
    with database.begin() as connection:
        for name, rows in tables.items():
            table = metadata.tables[name]
            connection.execute(table.insert(), frame_to_rows(pd.DataFrame(rows), table))
    yield database
    database.engine.dispose()


def _expected(connection: sa.Connection, name: str, npns: set[str], columns=None) -> pd.DataFrame:
    """What a plain `select()` of the table returns for these NPNs (the read before the join)."""
    table = metadata.tables[name]
    selected = [table.c[c] for c in columns] if columns else list(table.c)
    rows = [r for r in connection.execute(sa.select(*selected)).fetchall() if r.npn in npns]
    return pd.DataFrame([tuple(r) for r in rows], columns=[c.name for c in selected], dtype=object)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns)[:5]).reset_index(drop=True)


def _temporary_tables(connection: sa.Connection) -> list[str]:
    if connection.dialect.name == "postgresql":
        query = "SELECT relname FROM pg_class WHERE relpersistence = 't' AND relkind = 'r'"
    else:
        query = "SELECT name FROM sqlite_temp_master WHERE type = 'table'"
    names: list[str] = list(connection.exec_driver_sql(query).scalars())
    return [n for n in names if n.startswith(TEMPORARY_TABLE_PREFIX)]


@pytest.mark.parametrize("asked", [3, LISTED_NPNS + 1, PRODUCERS], ids=["few", "more", "all"])
def test_current_rows_are_exactly_those_of_the_npns(database, asked):
    npns = [_npn(i) for i in range(0, PRODUCERS, max(PRODUCERS // asked, 1))][:asked]
    npns += ["99999999"]  # not a producer: no rows, no error
    wanted = set(npns)
    with database.begin() as connection:
        current = store.read_current_rows(connection, npns)
        assert _temporary_tables(connection) == []
        expected = {name: _expected(connection, name, wanted) for name in DATA_TABLES}
        expected["scope_reports"] = _expected(connection, "nipr_scope_reports", wanted)
        expected["producers"] = _expected(connection, "producers", wanted, ["npn", *NAME_COLUMNS])
        # The transaction goes on: the rows just read can be written over.
        connection.execute(metadata.tables["licenses"].delete().where(sa.column("npn") == npns[1]))
    assert len(current.producers) == len(npns) - 1
    assert len(current.licenses) > 0
    for name, frame in expected.items():
        got = current.table(name)
        assert list(got.columns) == list(frame.columns)
        assert all(dtype.kind == "O" for dtype in got.dtypes)
        pd.testing.assert_frame_equal(_sorted(got), _sorted(frame))
        # The same Python types: dates, booleans and timestamps as SQLAlchemy gives them.
        for column in frame.columns:
            assert [type(v) for v in _sorted(got)[column]] == [
                type(v) for v in _sorted(frame)[column]
            ], (name, column)


@pytest.mark.parametrize("asked", [2, PRODUCERS], ids=["few", "all"])
def test_tracked_npns_are_the_producers_among_them(database, asked):
    npns = [_npn(i) for i in range(asked)] + ["99999999", "88888888"]
    with database.begin() as connection:
        assert store.read_tracked_npns(connection, npns) == {_npn(i) for i in range(asked)}
        assert store.read_tracked_npns(connection, []) == set()
        assert _temporary_tables(connection) == []


def test_no_npns_read_empty_frames_with_the_columns(database):
    with database.begin() as connection:
        current = store.read_current_rows(connection, [])
    assert current.licenses.empty
    assert list(current.licenses.columns) == [c.name for c in metadata.tables["licenses"].c]
    assert list(current.producers.columns) == ["npn", *NAME_COLUMNS]


def _alerts_report(connection: sa.Connection, npns: list[str]) -> ParsedReport:
    """An Alerts report for these producers: LICENSING in CA (one expiration moved, the lines
    resent as they are), APPOINTMENTS in NY (none there: nothing changes), DEMOGRAPHICS in
    CA (a new email), and an untracked NPN."""
    wanted = set(npns)
    licenses = _expected(connection, "licenses", wanted)
    licenses = licenses[licenses["state_code"] == "CA"].reset_index(drop=True)
    licenses.loc[::2, "expiration_date"] = dt.date(2031, 1, 31)
    loas = _expected(connection, "license_loas", wanted)
    scopes = [
        (npn, state, category)
        for npn in [*npns, "99999999"]
        for state, category in (("CA", "LICENSING"), ("NY", "APPOINTMENTS"), ("CA", "DEMOGRAPHICS"))
    ]
    people = pd.DataFrame({"npn": npns, "email": [f"{n}@example.com" for n in npns]})
    return ParsedReport(
        report_kind=ALERTS,
        producers=people.reindex(columns=list(PRODUCER_COLUMNS)).astype(object),
        licenses=licenses[list(LICENSE_COLUMNS)],
        license_loas=loas[loas["state_code"] == "CA"][list(LICENSE_LOA_COLUMNS)],
        appointments=pd.DataFrame(columns=list(APPOINTMENT_COLUMNS), dtype=object),
        reported_scopes=pd.DataFrame(scopes, columns=list(SCOPE_COLUMNS), dtype=object),
        errors=pd.DataFrame(columns=["npn", "code", "message"], dtype=object),
        report_date=dt.date(2026, 3, 7),
        as_of=STAMP + dt.timedelta(days=1),
    )


@pytest.mark.parametrize("asked", [3, PRODUCERS], ids=["few", "all"])
def test_an_alerts_apply_reading_only_its_scopes_writes_what_reading_everything_does(
    database, asked
):
    npns = [_npn(i) for i in range(asked)]
    with database.begin() as connection:
        parsed = _alerts_report(connection, npns)
        tracked = store.read_tracked_npns(connection, [*npns, "99999999"])
        scopes = daily_sync.tracked_scopes(parsed, tracked)
        assert len(scopes) == 2 * asked
        applications = [
            apply_report(
                current,
                parsed,
                data_as_of=parsed.as_of,
                tracked_npns=tracked,
                applied_at=STAMP,
                report_date=parsed.report_date,
            )
            for current in (
                store.read_current_rows(connection, tracked),
                store.read_scope_rows(connection, tracked, scopes),
            )
        ]
        assert _temporary_tables(connection) == []
    everything, scoped = applications
    assert everything.counts() == scoped.counts()
    assert everything.counts()["scopes_changed"] > asked  # expirations and emails moved
    for name in DATA_TABLES:
        for part in ("cleared", "inserted"):
            pd.testing.assert_frame_equal(
                _sorted(getattr(everything, part)[name]), _sorted(getattr(scoped, part)[name])
            )
    for part in ("producer_updates", "scope_reports", "applied_scopes", "skipped_scopes"):
        pd.testing.assert_frame_equal(
            _sorted(getattr(everything, part)), _sorted(getattr(scoped, part))
        )
    # What the scoped read leaves out is only the states the report does not name (TX).
    scoped_licenses = scoped.result.licenses
    assert set(scoped_licenses["state_code"]) == {"CA"}
    assert set(everything.result.licenses["state_code"]) == {"CA", "TX"}


def test_the_planner_settings_are_put_back_after_a_read(database):
    with database.begin() as connection:
        if connection.dialect.name != "postgresql":
            pytest.skip("PostgreSQL planner settings")
        connection.exec_driver_sql("SET LOCAL enable_mergejoin = off")
        current = store.read_current_rows(connection, [_npn(i) for i in range(PRODUCERS)])
        assert len(current.producers) == PRODUCERS
        settings = connection.exec_driver_sql(
            "SELECT current_setting('enable_hashjoin'), current_setting('enable_mergejoin'), "
            "current_setting('enable_seqscan')"
        ).one()
    assert tuple(settings) == ("on", "off", "on")


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_a_scoped_read_probes_each_tables_key_never_loops_over_the_table(database):
    """Every table the Alerts apply reads by (npn, state) is read by probing its key for each
    requested scope, never by a loop over the whole table. At a book's proportions (here
    250,000 appointments, four rows per scope, and a day's 5,000 scopes) the planner, left
    to itself, loops over every appointment and probes the scopes: nine times slower."""
    with database.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO appointments (npn, state_code, cocode, loa_code, status) "
            "SELECT (30000000 + p)::text, 'S' || s, 'C' || c, 'L' || l, 'Appointed' "
            "FROM generate_series(1, 5000) p, generate_series(1, 12) s, "
            "generate_series(1, 2) c, generate_series(1, 2) l"
        )
        connection.exec_driver_sql("ANALYZE appointments")
    pairs = [(str(30000000 + p), f"S{1 + p % 12}") for p in range(1, 5001)]
    with database.begin() as connection, scope_join(connection, pairs) as joined:
        for name in (*DATA_TABLES, "nipr_scope_reports"):
            table = metadata.tables[name]
            compiled = joined.statement(table, list(table.c)).compile(dialect=connection.dialect)
            cursor = connection.connection.cursor()
            with index_probes(cursor, True):
                cursor.execute(f"EXPLAIN {compiled}", compiled.params)
                plan = "\n".join(row[0] for row in cursor.fetchall())
            cursor.close()
            assert f"Seq Scan on {name}" not in plan, plan
            assert f"Index Scan using pk_{name} on {name}" in plan, plan
