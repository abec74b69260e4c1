"""Initial-sync outcomes and the PDB Alerts target plan (assets/nipr/roster.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from assets.nipr.parsing import parse_pdb_report
from assets.nipr.roster import (
    NIPR_ERROR,
    NOT_FOUND,
    SUCCESS,
    SUCCESS_NO_LICENSES,
    classify_entity_info,
    is_tracked,
    ledger_after_add,
    ledger_after_remove,
    ledger_repairs,
    plan_subscriptions,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nipr"
AT = dt.datetime(2026, 3, 6, 18, 0, tzinfo=dt.UTC)


# ------------------------------------------------------------------------------- sync status


def test_entity_info_with_licenses_is_success():
    report = parse_pdb_report(FIXTURES / "entity_info_individual.xml", requested_npn="12345678")
    outcome = classify_entity_info(report, "12345678")
    assert (outcome.status, outcome.apply) == (SUCCESS, True)


def test_entity_info_without_licenses_is_success_no_licenses():
    xml = (FIXTURES / "entity_info_individual.xml").read_text()
    start, end = xml.index("<PRODUCER_LICENSING>"), xml.index("</PRODUCER_LICENSING>")
    bare = xml[:start] + xml[end + len("</PRODUCER_LICENSING>") :]
    report = parse_pdb_report(bare.encode(), requested_npn="12345678")
    outcome = classify_entity_info(report, "12345678")
    assert (outcome.status, outcome.apply) == (SUCCESS_NO_LICENSES, True)


def test_nipr_error_reply_is_not_found():
    report = parse_pdb_report(FIXTURES / "entity_info_error.xml", requested_npn="123")
    outcome = classify_entity_info(report, "123")
    assert outcome.status == NOT_FOUND
    assert "not a valid number" in outcome.message
    assert not outcome.apply


def test_a_reply_about_another_producer_is_a_nipr_error():
    report = parse_pdb_report(FIXTURES / "entity_info_individual.xml", requested_npn="555")
    outcome = classify_entity_info(report, "555")
    assert outcome.status == NIPR_ERROR
    assert "12345678" in outcome.message
    assert not outcome.apply


# ------------------------------------------------------------------------------- tracking


def test_tracked_means_not_offboarded_and_synced():
    roster = pd.DataFrame(
        {
            "npn": ["1", "2", "3", "4", "5", "6"],
            "is_active": [True, None, False, True, True, True],
            "sync_status": [
                SUCCESS,
                SUCCESS_NO_LICENSES,
                SUCCESS,
                "Not Started",
                NOT_FOUND,
                NIPR_ERROR,
            ],
        },
        dtype=object,
    )
    assert list(roster.npn[is_tracked(roster)]) == ["1", "2"]


# ------------------------------------------------------------------------------- the plan


def test_first_run_opens_one_subscription_for_everyone():
    plan = plan_subscriptions(["30", "10", "20"], targets={})
    assert plan.create == ("npnflow-0001",)
    assert plan.add == {"npnflow-0001": ("10", "20", "30")}
    assert plan.remove == {}
    assert plan.sizes == {"npnflow-0001": 3}


def test_more_than_ten_thousand_npns_make_two_subscriptions():
    npns = [str(10_000_000 + i) for i in range(10_001)]
    plan = plan_subscriptions(npns, targets={})
    assert plan.create == ("npnflow-0001", "npnflow-0002")
    assert len(plan.add["npnflow-0001"]) == 10_000
    assert plan.add["npnflow-0002"] == (npns[-1],)
    assert plan.sizes == {"npnflow-0001": 10_000, "npnflow-0002": 1}
    assert set(plan.placement) == set(npns)


def test_new_npns_fill_existing_subscriptions_before_opening_another():
    targets = {"npnflow-0001": ["1", "2", "3"], "npnflow-0002": ["4"], "someone-elses": ["9"]}
    plan = plan_subscriptions(["1", "2", "3", "4", "5", "6"], targets, capacity=3)
    assert plan.create == ()
    assert plan.add == {"npnflow-0002": ("5", "6")}
    # Both are full now: the next NPNs open npnflow-0003.
    plan = plan_subscriptions(["1", "2", "3", "4", "5", "6", "7", "8"], targets, capacity=3)
    assert plan.add == {"npnflow-0002": ("5", "6"), "npnflow-0003": ("7", "8")}
    assert plan.create == ("npnflow-0003",)
    assert "someone-elses" not in plan.remove  # not ours: left alone
    assert "someone-elses" not in plan.sizes


def test_rerunning_with_nipr_in_line_plans_nothing():
    npns = ["1", "2", "3"]
    first = plan_subscriptions(npns, {})
    again = plan_subscriptions(npns, {name: list(add) for name, add in first.add.items()})
    assert again.is_empty
    assert again.placement == first.placement


def test_offboarded_producers_are_removed():
    targets = {"npnflow-0001": ["1", "2", "3"]}
    plan = plan_subscriptions(["1", "3"], targets)
    assert plan.remove == {"npnflow-0001": ("2",)}
    assert plan.add == {}
    assert plan.sizes == {"npnflow-0001": 2}


def test_reactivated_producer_is_added_again_where_there_is_room():
    targets = {"npnflow-0001": ["1", "3"], "npnflow-0002": ["4"]}
    plan = plan_subscriptions(["1", "2", "3", "4"], targets, capacity=3)
    assert plan.add == {"npnflow-0001": ("2",)}
    assert plan.placement["2"] == "npnflow-0001"


def test_refused_npns_are_not_offered_again():
    plan = plan_subscriptions(["1", "2"], {"npnflow-0001": ["1"]}, refused_npns=["2"])
    assert plan.is_empty


def test_an_npn_on_two_of_our_subscriptions_is_kept_on_the_first():
    plan = plan_subscriptions(["1"], {"npnflow-0001": ["1"], "npnflow-0002": ["1"]})
    assert plan.remove == {"npnflow-0002": ("1",)}
    assert plan.placement == {"1": "npnflow-0001"}


def test_capacity_must_be_positive():
    with pytest.raises(ValueError):
        plan_subscriptions(["1"], {}, capacity=0)


# ------------------------------------------------------------------------------- the ledger

LEDGER = pd.DataFrame(
    {
        "npn": ["1", "2", "3"],
        "subscription_name": ["npnflow-0001", "npnflow-0001", "npnflow-0001"],
        "added_at": [AT - dt.timedelta(days=9), AT - dt.timedelta(days=9), None],
        "removed_at": [None, AT - dt.timedelta(days=2), None],
        "invalid_reason": [None, None, "Entity was not found"],
    },
    dtype=object,
)


def test_ledger_after_add_records_targets_and_refusals():
    rows = ledger_after_add(LEDGER, "npnflow-0001", ["2", "7"], {"8": "Invalid format"}, AT)
    by_npn = rows.set_index("npn")
    assert by_npn.loc["2", "added_at"] == AT  # re-added: a new targeting period
    assert by_npn.loc["2", "removed_at"] is None
    assert by_npn.loc["7", "subscription_name"] == "npnflow-0001"
    assert by_npn.loc["8", "invalid_reason"] == "Invalid format"
    assert by_npn.loc["8", "added_at"] is None


def test_ledger_after_remove_keeps_when_it_was_added():
    rows = ledger_after_remove(LEDGER, "npnflow-0001", ["1"], AT).set_index("npn")
    assert rows.loc["1", "removed_at"] == AT
    assert rows.loc["1", "added_at"] == AT - dt.timedelta(days=9)


def test_ledger_repairs_only_rows_that_disagree_with_nipr():
    plan = plan_subscriptions(["1", "2", "5"], {"npnflow-0001": ["1", "2", "5"]})
    repairs = ledger_repairs(plan, LEDGER, AT).set_index("npn")
    # 1 agrees; 2 was marked removed but is on NIPR's list; 5 has no row at all.
    assert sorted(repairs.index) == ["2", "5"]
    assert repairs.loc["2", "removed_at"] is None
    assert repairs.loc["5", "added_at"] == AT
