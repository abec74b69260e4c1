"""The shipped reference data: NIPR's workbook read right, and the editable tables complete.

Expected counts are computed here from the workbook CSVs with the `csv` module, independently
of `assets/reference/workbook.py`, so a reader bug cannot hide behind its own numbers.
"""

from __future__ import annotations

import csv
import shutil
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest

from assets.reference.loading import ConfigError, load_reference_data

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "config" / "reference"
WORKBOOK_DIR = REFERENCE_DIR / "nipr_workbook"

CATEGORIES = {
    "Life", "Accident & Health", "Property", "Casualty", "Personal Lines",
    "Variable Life & Annuity", "Credit", "Title", "Travel", "Crop", "Surety", "Car Rental",
    "Surplus Lines", "Other",
}  # fmt: skip

EXPECTED_COLUMNS = {
    "jurisdictions": ["state_code", "name"],
    "license_classes": ["state_code", "license_class_code", "license_class"],
    "lines_of_authority": ["state_code", "loa_code", "loa_name"],
    "license_class_loas": ["state_code", "license_class_code", "loa_code"],
    "producer_license_classes": ["state_code", "license_class_code", "residency", "note"],
    "loa_categories": ["state_code", "loa_code", "loa_category"],
    "termination_reasons": ["reason_code", "description", "source"],
    "state_termination_reasons": [
        "state_code", "reason_code", "is_default", "source", "is_assumption",
    ],
    "state_fees": [
        "state_code", "transaction_kind", "resident_fee", "nonresident_fee", "per_loa",
        "billed_by_state", "source", "is_assumption",
    ],
    "state_appointment_rules": [
        "state_code", "appointment_filing", "jit_allowed", "jit_deadline_days", "jit_trigger",
        "effective_date_specifiable", "max_backdate_days", "allows_future_effective_date",
        "terminations_via_nipr", "termination_date_specifiable",
        "termination_max_backdate_days", "source", "is_assumption",
    ],
    "nipr_transaction_fees": ["transaction_kind", "nipr_fee", "source", "is_assumption"],
    "state_appointment_renewals": [
        "state_code", "renews", "renewed_through", "window_start", "window_end",
        "termination_cutoff", "fee_resident", "fee_nonresident", "fee_basis",
        "nipr_processing_fee", "source", "is_assumption",
    ],
}  # fmt: skip


def _read_filled(name: str, fill: tuple[str, ...]) -> list[dict[str, str]]:
    """A workbook sheet as dicts, the grouped columns forward-filled (the workbook's layout)."""
    rows, last = [], {}
    with (WORKBOOK_DIR / name).open(newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            row = {k: (v or "").strip() for k, v in row.items()}
            for column in fill:
                if row[column]:
                    last[column] = row[column]
                else:
                    row[column] = last[column]
            rows.append(row)
    return rows


@pytest.fixture(scope="module")
def workbook() -> dict[str, object]:
    licenses = _read_filled("Licenses.csv", ("State Code",))
    loas = _read_filled("LOAs.csv", ("State Code",))
    assignments = _read_filled("Assignments.csv", ("State Code",))
    carried: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in assignments:
        carried[(row["State Code"], row["License Class Code"])].add(row["LOA Code"])
    return {
        "states": {r["State Code"] for r in licenses},
        "classes": {(r["State Code"], r["License Class Code"]) for r in licenses},
        "loas": {(r["State Code"], r["LOA Code"]) for r in loas},
        "pairs": {(r["State Code"], r["License Class Code"], r["LOA Code"]) for r in assignments},
        "carried": carried,
    }


@pytest.fixture(scope="module")
def reference() -> dict[str, pd.DataFrame]:
    return load_reference_data(REFERENCE_DIR)


@pytest.fixture(scope="module")
def producer_loas(workbook) -> set[tuple[str, str]]:
    """(state, LOA) attached to a producer license class, from the CSV files directly."""
    with (REFERENCE_DIR / "producer_license_classes.csv").open(newline="") as handle:
        classes = [(r["state_code"], r["license_class_code"]) for r in csv.DictReader(handle)]
    return {(state, loa) for state, cls in classes for loa in workbook["carried"][(state, cls)]}


def test_every_table_has_exactly_its_columns(reference):
    assert list(reference) == list(EXPECTED_COLUMNS)
    for table, columns in EXPECTED_COLUMNS.items():
        assert list(reference[table].columns) == columns, table


def test_counts_match_the_workbook(reference, workbook):
    assert len(workbook["states"]) == 54
    assert set(reference["jurisdictions"]["state_code"]) == workbook["states"]
    assert len(reference["license_classes"]) == len(workbook["classes"]) == 2361
    assert len(reference["lines_of_authority"]) == len(workbook["loas"]) == 3594
    pairs = reference["license_class_loas"]
    assert len(pairs) == len(workbook["pairs"])
    assert set(pairs.itertuples(index=False, name=None)) == workbook["pairs"]


def test_codes_are_text_and_flags_are_booleans(reference):
    for table, frame in reference.items():
        for column in frame.columns:
            if column.endswith("_code") or column == "reason_code":
                assert frame[column].map(type).eq(str).all(), (table, column)
    fees = reference["state_fees"]
    assert fees["per_loa"].dtype == bool and fees["resident_fee"].dtype == float
    rules = reference["state_appointment_rules"]
    assert rules["jit_allowed"].dtype == bool
    assert str(rules["jit_deadline_days"].dtype) == "Int64"
    assert isinstance(rules["jit_allowed"].tolist()[0], bool)


def test_workbook_names_are_kept_as_nipr_wrote_them(reference):
    loas = reference["lines_of_authority"].set_index(["state_code", "loa_code"])["loa_name"]
    assert loas[("AK", "101")] == "None"  # a real LOA name, not a missing value
    assert loas[("NY", "387")] == "N/A"
    assert loas[("DC", "1853")] == "Surplus Lines"  # blank in LOAs.csv, named in Assignments
    classes = reference["license_classes"].set_index(["state_code", "license_class_code"])
    assert pd.isna(classes.loc[("OK", "5873"), "license_class"])  # blank in NIPR's workbook


def test_every_jurisdiction_has_a_producer_class_that_exists(reference, workbook):
    producer = reference["producer_license_classes"]
    assert set(producer["state_code"]) == workbook["states"]
    for state, cls, residency in producer[
        ["state_code", "license_class_code", "residency"]
    ].itertuples(index=False):
        assert (state, cls) in workbook["classes"], (state, cls)
        assert residency in {"R", "NR", "any"}
    # Spot checks of the documented picks (DOMAIN 1.5).
    picks = set(producer[["state_code", "license_class_code"]].itertuples(index=False, name=None))
    assert {("CA", "3"), ("AZ", "89"), ("FL", "1"), ("GA", "288"), ("GA", "287"),
            ("NY", "13255"), ("NY", "13254"), ("TX", "465"), ("TX", "882"),
            ("OH", "5534"), ("PA", "754"), ("PA", "1007"), ("WI", "9294")} <= picks  # fmt: skip


def test_every_producer_line_has_a_category(reference, producer_loas):
    mapped = set(
        reference["loa_categories"][["state_code", "loa_code"]].itertuples(index=False, name=None)
    )
    lines = {(state, loa) for state, loa in producer_loas if loa != "101"}
    assert len(lines) > 800
    assert lines - mapped == set()
    assert set(reference["loa_categories"]["loa_category"]) <= CATEGORIES


def test_none_is_not_a_line(reference):
    assert "101" not in set(reference["loa_categories"]["loa_code"])


def _lines(reference, state: str, cls: str, category: str) -> set[str]:
    pairs = reference["license_class_loas"]
    carried = set(pairs[(pairs.state_code == state) & (pairs.license_class_code == cls)].loa_code)
    cats = reference["loa_categories"]
    return carried & set(
        cats[(cats.state_code == state) & (cats.loa_category == category)].loa_code
    )


def test_california_life_and_health_lines_follow_the_seed(reference):
    # Seed: a CA life & health request finds Life, Accident & Health or Sickness and the
    # part-time fraternal line.
    life = _lines(reference, "CA", "3", "Life")
    health = _lines(reference, "CA", "3", "Accident & Health")
    assert {"16", "296"} <= life
    assert "935" in health
    assert "12" not in life | health


def test_combined_lines_are_in_both_categories(reference):
    assert _lines(reference, "VA", "3", "Life") >= {"42"}
    assert _lines(reference, "VA", "3", "Accident & Health") >= {"42", "39"}
    assert _lines(reference, "TX", "465", "Property") >= {"108"}
    assert _lines(reference, "TX", "465", "Casualty") >= {"108"}
    assert _lines(reference, "PA", "754", "Variable Life & Annuity") == {"1857"}


def test_every_state_has_fees_and_rules(reference):
    fees = reference["state_fees"]
    for kind in ("appointment", "termination"):
        assert len(fees[fees.transaction_kind == kind]) == 54
    assert (fees[["resident_fee", "nonresident_fee"]] >= 0).all().all()
    rules = reference["state_appointment_rules"]
    assert len(rules) == 54 and rules["state_code"].is_unique


def test_documented_state_facts(reference):
    fees = reference["state_fees"].set_index(["state_code", "transaction_kind"])
    assert fees.loc[("OH", "appointment"), "per_loa"]
    assert fees.loc[("PA", "appointment"), "billed_by_state"]
    assert fees.loc[("NJ", "termination"), "resident_fee"] == 25
    assert fees.loc[("CA", "appointment"), "is_assumption"]  # [CONFLICT] in DOMAIN 2.4
    rules = reference["state_appointment_rules"].set_index("state_code")
    assert rules.loc["IL", "appointment_filing"] == "registry"
    assert not rules.loc["NY", "terminations_via_nipr"]
    assert not rules.loc["PA", "jit_allowed"]
    assert rules.loc["FL", "jit_deadline_days"] == 45
    assert "life" in rules.loc["CA", "jit_trigger"].lower()
    assert rules.loc[["GU", "PR", "VI"], "is_assumption"].all()


def test_state_termination_reasons_are_known_with_at_most_one_default(reference):
    known = set(reference["termination_reasons"]["reason_code"])
    per_state = reference["state_termination_reasons"]
    assert set(per_state["reason_code"]) <= known
    assert per_state.groupby("state_code")["is_default"].sum().max() == 1
    defaults = per_state[per_state.is_default].set_index("state_code")["reason_code"]
    assert defaults["TX"] == "CANCELLED" and defaults["CA"] == "VOLUNTARY_TERMINATION"
    assert "NY" not in set(per_state["state_code"])  # NY terminations are not filed via NIPR


# --------------------------------------------------------------------------------------------
# A broken copy is reported, one problem per bad value
# --------------------------------------------------------------------------------------------


@pytest.fixture
def reference_copy(tmp_path: Path) -> Path:
    target = tmp_path / "reference"
    shutil.copytree(REFERENCE_DIR, target)
    return target


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_broken_reference_files_are_reported_together(reference_copy: Path):
    lines = (reference_copy / "state_fees.csv").read_text().splitlines()
    tx_row = next(n for n, line in enumerate(lines, start=1) if line.startswith("TX,appointment"))
    _replace(reference_copy / "state_fees.csv", "TX,appointment,10.00", "TX,appointment,-10")
    _replace(reference_copy / "state_termination_reasons.csv", "TX,CANCELLED", "TX,CANCELED")
    _replace(reference_copy / "loa_categories.csv", "CA,16,Life", "CA,16,Lif")
    _replace(reference_copy / "state_appointment_rules.csv", "FL,nipr,true,45", "FL,nipr,maybe,45")
    with pytest.raises(ConfigError) as caught:
        load_reference_data(reference_copy)
    text = str(caught.value)
    assert (
        f"state_fees.csv: row {tx_row}, column resident_fee: resident_fee -10.0 must be 0 or more"
        in text
    )
    assert "reason code 'CANCELED' (TX) is not in termination_reasons.csv" in text
    assert "category 'Lif' is not one of" in text
    assert "'maybe' is not true or false" in text
    files = {problem.file for problem in caught.value.problems}
    assert {"state_fees.csv", "state_termination_reasons.csv", "loa_categories.csv"} <= files


def test_a_missing_state_row_and_a_missing_file_are_reported(reference_copy: Path):
    fees = reference_copy / "state_fees.csv"
    lines = fees.read_text().splitlines(keepends=True)
    fees.write_text("".join(line for line in lines if not line.startswith("WY,")))
    (reference_copy / "termination_reasons.csv").unlink()
    with pytest.raises(ConfigError) as caught:
        load_reference_data(reference_copy)
    text = str(caught.value)
    assert "state 'WY' has no appointment fee row" in text
    assert "termination_reasons.csv: file not found" in text


def test_blank_and_lower_case_cells_are_read_as_the_models_say(reference_copy: Path):
    # state_code is required (reported, not a crash); a state in lower case is upper-cased; a
    # blank fee is required because StateFeesModel's fees are not nullable.
    _replace(reference_copy / "jurisdictions.csv", "AL,Alabama", ",Alabama")
    _replace(reference_copy / "loa_categories.csv", "CA,16,Life", "ca,16,life")
    _replace(reference_copy / "state_fees.csv", "TX,appointment,10.00", "TX,appointment,")
    with pytest.raises(ConfigError) as caught:
        load_reference_data(reference_copy)
    text = str(caught.value)
    assert "jurisdictions.csv: row 3, column state_code: state_code is required" in text
    assert "column resident_fee: resident_fee is required (the cell is blank)" in text
    assert "loa_categories.csv" not in text
