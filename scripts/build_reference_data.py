"""One-off generator of the shipped reference CSVs and of the demo's gateway business rules.

The CSV files in `config/reference/` and `config/gateway_business_rules.csv` are the product:
a compliance analyst edits them directly. This script records how their first version was
made (the producer license class picks, the LOA category rules, the state rules transcribed
from DOMAIN.md) so the choices can be reviewed and re-applied to a newer NIPR workbook.

    .venv/bin/python scripts/build_reference_data.py            # writes only missing files
    .venv/bin/python scripts/build_reference_data.py --force loa_categories

It never overwrites an existing file without `--force`: running it after an analyst has
edited a CSV would silently undo their edits.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

# No type stubs for PyYAML in the environment (types-PyYAML is not a dependency).
import yaml  # type: ignore[import-untyped]

# The tables' contents, beside this script (its folder is on sys.path when it runs).
from reference_licensing import (
    CATEGORY_ORDER,
    JURISDICTIONS,
    build_loa_categories,
    build_producer_license_classes,
)
from reference_state_rules import (
    RULE_COLUMNS,
    TERMINATION_REASONS,
    build_nipr_transaction_fees,
    build_state_appointment_rules,
    build_state_fees,
    build_state_termination_reasons,
)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assets.reference.workbook import read_workbook  # noqa: E402

CONFIG = ROOT / "config"
REFERENCE = CONFIG / "reference"
WORKBOOK = REFERENCE / "nipr_workbook"

# --------------------------------------------------------------------------------------------
# The demo's gateway business rules, derived from config/companies.yaml
# --------------------------------------------------------------------------------------------

# Lines the sample carriers do not write although the category covers them (so the demo shows
# inactive rules): dental/HMO/health-service lines, NY appointment-type LOAs (394/395), and
# marine/fire sub-lines.
INACTIVE_LOA_NAMES = re.compile(
    r"dental|^hmo|health maintenance|health services|med supp|appointments$|marine|fire|"
    r"aviation|glass|pdp|nonprofit",
    re.IGNORECASE,
)


def build_gateway_business_rules(workbook: dict[str, pd.DataFrame]) -> list[list[object]]:
    companies = yaml.safe_load((CONFIG / "companies.yaml").read_text())["companies"]
    producer_classes = pd.read_csv(REFERENCE / "producer_license_classes.csv", dtype=str)
    categories = pd.read_csv(REFERENCE / "loa_categories.csv", dtype=str)
    lines = workbook["license_class_loas"].merge(
        producer_classes[["state_code", "license_class_code"]], how="inner"
    )
    lines = lines.merge(categories, how="inner").merge(workbook["lines_of_authority"], how="left")
    rows = []
    for company in companies:
        wanted = set(company["loa_categories"])
        for setting in company["state_settings"]:
            state = setting["state_code"]
            mine = lines[(lines["state_code"] == state) & lines["loa_category"].isin(wanted)]
            # One rule per line (the table's key): a line in two of the company's categories
            # (825 "Life, Accident, Health and HMO") keeps its first in category order (Life).
            mine = mine.assign(rank=mine["loa_category"].map(CATEGORY_ORDER.index))
            mine = mine.sort_values(["license_class_code", "loa_code", "rank"])
            mine = mine.drop_duplicates(["license_class_code", "loa_code"])
            for row in mine.itertuples(index=False):
                active = not INACTIVE_LOA_NAMES.search(str(row.loa_name))
                rows.append(
                    [
                        str(company["cocode"]),
                        state,
                        row.license_class_code,
                        row.loa_code,
                        row.loa_category,
                        active,
                    ]
                )
    return rows


# --------------------------------------------------------------------------------------------


def _write(path: Path, header: list[str], rows: Iterable[Iterable[object]]) -> None:
    def cell(value: object) -> object:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float) and value.is_integer():
            return f"{value:.2f}"
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        return value

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([cell(v) for v in row] for row in rows)


def _producer_classes() -> pd.DataFrame:
    # Read when the table is built: `producer_license_classes` is written first, so a --force
    # run of both categorises the lines of the classes it has just written.
    return pd.read_csv(REFERENCE / "producer_license_classes.csv", dtype=str)


def _fee_row(row: list[object]) -> list[object]:
    return [*row[:2], float(row[2]), float(row[3]), *row[4:]]  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tables", nargs="*", help="tables to write (default: all)")
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    args = parser.parse_args(argv)
    workbook = read_workbook(WORKBOOK)

    builders: dict[str, tuple[Path, list[str], Callable[[], Iterable[Iterable[object]]]]] = {
        "jurisdictions": (
            REFERENCE / "jurisdictions.csv",
            ["state_code", "name"],
            lambda: sorted(JURISDICTIONS.items()),
        ),
        "producer_license_classes": (
            REFERENCE / "producer_license_classes.csv",
            ["state_code", "license_class_code", "residency", "note"],
            lambda: build_producer_license_classes(workbook),
        ),
        "loa_categories": (
            REFERENCE / "loa_categories.csv",
            ["state_code", "loa_code", "loa_category"],
            lambda: build_loa_categories(workbook, _producer_classes()),
        ),
        "termination_reasons": (
            REFERENCE / "termination_reasons.csv",
            ["reason_code", "description", "source"],
            lambda: [[c, d, "[PFLOW] DOMAIN 3.4"] for c, d in TERMINATION_REASONS],
        ),
        "state_termination_reasons": (
            REFERENCE / "state_termination_reasons.csv",
            ["state_code", "reason_code", "is_default", "source", "is_assumption"],
            build_state_termination_reasons,
        ),
        "state_fees": (
            REFERENCE / "state_fees.csv",
            [
                "state_code",
                "transaction_kind",
                "resident_fee",
                "nonresident_fee",
                "per_loa",
                "billed_by_state",
                "source",
                "is_assumption",
            ],
            lambda: [_fee_row(r) for r in build_state_fees()],
        ),
        "nipr_transaction_fees": (
            REFERENCE / "nipr_transaction_fees.csv",
            ["transaction_kind", "nipr_fee", "source", "is_assumption"],
            build_nipr_transaction_fees,
        ),
        "state_appointment_rules": (
            REFERENCE / "state_appointment_rules.csv",
            RULE_COLUMNS,
            build_state_appointment_rules,
        ),
        "gateway_business_rules": (
            CONFIG / "gateway_business_rules.csv",
            ["cocode", "state_code", "license_class_code", "loa_code", "loa_category", "active"],
            lambda: build_gateway_business_rules(workbook),
        ),
    }
    unknown = set(args.tables) - set(builders)
    if unknown:
        parser.error(f"unknown table(s): {', '.join(sorted(unknown))}")
    for table in args.tables or list(builders):
        path, header, build = builders[table]
        if path.exists() and not args.force:
            print(f"kept     {path.relative_to(ROOT)} (exists; --force to overwrite)")
            continue
        _write(path, header, build())
        print(f"wrote    {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
