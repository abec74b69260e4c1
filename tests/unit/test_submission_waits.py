"""Submission without fixed sleeps, answers written by one statement (issue 17, item 5).

A scripted Gateway (no HTTP) answers the sends and polls; `sleep` is recorded, not slept. The
run polls at once after sending, waits only while NIPR says a line is pending (doubling up to
the poll interval), and writes the answers of a reply with one UPDATE, on SQLite and
PostgreSQL. The exactly-once protocol itself is tests/integration/test_submission_exactly_once.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from decimal import Decimal

import pytest
import sqlalchemy as sa

from assets.submissions.submission import FIRST_POLL_WAIT_SECONDS, poll_batch, submit_batch
from resources.nipr_gateway_xml import GatewayReply, GatewayTransaction, Outcome
from schemas import statuses
from schemas.migrate import upgrade
from schemas.tables import TABLES

BATCH = "B-WAIT"
T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


class Database:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine


class ScriptedGateway:
    """Answers every key with `answer(key, round)`: round 0 is the send, 1.. the polls of it."""

    settle_seconds = 0.0

    def __init__(self, pending_rounds: dict[str, int] | None = None) -> None:
        # key -> how many answers (the send's included) say Pending State Review before final
        self.pending_rounds = pending_rounds or {}
        self.asked: dict[str, int] = {}
        self.sends: list[list[str]] = []
        self.polls: list[list[str]] = []

    def _answer(self, key: tuple[str, str]) -> Outcome:
        asked = self.asked.get(key[1], 0)
        self.asked[key[1]] = asked + 1
        if asked < self.pending_rounds.get(key[1], 0):
            return Outcome(key, statuses.PENDING_STATE_REVIEW, "SR", "state review", "NT-1")
        accepted = int(key[1].rsplit("-", 1)[1]) % 3 != 0
        return Outcome(
            key,
            statuses.ACCEPTED if accepted else statuses.REJECTED,
            "PC",
            None if accepted else "Refused (NIPR 10102)",
            f"NT-{key[1]}",
        )

    def send(
        self,
        transactions: Sequence[GatewayTransaction],
        *,
        cust_batch: str,
        now: dt.datetime | None = None,
    ) -> GatewayReply:
        keys = [(cust_batch, t.idempotency_key) for t in transactions]
        self.sends.append([k for _, k in keys])
        return GatewayReply({key: self._answer(key) for key in keys})

    def poll(self, keys: Sequence[tuple[str, str]]) -> GatewayReply:
        self.polls.append([k for _, k in keys])
        return GatewayReply({key: self._answer(key) for key in keys})

    def lookup_batch(self, cust_batch: str) -> GatewayReply:
        raise AssertionError("nothing was ever unanswered: no look-up is needed")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'npnflow.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres_url")
    upgrade(url)
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    yield engine
    engine.dispose()


def _batch(engine: sa.Engine, lines: int) -> list[str]:
    keys = [f"{BATCH}-{i:04d}" for i in range(lines)]
    with engine.begin() as connection:
        connection.execute(
            TABLES["transaction_batches"].insert(),
            [
                {
                    "batch_id": BATCH,
                    "kind": "appointment",
                    "cocode": "12345",
                    "status": statuses.BATCH_APPROVED,
                    "approval_version": 1,
                    "created_at": T0,
                }
            ],
        )
        connection.execute(
            TABLES["transactions"].insert(),
            [
                {
                    "transaction_id": key,
                    "batch_id": BATCH,
                    "kind": "appointment",
                    "npn": f"100{i:05d}",
                    "state_code": "TX",
                    "cocode": "12345",
                    "loa_code": "16",
                    "status": statuses.READY_TO_SUBMIT,
                    "estimated_fee": Decimal("10.00"),
                    "idempotency_key": key,
                    "created_at": T0,
                }
                for i, key in enumerate(keys)
            ],
        )
    return keys


def _rows(engine: sa.Engine) -> dict[str, dict]:
    t = TABLES["transactions"]
    with engine.connect() as connection:
        return {
            row["transaction_id"]: dict(row)
            for row in connection.execute(sa.select(t).where(t.c.batch_id == BATCH)).mappings()
        }


def _submit(engine: sa.Engine, gateway: ScriptedGateway, sleeps: list[float], **options):
    return submit_batch(
        Database(engine),
        gateway,
        BATCH,
        1,
        sleep=sleeps.append,
        now=lambda: T0,
        **options,
    )


def test_every_answer_final_on_sending_means_no_poll_and_no_sleep(engine):
    keys = _batch(engine, 150)
    gateway, sleeps = ScriptedGateway(), []
    report = _submit(engine, gateway, sleeps)
    assert sleeps == [] and gateway.polls == [] and report.poll_rounds == 0
    assert [len(chunk) for chunk in gateway.sends] == [100, 50]
    assert report.batch_status == statuses.BATCH_COMPLETED
    rows = _rows(engine)
    for i, key in enumerate(keys):
        row = rows[key]
        assert row["status"] == (statuses.REJECTED if i % 3 == 0 else statuses.ACCEPTED)
        assert row["nipr_trans"] == f"NT-{key}" and row["nipr_status"] == "PC"
        assert row["submitted_at"] is not None and row["completed_at"] is not None
        assert row["nipr_message"] == (None if i % 3 else "Refused (NIPR 10102)")


def test_pending_on_sending_is_polled_at_once_without_sleeping(engine):
    keys = _batch(engine, 30)
    gateway, sleeps = ScriptedGateway({key: 1 for key in keys[::4]}), []
    report = _submit(engine, gateway, sleeps)
    assert gateway.polls == [keys[::4]]
    assert sleeps == [] and report.poll_rounds == 1
    assert report.batch_status == statuses.BATCH_COMPLETED
    rows = _rows(engine)
    assert all(rows[key]["completed_at"] is not None for key in keys)
    assert rows[keys[0]]["nipr_trans"] == f"NT-{keys[0]}"  # the final answer's, not "NT-1"


def test_only_what_nipr_says_is_pending_is_waited_for_doubling_up_to_the_interval(engine):
    keys = _batch(engine, 10)
    gateway, sleeps = ScriptedGateway({keys[0]: 99, keys[1]: 3}), []
    report = _submit(engine, gateway, sleeps, max_poll_rounds=5, poll_interval_seconds=0.6)
    first = FIRST_POLL_WAIT_SECONDS
    assert sleeps == [first, min(2 * first, 0.6), 0.6, 0.6]
    assert report.poll_rounds == 5 and report.batch_status == statuses.BATCH_SUBMITTED
    assert gateway.polls == [keys[:2], keys[:2], keys[:2], keys[:1], keys[:1]]
    rows = _rows(engine)
    assert rows[keys[0]]["status"] == statuses.PENDING_STATE_REVIEW
    assert rows[keys[0]]["completed_at"] is None and rows[keys[0]]["nipr_trans"] == "NT-1"
    assert rows[keys[1]]["status"] == statuses.ACCEPTED

    polled = poll_batch(Database(engine), gateway, BATCH, sleep=sleeps.append, now=lambda: T0)
    assert polled.poll_rounds == 1 and len(sleeps) == 4  # poll_batch asks once, at once


def test_no_interval_means_no_wait_at_all(engine):
    keys = _batch(engine, 5)
    gateway, sleeps = ScriptedGateway({keys[0]: 3}), []
    report = _submit(engine, gateway, sleeps, max_poll_rounds=3, poll_interval_seconds=0.0)
    assert sleeps == [] and report.poll_rounds == 3
    assert report.batch_status == statuses.BATCH_COMPLETED


def test_the_answers_of_a_reply_are_written_by_one_statement(engine):
    _batch(engine, 100)
    updates: list[tuple[str, bool]] = []

    def count(connection, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("UPDATE TRANSACTIONS"):
            updates.append((statement, executemany))

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        report = _submit(engine, ScriptedGateway(), [])
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert report.transactions_sent == 100
    # One UPDATE marks the chunk's submission_chunk before the call (the ledger), one writes
    # the 100 answers, whatever the backend.
    assert len(updates) == 2, [s for s, _ in updates]
    assert "submission_chunk" in updates[0][0]
    assert all(row["status"] != statuses.READY_TO_SUBMIT for row in _rows(engine).values())
