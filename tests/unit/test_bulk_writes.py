"""The bulk write path (resources/bulk_writes.py) stores what `table.insert()` of
`frame_to_rows` stored, on SQLite and on PostgreSQL; upserts and deletes through a staging
table leave what the row-by-row statements left."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as postgresql_dml
from sqlalchemy.dialects import sqlite as sqlite_dml

from resources import bulk_writes, column_values
from resources.bulk_writes import (
    delete_keys,
    insert_frame,
    update_rows,
    upsert_frame,
    upsert_new_frame,
)
from resources.database import create_database_engine, frame_to_rows

_metadata = sa.MetaData()
every_type = sa.Table(
    "every_type",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String, nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("count", sa.Integer, nullable=True),
    sa.Column("flag", sa.Boolean, nullable=True),
    sa.Column("day", sa.Date, nullable=True),
    sa.Column("day_from_text", sa.Date, nullable=True),
    sa.Column("at_utc", sa.DateTime(timezone=True), nullable=True),
    sa.Column("at_mixed", sa.DateTime(timezone=True), nullable=True),
    sa.Column("at_naive", sa.DateTime(timezone=True), nullable=True),
    sa.Column("at_objects_utc", sa.DateTime(timezone=True), nullable=True),
    sa.Column("at_objects_naive", sa.DateTime(timezone=True), nullable=True),
    sa.Column("fee", sa.Numeric(10, 2), nullable=True),
    sa.Column("fee_float", sa.Numeric(10, 2), nullable=True),
    sa.Column("flag_gaps", sa.Boolean, nullable=True),
    sa.Column("count_gaps", sa.Integer, nullable=True),
    sa.Column("count_objects", sa.Integer, nullable=True),
    sa.Column("count_nullable", sa.Integer, nullable=True),
    sa.Column("day_objects", sa.Date, nullable=True),
    sa.Column("day_of_instants", sa.Date, nullable=True),
    sa.Column("fee_objects", sa.Numeric(10, 2), nullable=True),
    sa.Column("flag_none", sa.Boolean, nullable=True),
    sa.Column("flag_objects", sa.Boolean, nullable=True),
    sa.Column("at_none", sa.DateTime(timezone=True), nullable=True),
    sa.Column("defaulted", sa.Boolean, nullable=False, server_default=sa.false()),
)
keyed = sa.Table(
    "keyed",
    _metadata,
    sa.Column("a", sa.String, primary_key=True),
    sa.Column("b", sa.String, primary_key=True),
    sa.Column("value", sa.String, nullable=True),
    sa.Column("kept", sa.String, nullable=True),
)
OLD, NEW = "old", "new"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'bulk.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    engine = create_database_engine(url)
    _metadata.create_all(engine)
    yield engine
    engine.dispose()


def _every_type_frame(first_id: int) -> pd.DataFrame:
    """Every column type, with the dtypes the stores hand over: vectorised ones (int64, bool,
    datetime64 naive and aware) and object columns mixing Python values and missing ones."""
    utc = pd.Timestamp("2026-03-01 12:30:45.123456", tz="UTC")
    rows = 6
    return pd.DataFrame(
        {
            "id": np.arange(first_id, first_id + rows),
            "name": ["plain", "tab\there", "new\nline", "back\\slash", "", None],
            "note": ["é ü 中", "'quoted'", '"double"', "\\N", "\r", np.nan],
            "count": np.array([0, 1, -5, 2**31 - 1, 7, 9], dtype=np.int64),
            "flag": [True, False, True, False, True, False],
            "day": pd.to_datetime(["2026-01-02", "2026-12-31", None, "2000-02-29", None, None]),
            "day_from_text": ["2026-01-02", dt.date(2025, 5, 6), None, pd.NaT, "2024-02-29", None],
            "at_utc": pd.Series(
                [utc, utc + pd.Timedelta(days=1), pd.NaT, utc, utc, pd.NaT],
                dtype="datetime64[ns, UTC]",
            ),
            "at_mixed": [
                dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
                pd.Timestamp("2026-03-01 00:00", tz="UTC"),
                None,
                dt.datetime(2026, 7, 1, 23, 59, 59, 999999, tzinfo=dt.UTC),
                pd.NaT,
                None,
            ],
            "at_naive": pd.to_datetime(
                [
                    "2026-01-01 00:00:00",
                    None,
                    "2026-06-30 13:14:15",
                    None,
                    None,
                    "1999-12-31 00:00:00",
                ]
            ),
            # Object columns, as stores build them from Python values.
            "at_objects_utc": pd.Series(
                [utc.to_pydatetime(), None, dt.datetime(2026, 1, 1, tzinfo=dt.UTC)] * 2,
                dtype=object,
            ),
            "at_objects_naive": pd.Series(
                [dt.datetime(2026, 1, 1, 9, 30), None, pd.Timestamp("2026-05-05")] * 2,
                dtype=object,
            ),
            "fee": [12.5, None, 0.1, Decimal("99.99"), 3, np.nan],
            "fee_float": [12.5, np.nan, 0.1, 99.99, 3.0, 1e-05],
            "flag_gaps": pd.Series([True, None, False, np.True_, None, False], dtype=object),
            "count_gaps": [1.0, np.nan, -3.0, 2.0**31 - 1, 0.0, np.nan],
            "count_objects": pd.Series([1, None, np.int64(5), 7, None, 0], dtype=object),
            "count_nullable": pd.Series([1, None, 5, 7, None, 0], dtype="Int64"),
            "day_objects": [dt.date(2026, 1, 2), None, dt.date(1999, 12, 31)] * 2,
            "day_of_instants": pd.Series(
                [utc, None, pd.Timestamp("2026-01-01 23:30", tz="UTC")] * 2, dtype=object
            ),
            # Python floats with gaps (fees the evidence copies); columns with no value at all.
            "fee_objects": pd.Series([12.5, None, 0.1, 99.99, float("nan"), 1e-05], dtype=object),
            # Plain Python booleans with gaps (the evidence's flags).
            "flag_objects": pd.Series([True, None, False, True, None, False], dtype=object),
            "flag_none": pd.Series([None] * rows, dtype=object),
            "at_none": pd.Series([None] * rows, dtype=object),
        }
    )


def _read_back(engine: sa.Engine, ids: range) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(every_type).where(every_type.c.id.in_(list(ids))).order_by(every_type.c.id)
        )
        return [dict(row._mapping) | {"id": None} for row in rows]


def test_insert_frame_stores_what_the_row_by_row_insert_stored(engine: sa.Engine) -> None:
    old, new = _every_type_frame(1), _every_type_frame(101)
    with engine.begin() as connection:
        connection.execute(every_type.insert(), frame_to_rows(old, every_type))
        assert insert_frame(connection, every_type, new) == len(new)

    stored_old, stored_new = _read_back(engine, range(1, 7)), _read_back(engine, range(101, 107))
    assert stored_new == stored_old
    # And what that is: the values, not merely equal mistakes.
    assert stored_new[1]["name"] == "tab\there" and stored_new[3]["note"] == "\\N"
    assert stored_new[4]["name"] == "" and stored_new[5]["name"] is None
    assert stored_new[0]["day"] == dt.date(2026, 1, 2) and stored_new[2]["day"] is None
    assert stored_new[1]["day_from_text"] == dt.date(2025, 5, 6)
    assert stored_new[0]["fee"] == Decimal("12.50") and stored_new[1]["fee"] is None
    assert stored_new[0]["flag"] is True and stored_new[0]["defaulted"] is False
    assert stored_new[0]["count"] == 0 and stored_new[3]["count"] == 2**31 - 1
    assert [r["flag_gaps"] for r in stored_new[:3]] == [True, None, False]
    assert [r["count_gaps"] for r in stored_new[:4]] == [1, None, -3, 2**31 - 1]
    assert stored_new[5]["fee_float"] == Decimal("0.00") and stored_new[2]["fee_float"] == Decimal(
        "0.10"
    )
    assert stored_new[2]["day_objects"] == dt.date(1999, 12, 31)
    assert stored_new[2]["day_of_instants"] == dt.date(2026, 1, 1)


def test_insert_frame_in_chunks_and_inside_the_callers_transaction(engine: sa.Engine) -> None:
    frame = _every_type_frame(1)
    with pytest.raises(RuntimeError), engine.begin() as connection:
        insert_frame(connection, every_type, frame, chunk_rows=4)
        raise RuntimeError("the caller's transaction rolls back")
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(every_type)).scalar() == 0
    with engine.begin() as connection:
        assert insert_frame(connection, every_type, frame, chunk_rows=4) == 6
        assert insert_frame(connection, every_type, frame.iloc[:0]) == 0
    assert len(_read_back(engine, range(1, 7))) == 6


def test_a_copy_in_pieces_stores_every_row_and_raises_a_bad_value_as_itself(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL each chunk's COPY converts its rows a piece at a time as the driver sends
    them: every piece is stored, and a value that cannot be converted in a later piece fails
    with its own error (not the driver's "COPY cancelled"), writing nothing."""
    monkeypatch.setattr(bulk_writes, "COPY_PIECE_ROWS", 4)
    with engine.begin() as connection:
        connection.execute(every_type.insert(), frame_to_rows(_every_type_frame(1), every_type))
        assert insert_frame(connection, every_type, _every_type_frame(101)) == 6
    assert _read_back(engine, range(101, 107)) == _read_back(engine, range(1, 7))

    bad = _every_type_frame(201).assign(count_objects=[1, 2, 3, 4, "five", 6])
    with pytest.raises(ValueError, match="five"), engine.begin() as connection:
        insert_frame(connection, every_type, bad)
    assert _read_back(engine, range(201, 207)) == []


def test_insert_frame_names_a_column_the_table_lacks(engine: sa.Engine) -> None:
    with engine.begin() as connection, pytest.raises(ValueError, match="no column"):
        insert_frame(connection, keyed, pd.DataFrame({"a": ["x"], "nope": [1]}))


def _keyed_rows(engine: sa.Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [
            tuple(r) for r in connection.execute(sa.select(keyed).order_by(keyed.c.a, keyed.c.b))
        ]


def _one_by_one(engine: sa.Engine, frame: pd.DataFrame, update: list[str]) -> None:
    """What the agent-file upsert did before: ON CONFLICT per row, through executemany."""
    rows = [
        {k: (None if pd.isna(v) else v) for k, v in row.items()} for row in frame.to_dict("records")
    ]
    with engine.begin() as connection:
        dml = sqlite_dml if connection.dialect.name == "sqlite" else postgresql_dml
        statement = dml.insert(keyed)
        if update:
            statement = statement.on_conflict_do_update(
                index_elements=["a", "b"], set_={c: statement.excluded[c] for c in update}
            )
        else:
            statement = statement.on_conflict_do_nothing(index_elements=["a", "b"])
        connection.execute(statement, rows)


@pytest.mark.parametrize("update", [["value"], []])
def test_upsert_frame_leaves_what_row_by_row_upserts_left(
    engine: sa.Engine, update: list[str]
) -> None:
    existing = pd.DataFrame(
        {"a": ["1", "1", "2"], "b": ["x", "y", "x"], "value": ["v1", "v2", "v3"], "kept": "old"}
    )
    # Updates of existing keys, new keys, a key twice (the later row's value wins), NULLs.
    incoming = pd.DataFrame(
        {
            "a": ["1", "3", "3", "2", "4"],
            "b": ["x", "z", "z", "x", "w"],
            "value": ["new1", "first", "second", None, "n4"],
            "kept": ["k1", "k-first", "k-second", "k2", None],
        }
    )
    results = []
    for how in (OLD, NEW):
        with engine.begin() as connection:
            connection.execute(keyed.delete())
            insert_frame(connection, keyed, existing)
        if how == OLD:
            _one_by_one(engine, incoming, update)
        else:
            with engine.begin() as connection:
                assert upsert_frame(connection, keyed, incoming, ["a", "b"], update) == 4
        results.append(_keyed_rows(engine))
    assert results[0] == results[1]
    if update:
        assert ("1", "x", "new1", "old") in results[1]  # `kept` is not an update column
        assert ("3", "z", "second", "k-first") in results[1]
    else:
        assert ("1", "x", "v1", "old") in results[1]


def test_rows_read_as_new_are_inserted_or_upserted_when_one_was_stored_since(
    engine: sa.Engine,
) -> None:
    """`upsert_new_frame`: new rows written as they are; a row another transaction stored
    since the caller read (here: already there) turns the write into the upsert, within the
    caller's transaction, which goes on."""
    with engine.begin() as connection:
        connection.execute(keyed.delete())
        insert_frame(connection, keyed, pd.DataFrame({"a": ["1"], "b": ["x"], "value": ["v1"]}))
    fresh = pd.DataFrame({"a": ["2", "3"], "b": ["x", "x"], "value": ["n2", "n3"]})
    clashing = pd.DataFrame({"a": ["1", "4"], "b": ["x", "x"], "value": ["new1", "n4"]})
    with engine.begin() as connection:
        assert upsert_new_frame(connection, keyed, fresh, ["a", "b"], ["value"]) == 2
        assert upsert_new_frame(connection, keyed, clashing, ["a", "b"], ["value"]) == 2
        insert_frame(connection, keyed, pd.DataFrame({"a": ["5"], "b": ["x"], "value": ["v5"]}))
    assert [(a, b, value) for a, b, value, _ in _keyed_rows(engine)] == [
        ("1", "x", "new1"),
        ("2", "x", "n2"),
        ("3", "x", "n3"),
        ("4", "x", "n4"),
        ("5", "x", "v5"),
    ]


@pytest.mark.parametrize("staged", [False, True])
def test_delete_keys_deletes_exactly_the_matching_rows(
    engine: sa.Engine, staged: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_writes, "STAGED_DELETE_MIN_KEYS", 1 if staged else 10_000)
    rows = pd.DataFrame(
        {"a": ["1", "1", "2", "2"], "b": ["x", "y", "x", "y"], "value": "v", "kept": None}
    )
    with engine.begin() as connection:
        insert_frame(connection, keyed, rows)
        delete_keys(
            connection,
            keyed,
            pd.DataFrame({"a": ["1", "2", "2", "9"], "b": ["y", "x", "x", "x"]}),
        )
        delete_keys(connection, keyed, pd.DataFrame({"a": [], "b": []}))
    assert [r[:2] for r in _keyed_rows(engine)] == [("1", "x"), ("2", "y")]
    with engine.begin() as connection:  # by one key column of two
        delete_keys(connection, keyed, pd.DataFrame({"a": ["2", "2", "7"]}))
    assert [r[:2] for r in _keyed_rows(engine)] == [("1", "x")]
    with engine.connect() as connection:  # the staging table is gone
        names = sa.inspect(connection).get_table_names()
    assert not [n for n in names if n.startswith("stage_")]


@pytest.mark.parametrize("staged", [False, True])
def test_update_rows_sets_the_other_columns_of_the_matching_rows(
    engine: sa.Engine, staged: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_writes, "STAGED_DELETE_MIN_KEYS", 1 if staged else 10_000)
    rows = pd.DataFrame(
        {"a": ["1", "1", "2"], "b": ["x", "y", "x"], "value": OLD, "kept": ["k1", "k2", "k3"]}
    )
    changes = pd.DataFrame(
        {"a": ["1", "2", "9"], "b": ["y", "x", "x"], "value": [NEW, None, NEW]}, dtype=object
    )
    with engine.begin() as connection:
        insert_frame(connection, keyed, rows)
        update_rows(connection, keyed, changes, ["a", "b"])
        update_rows(connection, keyed, changes.iloc[:0], ["a", "b"])
    # Matching rows take the frame's values (None included); others and other columns stay;
    # a key matching no row adds none.
    assert _keyed_rows(engine) == [
        ("1", "x", OLD, "k1"),
        ("1", "y", NEW, "k2"),
        ("2", "x", None, "k3"),
    ]
    with engine.connect() as connection:  # the staging table is gone
        names = sa.inspect(connection).get_table_names()
    assert not [n for n in names if n.startswith("stage_")]


def test_a_failed_upsert_raises_its_own_error_and_writes_nothing(engine: sa.Engine) -> None:
    bad = pd.DataFrame({"a": ["1", None], "b": ["x", "y"], "value": ["v", "w"]})
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as connection:
        upsert_frame(connection, keyed, bad, ["a", "b"], ["value"])
    assert _keyed_rows(engine) == []


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_many_npns_read_and_replaced_through_staging_tables(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The agent-file store past its IN-list size: existing producers read by a join, their
    assignments deleted by one statement, on both backends."""
    from assets.onboarding import store
    from resources.scoped_reads import npn_scope
    from schemas.migrate import upgrade
    from schemas.tables import producer_assignments, producers

    url = (
        f"sqlite:///{tmp_path / 'many.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("fresh_postgres_url")
    )
    upgrade(url)
    engine = create_database_engine(url)
    count = store._CHUNK + 5
    npns = [str(10_000_000 + i) for i in range(count)]
    with engine.begin() as connection:
        insert_frame(
            connection,
            producers,
            pd.DataFrame({"npn": npns, "email": "ann@example.com", "is_active": True}),
        )
        insert_frame(
            connection,
            producer_assignments,
            pd.DataFrame(
                {"npn": npns, "loa_category": "Life", "state_code": "TX", "cocode": "91234"}
            ),
        )
        with npn_scope(connection, [*npns[1:], "99999999", npns[1]]) as scope:
            found = store.read_existing_producers(scope)
        assert sorted(found["npn"]) == npns[1:]
        assert set(found["email"]) == {"ann@example.com"} and found["is_active"].all()
        delete_keys(connection, producer_assignments, pd.DataFrame({"npn": npns[1:]}))
        left = connection.execute(sa.select(producer_assignments.c.npn)).scalars().all()
    assert left == [npns[0]]
    engine.dispose()


def test_a_driver_error_is_raised_as_sqlalchemy_raises_it(engine: sa.Engine) -> None:
    """A transient one (SQLite locked, a lost connection) must be seen by the retries
    (resources/database.py::is_transient_database_error) as for any other statement."""
    from resources.database import is_transient_database_error

    frame = pd.DataFrame({"a": ["1", "1"], "b": ["x", "x"]})
    with pytest.raises(sa.exc.IntegrityError) as raised, engine.begin() as connection:
        insert_frame(connection, keyed, frame)
    assert not is_transient_database_error(raised.value)


def test_a_locked_sqlite_database_is_a_transient_error(tmp_path: Path) -> None:
    from resources.database import is_transient_database_error

    url = f"sqlite:///{tmp_path / 'locked.db'}"
    engine = create_database_engine(url, sqlite_busy_timeout_seconds=0.05)
    _metadata.create_all(engine)
    holder = create_database_engine(url)
    with holder.connect() as holding:
        holding.exec_driver_sql("BEGIN IMMEDIATE")
        with pytest.raises(sa.exc.OperationalError) as raised, engine.begin() as connection:
            insert_frame(connection, keyed, pd.DataFrame({"a": ["1"], "b": ["x"]}))
        holding.rollback()
    assert is_transient_database_error(raised.value)
    engine.dispose()
    holder.dispose()


def test_plain_python_values_are_copied_as_text_their_vectorised_column_gives() -> None:
    """Booleans, dates and floats of an object column are copied by one pass over the values;
    the text is the one the same values give once pandas has converted the column."""
    flags = pd.Series([True, None, False, True], dtype=object)
    days = pd.Series([dt.date(2026, 1, 2), None, dt.date(1999, 12, 31), dt.date(2, 3, 4)])
    fees = pd.Series([12.5, None, float("nan"), 1e-05, 1e20, 0.1 + 0.2, 1e16, 100.0])
    fees = fees.astype(object)
    copied = column_values.copy_column
    assert copied(flags, sa.Boolean()) == ["t", "\\N", "f", "t"]
    assert copied(flags, sa.Boolean()) == copied(flags.astype("boolean"), sa.Boolean())
    assert copied(days, sa.Date()) == ["2026-01-02", "\\N", "1999-12-31", "0002-03-04"]
    in_range = days.iloc[:3]  # datetime64 cannot hold year 2
    assert copied(in_range, sa.Date()) == copied(pd.to_datetime(in_range), sa.Date())
    assert copied(fees, sa.Numeric(10, 2)) == copied(fees.astype(float), sa.Numeric(10, 2))
    # Not plain: a datetime in a Date column, a numpy bool: the vectorised path takes them.
    assert copied(pd.Series([dt.datetime(2026, 1, 2, 23, 0), None]), sa.Date()) == [
        "2026-01-02",
        "\\N",
    ]
    assert copied(pd.Series([np.True_, None], dtype=object), sa.Boolean()) == ["t", "\\N"]
