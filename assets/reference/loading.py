"""Read and validate the reference data and the customer's company setup. Pure: no Dagster.

- `load_reference_data(reference_dir)` reads NIPR's workbook (`nipr_workbook/`) and the
  editable reference CSVs beside it.
- `load_company_config(config_dir, reference)` reads `companies.yaml` and
  `gateway_business_rules.csv` and checks them against the reference tables.

Both return one DataFrame per database table, with exactly the table's columns (codes as text,
flags as `bool`, unknown-able flags as nullable `boolean`, fees as `float`, day counts as
nullable `Int64`). Both validate everything before failing, then raise one `ConfigError`
that lists every problem on its own line, naming the file, the row or company, and the value,
so a compliance analyst can fix the files in one pass.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
import yaml

from assets.reference.workbook import WORKBOOK_FILES, read_workbook
from schemas.reference import (
    COMPANY_CONFIG_MODELS,
    JURISDICTION_CODES,
    LOA_CATEGORIES,
    REFERENCE_MODELS,
    columns_of,
)

WORKBOOK_DIR = "nipr_workbook"
COMPANIES_FILE = "companies.yaml"
GATEWAY_RULES_FILE = "gateway_business_rules.csv"

# Column kinds of the editable CSV files. A trailing "?" means a blank cell is allowed (unknown).
#   state: jurisdiction code (upper-cased)   code: NIPR/NAIC code, text   text: free text
#   bool: true/false (also yes/no, 1/0)      int: whole number of days    float: amount
REFERENCE_CSV_COLUMNS: dict[str, dict[str, str]] = {
    "jurisdictions": {"state_code": "state", "name": "text"},
    "producer_license_classes": {
        "state_code": "state",
        "license_class_code": "code",
        "residency": "text",
        "note": "text?",
    },
    "loa_categories": {"state_code": "state", "loa_code": "code", "loa_category": "category"},
    "termination_reasons": {"reason_code": "code", "description": "text?", "source": "text?"},
    "state_termination_reasons": {
        "state_code": "state",
        "reason_code": "code",
        "is_default": "bool",
        "source": "text?",
        "is_assumption": "bool",
    },
    "state_fees": {
        "state_code": "state",
        "transaction_kind": "text",
        "resident_fee": "float",
        "nonresident_fee": "float",
        "per_loa": "bool",
        "billed_by_state": "bool",
        "source": "text?",
        "is_assumption": "bool",
    },
    "state_appointment_rules": {
        "state_code": "state",
        "appointment_filing": "text",
        "jit_allowed": "bool",
        "jit_deadline_days": "int?",
        "jit_trigger": "text?",
        "effective_date_specifiable": "bool?",
        "max_backdate_days": "int?",
        "allows_future_effective_date": "bool?",
        "terminations_via_nipr": "bool",
        "termination_date_specifiable": "bool?",
        "termination_max_backdate_days": "int?",
        "source": "text?",
        "is_assumption": "bool",
    },
}
GATEWAY_RULES_COLUMNS = {
    "cocode": "code",
    "state_code": "state",
    "license_class_code": "code",
    "loa_code": "code",
    "loa_category": "category?",
    "active": "bool",
}

REFERENCE_KEYS = (
    "jurisdictions",
    "license_classes",
    "lines_of_authority",
    "license_class_loas",
    "producer_license_classes",
    "loa_categories",
    "termination_reasons",
    "state_termination_reasons",
    "state_fees",
    "state_appointment_rules",
)
COMPANY_CONFIG_KEYS = (
    "companies",
    "company_loa_categories",
    "company_state_settings",
    "gateway_business_rules",
)

_TRUE = {"true", "yes", "y", "1", "t"}
_FALSE = {"false", "no", "n", "0", "f"}
_CATEGORY_BY_LOWER = {c.lower(): c for c in LOA_CATEGORIES}
_JURISDICTIONS = frozenset(JURISDICTION_CODES)


# --------------------------------------------------------------------------------------------
# Problems
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong in a configuration file.

    `row` is the line number in a CSV file (the header is line 1), or, in `companies.yaml`,
    where the value is (`company 91234, state_settings[2]`, entries counted from 1).
    """

    file: str
    row: int | str | None
    column: str | None
    value: Any
    message: str

    def __str__(self) -> str:
        where = [self.file]
        if isinstance(self.row, int):
            where.append(f"row {self.row}" + (f", column {self.column}" if self.column else ""))
        elif self.row:
            where.append(self.row)
        elif self.column:
            where.append(f"column {self.column}")
        return ": ".join([*where, self.message])


class ConfigError(ValueError):
    """The configuration cannot be loaded; `problems` lists every reason, as data."""

    def __init__(self, problems: Iterable[ConfigProblem]):
        self.problems: list[ConfigProblem] = list(problems)
        super().__init__(str(self))

    def __str__(self) -> str:
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the configuration; fix and reload:"
        return "\n".join([head, *(str(p) for p in self.problems)])


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _blank(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def parse_bool(value: Any) -> bool | None:
    """True/False from a config cell (true/false, yes/no, 1/0, real booleans); None if not."""
    if isinstance(value, bool):
        return value
    if hasattr(value, "dtype") and getattr(value.dtype, "kind", "") == "b":  # numpy bool
        return bool(value)
    if isinstance(value, int | float) and not _blank(value) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return None


# --------------------------------------------------------------------------------------------
# CSV reading and typing
# --------------------------------------------------------------------------------------------


def _read_csv_file(path: Path, label: str, problems: list[ConfigProblem]) -> pd.DataFrame | None:
    if not path.is_file():
        problems.append(ConfigProblem(label, None, None, str(path), f"file not found ({path})"))
        return None
    try:
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8-sig"
        )
    except UnicodeDecodeError:
        problems.append(
            ConfigProblem(label, None, None, None, "not UTF-8 text: save it as CSV UTF-8")
        )
        return None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else "empty file"
        problems.append(ConfigProblem(label, None, None, None, f"not a readable CSV: {reason}"))
        return None
    frame.columns = [str(c).strip() for c in frame.columns]
    frame.index = frame.index + 2  # the line number a spreadsheet user sees (header = 1)
    return frame


def _type_columns(
    frame: pd.DataFrame,
    kinds: Mapping[str, str],
    label: str,
    where: Callable[[Hashable], int | str | None],
    problems: list[ConfigProblem],
) -> pd.DataFrame:
    """Convert text cells to the table's types; report bad cells and drop their rows.

    Rows with a bad cell are reported here and left out of the frame, so pandera does not
    report the same cell twice. Extra columns (an analyst's notes) are ignored.
    """
    missing = [c for c in kinds if c not in frame.columns]
    for column in missing:
        problems.append(ConfigProblem(label, None, column, None, f"missing column '{column}'"))
    if missing:
        return frame.iloc[0:0]
    out = pd.DataFrame(index=frame.index)
    bad_rows: set[Hashable] = set()

    def bad(index: Hashable, column: str, value: Any, message: str) -> None:
        bad_rows.add(index)
        problems.append(ConfigProblem(label, where(index), column, value, message))

    for column, kind in kinds.items():
        optional = kind.endswith("?")
        kind = kind.rstrip("?")
        raw = frame[column].map(lambda v: v.strip() if isinstance(v, str) else v)
        for index in raw.index[raw.map(_blank)] if not optional else []:
            bad(index, column, "", f"{column} is required (the cell is blank)")
        if kind in ("state", "code", "text", "category"):
            values = raw.map(lambda v: pd.NA if _blank(v) else str(v))
            if kind == "state":
                values = values.map(lambda v: v if v is pd.NA else v.upper())
            if kind == "category":
                values = values.map(
                    lambda v: v if v is pd.NA else _CATEGORY_BY_LOWER.get(v.lower(), v)
                )
            out[column] = values.astype("str")
        elif kind == "bool":
            parsed = raw.map(lambda v: None if _blank(v) else parse_bool(v))
            for index in parsed.index[parsed.isna() & ~raw.map(_blank)]:
                bad(index, column, raw[index], f"{_show(raw[index])} is not true or false")
            if optional:
                out[column] = pd.array(parsed.tolist(), dtype="boolean")
            else:
                out[column] = parsed.fillna(False).astype(bool)
        elif kind in ("int", "float"):
            number = pd.to_numeric(raw.where(~raw.map(_blank)), errors="coerce")
            for index in number.index[number.isna() & ~raw.map(_blank)]:
                bad(index, column, raw[index], f"{_show(raw[index])} is not a number")
            if kind == "int":
                whole = number.dropna()
                for index in whole.index[whole != whole.round()]:
                    bad(index, column, raw[index], f"{_show(raw[index])} is not a whole number")
                out[column] = number.where(number == number.round()).astype("Int64")
            else:
                out[column] = number.astype(float)
        else:  # pragma: no cover - a typo in the kinds tables above
            raise ValueError(f"unknown column kind {kind!r}")
    return out.drop(index=list(bad_rows))


# --------------------------------------------------------------------------------------------
# pandera failures as problems
# --------------------------------------------------------------------------------------------


def _column_message(column: str, check: str, value: Any) -> str:
    shown = _show(value)
    if check.startswith("isin"):
        if column == "state_code":
            return f"state {shown} is not one of the 54 NIPR jurisdictions"
        if column == "loa_category":
            return f"category {shown} is not one of: {', '.join(LOA_CATEGORIES)}"
        allowed = check[len("isin(") : -1]
        return f"{column} {shown} is not one of {allowed}"
    if check.startswith("str_matches"):
        if column == "cocode":
            return f"CoCode {shown} must be 5 digits (write it in quotes to keep leading zeros)"
        if column == "fein":
            return f"FEIN {shown} must be 9 digits, without a dash"
        if column == "reason_code":
            return f"reason code {shown} must be upper-case letters and underscores"
        return f"{column} {shown} must be a numeric NIPR code"
    if check.startswith("greater_than_or_equal_to"):
        return f"{column} {shown} must be 0 or more"
    if check.startswith("str_length"):
        return f"{column} must not be blank"
    if check == "not_nullable":
        return f"{column} is required (the value is blank)"
    if check.startswith("dtype"):
        return f"{column} has the wrong type ({check}); this is a loader defect, not your data"
    return f"{column} {shown} fails the check {check}"


def _pandera_problems(
    frame: pd.DataFrame,
    model: type[pa.DataFrameModel],
    label: str,
    where: Callable[[Hashable], int | str | None],
    describe_key: Callable[[pd.Series], str] | None = None,
) -> list[ConfigProblem]:
    """Validate lazily; turn each failure case into a problem (data, not one string)."""
    try:
        model.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as error:
        cases = error.failure_cases
    else:
        return []
    problems: list[ConfigProblem] = []
    schema = model.to_schema()
    unique_checks = cases["check"].isin(["multiple_fields_uniqueness", "field_uniqueness"])
    frame_wide: set[tuple[str, Hashable]] = set()  # (check, index) already reported
    for _, case in cases[~unique_checks].iterrows():
        column, check, value, index = (
            case["column"],
            str(case["check"]),
            case["failure_case"],
            case["index"],
        )
        row = None if _blank(index) else where(index)
        if case["schema_context"] == "DataFrameSchema" and column == schema.name:
            message = (
                f"missing column '{value}'"
                if check == "column_in_dataframe"
                else f"unexpected column '{value}'"
                if check == "column_in_schema"
                else check
            )
            problems.append(ConfigProblem(label, row, None, value, message))
            continue
        if case["schema_context"] == "DataFrameSchema":
            # A check on whole rows (one default per state): pandera lists every cell of a
            # failing row; report the row once.
            if (check, index) in frame_wide:
                continue
            frame_wide.add((check, index))
            state = frame.loc[index, "state_code"] if "state_code" in frame.columns else None
            message = f"{check} ({state})" if state is not None else check
            problems.append(ConfigProblem(label, row, None, state, message))
            continue
        problems.append(
            ConfigProblem(label, row, column, value, _column_message(column, check, value))
        )
    if unique_checks.any():
        keys = schema.unique or [c for c, col in schema.columns.items() if col.unique]
        key_list = [keys] if isinstance(keys, str) else list(keys)
        for key in [key_list] if schema.unique else [[k] for k in key_list]:
            problems.extend(_duplicate_problems(frame, key, label, where, describe_key))
    return problems


def _duplicate_problems(
    frame: pd.DataFrame,
    key: list[str],
    label: str,
    where: Callable[[Hashable], int | str | None],
    describe_key: Callable[[pd.Series], str] | None,
) -> list[ConfigProblem]:
    duplicated = frame[frame.duplicated(key, keep=False)]
    problems = []
    for _, group in duplicated.groupby(key, sort=False):
        first, *others = list(group.index)
        value = ", ".join(f"{k}={group.iloc[0][k]}" for k in key)
        described = describe_key(group.iloc[0]) if describe_key else value
        also = ", ".join(str(where(i)) if not isinstance(where(i), int) else f"row {where(i)}"
                         for i in others)  # fmt: skip
        problems.append(
            ConfigProblem(
                label, where(first), None, value, f"{described} is listed twice (also {also})"
            )
        )
    return problems


# --------------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------------


def _row_number(index: Hashable) -> int | str | None:
    return int(index) if isinstance(index, int | float) and not _blank(index) else None


def load_reference_data(reference_dir: Path) -> dict[str, pd.DataFrame]:
    """Every reference table, validated, from `reference_dir` (normally `config/reference`).

    Keys: jurisdictions, license_classes, lines_of_authority, license_class_loas,
    producer_license_classes, loa_categories, termination_reasons, state_termination_reasons,
    state_fees, state_appointment_rules. Raises ConfigError listing every problem.
    """
    reference_dir = Path(reference_dir)
    problems: list[ConfigProblem] = []
    frames: dict[str, pd.DataFrame] = {}

    workbook_dir = reference_dir / WORKBOOK_DIR
    missing = [name for name in WORKBOOK_FILES if not (workbook_dir / name).is_file()]
    for name in missing:
        problems.append(
            ConfigProblem(f"{WORKBOOK_DIR}/{name}", None, None, None, "file not found "
                          f"({workbook_dir / name}): restore NIPR's workbook export")
        )  # fmt: skip
    if not missing:
        try:
            frames.update(read_workbook(workbook_dir))
        except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
            problems.append(ConfigProblem(WORKBOOK_DIR, None, None, None, str(error)))
    for table in ("license_classes", "lines_of_authority", "license_class_loas"):
        if table in frames:
            label = f"{WORKBOOK_DIR} ({table})"
            problems += _pandera_problems(frames[table], REFERENCE_MODELS[table], label, _none)

    for table, kinds in REFERENCE_CSV_COLUMNS.items():
        label = f"{table}.csv"
        raw = _read_csv_file(reference_dir / label, label, problems)
        if raw is None:
            continue
        frame = _type_columns(raw, kinds, label, _row_number, problems)
        frame = frame[list(kinds)] if not frame.empty or set(kinds) <= set(frame) else frame
        problems += _pandera_problems(frame, REFERENCE_MODELS[table], label, _row_number)
        frames[table] = frame

    problems += _reference_cross_checks(frames)
    if problems:
        raise ConfigError(problems)
    return {table: _finish(frames[table], REFERENCE_MODELS[table]) for table in REFERENCE_KEYS}


def _none(index: Hashable) -> None:
    return None


def _finish(frame: pd.DataFrame, model: type[pa.DataFrameModel]) -> pd.DataFrame:
    return frame[columns_of(model)].reset_index(drop=True)


def _keys(frame: pd.DataFrame, columns: list[str]) -> set[tuple[str, ...]]:
    return set(frame[columns].astype(str).itertuples(index=False, name=None))


def _reference_cross_checks(frames: dict[str, pd.DataFrame]) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []

    def per_row(table: str, bad: pd.Series, message: Callable[[pd.Series], str], value: str):
        frame = frames[table]
        for index, row in frame[bad].iterrows():
            problems.append(
                ConfigProblem(f"{table}.csv", _row_number(index), None, row[value], message(row))
            )

    if "jurisdictions" in frames:
        listed = set(frames["jurisdictions"]["state_code"])
        for state in sorted(_JURISDICTIONS - listed):
            problems.append(
                ConfigProblem("jurisdictions.csv", None, "state_code", state,
                              f"jurisdiction {state!r} is missing: all 54 must be listed")
            )  # fmt: skip

    if "lines_of_authority" in frames and "loa_categories" in frames:
        known = _keys(frames["lines_of_authority"], ["state_code", "loa_code"])
        frame = frames["loa_categories"]
        bad = pd.Series(
            [k not in known for k in frame[["state_code", "loa_code"]].itertuples(index=False, name=None)],  # noqa: E501
            index=frame.index, dtype=bool,
        )  # fmt: skip
        per_row("loa_categories", bad, lambda r: f"LOA {r['loa_code']!r} is not a line of "
                f"authority of {r['state_code']} in NIPR's workbook", "loa_code")  # fmt: skip

    if "license_classes" in frames and "producer_license_classes" in frames:
        known = _keys(frames["license_classes"], ["state_code", "license_class_code"])
        frame = frames["producer_license_classes"]
        pairs = frame[["state_code", "license_class_code"]].itertuples(index=False, name=None)
        bad = pd.Series([k not in known for k in pairs], index=frame.index, dtype=bool)
        per_row("producer_license_classes", bad, lambda r: f"license class "
                f"{r['license_class_code']!r} is not a class of {r['state_code']} in NIPR's "
                "workbook", "license_class_code")  # fmt: skip

    if "termination_reasons" in frames and "state_termination_reasons" in frames:
        known_reasons = set(frames["termination_reasons"]["reason_code"])
        frame = frames["state_termination_reasons"]
        per_row("state_termination_reasons", ~frame["reason_code"].isin(known_reasons),
                lambda r: f"reason code {r['reason_code']!r} ({r['state_code']}) is not in "
                "termination_reasons.csv", "reason_code")  # fmt: skip

    # Every jurisdiction needs a producer class, both fee rows and a rules row: without them
    # eligibility has no line, no fee estimate or no JIT rule for the state.
    completeness = [
        ("producer_license_classes", None, "has no producer license class"),
        ("state_fees", "appointment", "has no appointment fee row"),
        ("state_fees", "termination", "has no termination fee row"),
        ("state_appointment_rules", None, "has no appointment rules row"),
    ]
    for table, kind, message in completeness:
        if table not in frames:
            continue
        frame = frames[table]
        if kind is not None:
            frame = frame[frame["transaction_kind"] == kind]
        for state in sorted(_JURISDICTIONS - set(frame["state_code"])):
            problems.append(ConfigProblem(f"{table}.csv", None, "state_code", state,
                                          f"state {state!r} {message}"))  # fmt: skip
    return problems


# --------------------------------------------------------------------------------------------
# Company configuration
# --------------------------------------------------------------------------------------------

_COMPANY_KEYS = {
    "cocode",
    "company_name",
    "fein",
    "producer_assignment_required",
    "loa_categories",
    "state_settings",
}
_SETTING_KEYS = {"state_code", "state_company_id", "jit"}


def read_yaml_file(
    path: Path, label: str, problems: list[ConfigProblem], *, loader: Any
) -> tuple[bool, Any]:
    """(True, the document), or (False, None) with the problem recorded: not UTF-8 (a BOM is
    accepted), or a YAML syntax error with its line and column."""
    try:
        text = path.read_text(encoding="utf-8-sig")
        return True, yaml.load(text, Loader=loader)  # noqa: S506 (Base/Safe loaders only)
    except UnicodeDecodeError:
        problems.append(ConfigProblem(label, None, None, None, "not UTF-8 text"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        reason = getattr(error, "problem", None) or str(error)
        problems.append(
            ConfigProblem(label, where, None, None, f"YAML syntax error: {reason} "
                          "(check indentation, colons and quotes)")
        )  # fmt: skip
    return False, None


def _read_companies_yaml(path: Path, problems: list[ConfigProblem]) -> list[Any] | None:
    label = COMPANIES_FILE
    if not path.is_file():
        problems.append(ConfigProblem(label, None, None, str(path), f"file not found ({path})"))
        return None
    # BaseLoader keeps every scalar as text: "01234" stays "01234" (the default loader reads
    # an unquoted 01234 as the octal number 668), and we parse true/false ourselves.
    readable, document = read_yaml_file(path, label, problems, loader=yaml.BaseLoader)
    if not readable:
        return None
    if not isinstance(document, dict) or not isinstance(document.get("companies"), list):
        problems.append(
            ConfigProblem(label, None, None, None,
                          "expected a top-level 'companies:' list (see the comments at the top "
                          "of the shipped file)")
        )  # fmt: skip
        return None
    return document["companies"]


def _company_frames(
    entries: list[Any], problems: list[ConfigProblem]
) -> tuple[dict[str, pd.DataFrame], dict[str, dict[int, str]]]:
    """The three company tables from the YAML entries, with a locator for every row."""
    label = COMPANIES_FILE
    rows: dict[str, list[dict[str, Any]]] = {
        "companies": [],
        "company_loa_categories": [],
        "company_state_settings": [],
    }
    locators: dict[str, dict[int, str]] = {table: {} for table in rows}

    def add(table: str, row: dict[str, Any], locator: str) -> None:
        locators[table][len(rows[table])] = locator
        rows[table].append(row)

    def text(value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            problems.append(ConfigProblem(label, f"companies[{number}]", None, entry,
                                          "each company must be a mapping of keys to values"))  # fmt: skip
            continue
        cocode = text(entry.get("cocode"))
        here = f"company {cocode}" if isinstance(cocode, str) and cocode else f"companies[{number}]"
        for key in sorted(set(entry) - _COMPANY_KEYS):
            problems.append(ConfigProblem(label, here, key, key, f"unknown key {key!r} (expected "
                                          f"{', '.join(sorted(_COMPANY_KEYS))})"))  # fmt: skip
        for key in ("cocode", "company_name", "loa_categories", "state_settings"):
            if key not in entry or _blank(entry.get(key)):
                problems.append(ConfigProblem(label, here, key, None, f"{key} is required"))
        if not isinstance(cocode, str) or not cocode:
            continue
        assignment = entry.get("producer_assignment_required", "false")
        required = parse_bool(assignment)
        if required is None:
            problems.append(ConfigProblem(label, here, "producer_assignment_required", assignment,
                                          f"producer_assignment_required {_show(assignment)} is "
                                          "not true or false"))  # fmt: skip
        fein = text(entry.get("fein"))
        add(
            "companies",
            {
                "cocode": cocode,
                "company_name": text(entry.get("company_name")) or "",
                "fein": None if _blank(fein) else str(fein),
                "producer_assignment_required": bool(required),
            },
            here,
        )

        categories = entry.get("loa_categories") or []
        if not isinstance(categories, list):
            problems.append(ConfigProblem(label, here, "loa_categories", categories,
                                          "loa_categories must be a list, e.g. [Life, Property]"))  # fmt: skip
            categories = []
        for position, category in enumerate(categories, start=1):
            if not isinstance(category, str):
                problems.append(ConfigProblem(label, f"{here}, loa_categories[{position}]", None,
                                              category, "category must be a name"))  # fmt: skip
                continue
            name = _CATEGORY_BY_LOWER.get(category.strip().lower(), category.strip())
            add("company_loa_categories", {"cocode": cocode, "loa_category": name},
                f"{here}, loa_categories[{position}]")  # fmt: skip

        settings = entry.get("state_settings") or []
        if not isinstance(settings, list):
            problems.append(ConfigProblem(label, here, "state_settings", None,
                                          "state_settings must be a list of entries"))  # fmt: skip
            settings = []
        for position, setting in enumerate(settings, start=1):
            at = f"{here}, state_settings[{position}]"
            if not isinstance(setting, dict):
                problems.append(ConfigProblem(label, at, None, setting, "each state setting must "
                                              "be a mapping {state_code, state_company_id, jit}"))  # fmt: skip
                continue
            for key in sorted(set(setting) - _SETTING_KEYS):
                problems.append(ConfigProblem(label, at, key, key, f"unknown key {key!r} "
                                              f"(expected {', '.join(sorted(_SETTING_KEYS))})"))  # fmt: skip
            state = text(setting.get("state_code"))
            if _blank(state) or not isinstance(state, str):
                problems.append(ConfigProblem(label, at, "state_code", None,
                                              "state_code is required"))  # fmt: skip
                continue
            jit_raw = setting.get("jit", "false")
            jit = parse_bool(jit_raw)
            if jit is None:
                problems.append(ConfigProblem(label, at, "jit", jit_raw,
                                              f"jit {_show(jit_raw)} is not true or false"))  # fmt: skip
            company_id = text(setting.get("state_company_id"))
            add(
                "company_state_settings",
                {
                    "cocode": cocode,
                    "state_code": state.upper(),
                    "state_company_id": None if _blank(company_id) else str(company_id),
                    "jit": bool(jit),
                },
                at,
            )

    columns = {table: columns_of(COMPANY_CONFIG_MODELS[table]) for table in rows}
    frames = {}
    for table, table_rows in rows.items():
        frame = pd.DataFrame(table_rows, columns=columns[table])
        for column, dtype in frame.dtypes.items():
            if column in ("producer_assignment_required", "jit"):
                frame[column] = frame[column].astype(bool)
            elif dtype.kind != "b":
                frame[column] = frame[column].astype("str")
        frames[table] = frame
    return frames, locators


def _reference_for_company_checks(
    reference: Mapping[str, pd.DataFrame],
) -> dict[str, Any]:
    """What the company checks need, tolerant of frames read back from a database."""

    def codes(table: str, columns: list[str]) -> set[tuple[str, ...]] | None:
        frame = reference.get(table)
        if frame is None:
            return None
        return set(frame[columns].astype(str).apply(lambda s: s.str.strip()).itertuples(
            index=False, name=None))  # fmt: skip

    rules = reference.get("state_appointment_rules")
    no_jit: set[str] | None = None
    if rules is not None:
        allowed = rules["jit_allowed"].map(parse_bool)
        no_jit = set(rules.loc[allowed != True, "state_code"].astype(str))  # noqa: E712
    return {
        "lines": codes("license_class_loas", ["state_code", "license_class_code", "loa_code"]),
        "categories": codes("loa_categories", ["state_code", "loa_code", "loa_category"]),
        "no_jit": no_jit,
    }


def load_company_config(
    config_dir: Path, reference: Mapping[str, pd.DataFrame]
) -> dict[str, pd.DataFrame]:
    """The customer's company tables, validated against `reference`.

    Reads `companies.yaml` and `gateway_business_rules.csv` from `config_dir`. `reference`
    needs `license_class_loas`, `loa_categories` and `state_appointment_rules` (as returned by
    `load_reference_data`, or read back from the database). Keys: companies,
    company_loa_categories, company_state_settings, gateway_business_rules. Raises ConfigError
    listing every problem.
    """
    config_dir = Path(config_dir)
    problems: list[ConfigProblem] = []
    entries = _read_companies_yaml(config_dir / COMPANIES_FILE, problems)
    frames, locators = _company_frames(entries or [], problems)

    for table in ("companies", "company_loa_categories", "company_state_settings"):
        at = locators[table]

        def where(index: Hashable, at: dict[int, str] = at) -> str | None:
            return at.get(int(index)) if isinstance(index, int) else None

        describe = None
        if table == "company_state_settings":
            describe = lambda r: f"state {r['state_code']!r}"  # noqa: E731
        elif table == "company_loa_categories":
            describe = lambda r: f"category {r['loa_category']!r}"  # noqa: E731
        elif table == "companies":
            describe = lambda r: f"CoCode {r['cocode']!r}"  # noqa: E731
        found = _pandera_problems(
            frames[table], COMPANY_CONFIG_MODELS[table], COMPANIES_FILE, where, describe
        )
        if table != "companies":  # a bad CoCode is reported once, on the company itself
            found = [p for p in found if p.column != "cocode"]
        problems += found

    label = GATEWAY_RULES_FILE
    raw = _read_csv_file(config_dir / label, label, problems)
    if raw is not None:
        rules = _type_columns(raw, GATEWAY_RULES_COLUMNS, label, _row_number, problems)
        if set(GATEWAY_RULES_COLUMNS) <= set(rules.columns):
            rules = rules[list(GATEWAY_RULES_COLUMNS)]
            problems += _pandera_problems(
                rules, COMPANY_CONFIG_MODELS["gateway_business_rules"], label, _row_number,
                lambda r: f"line (company {r['cocode']}, {r['state_code']}, class "
                f"{r['license_class_code']}, LOA {r['loa_code']})",
            )  # fmt: skip
        frames["gateway_business_rules"] = rules
    else:
        frames["gateway_business_rules"] = pd.DataFrame(columns=list(GATEWAY_RULES_COLUMNS)).astype(
            {"active": bool}
        )

    problems += _company_cross_checks(
        frames, locators, _reference_for_company_checks(reference), entries is not None
    )
    if problems:
        raise ConfigError(problems)
    return {
        table: _finish(frames[table], COMPANY_CONFIG_MODELS[table]) for table in COMPANY_CONFIG_KEYS
    }


def _company_cross_checks(
    frames: dict[str, pd.DataFrame],
    locators: dict[str, dict[int, str]],
    reference: dict[str, Any],
    companies_readable: bool = True,
) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    companies = frames["companies"]
    settings = frames["company_state_settings"]
    categories = frames["company_loa_categories"]
    rules = frames["gateway_business_rules"]

    no_jit = reference["no_jit"]
    if no_jit is not None:
        for index, row in settings[
            settings["jit"] & settings["state_code"].isin(no_jit)
        ].iterrows():
            problems.append(
                ConfigProblem(COMPANIES_FILE, locators["company_state_settings"].get(index),
                              "jit", row["state_code"],
                              f"jit is true for state {row['state_code']!r}, but "
                              "state_appointment_rules.csv says that state does not allow "
                              "just-in-time appointments: set jit: false")
            )  # fmt: skip

    if rules.empty or "cocode" not in rules.columns:
        return problems
    known_companies = set(companies["cocode"])
    known_settings = _keys(settings, ["cocode", "state_code"])
    company_categories = _keys(categories, ["cocode", "loa_category"])
    lines = reference["lines"]
    line_categories = reference["categories"]
    # A missing company or state setting affects every rule of it: one problem per company
    # (or company and state), naming its rows, instead of one per rule.
    unknown_company: dict[str, list[int]] = {}
    unset_state: dict[tuple[str, str], list[int]] = {}
    for index, row in rules.iterrows():
        cocode, state = row["cocode"], row["state_code"]
        klass, loa, category = row["license_class_code"], row["loa_code"], row["loa_category"]
        if not companies_readable:
            pass  # companies.yaml could not be read (reported): check only the lines
        elif cocode not in known_companies:
            unknown_company.setdefault(cocode, []).append(int(index))
            continue
        elif (cocode, state) not in known_settings:
            unset_state.setdefault((cocode, state), []).append(int(index))
        head = f"company {cocode}, {state}, class {klass}, LOA {loa}: "

        def problem(
            value: Any, column: str, message: str, index: Hashable = index, head: str = head
        ) -> None:
            problems.append(
                ConfigProblem(GATEWAY_RULES_FILE, _row_number(index), column, value, head + message)
            )

        if lines is not None and (state, klass, loa) not in lines:
            problem(loa, "loa_code", f"line LOA {loa!r} of license class {klass!r} is not in "
                    f"NIPR's workbook for {state}")  # fmt: skip
            continue
        if _blank(category) or not companies_readable:
            continue
        if (cocode, category) not in company_categories:
            problem(category, "loa_category", f"category {category!r} is not among company "
                    f"{cocode}'s loa_categories in {COMPANIES_FILE}")  # fmt: skip
        elif line_categories is not None and (state, loa, category) not in line_categories:
            problem(category, "loa_category", f"LOA {loa!r} is not in category {category!r} "
                    f"for {state} in loa_categories.csv")  # fmt: skip
    for cocode, rows in unknown_company.items():
        problems.append(
            ConfigProblem(GATEWAY_RULES_FILE, rows[0], "cocode", cocode,
                          f"company {cocode}: CoCode {cocode!r} is not a company in "
                          f"{COMPANIES_FILE} ({_rows_text(rows)})")
        )  # fmt: skip
    for (cocode, state), rows in unset_state.items():
        problems.append(
            ConfigProblem(GATEWAY_RULES_FILE, rows[0], "state_code", state,
                          f"company {cocode} has no state setting for {state!r} in "
                          f"{COMPANIES_FILE}: add one, or remove its rules ({_rows_text(rows)})")
        )  # fmt: skip
    return problems


def _rows_text(rows: list[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:5])
    more = f" and {len(rows) - 5} more" if len(rows) > 5 else ""
    return f"{len(rows)} rule{'s' if len(rows) != 1 else ''}: row{'s' if len(rows) != 1 else ''} {shown}{more}"
