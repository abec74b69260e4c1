"""Producer-scoped reads by a join on a temporary table of the NPNs (resources/scoped_reads.py),
on both databases: exactly the rows of the requested NPNs, for a few NPNs and for more than the
20,000 where the reads used to switch to whole tables; the temporary table never outlives its
scope, and two scopes of one transaction never see each other's NPNs."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from resources.database import OperationalDatabase, read_for_npns, read_table
from resources.scoped_reads import SCOPE_TABLE_PREFIX, npn_scope, read_columns
from schemas.migrate import upgrade
from schemas.tables import TABLES

PRODUCERS = 24_000
LICENSED_EVERY = 3  # every third producer holds a license in two states


def _npn(i: int) -> str:
    return str(10_000_000 + i)


def _licensed(i: int) -> bool:
    return i % LICENSED_EVERY == 0


@pytest.fixture
def database(database_url):
    upgrade(database_url)
    database = OperationalDatabase(url=database_url)
    holders = [_npn(i) for i in range(PRODUCERS) if _licensed(i)]
    database.replace_tables(
        {
            "producers": pd.DataFrame(
                {"npn": [_npn(i) for i in range(PRODUCERS)], "sync_status": "Success"}
            ),
            "licenses": pd.DataFrame(
                {
                    "npn": [n for n in holders for _ in ("CA", "TX")],
                    "state_code": ["CA", "TX"] * len(holders),
                    "license_number": [f"L{n}{s}" for n in holders for s in ("CA", "TX")],
                    "license_class_code": "1",
                    "is_active": True,
                    "expiration_date": dt.date(2030, 1, 31),
                }
            ),
        }
    )
    yield database
    database.engine.dispose()


def _scope_tables(connection: sa.Connection) -> list[str]:
    if connection.dialect.name == "postgresql":
        query = "SELECT relname FROM pg_class WHERE relpersistence = 't' AND relkind = 'r'"
    else:
        query = "SELECT name FROM sqlite_temp_master WHERE type = 'table'"
    names = connection.exec_driver_sql(query).scalars().all()
    return [n for n in names if n.startswith(SCOPE_TABLE_PREFIX)]


def _expected(database: OperationalDatabase, name: str, npns: set[str]) -> pd.DataFrame:
    """The rows as SQLAlchemy's own result rows give them (the read before the join)."""
    table = TABLES[name]
    with database.engine.connect() as connection:
        rows = connection.execute(sa.select(table)).fetchall()
    wanted = [row for row in rows if row.npn in npns]
    return _sorted(pd.DataFrame(wanted, columns=[c.name for c in table.c]))


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns[:4])).reset_index(drop=True)


def test_a_few_npns_read_exactly_their_rows(database):
    asked = [_npn(0), _npn(3), _npn(1), _npn(3), "99999999", None, ""]
    with database.begin() as connection:
        licenses = read_for_npns(connection, "licenses", asked)
        producers = read_for_npns(connection, "producers", asked)
    pd.testing.assert_frame_equal(
        _sorted(licenses), _expected(database, "licenses", {_npn(0), _npn(3)})
    )
    assert sorted(producers["npn"]) == [_npn(0), _npn(1), _npn(3)]
    assert list(producers.columns) == list(database.read_table("producers").columns)
    # Typed as read_table types them: dates are dates, flags are booleans.
    assert licenses["expiration_date"].tolist() == [dt.date(2030, 1, 31)] * 4
    assert licenses["is_active"].tolist() == [True] * 4


def test_more_than_20000_npns_read_exactly_their_rows(database):
    asked = [_npn(i) for i in range(1, PRODUCERS, 1)] + [f"9{i:08d}" for i in range(500)]
    assert len(set(asked)) > 20_000
    with database.begin() as connection:
        licenses = read_for_npns(connection, "licenses", asked)
    expected = _expected(database, "licenses", set(asked))
    assert len(expected) == 2 * len([i for i in range(1, PRODUCERS) if _licensed(i)])
    pd.testing.assert_frame_equal(_sorted(licenses), expected)


def test_no_npns_read_no_rows_with_the_table_columns(database):
    with database.begin() as connection:
        frame = read_for_npns(connection, "licenses", [])
    assert frame.empty
    assert list(frame.columns) == list(database.read_table("licenses").columns)


def test_two_scopes_in_one_transaction_do_not_see_each_other(database):
    with database.begin() as connection:
        with npn_scope(connection, [_npn(0)]) as first:
            assert _scope_tables(connection) == [first.name]
            assert set(first.read("licenses")["npn"]) == {_npn(0)}
        assert _scope_tables(connection) == []
        with npn_scope(connection, [_npn(3), _npn(6)]) as second:
            assert set(second.read("licenses")["npn"]) == {_npn(3), _npn(6)}
            assert set(second.read("producers")["npn"]) == {_npn(3), _npn(6)}
        assert _scope_tables(connection) == []
        # The transaction goes on after the scopes: reads and writes still work in it.
        assert len(read_table(connection, "producers", ["npn"])) == PRODUCERS


def test_a_failure_inside_the_scope_leaves_no_table(database):
    with database.begin() as connection:
        with pytest.raises(KeyError), npn_scope(connection, [_npn(0)]) as scope:
            scope.read("licenses")
            raise KeyError("a Python error while the scope is open")
        assert _scope_tables(connection) == []


def test_where_narrows_the_join_in_sql(database):
    licenses = TABLES["licenses"]
    with database.begin() as connection, npn_scope(connection, [_npn(0), _npn(3)]) as scope:
        texas = scope.read("licenses", where=licenses.c.state_code == "TX")
    assert sorted(texas["npn"]) == [_npn(0), _npn(3)]
    assert set(texas["state_code"]) == {"TX"}


def test_transactions_read_as_read_table_reads_them(database):
    """Every type of the transactions table (money, timestamps, dates, flags) comes back as
    read_table gives it."""
    moment = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)
    database.replace_tables(
        {
            "transaction_batches": pd.DataFrame(
                {
                    "batch_id": ["b1"],
                    "kind": "appointment",
                    "cocode": "91234",
                    "status": "Pending Review",
                    "created_at": moment,
                }
            ),
            "transactions": pd.DataFrame(
                {
                    "transaction_id": ["t1", "t2", "t3"],
                    "batch_id": "b1",
                    "kind": "appointment",
                    "npn": [_npn(0), _npn(3), _npn(4)],
                    "state_code": "CA",
                    "is_jit": [True, False, None],
                    "effective_date": [dt.date(2026, 12, 1), None, dt.date(2026, 12, 2)],
                    "estimated_fee": [12.5, None, 3.0],
                    "created_at": moment,
                }
            ),
        }
    )
    with database.begin() as connection:
        read = read_for_npns(connection, "transactions", [_npn(0), _npn(3)])
    pd.testing.assert_frame_equal(
        read.sort_values("transaction_id").reset_index(drop=True),
        _expected(database, "transactions", {_npn(0), _npn(3)})
        .sort_values("transaction_id")
        .reset_index(drop=True),
    )


def test_these_columns_and_an_in_list_narrow_the_read(database):
    licenses = TABLES["licenses"]
    with database.begin() as connection, npn_scope(connection, [_npn(0), _npn(3)]) as scope:
        read = scope.read(
            "licenses",
            ["npn", "state_code", "expiration_date"],
            where=licenses.c.state_code.in_(["TX", "NV"]),
        )
    assert list(read.columns) == ["npn", "state_code", "expiration_date"]
    assert sorted(read["npn"]) == [_npn(0), _npn(3)]
    assert read["expiration_date"].tolist() == [dt.date(2030, 1, 31)] * 2


def test_by_state_reads_the_requested_pairs_only(database):
    asked = [_npn(0), _npn(3), _npn(0), _npn(6), None]
    states = ["TX", "CA", "TX", "NV", "CA"]
    with database.begin() as connection:
        with npn_scope(connection, asked, states) as scope:
            assert len(_scope_tables(connection)) == 2
            paired = scope.read("licenses", ["npn", "state_code"], by_state=True)
            every_state = scope.read("licenses", ["npn", "state_code"])
        assert _scope_tables(connection) == []
    assert sorted(map(tuple, paired.to_numpy().tolist())) == [(_npn(0), "TX"), (_npn(3), "CA")]
    assert len(every_state) == 6  # three producers, two states each


def test_equal_values_are_shared_within_a_column_only(database):
    """1, 1.0 and True are one dict key: values shared across columns would turn a request row
    numbered 1 into True next to a flag (and the column into objects)."""
    database.replace_tables(
        {
            "transaction_batches": pd.DataFrame(
                {"batch_id": ["b1"], "kind": "appointment", "cocode": "91234", "status": "x"}
            ),
            "transactions": pd.DataFrame(
                {
                    "transaction_id": ["t1", "t2"],
                    "batch_id": "b1",
                    "kind": "appointment",
                    "npn": [_npn(0), _npn(3)],
                    "state_code": "CA",
                    "is_jit": [True, False],
                    "request_row": [1, 0],
                    "estimated_fee": [1.0, 0.0],
                }
            ),
        }
    )
    with database.begin() as connection, npn_scope(connection, [_npn(0), _npn(3)]) as scope:
        read = scope.read("transactions", ["transaction_id", "is_jit", "request_row"])
    read = read.sort_values("transaction_id").reset_index(drop=True)
    assert read["request_row"].dtype == "int64"
    assert [type(v) for v in read["request_row"].tolist()] == [int, int]
    assert read["request_row"].tolist() == [1, 0]
    assert read["is_jit"].tolist() == [True, False]


def test_read_columns_returns_what_sqlalchemy_rows_hold(database):
    licenses = TABLES["licenses"]
    statement = (
        sa.select(licenses.c.npn, licenses.c.expiration_date, licenses.c.is_active)
        .where(licenses.c.npn.in_([_npn(0), _npn(3)]))
        .order_by(licenses.c.npn, licenses.c.state_code)
    )
    selected = [licenses.c.npn, licenses.c.expiration_date, licenses.c.is_active]
    with database.begin() as connection:
        columns = read_columns(connection, statement, selected)
        rows = connection.execute(statement).all()
        nothing = read_columns(connection, statement.where(sa.false()), selected)
    assert columns == [list(c) for c in zip(*rows, strict=True)]
    assert columns[1] == [dt.date(2030, 1, 31)] * 4
    assert nothing == [[], [], []]


def test_objects_and_rows_hold_the_values_sqlalchemy_returns(database):
    """The one-fetch reads (an uploaded file's producers, their assignments): every value as
    SQLAlchemy's result rows hold it (dates are dates, flags are booleans, NULL is None)."""
    asked = [_npn(0), _npn(1), _npn(3), "99999999"]
    table = TABLES["licenses"]
    with database.begin() as connection:
        expected = sorted(
            tuple(row) for row in connection.execute(sa.select(table).where(table.c.npn.in_(asked)))
        )
        with npn_scope(connection, asked) as scope:
            rows = scope.rows("licenses")
            objects = scope.objects("licenses", ["npn", "expiration_date", "is_active"])
            none = scope.objects("licenses", ["npn"]).iloc[:0]
    assert sorted(rows) == expected and len(expected) == 4
    assert all(type(row) is tuple for row in rows)
    assert objects.dtypes.tolist() == [object] * 3
    assert objects["expiration_date"].tolist() == [dt.date(2030, 1, 31)] * 4
    assert objects["is_active"].map(type).tolist() == [bool] * 4
    assert list(none.columns) == ["npn"]


def test_a_key_holding_copys_special_characters_is_matched_as_written(database):
    """The scope's keys reach the temporary table as written: a backslash, a tab or a line
    end in a key is escaped for PostgreSQL's COPY, never read as a column or row break."""
    odd = ["1\\2", "3\t4", "5\n6", "7\r8"]
    database.replace_tables({"producers": pd.DataFrame({"npn": odd, "sync_status": "Success"})})
    with database.begin() as connection, npn_scope(connection, [*odd, "1", "2"]) as scope:
        assert sorted(row[0] for row in scope.rows("producers", ["npn"])) == sorted(odd)
