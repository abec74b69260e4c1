"""The customer's company setup: the shipped sample loads clean, and each mistake an analyst
can make is reported with the file, the company and the bad value."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from assets.reference.loading import (
    ConfigError,
    ConfigProblem,
    load_company_config,
    load_reference_data,
)

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture(scope="module")
def reference() -> dict[str, pd.DataFrame]:
    return load_reference_data(CONFIG_DIR / "reference")


@pytest.fixture(scope="module")
def sample(reference) -> dict[str, pd.DataFrame]:
    return load_company_config(CONFIG_DIR, reference)


@pytest.fixture
def config_copy(tmp_path: Path) -> Path:
    for name in ("companies.yaml", "gateway_business_rules.csv"):
        shutil.copy(CONFIG_DIR / name, tmp_path / name)
    return tmp_path


def _companies(config: Path) -> list[dict[str, Any]]:
    return yaml.safe_load((config / "companies.yaml").read_text())["companies"]


def _save(config: Path, companies: list[dict[str, Any]]) -> None:
    (config / "companies.yaml").write_text(yaml.safe_dump({"companies": companies}))


def _append_rule(config: Path, line: str) -> None:
    with (config / "gateway_business_rules.csv").open("a") as handle:
        handle.write(line + "\n")


def _problems(config: Path, reference) -> tuple[str, list[ConfigProblem]]:
    with pytest.raises(ConfigError) as caught:
        load_company_config(config, reference)
    return str(caught.value), caught.value.problems


# --------------------------------------------------------------------------------------------
# The shipped sample
# --------------------------------------------------------------------------------------------


def test_the_shipped_sample_loads_clean(sample):
    assert list(sample) == [
        "companies",
        "company_loa_categories",
        "company_state_settings",
        "gateway_business_rules",
    ]
    assert list(sample["companies"].columns) == [
        "cocode", "company_name", "fein", "producer_assignment_required",
    ]  # fmt: skip
    assert list(sample["company_state_settings"].columns) == [
        "cocode", "state_code", "state_company_id", "jit",
    ]  # fmt: skip
    assert list(sample["gateway_business_rules"].columns) == [
        "cocode", "state_code", "license_class_code", "loa_code", "loa_category", "active",
    ]  # fmt: skip
    assert len(sample["companies"]) == 3
    assert sample["companies"]["cocode"].str.fullmatch(r"\d{5}").all()
    assert sample["companies"]["fein"].str.fullmatch(r"\d{9}").all()
    assert sample["companies"]["producer_assignment_required"].any()


def test_the_sample_covers_the_demo_states_with_consistent_jit(sample, reference):
    settings = sample["company_state_settings"]
    assert {"CA", "TX", "FL", "NY", "PA", "NJ", "GA", "WA", "VA", "IL", "OH"} <= set(
        settings["state_code"]
    )
    rules = reference["state_appointment_rules"].set_index("state_code")["jit_allowed"]
    jit_states = settings.loc[settings["jit"], "state_code"]
    assert rules[jit_states].all()
    assert settings["jit"].any() and (~settings["jit"]).any()


def test_every_company_state_has_active_lines_of_its_categories(sample):
    rules = sample["gateway_business_rules"]
    active = rules[rules["active"]]
    for cocode, state in sample["company_state_settings"][["cocode", "state_code"]].itertuples(
        index=False
    ):
        assert ((active.cocode == cocode) & (active.state_code == state)).any(), (cocode, state)
    categories = set(sample["company_loa_categories"].itertuples(index=False, name=None))
    assert set(rules[["cocode", "loa_category"]].itertuples(index=False, name=None)) <= categories
    assert (~rules["active"]).any()  # the sample shows inactive lines too


def test_the_life_carrier_appoints_for_the_seed_california_lines(sample):
    rules = sample["gateway_business_rules"]
    ca = rules[(rules.cocode == "91234") & (rules.state_code == "CA") & rules.active]
    assert {"16", "935", "296"} <= set(ca.loa_code)


def test_a_cocode_with_a_leading_zero_stays_text(config_copy, reference):
    companies = _companies(config_copy)
    companies[2]["cocode"] = "03456"
    _save(config_copy, companies)
    rules = config_copy / "gateway_business_rules.csv"
    rules.write_text(rules.read_text().replace("\n93456,", "\n03456,"))
    loaded = load_company_config(config_copy, reference)
    assert "03456" in set(loaded["companies"]["cocode"])


def test_an_unquoted_cocode_is_read_as_written(config_copy, reference):
    path = config_copy / "companies.yaml"
    path.write_text(path.read_text().replace('cocode: "93456"', "cocode: 03456"))
    rules = config_copy / "gateway_business_rules.csv"
    rules.write_text(rules.read_text().replace("\n93456,", "\n03456,"))
    loaded = load_company_config(config_copy, reference)
    assert "03456" in set(loaded["companies"]["cocode"])  # not 1838, YAML 1.1's octal reading


# --------------------------------------------------------------------------------------------
# Mistakes
# --------------------------------------------------------------------------------------------


def test_unknown_state(config_copy, reference):
    companies = _companies(config_copy)
    companies[0]["state_settings"][1]["state_code"] = "XX"
    _save(config_copy, companies)
    text, problems = _problems(config_copy, reference)
    assert (
        "companies.yaml: company 91234, state_settings[2]: state 'XX' is not one of the 54 "
        "NIPR jurisdictions" in text
    )
    problem = next(p for p in problems if p.value == "XX")
    assert (problem.file, problem.column) == ("companies.yaml", "state_code")


def test_bad_cocode(config_copy, reference):
    companies = _companies(config_copy)
    companies[1]["cocode"] = "2345"
    _save(config_copy, companies)
    text, problems = _problems(config_copy, reference)
    assert "companies.yaml: company 2345: CoCode '2345' must be 5 digits" in text
    # Reported once for the company, not again for each of its settings.
    assert sum("CoCode '2345' must be 5 digits" in str(p) for p in problems) == 1
    # Its gateway rules now name a company that does not exist: one line for all of them.
    assert "gateway_business_rules.csv" in text and "CoCode '92345' is not a company" in text


def test_unknown_category(config_copy, reference):
    companies = _companies(config_copy)
    companies[0]["loa_categories"].append("Life & Health")
    _save(config_copy, companies)
    text, _ = _problems(config_copy, reference)
    assert (
        "companies.yaml: company 91234, loa_categories[4]: category 'Life & Health' is not one "
        "of: Life, Accident & Health" in text
    )


def test_jit_where_the_state_has_none(config_copy, reference):
    companies = _companies(config_copy)
    pa = next(s for s in companies[0]["state_settings"] if s["state_code"] == "PA")
    pa["jit"] = True
    _save(config_copy, companies)
    text, problems = _problems(config_copy, reference)
    assert "companies.yaml: company 91234, state_settings[5]: jit is true for state 'PA'" in text
    assert [p.value for p in problems] == ["PA"]


def test_duplicated_state_setting(config_copy, reference):
    companies = _companies(config_copy)
    companies[0]["state_settings"].append(
        {"state_code": "CA", "state_company_id": "x", "jit": True}
    )
    _save(config_copy, companies)
    text, _ = _problems(config_copy, reference)
    assert "company 91234, state_settings[1]: state 'CA' is listed twice" in text


def test_bad_yaml(config_copy, reference):
    path = config_copy / "companies.yaml"
    path.write_text(
        path.read_text()
        .replace("loa_categories: [Life,", "loa_categories: [Life", 1)
        .replace("Variable Life & Annuity]", "Variable Life & Annuity", 1)
    )
    text, problems = _problems(config_copy, reference)
    assert len(problems) == 1
    assert text.splitlines()[1].startswith("companies.yaml: line ")
    assert "YAML syntax error" in text


def test_missing_file(config_copy, reference):
    (config_copy / "companies.yaml").unlink()
    text, problems = _problems(config_copy, reference)
    assert [p.file for p in problems] == ["companies.yaml"]
    assert "companies.yaml: file not found" in text


def test_gateway_rule_for_an_unknown_line(config_copy, reference):
    _append_rule(config_copy, "91234,CA,3,99999,Life,true")
    text, problems = _problems(config_copy, reference)
    assert len(problems) == 1
    assert "gateway_business_rules.csv: row " in text
    assert "company 91234, CA, class 3, LOA 99999" in text
    assert "is not in NIPR's workbook for CA" in text
    assert problems[0].value == "99999"


def test_gateway_rule_without_a_state_setting(config_copy, reference):
    _append_rule(config_copy, "91234,WA,3,16,Life,true")
    text, _ = _problems(config_copy, reference)
    assert "company 91234 has no state setting for 'WA' in companies.yaml" in text


def test_gateway_rule_outside_the_company_categories(config_copy, reference):
    _append_rule(config_copy, "91234,CA,3,12,Property,true")
    text, _ = _problems(config_copy, reference)
    assert "category 'Property' is not among company 91234's loa_categories" in text


def test_every_problem_is_reported_at_once(config_copy, reference):
    companies = _companies(config_copy)
    companies[0]["state_settings"][1]["state_code"] = "XX"
    companies[1]["fein"] = "12-3456789"
    _save(config_copy, companies)
    _append_rule(config_copy, "91234,CA,3,99999,Life,yes")
    _append_rule(config_copy, "91234,CA,3,16,Life,maybe")
    text, problems = _problems(config_copy, reference)
    assert "state 'XX'" in text
    assert "company 92345: FEIN '12-3456789' must be 9 digits" in text
    assert "LOA 99999" in text
    assert "column active: 'maybe' is not true or false" in text
    assert len(text.splitlines()) == len(problems) + 1


def test_a_blank_category_in_a_gateway_rule_is_allowed_and_left_blank(config_copy, reference):
    # loa_category is nullable in GatewayBusinessRulesModel: a blank cell loads as missing.
    path = config_copy / "gateway_business_rules.csv"
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    column = lines[0].split(",").index("loa_category")
    cells = lines[1].split(",")
    cells[column] = ""
    lines[1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    rules = load_company_config(config_copy, reference)["gateway_business_rules"]

    assert pd.isna(rules.loc[0, "loa_category"])
    assert rules.loc[1, "loa_category"] == "Life"
