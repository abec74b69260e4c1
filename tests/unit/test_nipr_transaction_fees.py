"""NIPR's own transaction fee (issue 14, item 6): reference data, and the fee of each line.

NIPR charges a fee per Gateway transaction and invoices it apart from the state fees
(DOMAIN 2.4). `config/reference/nipr_transaction_fees.csv` holds it per transaction kind; a line
that will be sent carries it in `estimated_nipr_fee`, a line never sent (Not Eligible,
Recorded, Held (JIT)) carries 0. The engine worlds are those of `test_appointment_eligibility`
and `test_termination_eligibility`.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pandas as pd
import pytest

from assets.appointments import eligibility as appointment_el
from assets.reference.loading import ConfigError, load_reference_data
from assets.rules.nipr_fees import SENT_STATUSES, nipr_fee_for, nipr_fee_table, nipr_fees
from assets.terminations import eligibility as termination_el
from schemas import statuses
from tests.unit import test_termination_eligibility as terminations
from tests.unit.test_appointment_effective_dates import with_rules
from tests.unit.test_appointment_eligibility import evaluate, make_inputs, request

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "config" / "reference"
FEES = {"appointment": 4.25, "termination": 3.10}
FEE_FRAME = pd.DataFrame(
    {"transaction_kind": list(FEES), "nipr_fee": list(FEES.values()), "is_assumption": True}
)


# --- the rule, per status ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "charged"),
    [
        (statuses.READY_TO_SUBMIT, True),
        (statuses.SUBMITTED, True),
        (statuses.PENDING_STATE_REVIEW, True),
        (statuses.ACCEPTED, True),
        (statuses.REJECTED, True),  # NIPR received it: a state's refusal is still a transaction
        (statuses.ERROR, True),
        (statuses.NOT_ELIGIBLE, False),
        (statuses.RECORDED, False),
        (statuses.HELD_JIT, False),
        (statuses.CANCELLED, False),
        (statuses.REQUEST_REJECTED, False),
        (None, False),
    ],
)
def test_only_a_line_that_is_or_will_be_sent_carries_nipr_s_fee(status, charged):
    for kind, fee in FEES.items():
        assert nipr_fee_for(kind, status, FEES) == (fee if charged else 0.0)
    assert (status in SENT_STATUSES) is charged


def test_the_vectorised_rule_agrees_with_the_one_line_rule():
    line_statuses = pd.Series([s for s in statuses.TRANSACTION_STATUSES] + [None])
    expected = [nipr_fee_for("appointment", s, FEES) for s in line_statuses]
    assert list(nipr_fees("appointment", line_statuses, FEES)) == expected


def test_without_a_fee_row_the_fee_is_zero_and_a_repeated_kind_takes_the_higher():
    assert nipr_fee_for("appointment", statuses.READY_TO_SUBMIT, {}) == 0.0
    assert nipr_fee_table(None) == {}
    twice = pd.DataFrame(
        {"transaction_kind": ["Appointment", "appointment", " "], "nipr_fee": ["2.5", 3, 9]}
    )
    assert nipr_fee_table(twice) == {"appointment": 3.0}


# --- appointments ------------------------------------------------------------------------


def test_appointment_lines_carry_nipr_s_fee_only_when_they_will_be_sent():
    inputs = make_inputs(nipr_transaction_fees=FEE_FRAME)
    ready = evaluate([request(state_code="NY")], inputs)  # two lines, Ready to Submit
    held = evaluate([request(state_code="TX")], make_inputs(nipr_transaction_fees=FEE_FRAME))
    not_eligible = evaluate(
        [request(state_code="NY", npn="1002")], make_inputs(nipr_transaction_fees=FEE_FRAME)
    )
    registry = with_rules(("NY", None, None, None, "registry"))
    registry["nipr_transaction_fees"] = FEE_FRAME
    recorded = evaluate([request(state_code="NY")], registry)

    assert set(ready["status"]) == {statuses.READY_TO_SUBMIT}
    # One Gateway transaction per line: each carries NIPR's fee, even where the state charges
    # per appointment (NY: the second line's state fee is 0).
    assert list(ready["estimated_nipr_fee"]) == [4.25, 4.25]
    assert list(ready["estimated_fee"]) == [10.0, 0.0]
    assert (held.iloc[0]["status"], held.iloc[0]["estimated_nipr_fee"]) == (
        statuses.HELD_JIT,
        0.0,
    )
    assert set(not_eligible["status"]) == {statuses.NOT_ELIGIBLE}
    assert set(not_eligible["estimated_nipr_fee"]) == {0.0}
    assert set(recorded["status"]) == {statuses.RECORDED}
    assert set(recorded["estimated_nipr_fee"]) == {0.0}
    assert "estimated_nipr_fee" in appointment_el.RESULT_COLUMNS


def test_an_appointment_world_without_the_fee_table_estimates_no_nipr_fee():
    result = evaluate([request(state_code="NY")])
    assert set(result["status"]) == {statuses.READY_TO_SUBMIT}
    assert set(result["estimated_nipr_fee"]) == {0.0}


# --- terminations ------------------------------------------------------------------------


def test_termination_lines_carry_nipr_s_termination_fee_and_not_filed_ones_nothing():
    ready = terminations.only(
        terminations.evaluate([terminations.request()], nipr_transaction_fees=FEE_FRAME)
    )
    reasons = pd.concat(
        [
            terminations.make_inputs()["state_termination_reasons"],
            terminations.frame(
                "state_code reason_code is_default", [("NY", terminations.VOLUNTARY, True)]
            ),
        ],
        ignore_index=True,
    )
    not_filed = terminations.only(
        terminations.evaluate(
            [terminations.request(state="NY", date=None)],
            appointments=terminations.with_appointment("NY"),
            state_appointment_rules=terminations.STATE_RULES,
            state_termination_reasons=reasons,
            nipr_transaction_fees=FEE_FRAME,
        )
    )
    no_appointment = terminations.only(
        terminations.evaluate(
            [terminations.request(cocode="99999")], nipr_transaction_fees=FEE_FRAME
        )
    )

    assert (ready["status"], ready["estimated_nipr_fee"]) == (statuses.READY_TO_SUBMIT, 3.10)
    assert not_filed["eligibility_reason"] == "Terminations Not Filed Through NIPR In NY"
    assert not_filed["estimated_nipr_fee"] == 0.0
    assert (no_appointment["status"], no_appointment["estimated_nipr_fee"]) == (
        statuses.NOT_ELIGIBLE,
        0.0,
    )
    assert "estimated_nipr_fee" in termination_el.RESULT_COLUMNS


# --- the reference file ------------------------------------------------------------------


def test_the_shipped_fee_is_a_flagged_high_side_estimate_for_both_kinds():
    fees = load_reference_data(REFERENCE_DIR)["nipr_transaction_fees"]
    assert sorted(fees["transaction_kind"]) == ["appointment", "termination"]
    assert fees["is_assumption"].all()
    # Above the highest TRANS_FEE in NIPR's own samples (1.53): the estimate errs high.
    assert (fees["nipr_fee"] > 1.53).all()
    assert fees["source"].str.contains("NIPR invoice").all()


@pytest.fixture
def reference_copy(tmp_path: Path) -> Path:
    target = tmp_path / "reference"
    shutil.copytree(REFERENCE_DIR, target)
    return target


def _write_fees(reference_dir: Path, rows: list[tuple[str, str]]) -> None:
    with (reference_dir / "nipr_transaction_fees.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["transaction_kind", "nipr_fee", "source", "is_assumption"])
        writer.writerows([(kind, fee, "test", "true") for kind, fee in rows])


def test_a_negative_fee_and_an_unknown_kind_are_reported_together(reference_copy: Path):
    _write_fees(reference_copy, [("appointment", "-1.00"), ("termination", "2"), ("renewal", "1")])
    with pytest.raises(ConfigError) as caught:
        load_reference_data(reference_copy)
    text = str(caught.value)
    assert "nipr_transaction_fees.csv: row 2, column nipr_fee: nipr_fee -1.0 must be 0 or more" in (
        text
    )
    assert "nipr_transaction_fees.csv: row 4, column transaction_kind" in text
    assert "'renewal'" in text
    assert {p.file for p in caught.value.problems} == {"nipr_transaction_fees.csv"}


def test_a_missing_kind_row_and_a_missing_file_are_reported(reference_copy: Path):
    _write_fees(reference_copy, [("appointment", "2.00")])
    with pytest.raises(ConfigError) as caught:
        load_reference_data(reference_copy)
    assert "transaction kind 'termination' has no NIPR fee row" in str(caught.value)

    (reference_copy / "nipr_transaction_fees.csv").unlink()
    with pytest.raises(ConfigError) as missing:
        load_reference_data(reference_copy)
    assert "nipr_transaction_fees.csv: file not found" in str(missing.value)


def test_a_blank_fee_is_required(reference_copy: Path):
    _write_fees(reference_copy, [("appointment", ""), ("termination", "2")])
    with pytest.raises(ConfigError) as caught:
        load_reference_data(reference_copy)
    assert "column nipr_fee: nipr_fee is required (the cell is blank)" in str(caught.value)
