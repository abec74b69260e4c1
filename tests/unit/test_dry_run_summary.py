"""The dry run's preview and comparison (`assets/batches/dry_run_summary.py`): every cell of
the preview safe to open (a value starting with = + - @ never runs as a formula, SSN-shaped
text masked, a missing value blank, never nan/None/NaT), and the comparison naming exactly the
lines whose reason, status or fee differ."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from assets.batches.dry_run_summary import LINE_COLUMNS, compare, preview_csv, preview_xlsx


def _line(**values: object) -> dict[str, object]:
    line: dict[str, object] = {column: None for column in LINE_COLUMNS}
    line.update(
        request_row=2,
        npn="1000001",
        state_code="TX",
        cocode="91234",
        loa_category="Life",
        loa_code="825",
        license_number="TX-1",
        eligibility_reason="In Good Order",
        status="Ready to Submit",
        estimated_fee=10.0,
        estimated_nipr_fee=5.0,
        batch="91234 approved automatically",
    )
    line.update(values)
    return line


HOSTILE = pd.DataFrame(
    [
        _line(eligibility_reason='=HYPERLINK("http://x")', license_number="+1", batch="-2"),
        _line(
            request_row=3,
            eligibility_reason="@SUM(A1)",
            license_number=np.nan,
            effective_date=pd.NaT,
            loa_category="SSN 123-45-6789",
        ),
    ]
)[list(LINE_COLUMNS)]


def test_the_csv_preview_neutralises_formulas_and_blanks_missing_values():
    text = preview_csv(HOSTILE).decode("utf-8-sig")
    assert "'=HYPERLINK" in text and "'@SUM(A1)" in text and ",'+1," in text and ",'-2" in text
    assert "123-45-6789" not in text
    for word in ("nan", "None", "NaT"):
        assert word not in text.replace(",", " ").split()


def test_the_xlsx_preview_holds_text_never_formulas():
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(preview_xlsx(HOSTILE))).worksheets[0]
    values = [cell.value for row in sheet.iter_rows(min_row=2) for cell in row]
    assert '\'=HYPERLINK("http://x")' in values and "'@SUM(A1)" in values
    assert all(cell.data_type == "s" for row in sheet.iter_rows() for cell in row if cell.value)
    assert not any(isinstance(v, str) and v.startswith(("=", "+", "-", "@")) for v in values)


def test_compare_names_the_lines_that_change_and_only_those():
    today = pd.DataFrame(
        [_line(), _line(request_row=7, state_code="VA", loa_code="42", estimated_fee=7.0)]
    )[list(LINE_COLUMNS)]
    other = today.copy()
    other.loc[1, "status"] = "Held (JIT)"
    other.loc[1, "estimated_nipr_fee"] = 0.0
    changes = compare(today, other)
    assert list(changes["state_code"]) == ["VA"]
    assert changes.iloc[0]["status_today"] == "Ready to Submit"
    assert changes.iloc[0]["status_other"] == "Held (JIT)"
    assert compare(today, today.copy()).empty
    # A line only one side has is a change too.
    assert list(compare(today, today.iloc[:1])["state_code"]) == ["VA"]
