"""A line NIPR Accepted counts as appointed for termination before the next sync
(assets.rules.accepted_appointments.py), and a termination NIPR already accepted is
still never sent again. Hand-written worlds, no database."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from assets.rules.accepted_appointments import (
    SOURCE_COLUMN,
    accepted_unsynced_lines,
    with_accepted_appointments,
)
from assets.terminations import eligibility as el
from unit.test_termination_eligibility import AS_OF, HARBORSTONE, evaluate, frame, make_inputs
from unit.test_termination_eligibility import request as termination_request

AN_HOUR_AGO = dt.datetime(2026, 7, 15, 9, 0, tzinfo=dt.UTC)
LINE = ("1001", "CA", HARBORSTONE, "15")  # not in make_inputs()'s appointments

TRANSACTION_COLUMNS = (
    "transaction_id npn state_code cocode loa_code kind status completed_at submitted_at created_at"
)


def tx(
    transaction_id: str,
    kind: str,
    status: str,
    at: dt.datetime,
    line: tuple[str, str, str, str] = LINE,
) -> tuple:
    return (transaction_id, *line, kind, status, at, at, at)


def transactions(*rows: tuple) -> pd.DataFrame:
    return frame(TRANSACTION_COLUMNS, list(rows))


def scopes(*rows: tuple) -> pd.DataFrame:
    return frame("npn state_code category data_as_of applied_at", list(rows))


NO_SYNC = scopes()


def appointments_with(accepted: pd.DataFrame, synced: pd.DataFrame = NO_SYNC) -> pd.DataFrame:
    return with_accepted_appointments(make_inputs()["appointments"], accepted, synced)


def terminate(
    appointments: pd.DataFrame, filed: pd.DataFrame | None = None, **request: object
) -> pd.DataFrame:
    overrides = {"appointments": appointments}
    if filed is not None:
        overrides["transactions"] = filed
    rows = [termination_request(state="CA", loa="15", date=None, **request)]  # type: ignore[arg-type]
    return evaluate(rows, AS_OF, **overrides)


def test_an_appointment_accepted_before_any_sync_is_terminable() -> None:
    accepted = transactions(tx("T-APP", "appointment", "Accepted", AN_HOUR_AGO))
    appointments = appointments_with(accepted)
    added = appointments[appointments["loa_code"] == "15"].iloc[0]
    assert added["status"] == "Appointed" and added["effective_date"] == AN_HOUR_AGO.date()
    assert added[SOURCE_COLUMN] == "T-APP"
    assert appointments[SOURCE_COLUMN].notna().sum() == 1  # the synced rows are as they were

    result = terminate(appointments)
    row = result.iloc[0]
    assert row["eligibility_reason"] == el.REASON_IN_GOOD_STANDING
    assert row["status"] == el.READY_TO_SUBMIT


def test_without_the_accepted_appointment_the_line_is_not_found() -> None:
    rejected = transactions(tx("T-APP", "appointment", "Rejected", AN_HOUR_AGO))
    result = terminate(appointments_with(rejected))
    assert result.iloc[0]["eligibility_reason"] == el.REASON_APPOINTMENT_NOT_FOUND


def test_a_sync_applied_after_the_answer_is_nipr_word() -> None:
    accepted = transactions(tx("T-APP", "appointment", "Accepted", AN_HOUR_AGO))
    later = AN_HOUR_AGO + dt.timedelta(minutes=30)
    synced = scopes(("1001", "CA", "APPOINTMENTS", later, later))
    assert accepted_unsynced_lines(accepted, synced).empty
    result = terminate(appointments_with(accepted, synced))
    assert result.iloc[0]["eligibility_reason"] == el.REASON_APPOINTMENT_NOT_FOUND
    # A sync of another category, or of another state, says nothing about this line.
    other = scopes(
        ("1001", "CA", "LICENSING", later, later), ("1001", "NJ", "APPOINTMENTS", later, later)
    )
    assert len(accepted_unsynced_lines(accepted, other)) == 1


def test_a_terminated_row_older_than_the_acceptance_becomes_appointed() -> None:
    tx_line = ("1001", "TX", HARBORSTONE, "16")  # Terminated in make_inputs()
    accepted = transactions(tx("T-APP", "appointment", "Accepted", AN_HOUR_AGO, tx_line))
    appointments = appointments_with(accepted)
    row = appointments[appointments["state_code"] == "TX"].iloc[0]
    assert row["status"] == "Appointed" and row[SOURCE_COLUMN] == "T-APP"
    assert len(appointments) == len(make_inputs()["appointments"])


def test_a_termination_nipr_accepted_is_still_never_sent_again() -> None:
    accepted = transactions(
        tx("T-APP", "appointment", "Accepted", AN_HOUR_AGO),
        tx("T-TERM", "termination", "Accepted", AN_HOUR_AGO + dt.timedelta(minutes=20)),
    )
    result = terminate(appointments_with(accepted), accepted)
    assert result.empty
    (repeat,) = result.attrs["repeats"].to_dict("records")
    assert repeat["reason"] == el.REPEAT_OF_ACCEPTED
    assert repeat["repeats_transaction_id"] == "T-TERM"


def test_a_reappointment_after_an_accepted_termination_is_terminable_again() -> None:
    """Appointed (synced, 2024), terminated (NIPR accepted on the 1st), appointed again (NIPR
    accepted on the 10th), all before a sync: the new appointment can be terminated."""
    appointments = pd.DataFrame(
        [
            {
                "npn": "1001",
                "state_code": "CA",
                "cocode": HARBORSTONE,
                "loa_code": "15",
                "status": "Appointed",
                "effective_date": dt.date(2024, 1, 10),
            }
        ]
    )
    first = dt.datetime(2026, 7, 1, 9, tzinfo=dt.UTC)
    again = dt.datetime(2026, 7, 10, 9, tzinfo=dt.UTC)
    filed = transactions(
        tx("T-TERM", "termination", "Accepted", first),
        tx("T-APP", "appointment", "Accepted", again),
    )
    merged = with_accepted_appointments(appointments, filed, NO_SYNC)
    assert merged.iloc[0]["effective_date"] == again.date()
    result = terminate(merged, filed)
    assert result.iloc[0]["eligibility_reason"] == el.REASON_IN_GOOD_STANDING
    # Without the re-appointment the accepted termination still stops a second one.
    assert terminate(appointments, filed).empty


def test_the_latest_acceptance_of_a_line_counts() -> None:
    accepted = transactions(
        tx("T-OLD", "appointment", "Accepted", AN_HOUR_AGO - dt.timedelta(days=3)),
        tx("T-NEW", "appointment", "Accepted", AN_HOUR_AGO),
        tx("T-X", "appointment", "Accepted", AN_HOUR_AGO, ("1001", "CA", HARBORSTONE, None)),
    )
    (line,) = accepted_unsynced_lines(accepted, NO_SYNC).to_dict("records")
    assert line[SOURCE_COLUMN] == "T-NEW" and line["accepted_on"] == AN_HOUR_AGO.date()
