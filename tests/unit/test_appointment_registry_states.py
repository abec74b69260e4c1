"""Registry states (issue 14, item 3): an appointment a state does not take through NIPR.

`state_appointment_rules.appointment_filing` says how a state takes appointments: `nipr`, or
`registry` (IL: the carrier keeps its own register). Checks 1 to 10 of SPEC 6 still run (the
producer still needs the license and the line); a line that passes is `Recorded`, with reason
`Registry State: Recorded Without NIPR Filing`: final, never sent, no fee. It is then an
appointment of the carrier's register, so a repeat request is `Already Appointed`.

The world of `test_appointment_eligibility` (producer 1001, Harborstone in CA, NY, TX, VA), with
NY's filing set to `registry` where a test needs a registry state it can be eligible in.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from assets.appointments import eligibility as el
from assets.appointments.eligibility_inputs import filing_reasons
from assets.appointments.store import plan_appointment_batches
from schemas import statuses
from tests.unit.test_appointment_effective_dates import days_back, with_rules
from tests.unit.test_appointment_eligibility import CONFIG, evaluate, request, with_rows

REGISTRY_NY = ("NY", None, None, None, "registry")


def test_an_eligible_line_in_a_registry_state_is_recorded_not_sent_and_free():
    result = evaluate([request(submit=True)], with_rules(REGISTRY_NY))
    assert len(result) >= 1
    assert set(result["status"]) == {statuses.RECORDED}
    assert set(result["eligibility_reason"]) == {"Registry State: Recorded Without NIPR Filing"}
    assert result["estimated_fee"].sum() == 0.0


def test_the_same_line_in_a_nipr_state_is_ready_to_submit_and_priced():
    result = evaluate([request(submit=True)], with_rules(("NY", None, None, None, "nipr")))
    assert set(result["status"]) == {statuses.READY_TO_SUBMIT}
    assert result["estimated_fee"].sum() > 0


def test_checks_1_to_10_still_run_in_a_registry_state():
    unlicensed = evaluate([request(npn="1002")], with_rules(REGISTRY_NY))
    assert set(unlicensed["status"]) == {statuses.NOT_ELIGIBLE}
    assert el.REASON_LICENSE_NOT_FOUND in set(unlicensed["eligibility_reason"])
    backdated = evaluate(
        [request(effective_date=days_back(90))], with_rules(("NY", True, 30, None, "registry"))
    )
    assert set(backdated["status"]) == {statuses.NOT_ELIGIBLE}
    assert set(backdated["eligibility_reason"]) == {
        "Effective Date More Than 30 Days Back Not Accepted In NY"
    }


def test_a_recorded_line_requested_again_is_already_appointed():
    first = evaluate([request()], with_rules(REGISTRY_NY))
    line = first.iloc[0]
    inputs = with_rows(
        with_rules(REGISTRY_NY),
        "transactions",
        [("t-1", "1001", "NY", line["cocode"], line["loa_code"], statuses.RECORDED)],
    )
    again = evaluate([request()], inputs)
    repeated = again[again["loa_code"] == line["loa_code"]]
    assert set(repeated["status"]) == {statuses.NOT_ELIGIBLE}
    assert set(repeated["eligibility_reason"]) == {el.REASON_ALREADY_APPOINTED}


def test_a_batch_of_recorded_lines_is_completed_with_nothing_to_send():
    result = evaluate([request(submit=True)], with_rules(REGISTRY_NY))
    plan = plan_appointment_batches(result, "upload-1", dt.datetime(2026, 6, 15, tzinfo=dt.UTC))
    assert set(plan.batches["status"]) == {statuses.BATCH_COMPLETED}
    assert float(plan.batches["estimated_fees"].sum()) == 0.0
    assert statuses.RECORDED in statuses.FINAL_TRANSACTION_STATUSES
    assert statuses.RECORDED not in statuses.OPEN_TRANSACTION_STATUSES


def test_the_shipped_rules_record_il_and_send_every_other_state():
    rules = pd.read_csv(CONFIG / "reference" / "state_appointment_rules.csv", dtype=str)
    reasons = filing_reasons(pd.Series(["IL", "il", "TX", "ZZ", None]), rules)
    assert list(reasons) == [el.REASON_REGISTRY_RECORDED] * 2 + [None, None, None]
    assert filing_reasons(pd.Series(["IL"]), None).tolist() == [None]  # no rules: NIPR
    other = pd.DataFrame({"state_code": ["XX"], "appointment_filing": ["state_portal"]})
    assert filing_reasons(pd.Series(["XX"]), other).tolist() == [
        "State Portal Filing: Recorded Without NIPR Filing"
    ]
