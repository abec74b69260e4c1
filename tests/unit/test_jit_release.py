"""Releasing and cancelling held JIT lines (`assets/jit/service.py`) on a seeded SQLite file
holding the JIT world (tests/support/jit.py): the re-check as of today, the move into a new
Approved batch, deadlines, a second release, a failure before the approval, and `jit list`."""

from __future__ import annotations

import datetime as dt
import shutil

import pandas as pd
import pytest
import sqlalchemy as sa

from assets.jit.listing import jit_lines
from assets.jit.rules import (
    CLOCK_CONTRACT_OR_FIRST_BUSINESS,
    CLOCK_FIRST_BUSINESS,
    LATE_JIT_FILING,
    JitRefused,
    ReleaseRequest,
    clock_by_state,
    held_due_date,
    held_on,
    is_late,
    jit_clock,
    jit_due_date,
    released_effective_date,
)
from assets.jit.service import cancel_held_lines, release_held_lines
from assets.rules.effective_dates import backdate_reason
from resources.database import OperationalDatabase
from schemas import statuses
from support.jit import ANN, HARBORSTONE, jit_world

T1 = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)  # 10:00 in NIPR's time zone, Dec 1
BUSINESS = dt.date(2026, 11, 30)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    path = tmp_path_factory.mktemp("jit") / "template.db"
    jit_world(path).engine.dispose()
    return path


@pytest.fixture
def database(template, tmp_path):
    path = tmp_path / "npnflow.db"
    shutil.copy(template, path)
    database = OperationalDatabase(url=f"sqlite:///{path}")
    yield database
    database.engine.dispose()


def lines(database: OperationalDatabase) -> pd.DataFrame:
    frame = database.read_table("transactions")
    return frame[frame["loa_code"] == "16"].set_index("state_code")


def batches(database: OperationalDatabase) -> pd.DataFrame:
    return database.read_table("transaction_batches").set_index("batch_id")


def release(database, *requests, by="Dana", **kwargs):
    return release_held_lines(database, list(requests), released_by=by, now=lambda: T1, **kwargs)


def test_a_release_moves_the_held_lines_into_a_new_approved_batch(database) -> None:
    before = lines(database)
    held_batch = before.loc["FL", "batch_id"]
    outcome = release(database, ReleaseRequest(npn=ANN, business_date=BUSINESS))

    assert len(outcome.released) == 2 and not outcome.not_eligible
    (new_batch,) = outcome.batches
    after = lines(database)
    # The same rows (ids and idempotency keys kept), now in the new batch, Ready to Submit.
    assert after["transaction_id"].tolist() == before["transaction_id"].tolist()
    assert after["idempotency_key"].tolist() == before["idempotency_key"].tolist()
    assert set(after["batch_id"]) == {new_batch}
    assert set(after["status"]) == {statuses.READY_TO_SUBMIT}
    assert set(after["held_batch_id"]) == {held_batch}
    assert set(after["released_by"]) == {"Dana"}
    all_batches = batches(database)
    assert all_batches.loc[new_batch, "status"] == statuses.BATCH_APPROVED
    assert all_batches.loc[new_batch, "approval_version"] == 1
    assert all_batches.loc[new_batch, "approved_by"] == "Dana"
    assert all_batches.loc[new_batch, "kind"] == "appointment"
    assert all_batches.loc[new_batch, "cocode"] == HARBORSTONE
    # The held batch kept only final lines (Not Eligible): it is Completed.
    assert all_batches.loc[held_batch, "status"] == statuses.BATCH_COMPLETED
    # The audit trail (issue 19): the new batch's creation and release, by the releaser, in the
    # release's own transaction; without an upload the door is the CLI.
    events = database.read_table("batch_events")
    events = events[events["batch_id"] == new_batch].sort_values("event_id")
    assert events[["batch_id", "event", "actor", "door", "approval_version"]].values.tolist() == [
        [new_batch, "created", "Dana", "cli", 0],
        [new_batch, "released", "Dana", "cli", 1],
    ]
    assert held_batch in events["detail"].iloc[1]


def test_deadlines_effective_dates_and_fees_of_released_lines(database) -> None:
    release(database, ReleaseRequest(npn=ANN, business_date=BUSINESS))
    after = lines(database)
    # FL takes an effective date: the business date; GA takes none (its processing date).
    assert pd.Timestamp(after.loc["FL", "effective_date"]).date() == BUSINESS
    assert pd.isna(after.loc["GA", "effective_date"])
    # Due: business date + the state's jit_deadline_days (FL 45, GA 15).
    assert pd.Timestamp(after.loc["FL", "jit_due_date"]).date() == BUSINESS + dt.timedelta(45)
    assert pd.Timestamp(after.loc["GA", "jit_due_date"]).date() == BUSINESS + dt.timedelta(15)
    assert pd.Timestamp(after.loc["FL", "jit_business_date"]).date() == BUSINESS
    # A held line carries NIPR fee 0; released, it carries NIPR's fee and the state fee now.
    assert float(after.loc["FL", "estimated_nipr_fee"]) == 5.0
    assert float(after.loc["FL", "estimated_fee"]) == 60.0
    new_batch = after.loc["FL", "batch_id"]
    assert float(batches(database).loc[new_batch, "estimated_fees"]) == 60 + 20 + 5 + 5


def test_without_a_business_date_the_release_day_starts_the_deadline(database) -> None:
    release(database, ReleaseRequest(npn=ANN, state_code="GA"))
    after = lines(database)
    assert pd.Timestamp(after.loc["GA", "jit_business_date"]).date() == dt.date(2026, 12, 1)
    assert pd.Timestamp(after.loc["GA", "jit_due_date"]).date() == dt.date(2026, 12, 16)
    assert after.loc["FL", "status"] == statuses.HELD_JIT  # not named: still held


def test_a_lapsed_license_makes_the_line_not_eligible_and_never_sent(database) -> None:
    with database.begin() as connection:
        connection.execute(sa.text("UPDATE licenses SET is_active = false WHERE state_code = 'GA'"))
    outcome = release(database, ReleaseRequest(npn=ANN, business_date=BUSINESS))
    after = lines(database)
    assert after.loc["GA", "status"] == statuses.NOT_ELIGIBLE
    assert after.loc["GA", "eligibility_reason"] == "Required License Not Active"
    assert float(after.loc["GA", "estimated_nipr_fee"]) == 0
    assert after.loc["GA", "batch_id"] == after.loc["GA", "held_batch_id"] or pd.isna(
        after.loc["GA", "held_batch_id"]
    )
    assert after.loc["GA", "batch_id"] != after.loc["FL", "batch_id"]  # stayed where held
    assert after.loc["FL", "status"] == statuses.READY_TO_SUBMIT
    assert [line.transaction_id for line in outcome.not_eligible] == [
        after.loc["GA", "transaction_id"]
    ]


def test_a_business_date_the_state_refuses_makes_the_line_not_eligible(database) -> None:
    long_ago = dt.date(2026, 9, 1)  # FL: at most 45 days back
    release(database, ReleaseRequest(npn=ANN, state_code="FL", business_date=long_ago))
    after = lines(database)
    assert after.loc["FL", "status"] == statuses.NOT_ELIGIBLE
    assert after.loc["FL", "eligibility_reason"] == backdate_reason(45, "FL")


def test_a_line_released_twice_is_moved_once(database) -> None:
    first = release(database, ReleaseRequest(npn=ANN))
    second = release(database, ReleaseRequest(npn=ANN))
    assert len(first.released) == 2
    assert not second.released and not second.batches
    assert second.unmatched == (f"NPN {ANN}",)
    kinds = batches(database)
    assert (kinds["status"] == statuses.BATCH_APPROVED).sum() == 1


def test_a_failure_between_moving_and_approving_changes_nothing(database) -> None:
    before = database.read_table("transactions").sort_values("transaction_id")
    before_batches = database.read_table("transaction_batches")
    before_events = len(database.read_table("batch_events"))

    def crash(connection) -> None:
        raise RuntimeError("killed between moving the lines and approving their batch")

    with pytest.raises(RuntimeError, match="killed"):
        release(database, ReleaseRequest(npn=ANN), before_approval=crash)
    after = database.read_table("transactions").sort_values("transaction_id")
    pd.testing.assert_frame_equal(
        before.reset_index(drop=True), after.reset_index(drop=True), check_dtype=False
    )
    assert database.read_table("transaction_batches")["batch_id"].tolist() == (
        before_batches["batch_id"].tolist()
    )
    assert len(database.read_table("batch_events")) == before_events  # no event without change
    # And a release afterwards moves every line once.
    outcome = release(database, ReleaseRequest(npn=ANN))
    assert len(outcome.released) == 2


def test_a_release_is_an_approval_checked_against_the_approvers_file(
    database, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("NPNFLOW_CONFIG_DIR", str(tmp_path))
    (tmp_path / "approvers.yaml").write_text(
        f'approvers:\n  - {{cocode: "{HARBORSTONE}", kind: appointment, names: [Lee]}}\n',
        encoding="utf-8",
    )
    before = lines(database)
    with pytest.raises(JitRefused, match="Dana may not approve .*approved by Lee"):
        release(database, ReleaseRequest(npn=ANN), by="Dana")
    assert lines(database)["status"].tolist() == before["status"].tolist()
    outcome = release(database, ReleaseRequest(npn=ANN), by="Lee")
    assert len(outcome.released) == 2


def test_release_by_transaction_id_moves_that_line_only(database) -> None:
    fl = lines(database).loc["FL", "transaction_id"]
    outcome = release(database, ReleaseRequest(transaction_ids=(fl,)))
    assert [line.transaction_id for line in outcome.released] == [fl]
    assert lines(database).loc["GA", "status"] == statuses.HELD_JIT


def test_a_release_without_a_name_or_a_line_is_refused(database) -> None:
    with pytest.raises(JitRefused, match="--by NAME"):
        release(database, ReleaseRequest(npn=ANN), by=" ")
    with pytest.raises(JitRefused, match="--transaction"):
        release(database, ReleaseRequest())
    assert set(lines(database)["status"]) == {statuses.HELD_JIT}


def test_cancel_makes_held_lines_cancelled(database) -> None:
    cancelled, unmatched = cancel_held_lines(
        database, [ReleaseRequest(npn=ANN, state_code="GA")], cancelled_by="Dana", now=lambda: T1
    )
    assert [line.state_code for line in cancelled] == ["GA"] and not unmatched
    after = lines(database)
    assert after.loc["GA", "status"] == statuses.CANCELLED
    assert after.loc["GA", "cancelled_by"] == "Dana"
    assert after.loc["FL", "status"] == statuses.HELD_JIT
    # A cancelled line is never released.
    outcome = release(database, ReleaseRequest(npn=ANN, state_code="GA"))
    assert not outcome.released and outcome.unmatched


def test_jit_list_shows_held_and_released_lines_and_flags_late_ones(database) -> None:
    with database.begin() as connection:
        held = jit_lines(connection, today=dt.date(2026, 12, 1))
    assert set(held["status"]) == {statuses.HELD_JIT}
    assert held.set_index("state_code")["jit_deadline_days"].to_dict() == {"FL": 45, "GA": 15}
    assert not held["late"].any()

    release(database, ReleaseRequest(npn=ANN, state_code="GA", business_date=BUSINESS))
    with database.begin() as connection:
        on_time = jit_lines(connection, today=BUSINESS + dt.timedelta(15))
        late = jit_lines(connection, today=BUSINESS + dt.timedelta(16), overdue=True)
        by_state = jit_lines(connection, today=BUSINESS, state_code="fl")
        other_company = jit_lines(connection, today=BUSINESS, cocode="92345")
    assert not on_time["late"].any()
    assert late["state_code"].tolist() == ["GA"]  # unsent past its due date
    assert by_state["state_code"].tolist() == ["FL"]
    assert other_company.empty


@pytest.mark.parametrize(
    ("due", "submitted", "today", "sent", "expected"),
    [
        (dt.date(2026, 12, 10), dt.date(2026, 12, 10), dt.date(2026, 12, 20), True, False),
        (dt.date(2026, 12, 10), dt.date(2026, 12, 11), dt.date(2026, 12, 11), True, True),
        (dt.date(2026, 12, 10), None, dt.date(2026, 12, 10), False, False),
        (dt.date(2026, 12, 10), None, dt.date(2026, 12, 11), False, True),
        (None, None, dt.date(2030, 1, 1), False, False),
    ],
)
def test_late_jit_filing(due, submitted, today, sent, expected) -> None:
    assert is_late(due, submitted, today, sent=sent) is expected
    assert LATE_JIT_FILING == "Late JIT Filing"


def test_due_date_and_effective_date_arithmetic() -> None:
    assert jit_due_date(dt.date(2026, 12, 20), 15) == dt.date(2027, 1, 4)
    assert jit_due_date(dt.date(2026, 12, 20), None) is None
    held = dt.date(2026, 11, 1)
    assert released_effective_date(None, held, True) == held
    assert released_effective_date(BUSINESS, held, None) == BUSINESS
    assert released_effective_date(BUSINESS, held, False) is None


def test_offboarding_cancels_a_released_line_not_yet_sent(database) -> None:
    from assets.offboarding.rules import OFFBOARDED, UNSENT_STATUSES, OffboardRequest
    from assets.offboarding.service import offboard_producers

    # A released line waits as Ready to Submit in its Approved batch: no status of its own.
    assert statuses.READY_TO_SUBMIT in UNSENT_STATUSES
    outcome = release(database, ReleaseRequest(npn=ANN, state_code="FL"))
    run = offboard_producers(database, [OffboardRequest(ANN)], offboarded_by="Dana")
    assert run.outcomes[0].outcome == OFFBOARDED
    after = lines(database)
    assert set(after["status"]) == {statuses.CANCELLED}  # the released FL and the held GA
    (batch_id,) = outcome.batches
    assert batches(database).loc[batch_id, "status"] == statuses.BATCH_COMPLETED


@pytest.mark.parametrize(
    ("trigger", "clock"),
    [
        ("within 15 days after the application is received", CLOCK_FIRST_BUSINESS),
        ("within 30 days of accepting the first application", CLOCK_FIRST_BUSINESS),
        ("within 45 days of the appointment effective date", CLOCK_FIRST_BUSINESS),
        (
            "within 30 days after the later of contract signing or the first application",
            CLOCK_FIRST_BUSINESS,
        ),
        (
            "within 15 days of contract execution or first business submission",
            CLOCK_CONTRACT_OR_FIRST_BUSINESS,
        ),
        (
            "within 15 days of contract execution or the first application, whichever is earlier",
            CLOCK_CONTRACT_OR_FIRST_BUSINESS,
        ),
        (None, CLOCK_FIRST_BUSINESS),
        (float("nan"), CLOCK_FIRST_BUSINESS),
    ],
)
def test_the_states_jit_trigger_says_what_starts_the_clock(trigger, clock) -> None:
    assert jit_clock(trigger) == clock


def test_every_jit_state_of_the_reference_file_has_a_clock() -> None:
    rules = pd.read_csv("config/reference/state_appointment_rules.csv", dtype=str)
    clocks = clock_by_state(rules)
    assert clocks["GA"] == clocks["NJ"] == clocks["NY"] == clocks["WA"]
    assert clocks["GA"] == CLOCK_CONTRACT_OR_FIRST_BUSINESS
    assert clocks["FL"] == clocks["CA"] == CLOCK_FIRST_BUSINESS


def test_a_held_line_has_a_due_date_only_where_the_contract_starts_the_clock() -> None:
    held = dt.date(2026, 11, 24)
    assert held_due_date(held, 15, CLOCK_CONTRACT_OR_FIRST_BUSINESS) == dt.date(2026, 12, 9)
    assert held_due_date(held, 45, CLOCK_FIRST_BUSINESS) is None
    assert held_due_date(held, None, CLOCK_CONTRACT_OR_FIRST_BUSINESS) is None
    # Held at 03:00 UTC on 25 November: still 24 November in NIPR's time zone.
    assert held_on(dt.datetime(2026, 11, 25, 3, 0)) == held
    assert held_on("2026-11-25 03:00:00") == held
    assert held_on(None) is None


def test_a_held_line_in_a_contract_clock_state_is_late_once_held_past_its_deadline(
    database,
) -> None:
    with database.begin() as connection:
        created = connection.execute(
            sa.text("SELECT created_at FROM transactions WHERE state_code = 'GA' AND status = :s"),
            {"s": statuses.HELD_JIT},
        ).scalar_one()
        due = held_due_date(held_on(created), 15, CLOCK_CONTRACT_OR_FIRST_BUSINESS)
        assert due is not None
        listed = jit_lines(connection, today=due).set_index("state_code")
        overdue = jit_lines(connection, today=due + dt.timedelta(days=1), overdue=True)
    assert listed.at["GA", "jit_due_date"] == due and not listed.at["GA", "late"]
    assert pd.isna(listed.at["FL", "jit_due_date"])  # FL's clock waits for the business date
    assert overdue["state_code"].tolist() == ["GA"]
    assert overdue["late"].all()
