"""Offboarding producers (issue 15, item 3): the rules, and the service on a migrated SQLite
file seeded with the shipped reference tables and company setup (tests/support/offboarding.py
describes the world: Ann is offboarded, Bob and Cy are bystanders).

Expected outcomes worked out by hand from config/reference: CA takes VOLUNTARY_TERMINATION by
default, NY and IL take no termination through NIPR, FL's default is VOLUNTARY_TERMINATION.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from assets.batches.store import approved_batches
from assets.nipr import store as nipr_store
from assets.nipr.roster import is_tracked, plan_subscriptions
from assets.offboarding import store as offboarding_store
from assets.offboarding.rules import (
    ALREADY_OFFBOARDED,
    NOT_OFFBOARDED,
    OFFBOARDED,
    PRODUCER_NOT_FOUND,
    OffboardingRefused,
    OffboardRequest,
    describe,
    parse_cocodes,
    termination_requests,
)
from assets.offboarding.service import offboard_producers
from assets.portal import store as portal_store
from assets.portal.emails import token_hash
from assets.submissions.lock import batch_lock
from resources.database import OperationalDatabase
from schemas import statuses
from support.offboarding import (
    ANN,
    ANN_TOKEN,
    BOB,
    BOB_TOKEN,
    CY,
    HARBORSTONE,
    NOT_OURS,
    SUMMIT_CO,
    THIRD_CO,
    offboarding_world,
)

NOW = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("offboarding") / "template.db"
    offboarding_world(path)
    return path


@pytest.fixture
def database(template, tmp_path):
    path = tmp_path / "npnflow.db"
    shutil.copy(template, path)
    database = OperationalDatabase(url=f"sqlite:///{path}")
    yield database
    database.engine.dispose()


def _offboard(database, *npns: str, **options):
    requests = [OffboardRequest(npn) for npn in npns]
    if "request" in options:
        requests = [options.pop("request")]
    return offboard_producers(
        database, requests, offboarded_by=options.pop("by", "Dana"), now=lambda: NOW, **options
    )


def _table(database, name: str) -> pd.DataFrame:
    return database.read_table(name)


def _status_of(database, transaction_id: str) -> str:
    t = _table(database, "transactions")
    return str(t.set_index("transaction_id").at[transaction_id, "status"])


def _batch_status(database, batch_id: str) -> str:
    b = _table(database, "transaction_batches")
    return str(b.set_index("batch_id").at[batch_id, "status"])


def _producer(database, npn: str) -> pd.Series:
    return _table(database, "producers").set_index("npn").loc[npn]


def _terminations(database, npn: str) -> pd.DataFrame:
    t = _table(database, "transactions")
    t = t.astype(object).where(t.notna(), None)  # blanks as None, as the database holds them
    return t[(t["kind"] == "termination") & (t["npn"] == npn)]


# ============================================================================ pure rules


def test_termination_requests_are_the_appointed_lines_of_the_chosen_companies() -> None:
    appointments = pd.DataFrame(
        [
            {"npn": ANN, "state_code": "CA", "cocode": HARBORSTONE, "loa_code": "16", "status": "APPOINTED"},
            {"npn": ANN, "state_code": "TX", "cocode": HARBORSTONE, "loa_code": "16", "status": "Terminated"},
            {"npn": ANN, "state_code": "FL", "cocode": NOT_OURS, "loa_code": "16", "status": "Appointed"},
            {"npn": BOB, "state_code": "CA", "cocode": HARBORSTONE, "loa_code": "16", "status": "Appointed"},
        ]
    )  # fmt: skip
    requests = termination_requests(
        OffboardRequest(ANN, reason_code="DEATH", effective_date=dt.date(2026, 11, 30)),
        appointments,
        [HARBORSTONE, SUMMIT_CO],
        submit_immediately=True,
    )
    assert requests.to_dict("records") == [
        {
            "request_row": 1,
            "npn": ANN,
            "state_code": "CA",
            "cocode": HARBORSTONE,
            "loa_code": "16",
            "termination_reason_code": "DEATH",
            "effective_date": dt.date(2026, 11, 30),
            "submit_immediately": True,
        }
    ]


def test_cocodes_are_read_from_lists_and_repeated_options_once_each() -> None:
    assert parse_cocodes(["91234;92345", " 92345 ", "93456,91234", None]) == (
        "91234",
        "92345",
        "93456",
    )


# ============================================================================ terminations


def test_every_appointed_line_of_the_customer_s_companies_becomes_one_termination_line(
    database,
) -> None:
    run = _offboard(database, ANN)
    [outcome] = run.outcomes
    assert outcome.outcome == OFFBOARDED
    lines = _terminations(database, ANN)
    got = {
        (r.state_code, r.cocode, r.loa_code, r.termination_reason_code, r.eligibility_reason, r.status)
        for r in lines.itertuples()
    }  # fmt: skip
    assert got == {
        ("CA", HARBORSTONE, "16", "VOLUNTARY_TERMINATION", "In Good Standing", statuses.READY_TO_SUBMIT),
        ("CA", HARBORSTONE, "296", "VOLUNTARY_TERMINATION", "In Good Standing", statuses.READY_TO_SUBMIT),
        ("NY", HARBORSTONE, "16", None, "Terminations Not Filed Through NIPR In NY", statuses.NOT_ELIGIBLE),
        ("FL", SUMMIT_CO, "16", "VOLUNTARY_TERMINATION", "In Good Standing", statuses.READY_TO_SUBMIT),
    }  # fmt: skip
    # Not the company that is not the customer's, not the line already Terminated.
    assert NOT_OURS not in set(lines["cocode"])
    assert not ((lines["state_code"] == "TX") & (lines["loa_code"] == "825")).any()
    # One termination batch per CoCode, waiting for review, none approved.
    batches = _table(database, "transaction_batches").set_index("batch_id")
    mine = batches.loc[sorted(set(lines["batch_id"]))]
    assert sorted(mine["cocode"]) == [HARBORSTONE, SUMMIT_CO]
    assert set(mine["kind"]) == {"termination"}
    assert set(mine["status"]) == {statuses.BATCH_PENDING_REVIEW}
    assert sorted(outcome.batches_to_approve) == sorted(mine.index)
    assert lines.groupby("batch_id")["cocode"].nunique().eq(1).all()
    # Each new batch's `created` event names the offboarder (issue 19).
    events = _table(database, "batch_events")
    created = events[events["batch_id"].isin(mine.index)]
    assert (
        sorted(created[["event", "door", "actor"]].values.tolist())
        == [
            [
                "created",
                "offboarding",
                "Dana",
            ],
        ]
        * 2
    )
    # The producer is marked offboarded, with who and when.
    ann = _producer(database, ANN)
    assert not bool(ann["is_active"])
    assert ann["offboarded_by"] == "Dana"
    assert pd.Timestamp(ann["offboarded_at"]).tz_localize(None) == NOW.replace(tzinfo=None)


def test_the_cocodes_given_limit_the_terminations_to_those_companies(database) -> None:
    run = _offboard(database, request=OffboardRequest(ANN, cocodes=(SUMMIT_CO,)))
    assert run.outcomes[0].outcome == OFFBOARDED
    lines = _terminations(database, ANN)
    assert list(zip(lines["state_code"], lines["cocode"], strict=True)) == [("FL", SUMMIT_CO)]


def test_a_cocode_that_is_not_the_customer_s_is_refused_and_nothing_changes(database) -> None:
    before = _table(database, "transactions")
    with pytest.raises(OffboardingRefused, match=r"CoCode\(s\) 55555 not among your companies"):
        _offboard(database, request=OffboardRequest(ANN, cocodes=(NOT_OURS,)))
    pd.testing.assert_frame_equal(_table(database, "transactions"), before)
    assert bool(_producer(database, ANN)["is_active"])


def test_the_reason_given_replaces_the_default_and_a_state_not_taking_it_says_so(database) -> None:
    _offboard(database, request=OffboardRequest(ANN, reason_code="REQUEST_REGULATORY_REVIEW"))
    lines = _terminations(database, ANN).set_index(["state_code", "loa_code"])
    assert lines.at[("FL", "16"), "termination_reason_code"] == "REQUEST_REGULATORY_REVIEW"
    assert lines.at[("FL", "16"), "status"] == statuses.READY_TO_SUBMIT
    assert lines.at[("CA", "16"), "eligibility_reason"] == (
        "Termination Reason REQUEST_REGULATORY_REVIEW Not Accepted In CA"
    )
    assert lines.at[("CA", "16"), "status"] == statuses.NOT_ELIGIBLE


def test_a_future_effective_date_makes_the_lines_not_eligible_with_the_reason(database) -> None:
    future = OffboardRequest(ANN, effective_date=dt.date(2027, 1, 5), cocodes=(HARBORSTONE,))
    _offboard(database, request=future)
    lines = _terminations(database, ANN).set_index(["state_code", "loa_code"])
    assert (
        lines.at[("CA", "16"), "eligibility_reason"] == "Future Effective Date Not Accepted In CA"
    )
    assert lines.at[("CA", "16"), "status"] == statuses.NOT_ELIGIBLE


def test_submit_immediately_approves_the_batches_as_the_offboarder_for_the_sensor(database) -> None:
    run = _offboard(database, ANN, submit_immediately=True, by="Dana Park")
    [outcome] = run.outcomes
    assert outcome.batches_to_approve == []
    batches = _table(database, "transaction_batches").set_index("batch_id")
    mine = batches.loc[outcome.batches_approved]
    assert len(mine) == 2
    assert set(mine["status"]) == {statuses.BATCH_APPROVED}
    assert set(mine["approved_by"]) == {"Dana Park"}
    assert set(mine["approval_version"]) == {1}
    with database.begin() as connection:
        sensor_sees = {batch_id for batch_id, _ in approved_batches(connection, 50)}
    assert set(outcome.batches_approved) <= sensor_sees


def test_an_open_termination_of_a_line_is_not_filed_twice(database) -> None:
    first = _offboard(database, request=OffboardRequest(ANN, cocodes=(SUMMIT_CO,)))
    fl = _terminations(database, ANN)
    # Put the producer back as if onboarded again, with the FL termination still open.
    with database.begin() as connection:
        connection.execute(
            sa.text("UPDATE producers SET is_active = 1, offboarded_at = NULL WHERE npn = :n"),
            {"n": ANN},
        )
    second = _offboard(database, request=OffboardRequest(ANN, cocodes=(SUMMIT_CO,)))
    assert first.outcomes[0].outcome == second.outcomes[0].outcome == OFFBOARDED
    assert len(fl) == 1
    # The line is on record for the second offboarding too, never sent: one Ready line only.
    lines = _terminations(database, ANN)
    assert len(lines) == 2
    assert lines["status"].tolist().count(statuses.READY_TO_SUBMIT) == 1
    again = lines[lines["transaction_id"] != fl["transaction_id"].iloc[0]].iloc[0]
    assert again["status"] == statuses.NOT_ELIGIBLE
    assert again["eligibility_reason"] == "Repeats an open transaction for the same line"
    assert float(again["estimated_fee"]) == 0.0
    [repeat] = second.outcomes[0].repeats.itertuples()
    assert repeat.repeats_transaction_id == fl["transaction_id"].iloc[0]
    text = "\n".join(describe(second.outcomes[0]))
    assert f"see {repeat.repeats_transaction_id}, not filed twice" in text
    # Its batch has nothing to send: final at once, nothing for a reviewer.
    assert _batch_status(database, again["batch_id"]) == statuses.BATCH_COMPLETED


# ============================================================================ unsent lines


def test_unsent_lines_are_cancelled_and_a_batch_left_without_open_lines_is_completed(
    database,
) -> None:
    run = _offboard(database, ANN)
    cancelled = {c.transaction_id: c.status_before for c in run.outcomes[0].cancelled}
    assert cancelled == {
        "T-ANN-GA": statuses.READY_TO_SUBMIT,
        "T-ANN-TN": statuses.HELD_JIT,
        "T-ANN-OH": statuses.READY_TO_SUBMIT,
        "T-ANN-AZ": statuses.READY_TO_SUBMIT,
    }
    for transaction_id in cancelled:
        assert _status_of(database, transaction_id) == statuses.CANCELLED
    # Bob's line is his own: still Ready, and its batch still waits for review.
    assert _status_of(database, "T-BOB-GA") == statuses.READY_TO_SUBMIT
    assert _batch_status(database, "B-REVIEW") == statuses.BATCH_PENDING_REVIEW
    # Batches left with nothing open are final: nothing for a reviewer or the sensor to do.
    assert _batch_status(database, "B-ANN-ONLY") == statuses.BATCH_COMPLETED
    assert _batch_status(database, "B-APPROVED") == statuses.BATCH_COMPLETED
    assert set(run.outcomes[0].closed_batches) == {"B-ANN-ONLY", "B-APPROVED"}
    with database.begin() as connection:
        assert "B-APPROVED" not in {b for b, _ in approved_batches(connection, 50)}


def test_a_batch_a_submission_run_is_sending_stops_that_producer_and_changes_nothing(
    database,
) -> None:
    with batch_lock(database.engine, "B-APPROVED"):
        run = _offboard(database, ANN, BOB)
    ann, bob = run.outcomes
    assert ann.outcome == NOT_OFFBOARDED
    assert "B-APPROVED" in ann.message and "submission run is sending it" in ann.message
    assert _status_of(database, "T-ANN-AZ") == statuses.READY_TO_SUBMIT
    assert bool(_producer(database, ANN)["is_active"])
    assert _terminations(database, ANN).empty
    assert bob.outcome == OFFBOARDED


# ============================================================================ all or nothing


def test_offboarding_is_all_or_nothing_per_producer(database, monkeypatch) -> None:
    real_cancel = offboarding_store.cancel_unsent_lines

    def cancel_failing_for_ann(connection, npn, **kwargs):
        if npn == ANN:
            raise sa.exc.IntegrityError("UPDATE transactions", {}, Exception("injected"))
        return real_cancel(connection, npn, **kwargs)

    monkeypatch.setattr(offboarding_store, "cancel_unsent_lines", cancel_failing_for_ann)
    seats_before = _table(database, "portal_users")
    run = _offboard(database, BOB, ANN, CY)
    assert [o.outcome for o in run.outcomes] == [OFFBOARDED, NOT_OFFBOARDED, OFFBOARDED]
    assert "rolled back" in run.outcomes[1].message
    # Nothing of Ann changed: the terminations written before the failing step are gone too.
    ann = _producer(database, ANN)
    assert bool(ann["is_active"]) and pd.isna(ann["offboarded_at"])
    assert _terminations(database, ANN).empty
    assert _status_of(database, "T-ANN-GA") == statuses.READY_TO_SUBMIT
    assert _batch_status(database, "B-ANN-ONLY") == statuses.BATCH_PENDING_REVIEW
    ann_seats = seats_before[seats_before["npn"] == ANN].set_index("portal_id")["status"]
    after = _table(database, "portal_users")
    assert after[after["npn"] == ANN].set_index("portal_id")["status"].equals(ann_seats)
    # Bob (before her) and Cy (after her) stand.
    assert not bool(_producer(database, BOB)["is_active"])
    assert not bool(_producer(database, CY)["is_active"])
    assert len(_terminations(database, BOB)) == 1 and len(_terminations(database, CY)) == 1
    assert _status_of(database, "T-BOB-GA") == statuses.CANCELLED
    # Offboarding her again, the cause gone, does it whole.
    monkeypatch.setattr(offboarding_store, "cancel_unsent_lines", real_cancel)
    again = _offboard(database, ANN, BOB)
    assert [o.outcome for o in again.outcomes] == [OFFBOARDED, ALREADY_OFFBOARDED]
    assert len(_terminations(database, ANN)) == 4


# ============================================================================ portal access


def test_revoked_seats_count_as_free_again(database) -> None:
    with database.begin() as connection:
        before = {p.portal_id: p.seats_used for p in portal_store.read_portals(connection)}
    assert before == {"harborstone": 2, "summit": 1}
    run = _offboard(database, ANN)
    assert {(r.portal_id, r.status_before) for r in run.outcomes[0].revoked} == {
        ("harborstone", "Registered"),
        ("summit", "Invited"),
    }
    with database.begin() as connection:
        after = {p.portal_id: p.seats_used for p in portal_store.read_portals(connection)}
        seats = portal_store.portal_seats(connection).set_index("portal_id")
    assert after == {"harborstone": 1, "summit": 0}
    assert seats.at["harborstone", "seats_used"] == 1 and seats.at["harborstone", "seats_left"] == 1
    # The freed seat can be given to someone else.
    with database.begin() as connection:
        taken = portal_store.reserve_seat(
            connection,
            portal_id="harborstone",
            npn="1000009",
            email="new@example.com",
            invitation_token_hash=token_hash("new-token"),
            now=NOW,
            source="test",
            invited_by="Dana",
        )
    assert taken == portal_store.RESERVED
    users = _table(database, "portal_users")
    assert set(users.loc[users["npn"] == ANN, "status"]) == {"Revoked"}
    # Who revoked and when is the offboarding's `--by` and time, on each revoked seat.
    ann = users[users["npn"] == ANN]
    assert set(ann["revoked_by"]) == {"Dana"}
    assert {pd.Timestamp(t).tz_localize(None) for t in ann["revoked_at"]} == {
        pd.Timestamp(NOW).tz_localize(None)
    }


def test_a_revoked_invitation_s_token_is_refused_by_the_registration_page(database) -> None:
    _offboard(database, ANN)
    with database.begin() as connection:
        assert portal_store.accept_invitation(connection, ANN_TOKEN, NOW) is None
        # Bob's invitation, not revoked, still registers: the refusal is the revocation's.
        assert portal_store.accept_invitation(connection, BOB_TOKEN, NOW) == (
            portal_store.Registration(BOB, "harborstone")
        )
    users = _table(database, "portal_users").set_index(["npn", "portal_id"])
    assert pd.isna(users.at[(ANN, "summit"), "invitation_token_hash"])


# ============================================================================ NIPR tracking


def test_an_offboarded_producer_is_taken_off_the_alerts_targets_at_the_next_run(database) -> None:
    targets = {"npnflow-0001": [ANN, BOB, CY]}
    with database.begin() as connection:
        tracked = nipr_store.read_roster(connection)
    assert plan_subscriptions(tracked.loc[is_tracked(tracked), "npn"], targets).removes == 0
    _offboard(database, ANN)
    with database.begin() as connection:
        roster = nipr_store.read_roster(connection)
    plan = plan_subscriptions(roster.loc[is_tracked(roster), "npn"], targets)
    assert plan.remove == {"npnflow-0001": (ANN,)}
    assert plan.adds == 0


# ============================================================================ nothing to do


def test_an_unknown_or_already_offboarded_npn_says_so_and_changes_nothing(database) -> None:
    _offboard(database, ANN, by="Dana")
    before = {name: _table(database, name) for name in ("transactions", "transaction_batches", "producers", "portal_users")}  # fmt: skip
    run = _offboard(database, "4242", ANN, by="Eve")
    unknown, again = run.outcomes
    assert unknown.outcome == PRODUCER_NOT_FOUND and "Not a producer on record" in unknown.message
    assert again.outcome == ALREADY_OFFBOARDED and "by Dana" in again.message
    for name, frame in before.items():
        pd.testing.assert_frame_equal(_table(database, name), frame)
    assert describe(unknown) == [f"NPN 4242: {PRODUCER_NOT_FOUND}. {unknown.message}"]


def test_a_blank_name_is_refused(database) -> None:
    with pytest.raises(OffboardingRefused, match="Say who offboards"):
        _offboard(database, ANN, by="  ")


def test_what_is_printed_names_the_terminations_cancellations_seats_and_batches(database) -> None:
    run = _offboard(database, ANN)
    text = "\n".join(describe(run.outcomes[0]))
    assert f"NPN {ANN}: Offboarded." in text
    assert "Terminated: 4 line(s), 3 Ready to Submit, 1 Not Eligible" in text
    assert "Terminations Not Filed Through NIPR In NY" in text
    assert "Cancelled: 4 line(s) never sent" in text and "T-ANN-TN" in text
    assert "Portal access revoked, seat freed: harborstone (was Registered)" in text
    for batch_id in run.outcomes[0].batches_to_approve:
        assert batch_id in text
    assert "npnflow batches approve" in text
    assert THIRD_CO in text  # the companies looked at


def test_a_producer_taken_back_can_be_invited_again_on_its_revoked_seat(database) -> None:
    from assets.portal import invitations as rules

    _offboard(database, ANN)
    with database.begin() as connection:
        portals = portal_store.read_portals(connection)
        producers = portal_store.read_producers(connection, [ANN])
        users = portal_store.read_portal_users(connection, [ANN])
    [decision] = rules.decide_invitations(
        [rules.InviteRequest(npn=ANN, portal="summit")], portals, producers, users
    )
    assert decision.outcome == rules.INVITED  # not "Already Invited": the seat was given back
    with database.begin() as connection:
        taken = portal_store.reserve_seat(
            connection,
            portal_id="summit",
            npn=ANN,
            email="ann@example.com",
            invitation_token_hash=token_hash("ann-new-token"),
            now=NOW,
            source="test",
            invited_by="Lee",
        )
    assert taken == portal_store.RESERVED
    # Invited again: a new invitation, by its new inviter, no longer revoked.
    again = _table(database, "portal_users").set_index(["npn", "portal_id"]).loc[(ANN, "summit")]
    assert (again["status"], again["invited_by"]) == ("Invited", "Lee")
    assert pd.isna(again["revoked_by"]) and pd.isna(again["revoked_at"])
    with database.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE portal_users SET invitation_send_started_at = :t "
                "WHERE npn = :n AND portal_id = 'summit'"
            ),
            {"t": NOW, "n": ANN},
        )
        assert portal_store.accept_invitation(connection, ANN_TOKEN, NOW) is None
        assert portal_store.accept_invitation(connection, "ann-new-token", NOW) == (
            portal_store.Registration(ANN, "summit")
        )
        seats = {p.portal_id: p.seats_used for p in portal_store.read_portals(connection)}
    assert seats["summit"] == 1


def test_a_revoked_seat_is_not_given_back_when_the_portal_is_full(database) -> None:
    _offboard(database, ANN)
    with database.begin() as connection:
        for npn in ("1000008", "1000009"):  # Bob holds one seat; these take the last one...
            portal_store.reserve_seat(
                connection,
                portal_id="harborstone",
                npn=npn,
                email="x@example.com",
                invitation_token_hash=token_hash(npn),
                now=NOW,
                source="test",
                invited_by="Dana",
            )
        again = portal_store.reserve_seat(
            connection,
            portal_id="harborstone",
            npn=ANN,
            email="ann@example.com",
            invitation_token_hash=token_hash("ann-again"),
            now=NOW,
            source="test",
            invited_by="Dana",
        )
    assert again == portal_store.NO_SEAT
    users = _table(database, "portal_users").set_index(["npn", "portal_id"])
    assert users.at[(ANN, "harborstone"), "status"] == "Revoked"
