"""What the docs say a table holds, against `schemas/tables.py`: the operator's guide once
described a `value` column `upload_row_errors` does not have. Plain file reading."""

from __future__ import annotations

import re
from pathlib import Path

from schemas.tables import upload_row_errors

DOCS = Path(__file__).resolve().parents[2] / "docs"
# The table's own keys, which nobody reads for an error.
KEYS = {"id", "upload_id"}


def _described_columns(row: str) -> set[str]:
    """The backticked names of a "Reading the errors" row, before what it says is not there."""
    what = row.split("|")[2].split(";")[0]
    return set(re.findall(r"`(\w+)`", what))


def test_the_operations_guide_names_exactly_the_columns_upload_row_errors_has() -> None:
    (row,) = [
        line
        for line in (DOCS / "operations.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("| `upload_row_errors` table |")
    ]

    assert _described_columns(row) == set(upload_row_errors.c.keys()) - KEYS


def test_the_uploads_guide_says_which_row_error_columns_the_table_keeps() -> None:
    text = (DOCS / "uploads.md").read_text(encoding="utf-8")
    (sentence,) = re.findall(r"Its (.*?) go into\s+`upload_row_errors`", text)

    assert set(re.findall(r"`(\w+)`", sentence)) == set(upload_row_errors.c.keys()) - KEYS
