"""NIPR's "PDB State Offerings" workbook (as CSV) read into tidy frames. Pure: no Dagster.

The three sheets are copied unchanged into `config/reference/nipr_workbook/`:

- `Licenses.csv`: State Code, License Class Name, License Class Code
- `LOAs.csv`: State Code, LOA Name, LOA Code
- `Assignments.csv`: State Code, License Class Name, LOA Name, License Class Code, LOA Code

What we found in the 01-06-2026 copy, and what the reader does about it:

- The state code (and, in Assignments, the class name) is written only on the first row of
  each group: we forward-fill the state code. The class name in Assignments is filled only
  within the same class code, because a few classes have no name at all (OK 5873-5875 and
  6073-6083, blank in Licenses.csv too): a plain forward-fill would have named them after the
  class above ("EMERGENCY ADJUSTER").
- No key repeats: (state, class) in Licenses, (state, LOA) in LOAs and (state, class, LOA) in
  Assignments are all unique (2,361 / 3,594 / 22,035 rows). We still drop duplicate keys
  (keeping the first row) so that a later workbook that repeats a row cannot break the
  reference tables' primary keys.
- Every class and LOA used in Assignments is listed in Licenses / LOAs.
- Some names are blank on one sheet only: DC 1853 and MS 64 have no name in LOAs.csv but are
  "Surplus Lines" and "Travel" in Assignments.csv; we take the name from Assignments then.
  Names still blank after that stay missing (NA), never invented.
- Cells carry stray spaces ("PUBLIC  ADJUSTER" inside, some at the ends): we strip the ends
  and leave inner spacing as NIPR wrote it.
- "None" (LOA 101) and "N/A" (LOA 387) are real LOA names: the CSVs are read with pandas'
  NA detection off, so they stay text.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

LICENSES_FILE = "Licenses.csv"
LOAS_FILE = "LOAs.csv"
ASSIGNMENTS_FILE = "Assignments.csv"
WORKBOOK_FILES = (LICENSES_FILE, LOAS_FILE, ASSIGNMENTS_FILE)

_RENAME = {
    "State Code": "state_code",
    "License Class Name": "license_class",
    "License Class Code": "license_class_code",
    "LOA Name": "loa_name",
    "LOA Code": "loa_code",
}


def _read_sheet(path: Path, required: list[str]) -> pd.DataFrame:
    # NA detection off: "None" and "N/A" are LOA names. utf-8-sig: tolerate an Excel BOM.
    frame = pd.read_csv(
        path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig"
    )
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{path.name}: missing column(s) {', '.join(missing)}")
    frame = frame[required].rename(columns=_RENAME)
    for column in frame.columns:
        frame[column] = frame[column].astype(str).str.strip().replace("", pd.NA)
    frame["state_code"] = frame["state_code"].ffill().str.upper()
    return frame


def read_licenses(workbook_dir: Path) -> pd.DataFrame:
    """license_classes: state_code, license_class_code, license_class."""
    frame = _read_sheet(
        workbook_dir / LICENSES_FILE, ["State Code", "License Class Name", "License Class Code"]
    )
    frame = frame.dropna(subset=["license_class_code"])
    frame = frame.drop_duplicates(["state_code", "license_class_code"], keep="first")
    return frame[["state_code", "license_class_code", "license_class"]].reset_index(drop=True)


def _read_assignments(workbook_dir: Path) -> pd.DataFrame:
    frame = _read_sheet(
        workbook_dir / ASSIGNMENTS_FILE,
        ["State Code", "License Class Name", "LOA Name", "License Class Code", "LOA Code"],
    )
    frame = frame.dropna(subset=["license_class_code", "loa_code"])
    # Class name: forward-fill within one (state, class code) group only (see module doc).
    frame["license_class"] = frame.groupby(["state_code", "license_class_code"], sort=False)[
        "license_class"
    ].ffill()
    return frame


def read_loas(workbook_dir: Path, assignments: pd.DataFrame | None = None) -> pd.DataFrame:
    """lines_of_authority: state_code, loa_code, loa_name (blank names filled from Assignments)."""
    frame = _read_sheet(workbook_dir / LOAS_FILE, ["State Code", "LOA Name", "LOA Code"])
    frame = frame.dropna(subset=["loa_code"])
    frame = frame.drop_duplicates(["state_code", "loa_code"], keep="first")
    if assignments is None:
        assignments = _read_assignments(workbook_dir)
    names = (
        assignments.dropna(subset=["loa_name"])
        .drop_duplicates(["state_code", "loa_code"])
        .set_index(["state_code", "loa_code"])["loa_name"]
    )
    keys = pd.MultiIndex.from_frame(frame[["state_code", "loa_code"]])
    fallback = pd.Series(names.reindex(keys).to_numpy(), index=frame.index)
    frame["loa_name"] = frame["loa_name"].fillna(fallback)
    return frame[["state_code", "loa_code", "loa_name"]].reset_index(drop=True)


def read_license_class_loas(
    workbook_dir: Path, assignments: pd.DataFrame | None = None
) -> pd.DataFrame:
    """license_class_loas: state_code, license_class_code, loa_code (deduplicated)."""
    if assignments is None:
        assignments = _read_assignments(workbook_dir)
    key = ["state_code", "license_class_code", "loa_code"]
    return assignments[key].drop_duplicates(key, keep="first").reset_index(drop=True)


def read_workbook(workbook_dir: Path) -> dict[str, pd.DataFrame]:
    """The three workbook tables: license_classes, lines_of_authority, license_class_loas."""
    assignments = _read_assignments(workbook_dir)
    return {
        "license_classes": read_licenses(workbook_dir),
        "lines_of_authority": read_loas(workbook_dir, assignments),
        "license_class_loas": read_license_class_loas(workbook_dir, assignments),
    }
