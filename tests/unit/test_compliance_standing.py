"""The standing of Appointed lines (issue 18): each at-risk reason named right, with NIPR's
date; a line that stands is not at risk; can-sell's Yes and No with their reasons."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from assets.compliance.authorization import (
    appointed_lines,
    appointment_standing,
    carry_noticed,
    sales_authorization,
)
from assets.reference.loading import load_company_config, load_reference_data
from assets.rules.line_standing import RISK_LICENSE, RISK_LINE, RISK_REASONS, RISK_RESIDENT
from resources import paths
from support import compliance as c

NOW = dt.datetime(2026, 6, 1, 16, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def config() -> dict[str, pd.DataFrame]:
    reference = load_reference_data(paths.reference_dir())
    return {**load_company_config(paths.config_dir(), reference), **reference}


@pytest.fixture(scope="module")
def standing(config) -> pd.DataFrame:
    book = c.book()
    frame = appointment_standing(
        book["appointments"],
        book["licenses"],
        book["license_loas"],
        c.AS_OF,
        NOW,
    )
    return frame.set_index("npn")


@pytest.mark.parametrize(
    ("npn", "reason", "since"),
    [
        (c.LICENSE_INACTIVE, RISK_LICENSE, c.UPDATED_ON),
        (c.LICENSE_EXPIRED, RISK_LICENSE, c.EXPIRED_ON),
        (c.LINE_INACTIVE, RISK_LINE, c.UPDATED_ON),
        (c.NO_RESIDENT, RISK_RESIDENT, c.RESIDENT_EXPIRED_ON),
        (c.NO_LICENSE, RISK_LICENSE, None),
    ],
)
def test_each_at_risk_line_is_named_by_its_first_failing_check(standing, npn, reason, since):
    row = standing.loc[npn]
    assert bool(row["is_at_risk"]) is True
    assert row["risk_reason"] == reason
    assert row["at_risk_since"] == since


def test_the_failing_check_alone_is_false(standing):
    assert standing.loc[c.LICENSE_EXPIRED, ["license_ok", "resident_ok", "line_ok"]].tolist() == [
        False,
        True,
        True,
    ]
    assert standing.loc[c.LINE_INACTIVE, ["license_ok", "resident_ok", "line_ok"]].tolist() == [
        True,
        True,
        False,
    ]
    assert standing.loc[c.NO_RESIDENT, ["license_ok", "resident_ok", "line_ok"]].tolist() == [
        True,
        False,
        True,
    ]
    assert standing.loc[c.NO_LICENSE, "license_number"] is None


def test_a_line_that_stands_is_not_at_risk(standing):
    row = standing.loc[c.STANDS]
    assert bool(row["is_at_risk"]) is False
    assert row["risk_reason"] is None and row["at_risk_since"] is None
    assert row["license_number"] == f"L{c.STANDS}TX" and row["license_class_code"] == c.CLASS
    assert row["renewal_date"] == dt.date(2027, 3, 31)
    assert row["evaluated_as_of"] == c.AS_OF


def _authorize(config, npns, category=c.CATEGORY, appointments=None):
    book = c.book()
    keys = pd.DataFrame(
        {"npn": npns, "state_code": c.STATE, "cocode": c.COCODE, "loa_category": category}
    )
    return sales_authorization(
        keys,
        config["gateway_business_rules"],
        config["loa_categories"],
        book["licenses"],
        book["license_loas"],
        appointed_lines(book["appointments"] if appointments is None else appointments),
        c.AS_OF,
    )


def test_can_sell_yes_when_a_line_of_the_category_stands_and_is_appointed(config):
    per_key, lines = _authorize(config, [c.STANDS])
    answer = per_key.iloc[0]
    assert bool(answer["can_sell"]) is True
    assert answer["selling_lines"] == c.LINE
    # Life in TX for 91234 is lines 16 and 825: 825 is listed, not held, not appointed.
    assert set(lines["loa_code"]) == {"16", "825"}
    assert (
        f"line 16 (license L{c.STANDS}TX, class 882): licensed in the state yes, line active "
        "yes, resident license active yes, appointed with the company yes"
    ) in answer["reasons"]
    assert (
        f"line 825 (license L{c.STANDS}TX, class 882): licensed in the state yes, line active "
        "no, resident license active yes, appointed with the company no"
    ) in answer["reasons"]


@pytest.mark.parametrize(
    ("npn", "says"),
    [
        (c.LICENSE_EXPIRED, "licensed in the state no"),
        (c.LINE_INACTIVE, "line active no"),
        (c.NO_RESIDENT, "resident license active no"),
    ],
)
def test_can_sell_no_names_what_fails(config, npn, says):
    per_key, _ = _authorize(config, [npn])
    assert bool(per_key.iloc[0]["can_sell"]) is False
    assert per_key.iloc[0]["selling_lines"] is None
    assert says in per_key.iloc[0]["reasons"]


def test_can_sell_no_when_the_line_stands_but_is_not_appointed(config):
    appointments = c.book()["appointments"].assign(status="Terminated")
    per_key, _ = _authorize(config, [c.STANDS], appointments=appointments)
    assert bool(per_key.iloc[0]["can_sell"]) is False
    assert (
        "line active yes, resident license active yes, appointed with the company no"
        in (per_key.iloc[0]["reasons"])
    )


def test_can_sell_no_for_a_category_without_a_line_of_the_company(config):
    per_key, lines = _authorize(config, [c.STANDS], category="Property")
    assert bool(per_key.iloc[0]["can_sell"]) is False
    assert lines.empty
    assert per_key.iloc[0]["reasons"].startswith("The company has no active line")


def test_the_day_first_found_at_risk_is_carried_while_the_line_stays_at_risk(standing):
    frame = standing.reset_index()
    earlier = dt.date(2026, 5, 2)
    previous = frame[frame["npn"].isin([c.LICENSE_EXPIRED, c.STANDS])].assign(
        at_risk_noticed_on=earlier
    )
    carried = carry_noticed(frame, previous).set_index("npn")
    assert carried.loc[c.LICENSE_EXPIRED, "at_risk_noticed_on"] == earlier
    assert carried.loc[c.LINE_INACTIVE, "at_risk_noticed_on"] == c.AS_OF  # newly at risk
    assert carried.loc[c.STANDS, "at_risk_noticed_on"] is None  # stands again: no spell


def test_an_empty_book_gives_empty_answers(config):
    book = {name: frame.iloc[0:0] for name, frame in c.book().items()}
    standing = appointment_standing(
        book["appointments"], book["licenses"], book["license_loas"], c.AS_OF, NOW
    )
    assert standing.empty and list(standing.columns)[:4] == [
        "npn",
        "state_code",
        "cocode",
        "loa_code",
    ]
    keys = pd.DataFrame(columns=["npn", "state_code", "cocode", "loa_category"])
    per_key, lines = sales_authorization(
        keys,
        config["gateway_business_rules"],
        config["loa_categories"],
        book["licenses"],
        book["license_loas"],
        appointed_lines(book["appointments"]),
        c.AS_OF,
    )
    assert per_key.empty and lines.empty


def test_the_reports_accept_exactly_the_risk_reasons_spelled_in_the_rule():
    import yaml

    reports = yaml.safe_load(
        (paths.PROJECT_ROOT / "dbt_reports/models/reports/_reports.yml").read_text()
    )
    (model,) = [m for m in reports["models"] if m["name"] == "rpt_appointments_at_risk"]
    (column,) = [col for col in model["columns"] if col["name"] == "risk_reason"]
    (accepted,) = [t["accepted_values"] for t in column["data_tests"] if isinstance(t, dict)]
    assert tuple(accepted["arguments"]["values"]) == RISK_REASONS
