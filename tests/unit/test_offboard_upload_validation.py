"""The `offboard` upload kind's validation (docs/uploads.md): one row per producer, the reason
a termination reason, every CoCode one of the customer's companies, dates read as the other
kinds read them; lazily, every problem of every row at once."""

from __future__ import annotations

import pandas as pd
import pytest

from assets.reference.loading import load_company_config, load_reference_data
from assets.uploads.reading import read_upload
from assets.uploads.validation import validate_upload
from resources import paths

HEADER = "Agent NPN,Termination Reason Code,Effective Date,CoCodes"


@pytest.fixture(scope="module")
def reference() -> dict[str, pd.DataFrame]:
    return load_reference_data(paths.reference_dir())


@pytest.fixture(scope="module")
def companies(reference) -> pd.DataFrame:
    return load_company_config(paths.config_dir(), reference)["companies"]


def _validate(*rows: str, reference, companies):
    data = "\r\n".join([HEADER, *rows]) + "\r\n"
    return validate_upload(
        read_upload(data.encode(), "leavers.csv"), "offboard", reference, companies
    )


def test_valid_rows_are_typed_and_every_problem_is_reported_at_once(reference, companies) -> None:
    validated = _validate(
        "1000001,,,",  # row 2
        "1000002,death,11/30/2026,91234; 92345",  # row 3: case, US date, list spacing
        "1000003,NOT_A_REASON,2026-13-01,55555;91234",  # row 4: three problems
        "1000001,,,",  # row 5: listed twice
        reference=reference,
        companies=companies,
    )
    assert (validated.rows_valid, validated.rows_rejected) == (2, 2)
    rows = validated.exploded().set_index("npn")
    assert rows.at["1000002", "termination_reason_code"] == "DEATH"
    assert rows.at["1000002", "effective_date"] == pd.Timestamp("2026-11-30")
    assert rows.at["1000002", "cocodes"] == "91234;92345"
    assert pd.isna(rows.at["1000001", "cocodes"]) and pd.isna(rows.at["1000001", "effective_date"])
    errors = validated.row_errors
    row4 = dict(zip(errors.loc[errors.row_number == 4, "column"], errors.loc[errors.row_number == 4, "message"], strict=True))  # fmt: skip
    assert set(row4) == {"Termination Reason Code", "Effective Date", "CoCodes"}
    assert "not a termination reason" in row4["Termination Reason Code"]
    assert "55555" in row4["CoCodes"] and "not one of your companies" in row4["CoCodes"]
    [row5] = errors.loc[errors.row_number == 5, "message"]
    assert "already on row 2" in row5


def test_only_the_agent_npn_is_required(reference, companies) -> None:
    data = b"Agent NPN\r\n1000001\r\n"
    validated = validate_upload(read_upload(data, "npns.csv"), "offboard", reference, companies)
    assert validated.rows_valid == 1 and validated.row_errors.empty
