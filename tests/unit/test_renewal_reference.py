"""config/reference/state_appointment_renewals.csv (issue 18, docs/renewals.md): one row per
jurisdiction, the documented facts, unknowns marked, and a bad file reported with its file, row
and column (ConfigError), like every reference file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from assets.reference.loading import ConfigError, load_reference_data
from assets.rules.month_days import on_or_before, parse_month_day

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "config" / "reference"
FILE = "state_appointment_renewals.csv"


@pytest.fixture(scope="module")
def renewals() -> pd.DataFrame:
    return load_reference_data(REFERENCE_DIR)["state_appointment_renewals"].set_index("state_code")


def test_every_jurisdiction_has_one_row_with_its_source(renewals):
    assert len(renewals) == 54 and renewals.index.is_unique
    assert renewals["source"].notna().all()
    unknown = renewals[renewals["renews"] == "unknown"]
    assert unknown["is_assumption"].all()  # never guessed silently
    assert (unknown["termination_cutoff"] == "unknown").all()


def test_documented_renewal_facts(renewals):
    assert renewals.loc[["TX", "CA"], "renews"].tolist() == ["perpetual", "perpetual"]
    fl = renewals.loc["FL"]
    assert (fl["renews"], fl["renewed_through"], fl["fee_resident"]) == (
        "birth_month_biennial", "state_portal", 60.0,
    )  # fmt: skip
    nj = renewals.loc["NJ"]
    assert (nj["window_start"], nj["window_end"], nj["termination_cutoff"]) == (
        "04-01", "06-05", "03-27",
    )  # fmt: skip
    assert (nj["fee_resident"], nj["fee_basis"], nj["nipr_processing_fee"]) == (
        25.0, "per_appointment", True,
    )  # fmt: skip
    assert renewals.loc["VA", "termination_cutoff"] == "06-30"
    assert renewals.loc["PA", "renewed_through"] == "invoice_by_mail"
    assert (renewals.loc["OH", "fee_resident"], renewals.loc["OH", "fee_basis"]) == (
        15.0,
        "per_line",
    )
    assert renewals.loc["WA", "fee_resident"] == 20.0
    assert renewals.loc["IL", "fee_resident"] == 50.0
    assert (renewals.loc["AR", "fee_resident"], renewals.loc["AR", "fee_nonresident"]) == (20, 60)
    assert renewals.loc["CT", "renews"] == "biennial_even_years"
    for state in ("AL", "CT", "DC", "GU", "IA", "KY", "LA", "NC", "ND", "NJ", "NY"):
        assert renewals.loc[state, "renewed_through"] == "nipr", state


def test_month_days_are_real_days_and_place_across_new_year():
    assert parse_month_day("02-28") == (2, 28)
    for bad in ("02-29", "13-01", "4-1", "04/01", "unknown"):
        assert parse_month_day(bad) is None, bad
    assert str(on_or_before((12, 31), pd.Timestamp("2026-01-06").date())) == "2025-12-31"
    assert str(on_or_before((1, 6), pd.Timestamp("2026-01-06").date())) == "2026-01-06"


@pytest.fixture
def reference_copy(tmp_path: Path) -> Path:
    target = tmp_path / "reference"
    shutil.copytree(REFERENCE_DIR, target)
    return target


def _edit(path: Path, state: str, **cells: str) -> int:
    """Set cells of `state`'s row; its line number (the header is line 1)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    index = frame.index[frame["state_code"] == state][0]
    for column, value in cells.items():
        frame.loc[index, column] = value
    frame.to_csv(path, index=False)
    return int(index) + 2


def test_a_bad_renewals_file_is_reported_by_file_row_and_column(reference_copy: Path):
    path = reference_copy / FILE
    nj = _edit(path, "NJ", termination_cutoff="03-32", window_start="4/1")
    oh = _edit(path, "OH", fee_resident="", fee_basis="per_producer")
    tx = _edit(path, "TX", termination_cutoff="03-01")
    ak = _edit(path, "AK", is_assumption="false")
    wa = _edit(path, "WA", nipr_processing_fee="true", renews="every year")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame[frame["state_code"] != "WY"].to_csv(path, index=False)
    with pytest.raises(ConfigError) as caught:
        load_reference_data(reference_copy)
    text = str(caught.value)
    assert (
        f"{FILE}: row {nj}, column termination_cutoff: '03-32' (NJ) is not a day as MM-DD" in text
    )
    assert f"{FILE}: row {nj}, column window_start: '4/1' (NJ) is not a day as MM-DD" in text
    assert f"{FILE}: row {oh}, column fee_basis: fee_basis 'per_producer' is not one of" in text
    assert f"{FILE}: row {tx}, column termination_cutoff: TX renews 'perpetual'" in text
    assert f"{FILE}: row {ak}, column is_assumption: AK's renewal rule is unknown" in text
    assert f"{FILE}: row {wa}, column renews: renews 'every year' is not one of" in text
    assert f"{FILE}: column state_code: state 'WY' has no renewal row" in text


def test_a_renewing_state_without_a_fee_is_refused(reference_copy: Path):
    row = _edit(reference_copy / FILE, "OH", fee_resident="")
    with pytest.raises(ConfigError) as caught:
        load_reference_data(reference_copy)
    assert (
        f"{FILE}: row {row}, column fee_resident: OH renews (annual) but fee_resident is blank"
        in str(caught.value)
    )
