"""Offboarding on both databases (SQLite file and PostgreSQL): all-or-nothing per producer
when a step fails half-way, and two offboardings of the same producer at once doing it once.

The world is tests/support/offboarding.py's, seeded with the shipped reference tables.
"""

from __future__ import annotations

import threading

import pandas as pd
import pytest
import sqlalchemy as sa

from assets.offboarding import store as offboarding_store
from assets.offboarding.rules import ALREADY_OFFBOARDED, NOT_OFFBOARDED, OFFBOARDED, OffboardRequest
from assets.offboarding.service import offboard_producers
from schemas import statuses
from support.offboarding import ANN, BOB, world_tables
from support.seed import seeded_database


@pytest.fixture
def database(database_url):
    database = seeded_database(database_url, world_tables())
    yield database
    database.engine.dispose()


def _terminations(database, npn: str) -> pd.DataFrame:
    t = database.read_table("transactions")
    return t[(t["kind"] == "termination") & (t["npn"] == npn)]


def test_a_failing_step_rolls_back_every_step_of_that_producer_only(database, monkeypatch) -> None:
    def revoke_failing_for_ann(connection, npn, **recorded):
        if npn == ANN:
            # A constraint the database itself enforces: the last step fails, after the
            # terminations were written and the unsent lines cancelled in the same transaction.
            connection.execute(
                sa.text("UPDATE portal_users SET status = NULL WHERE npn = :npn"), {"npn": npn}
            )
        return real_revoke(connection, npn, **recorded)

    real_revoke = offboarding_store.revoke_portal_access
    monkeypatch.setattr(offboarding_store, "revoke_portal_access", revoke_failing_for_ann)
    run = offboard_producers(
        database, [OffboardRequest(ANN), OffboardRequest(BOB)], offboarded_by="Dana"
    )
    assert [o.outcome for o in run.outcomes] == [NOT_OFFBOARDED, OFFBOARDED]
    assert "IntegrityError" in run.outcomes[0].message
    producers = database.read_table("producers").set_index("npn")
    assert bool(producers.at[ANN, "is_active"]) and pd.isna(producers.at[ANN, "offboarded_at"])
    assert not bool(producers.at[BOB, "is_active"])
    assert _terminations(database, ANN).empty and len(_terminations(database, BOB)) == 1
    t = database.read_table("transactions").set_index("transaction_id")
    assert t.at["T-ANN-GA", "status"] == statuses.READY_TO_SUBMIT
    assert t.at["T-BOB-GA", "status"] == statuses.CANCELLED
    users = database.read_table("portal_users")
    assert set(users.loc[users["npn"] == ANN, "status"]) == {"Registered", "Invited"}
    assert set(users.loc[users["npn"] == BOB, "status"]) == {"Revoked"}


def test_two_offboardings_of_one_producer_at_once_offboard_it_once(database) -> None:
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def offboard(by: str) -> None:
        start.wait()
        run = offboard_producers(database, [OffboardRequest(ANN)], offboarded_by=by)
        outcomes.append(run.outcomes[0].outcome)

    threads = [threading.Thread(target=offboard, args=(name,)) for name in ("Dana", "Eve")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == sorted([OFFBOARDED, ALREADY_OFFBOARDED])
    assert len(_terminations(database, ANN)) == 4
    batches = database.read_table("transaction_batches")
    assert (batches["kind"] == "termination").sum() == 2
    # Each termination keeps the evidence of its decision, written with it (issue 19).
    evidence = database.read_table("transaction_evidence")
    terminations = _terminations(database, ANN)
    assert set(evidence["transaction_id"]) == set(terminations["transaction_id"])
    assert evidence["engine_version"].str.startswith("termination rules ").all()
