"""Reading the configuration files a person edits, and saying what is wrong with them. Pure.

Shared by the reference data (`reference_data.py`) and the company setup (`company_setup.py`):

- `ConfigProblem` / `ConfigError`: every problem as data (file, row or place, column, value,
  message), raised once with all of them, so an analyst fixes the files in one pass;
- `read_csv_file` and `type_columns`: a CSV read as text, then each cell converted to the type
  its table's pandera model (`schemas/reference.py`) declares, a bad cell reported and its row
  dropped; `read_yaml_file` for the YAML files (encoding and syntax errors reported alike);
- `pandera_problems`: the model's lazy validation, failure cases turned into problems.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa

# No types-PyYAML installed; mypy flags only the first importer (so: unused-ignore too).
import yaml  # type: ignore[import-untyped, unused-ignore]

from schemas.booleans import parse_boolean_word
from schemas.reference import LOA_CATEGORIES, columns_of

CATEGORY_BY_LOWER = {c.lower(): c for c in LOA_CATEGORIES}
# Text columns whose values a person may type in another letter case. Column names are a
# contract (SPEC section 3), so the name says what the values are, in every table.
_SPELLING: dict[str, Callable[[str], str]] = {
    "state_code": str.upper,
    "loa_category": lambda value: CATEGORY_BY_LOWER.get(value.lower(), value),
}


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


def show_value(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def is_blank(value: Any) -> bool:
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
    if isinstance(value, int | float) and not is_blank(value) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        return parse_boolean_word(value)
    return None


# --------------------------------------------------------------------------------------------
# CSV reading and typing
# --------------------------------------------------------------------------------------------


def read_csv_file(path: Path, label: str, problems: list[ConfigProblem]) -> pd.DataFrame | None:
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


def type_columns(
    frame: pd.DataFrame,
    model: type[pa.DataFrameModel],
    label: str,
    where: Callable[[Hashable], int | str | None],
    problems: list[ConfigProblem],
) -> pd.DataFrame:
    """Convert text cells to the types `model` declares; report bad cells and drop their rows.

    The model is the one contract: its dtype says how a cell is read (`bool`: a true/false word,
    a blank one False only if the column is nullable `boolean`; `Int64`: a whole number;
    `float`: a number; anything else: text), and `nullable` whether a blank cell is allowed.
    Rows with a bad cell are reported here and left out of the frame, so pandera does not
    report the same cell twice. Extra columns (an analyst's notes) are ignored.
    """
    columns = model.to_schema().columns
    missing = [c for c in columns if c not in frame.columns]
    for column in missing:
        problems.append(ConfigProblem(label, None, column, None, f"missing column '{column}'"))
    if missing:
        return frame.iloc[0:0]
    out = pd.DataFrame(index=frame.index)
    bad_rows: set[Hashable] = set()

    def bad(index: Hashable, column: str, value: Any, message: str) -> None:
        bad_rows.add(index)
        problems.append(ConfigProblem(label, where(index), column, value, message))

    for column, declared in columns.items():
        dtype = str(declared.dtype)
        raw = frame[column].map(lambda v: v.strip() if isinstance(v, str) else v)
        blank = raw.map(is_blank).astype(bool)
        for index in raw.index[blank] if not declared.nullable else []:
            bad(index, column, "", f"{column} is required (the cell is blank)")
        if dtype in ("bool", "boolean"):
            parsed = raw.map(lambda v: None if is_blank(v) else parse_bool(v))
            for index in parsed.index[parsed.isna() & ~blank]:
                bad(index, column, raw[index], f"{show_value(raw[index])} is not true or false")
            if dtype == "boolean":  # pandas' nullable boolean: blank means unknown
                out[column] = pd.array(parsed.tolist(), dtype="boolean")
            else:
                out[column] = parsed.fillna(False).astype(bool)
        elif dtype == "Int64" or dtype.startswith("float"):
            number = pd.to_numeric(raw.where(~blank), errors="coerce")
            for index in number.index[number.isna() & ~blank]:
                bad(index, column, raw[index], f"{show_value(raw[index])} is not a number")
            if dtype == "Int64":
                whole = number.dropna()
                for index in whole.index[whole != whole.round()]:
                    bad(
                        index, column, raw[index], f"{show_value(raw[index])} is not a whole number"
                    )
                out[column] = number.where(number == number.round()).astype("Int64")
            else:
                out[column] = number.astype(float)
        else:
            values = raw.map(lambda v: pd.NA if is_blank(v) else str(v))
            spelling = _SPELLING.get(column)
            if spelling is not None:
                # A blank cell is missing here (NaN in a `str` column, not pd.NA): left as is.
                values = values.map(lambda v, spell=spelling: v if is_blank(v) else spell(v))
            out[column] = values.astype("str")
    return out.drop(index=list(bad_rows))


# --------------------------------------------------------------------------------------------
# pandera failures as problems
# --------------------------------------------------------------------------------------------


def _column_message(column: str, check: str, value: Any) -> str:
    shown = show_value(value)
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


def pandera_problems(
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
        row = None if is_blank(index) else where(index)
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
        also = ", ".join(
            str(where(i)) if not isinstance(where(i), int) else f"row {where(i)}" for i in others
        )
        problems.append(
            ConfigProblem(
                label, where(first), None, value, f"{described} is listed twice (also {also})"
            )
        )
    return problems


def row_number(index: Hashable) -> int | str | None:
    return int(index) if isinstance(index, int | float) and not is_blank(index) else None


def no_row(index: Hashable) -> None:
    return None


def finish(frame: pd.DataFrame, model: type[pa.DataFrameModel]) -> pd.DataFrame:
    return frame[columns_of(model)].reset_index(drop=True)


def keys_of(frame: pd.DataFrame, columns: list[str]) -> set[tuple[str, ...]]:
    return set(frame[columns].astype(str).itertuples(index=False, name=None))


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
            ConfigProblem(
                label,
                where,
                None,
                None,
                f"YAML syntax error: {reason} (check indentation, colons and quotes)",
            )
        )
    return False, None
