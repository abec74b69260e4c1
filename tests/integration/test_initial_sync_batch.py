"""The initial sync applied in batches (assets/nipr/initial_sync_batch.py) on both databases:
the same rows and statuses as applying each producer alone, one producer that cannot be
stored losing none of the others, each producer's own as-of respected, and the fetches in
flight bounded. NIPR is a stand-in client serving the sandbox's generated replies."""

from __future__ import annotations

import datetime as dt
import logging
import threading

import pandas as pd
import pytest
import sqlalchemy as sa

import assets.nipr.initial_sync as initial_sync
from assets.nipr import store
from assets.nipr.initial_sync import sync_producers
from assets.nipr.initial_sync_batch import (
    apply_batch,
    fetch_and_classify,
    fetch_entity_info,
    sync_one,
)
from npnflow.sandbox.entity_info import render_entity_info, render_error
from npnflow.sandbox.generator import generate_world
from resources.nipr import NiprCallFailed
from schemas.tables import licenses as licenses_table
from schemas.tables import nipr_scope_reports
from support.seed import seeded_database

TODAY = dt.date(2026, 3, 6)
T0 = dt.datetime(2026, 3, 6, 18, 0, tzinfo=dt.UTC)
UNKNOWN = "1"  # NIPR has no such producer: Not Found
UNREACHABLE = "2"  # NIPR fails for it: NIPR Error
LOG = logging.getLogger(__name__)
TABLES = ("licenses", "license_loas", "appointments")


@pytest.fixture(scope="module")
def world():
    return generate_world(seed=13, producers=40, today=TODAY)


class StandInNipr:
    """Entity Info from the generated world; records how many calls run at once."""

    def __init__(self, world, on_call=None):
        self.world = world
        self.on_call = on_call
        self.lock = threading.Lock()
        self.active = 0
        self.most_active = 0
        self.calls = 0

    def fetch_entity_info(self, npn: str) -> bytes:
        with self.lock:
            self.active += 1
            self.calls += 1
            self.most_active = max(self.most_active, self.active)
            if self.on_call is not None:
                self.on_call()
        try:
            if npn == UNREACHABLE:
                raise NiprCallFailed(f"Entity Info for NPN {npn}: HTTP 500 after 4 attempts")
            producer = self.world.producer(npn)
            if producer is None:
                return render_error(f"No entity was found for id_entity {npn}.")
            return render_entity_info(producer)
        finally:
            with self.lock:
                self.active -= 1


@pytest.fixture
def database(database_url, world):
    people = world.to_frames()["producers"]
    extra = pd.DataFrame({"npn": [UNKNOWN, UNREACHABLE], "last_name": ["Unknown", "Down"]})
    people = pd.concat([people, extra], ignore_index=True)
    database = seeded_database(database_url)
    columns = [c for c in people.columns if c in {"npn", "first_name", "last_name", "email"}]
    database.replace_tables({"producers": people[columns].assign(sync_status="Not Started")})
    yield database
    database.engine.dispose()


def npns_of(database) -> list[str]:
    with database.begin() as connection:
        return store.producers_to_sync(connection, ["Not Started"])


def snapshot(database) -> dict[str, list[tuple[str, ...]]]:
    """Every table the sync writes, without the columns that only say when it ran."""
    frames = {
        "producers": database.read_table(
            "producers",
            ["npn", "first_name", "last_name", "email", "sync_status", "last_synced_at"],
        ),
        "nipr_scope_reports": database.read_table("nipr_scope_reports").drop(
            columns=["applied_at"]
        ),
        **{table: database.read_table(table) for table in TABLES},
    }
    return {
        name: sorted(
            tuple(map(str, row))
            for row in frame.astype(object)
            .where(frame.notna(), None)
            .itertuples(index=False, name=None)
        )
        for name, frame in frames.items()
    }


def reset(database) -> None:
    with database.begin() as connection:
        for table in (*TABLES, "nipr_scope_reports"):
            connection.execute(sa.text(f"DELETE FROM {table}"))  # table: a literal above
        connection.execute(
            sa.text("UPDATE producers SET sync_status = 'Not Started', last_synced_at = NULL")
        )


def test_a_batch_stores_what_applying_each_producer_alone_stores(database, world):
    npns = npns_of(database)
    nipr = StandInNipr(world)
    # Each producer's reply fetched at its own time, the same for both ways.
    fetched_at = {npn: T0 + dt.timedelta(seconds=i) for i, npn in enumerate(npns)}
    batch = [fetch_and_classify(nipr, npn) for npn in npns]
    for fetched in batch:
        fetched.fetched_at = fetched_at[fetched.npn]
    result = apply_batch(database, batch, LOG)
    assert not result.unstored
    together = snapshot(database)

    reset(database)
    for npn in npns:  # the per-producer path: parse_pdb_report, classify_entity_info
        fetched = fetch_entity_info(nipr, npn)
        fetched.fetched_at = fetched_at[npn]
        sync_one(database, fetched)
    alone = snapshot(database)

    assert together == alone
    statuses = {row[0]: row[4] for row in together["producers"]}
    assert statuses.pop(UNKNOWN) == "Not Found"
    assert statuses.pop(UNREACHABLE) == "NIPR Error"
    assert set(statuses.values()) <= {"Success", "Success - No Licenses"}
    assert len(together["licenses"]) > 100 and len(together["appointments"]) > 50
    synced = {row[0]: row[5] for row in together["producers"]}
    assert synced[UNREACHABLE] == "None"  # NIPR did not answer: not "synced"
    assert sum(count for count in result.written.values()) == sum(
        len(together[table]) for table in TABLES
    )


def test_a_producer_that_cannot_be_stored_loses_none_of_the_others(database, world, monkeypatch):
    npns = npns_of(database)
    bad = npns[5]
    real_write = store.write_application

    def refusing(connection, application):
        if (application.inserted["licenses"]["npn"] == bad).any():
            raise ValueError(f"a value of NPN {bad} the database refuses")
        real_write(connection, application)

    monkeypatch.setattr(store, "write_application", refusing)
    nipr = StandInNipr(world)
    with pytest.raises(RuntimeError, match=f"1 producer.*NPN {bad}: ValueError"):
        sync_producers(database, nipr, npns, 2, LOG, batch_producers=10)
    assert nipr.calls == len(npns)  # the run went on past the bad batch
    people = database.read_table("producers").set_index("npn")
    assert people.at[bad, "sync_status"] == "Not Started"  # attempted again next run
    others = people.drop(index=[bad, UNKNOWN, UNREACHABLE])
    assert set(others.sync_status) <= {"Success", "Success - No Licenses"}
    stored = set(database.read_table("licenses").npn)
    assert bad not in stored
    assert stored == set(others.index[others.sync_status == "Success"])


def test_a_database_that_refuses_every_producer_stops_the_run(database, world, monkeypatch):
    def refusing(connection, application):
        raise ValueError("no such column")

    monkeypatch.setattr(store, "write_application", refusing)
    nipr = StandInNipr(world)
    npns = npns_of(database)
    with pytest.raises(RuntimeError, match="could not be stored"):
        sync_producers(database, nipr, npns, 1, LOG, batch_producers=5, max_in_flight=2)
    assert nipr.calls < len(npns)


def test_each_producer_s_own_as_of_decides_in_a_batch(database, world):
    """A's CA licensing was stored from data newer than A's reply: kept. B's is replaced."""
    npns = npns_of(database)
    licenses = world.to_frames()["licenses"]
    held = licenses.groupby("npn")["state_code"].first()
    a, b = [n for n in npns if n in held.index][:2]
    newer = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    with database.begin() as connection:
        for npn in (a, b):
            connection.execute(
                licenses_table.insert().values(
                    npn=npn,
                    state_code=held[npn],
                    license_number="OLD-1",
                    license_class_code="1",
                )
            )
        connection.execute(
            nipr_scope_reports.insert().values(
                npn=a,
                state_code=held[a],
                category="LICENSING",
                data_as_of=newer,
                source="alerts",
                applied_at=newer,
            )
        )
    sync_producers(database, StandInNipr(world), npns, 4, LOG)
    stored = database.read_table("licenses")
    kept = stored[(stored.npn == a) & (stored.state_code == held[a])]
    assert list(kept.license_number) == ["OLD-1"]
    replaced = stored[(stored.npn == b) & (stored.state_code == held[b])]
    expected = licenses[(licenses.npn == b) & (licenses.state_code == held[b])]
    assert sorted(replaced.license_number) == sorted(expected.license_number)
    elsewhere = stored[(stored.npn == a) & (stored.state_code != held[a])]
    assert len(elsewhere) == ((licenses.npn == a) & (licenses.state_code != held[a])).sum()


def test_fetches_in_flight_stay_within_the_bound(database, world, monkeypatch):
    workers, bound, batch_size = 3, 5, 7
    applied = [0]
    ahead: list[int] = []

    def counting(database_, batch, log):
        result = apply_batch(database_, batch, log)
        applied[0] += len(batch)
        return result

    monkeypatch.setattr(initial_sync, "apply_batch", counting)
    nipr = StandInNipr(world)
    nipr.on_call = lambda: ahead.append(nipr.calls - applied[0])
    npns = npns_of(database)
    run = sync_producers(
        database, nipr, npns, workers, LOG, batch_producers=batch_size, max_in_flight=bound
    )
    assert run.attempted == len(npns) == nipr.calls
    assert nipr.most_active <= workers
    # Started but not applied: at most the replies in flight plus the batch being gathered.
    assert max(ahead) <= bound + batch_size
    assert max(ahead) > batch_size  # the bound, not the batch alone, is what held it


def test_statuses_set_together_keep_last_synced_at_where_nipr_did_not_answer(database):
    a, b, c = npns_of(database)[:3]
    with database.begin() as connection:
        store.set_sync_status(connection, a, "Success", synced_at=T0)
    later = T0 + dt.timedelta(days=1)
    with database.begin() as connection:
        store.set_sync_statuses(
            connection, [(a, "NIPR Error", None), (b, "Success", later), (c, "Not Found", later)]
        )
        # Only NIPR Errors: the VALUES column holds nothing but NULLs.
        store.set_sync_statuses(connection, [(UNREACHABLE, "NIPR Error", None)])
    people = database.read_table("producers").set_index("npn")
    assert people.loc[[a, b, c, UNREACHABLE], "sync_status"].tolist() == [
        "NIPR Error",
        "Success",
        "Not Found",
        "NIPR Error",
    ]
    synced = people["last_synced_at"]
    assert store.utc(synced[a]) == T0  # kept: NIPR did not answer this time
    assert store.utc(synced[b]) == store.utc(synced[c]) == later
    assert pd.isna(synced[UNREACHABLE])
