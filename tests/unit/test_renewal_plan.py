"""The renewal plan (issue 18, docs/renewals.md): each reason, the cut-off across a year
boundary, per-line and per-appointment fees, and the liability per state.

The world is small and typed here; the state rules are the shipped reference CSV's, so the
facts checked (AL's December cut-off, NJ's $25 per appointment, OH's $15 per line) are the
ones docs/renewals.md cites.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from assets.reference.loading import load_reference_data
from assets.renewals import plan as renewal
from assets.renewals.liability import cutoff_words, liability_by_state
from schemas import statuses

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "config" / "reference"
COCODE = "91234"
AS_OF = dt.date(2026, 1, 15)


@pytest.fixture(scope="module")
def renewals() -> pd.DataFrame:
    return load_reference_data(REFERENCE_DIR)["state_appointment_renewals"]


def appointment(npn: str, state: str, loa: str, renewal_date: dt.date | None = None) -> dict:
    return {
        "npn": npn,
        "state_code": state,
        "cocode": COCODE,
        "loa_code": loa,
        "company_name": "Sample Life",
        "status": "Appointed",
        "renewal_date": renewal_date,
    }


def standing(npn: str, state: str, loa: str, **flags: bool) -> dict:
    row = {"npn": npn, "state_code": state, "cocode": COCODE, "loa_code": loa}
    row |= {"license_ok": True, "resident_ok": True, "line_ok": True} | flags
    row["is_at_risk"] = not all(row[c] for c in ("license_ok", "resident_ok", "line_ok"))
    return row


def world(
    renewals: pd.DataFrame,
    appointments: list[dict],
    *,
    standing_rows: list[dict] = (),
    producers: list[dict] = (),
    licenses: list[dict] = (),
    transactions: list[dict] = (),
) -> dict[str, pd.DataFrame]:
    return {
        "appointments": pd.DataFrame(appointments),
        "state_appointment_renewals": renewals,
        "appointment_standing": pd.DataFrame(
            list(standing_rows) or None, columns=None if standing_rows else list(renewal.KEY)
        ),
        "producers": pd.DataFrame(list(producers), columns=["npn", "is_active", "offboarded_at"]),
        "licenses": pd.DataFrame(list(licenses), columns=["npn", "state_code", "is_resident"]),
        "transactions": pd.DataFrame(
            list(transactions),
            columns=[
                "npn",
                "state_code",
                "cocode",
                "loa_code",
                "kind",
                "is_jit",
                "status",
                "released_at",
                "cancelled_by",
                "created_at",
            ],
        ),  # fmt: skip
    }


def one(plan: pd.DataFrame, npn: str, state: str, loa: str) -> pd.Series:
    rows = plan[(plan["npn"] == npn) & (plan["state_code"] == state) & (plan["loa_code"] == loa)]
    assert len(rows) == 1, rows
    return rows.iloc[0]


# --- the reasons ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        ({"license_ok": False}, renewal.LICENSE_LAPSED),
        ({"resident_ok": False}, renewal.NO_RESIDENT_LICENSE),
        ({"line_ok": False}, renewal.LINE_INACTIVE),
    ],
)
def test_standing_reasons_are_read_from_appointment_standing(renewals, flags, reason):
    inputs = world(
        renewals,
        [appointment("100", "NJ", "16"), appointment("101", "NJ", "16")],
        standing_rows=[standing("100", "NJ", "16", **flags), standing("101", "NJ", "16")],
    )
    plan = renewal.renewal_plan(inputs, 2026, AS_OF)
    assert one(plan, "100", "NJ", "16")["recommendation"] == renewal.TERMINATE
    assert one(plan, "100", "NJ", "16")["reason"] == reason
    assert one(plan, "101", "NJ", "16")["recommendation"] == renewal.RENEW
    assert pd.isna(one(plan, "101", "NJ", "16")["reason"])


@pytest.mark.parametrize(
    "producer",
    [
        {"npn": "100", "is_active": False, "offboarded_at": None},
        {"npn": "100", "is_active": True, "offboarded_at": pd.Timestamp("2026-01-02", tz="UTC")},
    ],
)
def test_an_offboarded_or_inactive_producer_is_terminated(renewals, producer):
    inputs = world(renewals, [appointment("100", "NJ", "16")], producers=[producer])
    row = one(renewal.renewal_plan(inputs, 2026, AS_OF), "100", "NJ", "16")
    assert (row["recommendation"], row["reason"]) == (renewal.TERMINATE, renewal.PRODUCER_INACTIVE)


def test_an_unknown_activity_is_not_a_reason(renewals):
    inputs = world(
        renewals,
        [appointment("100", "NJ", "16")],
        producers=[{"npn": "100", "is_active": None, "offboarded_at": None}],
    )
    assert pd.isna(one(renewal.renewal_plan(inputs, 2026, AS_OF), "100", "NJ", "16")["reason"])


def _jit(status: str, **extra) -> dict:
    return {
        "npn": "100", "state_code": "NJ", "cocode": COCODE, "loa_code": "16",
        "kind": "appointment", "is_jit": True, "status": status, "released_at": None,
        "cancelled_by": None, "created_at": pd.Timestamp("2025-06-01", tz="UTC"),
    } | extra  # fmt: skip


@pytest.mark.parametrize(
    ("transactions", "never_released"),
    [
        ([_jit(statuses.HELD_JIT)], True),
        ([_jit(statuses.CANCELLED, cancelled_by="Jane Analyst")], True),
        ([_jit(statuses.ACCEPTED, released_at=pd.Timestamp("2025-07-01", tz="UTC"))], False),
        ([_jit(statuses.HELD_JIT, is_jit=False)], False),
        # A later request sent the line: the held one is history.
        (
            [
                _jit(statuses.HELD_JIT),
                _jit(statuses.ACCEPTED, created_at=pd.Timestamp("2025-08-01", tz="UTC")),
            ],
            False,
        ),
    ],
)
def test_appointed_jit_and_never_released(renewals, transactions, never_released):
    inputs = world(renewals, [appointment("100", "NJ", "16")], transactions=transactions)
    row = one(renewal.renewal_plan(inputs, 2026, AS_OF), "100", "NJ", "16")
    assert (row["reason"] == renewal.JIT_NEVER_RELEASED) is never_released


def test_every_reason_is_listed(renewals):
    inputs = world(
        renewals,
        [appointment("100", "NJ", "16")],
        standing_rows=[standing("100", "NJ", "16", license_ok=False, line_ok=False)],
        producers=[{"npn": "100", "is_active": False, "offboarded_at": None}],
        transactions=[_jit(statuses.HELD_JIT)],
    )
    row = one(renewal.renewal_plan(inputs, 2026, AS_OF), "100", "NJ", "16")
    assert row["reason"].split(renewal.REASON_SEPARATOR) == [
        renewal.LICENSE_LAPSED,
        renewal.LINE_INACTIVE,
        renewal.PRODUCER_INACTIVE,
        renewal.JIT_NEVER_RELEASED,
    ]


# --- dates ------------------------------------------------------------------------------------


def test_a_january_window_has_its_cutoff_in_december_of_the_year_before(renewals):
    # AL: window Jan 6 - Feb 28, termination deadline Dec 31 (NIPR's Alabama page).
    plan = renewal.renewal_plan(world(renewals, [appointment("100", "AL", "16")]), 2026, AS_OF)
    row = one(plan, "100", "AL", "16")
    assert row["renewal_date"] == dt.date(2026, 2, 28)
    assert row["window_start_date"] == dt.date(2026, 1, 6)
    assert row["cutoff_date"] == dt.date(2025, 12, 31)
    assert row["cutoff_passed"] is True  # 2026-01-15: too late for this cycle
    assert row["saving_if_terminated"] == 0.0
    words = cutoff_words(row["cutoff_date"], row["cutoff_passed"], row["window_start_date"])
    assert words == "cut-off 2025-12-31 passed (too late for this renewal)"


def test_a_window_across_new_year_starts_the_year_before(renewals):
    # IL: Nov 5 - Jan 2; cut-off unknown, so the analyst is told the window's opening day.
    plan = renewal.renewal_plan(world(renewals, [appointment("100", "IL", "16")]), 2026, AS_OF)
    row = one(plan, "100", "IL", "16")
    assert row["renewal_date"] == dt.date(2026, 1, 2)
    assert row["window_start_date"] == dt.date(2025, 11, 5)
    assert row["cutoff_date"] is None
    # The invoice is built when the window opens: on 2026-01-15 that is too late.
    assert row["cutoff_passed"] is True and row["saving_if_terminated"] == 0.0
    assert cutoff_words(None, True, row["window_start_date"]) == (
        "cut-off unknown; the window opened on 2025-11-05 (too late for this renewal)"
    )
    early = renewal.renewal_plan(
        world(renewals, [appointment("100", "IL", "16")]), 2026, dt.date(2025, 10, 1)
    )
    assert one(early, "100", "IL", "16")["cutoff_passed"] is False
    assert cutoff_words(None, False, row["window_start_date"]) == (
        "cut-off unknown: terminate before the renewal window opens on 2025-11-05"
    )
    # No window, no cut-off (OH): unknown, and the saving is counted.
    oh = renewal.renewal_plan(world(renewals, [appointment("100", "OH", "16")]), 2026, AS_OF)
    assert one(oh, "100", "OH", "16")["cutoff_passed"] is None


def test_nipr_renewal_date_wins_and_is_moved_to_the_cycle(renewals):
    inputs = world(
        renewals,
        [
            appointment("100", "NJ", "16", dt.date(2026, 6, 30)),
            appointment("101", "NJ", "16", dt.date(2024, 6, 30)),
            appointment("102", "NJ", "16"),
        ],
    )
    plan = renewal.renewal_plan(inputs, 2026, dt.date(2026, 3, 1))
    assert one(plan, "100", "NJ", "16")["renewal_date_basis"] == renewal.NIPR_DATE
    moved = one(plan, "101", "NJ", "16")
    assert (moved["renewal_date"], moved["renewal_date_basis"]) == (
        dt.date(2026, 6, 30),
        renewal.NIPR_DATE_MOVED,
    )
    rule = one(plan, "102", "NJ", "16")
    assert rule["renewal_date"] == dt.date(2026, 6, 5)
    assert rule["cutoff_date"] == dt.date(2026, 3, 27)
    assert rule["cutoff_passed"] is False
    # One invoice per state and cycle: whatever NIPR's date, the cycle's window sets the cut-off.
    assert set(plan["cutoff_date"]) == {dt.date(2026, 3, 27)}


def test_a_december_cutoff_of_next_years_cycle_and_a_window_known_only_by_its_start(renewals):
    inputs = world(renewals, [appointment("100", "IA", "16"), appointment("101", "ND", "16")])
    plan = renewal.renewal_plan(inputs, 2027, dt.date(2026, 12, 7))
    iowa = one(plan, "100", "IA", "16")  # Jan 5 - Mar 15, terminations by Dec 28
    assert (iowa["window_start_date"], iowa["cutoff_date"]) == (
        dt.date(2027, 1, 5),
        dt.date(2026, 12, 28),
    )
    assert iowa["cutoff_passed"] is False and iowa["saving_if_terminated"] == 0.0  # Renew
    dakota = one(plan, "101", "ND", "16")  # invoices from Mar 1, no end, no cut-off
    assert dakota["renewal_date"] == dt.date(2027, 3, 1)
    assert dakota["renewal_date_basis"] == renewal.WINDOW_START
    assert dakota["cutoff_date"] is None and dakota["cutoff_passed"] is False


def test_birth_month_and_biennial_states(renewals):
    inputs = world(
        renewals,
        [
            appointment("100", "FL", "16"),  # no birth month, no NIPR date: unknown
            appointment("101", "FL", "16", dt.date(2025, 4, 30)),  # renews 2027: not this cycle
            appointment("102", "FL", "16", dt.date(2024, 9, 30)),  # renews 2026
            appointment("103", "CT", "16"),  # CT renews in even years
            appointment("104", "TX", "16"),  # perpetual
        ],
    )
    plan = renewal.renewal_plan(inputs, 2026, AS_OF)
    assert set(plan["npn"]) == {"100", "102", "103"}
    unknown = one(plan, "100", "FL", "16")
    assert unknown["renewal_date"] is None
    assert unknown["renewal_date_basis"] == renewal.UNKNOWN_BIRTH_MONTH
    assert one(plan, "102", "FL", "16")["renewal_date"] == dt.date(2026, 9, 30)
    assert one(plan, "103", "CT", "16")["cutoff_date"] == dt.date(2026, 4, 15)
    odd = renewal.renewal_plan(inputs, 2027, AS_OF)
    assert set(odd["npn"]) == {"100", "101"}


# --- fees -------------------------------------------------------------------------------------


def test_per_appointment_fees_count_once_per_appointment(renewals):
    # NJ: $25 per company appointment; two lines of one appointment pay once, and terminating
    # one of them saves nothing while the other keeps the appointment.
    inputs = world(
        renewals,
        [
            appointment("100", "NJ", "16"),
            appointment("100", "NJ", "935"),
            appointment("101", "NJ", "16"),
            appointment("101", "NJ", "935"),
        ],
        standing_rows=[
            standing("100", "NJ", "16", line_ok=False),
            standing("101", "NJ", "16", license_ok=False),
            standing("101", "NJ", "935", license_ok=False),
        ],
        licenses=[{"npn": "100", "state_code": "NJ", "is_resident": True}],
    )
    plan = renewal.renewal_plan(inputs, 2026, dt.date(2026, 3, 1))
    assert plan["fee_counted"].tolist() == [True, False, True, False]
    assert plan["saving_if_terminated"].tolist() == [0.0, 0.0, 25.0, 0.0]
    (state,) = liability_by_state(plan, renewals).to_dict("records")
    assert state["fee_breakdown"] == "2 appointments x $25.00"
    assert state["state_fees"] == 50.0
    assert state["nipr_fee"] == 5.0  # 1% of $50, raised to NIPR's $5 minimum
    assert state["saving"] == 25.0  # $5 of NIPR's fee stays (minimum)
    assert state["lines_to_terminate"] == 3


def test_per_line_fees_count_every_line_and_residency_sets_the_fee(renewals):
    # OH: $15 per line; AR: $20 resident / $60 non-resident per appointment.
    inputs = world(
        renewals,
        [
            appointment("100", "OH", "16"),
            appointment("100", "OH", "935"),
            appointment("100", "AR", "16"),
            appointment("101", "AR", "16"),
            appointment("102", "AR", "16"),
        ],
        standing_rows=[standing("100", "OH", "935", line_ok=False)],
        licenses=[
            {"npn": "100", "state_code": "OH", "is_resident": True},
            {"npn": "101", "state_code": "AR", "is_resident": True},
        ],
    )
    plan = renewal.renewal_plan(inputs, 2026, AS_OF)
    assert one(plan, "100", "OH", "935")["saving_if_terminated"] == 15.0
    assert plan[plan["state_code"] == "OH"]["fee_counted"].all()
    assert one(plan, "100", "AR", "16")[["is_resident", "fee"]].tolist() == [False, 60.0]
    assert one(plan, "101", "AR", "16")[["is_resident", "fee"]].tolist() == [True, 20.0]
    # No resident license on record: the higher fee, so the plan never understates.
    assert one(plan, "102", "AR", "16")[["is_resident", "fee"]].tolist() == [None, 60.0]
    by_state = liability_by_state(plan, renewals).set_index("state_code")
    assert by_state.loc["OH", "fee_breakdown"] == "2 lines x $15.00"
    assert by_state.loc["OH", "nipr_fee"] == 0.0  # OH is not invoiced by NIPR
    assert by_state.loc["AR", "fee_breakdown"] == "2 appointments x $60.00 + 1 appointment x $20.00"


def test_nipr_processing_fee_bounds():
    assert renewal.nipr_processing_fee(0) == 0.0
    assert renewal.nipr_processing_fee(100) == 5.0
    assert renewal.nipr_processing_fee(2000) == 20.0
    assert renewal.nipr_processing_fee(500_000) == 1000.0


def test_only_appointed_lines_are_planned(renewals):
    terminated = appointment("100", "NJ", "16") | {"status": "Terminated"}
    plan = renewal.renewal_plan(world(renewals, [terminated]), 2026, AS_OF)
    assert plan.empty and list(plan.columns) == list(renewal.PLAN_COLUMNS)
