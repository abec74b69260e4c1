"""Run a Great Expectations suite (`schemas/expectations.py`) on a DataFrame. Pure: no Dagster.

`run_suite(frame, suite)` validates the frame through an ephemeral GE context and returns a
`SuiteOutcome`: `success` (every error-severity expectation passed; "warn" ones never block)
and `results`, one row per expectation, in suite order, as data the asset checks turn into
metadata (`to_markdown()` for the UI).

`run_suite_in_parts(parts, suite, table_row_count=..., duplicates=...)` runs the same suite on
rows that arrive in frames (`check_scope.py` streams them from the database): what needs every
row at once is answered by the database and handed in (key duplicates from GROUP BY ... HAVING,
the row count from SELECT count(*)), GE validates the rest part by part and the results add up.

Preparing the frame:
- Only the columns the suite reads are handed to GE. The current-state tables hold no SSN
  (SPEC section 3), and this keeps it that way for samples even if a caller passes a wider
  frame (`producers` has `ssn_last4`/`ssn_encrypted` columns, never checked).
- Date columns compared by the suite (expiration_date >= issue_date) arrive from the database
  as `datetime.date` objects or as pandas timestamps; both are converted to datetime64, since
  pandas cannot compare a date with a Timestamp.

The GE context, data source, asset and batch definition are made once per process and reused
(`great_expectations` itself takes ~6 s to import; the context and batch definition ~40 ms);
runs are serialised by a lock because GE does not promise thread safety.
"""

from __future__ import annotations

import copy
import datetime as dt
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from schemas.expectations import import_gx

if TYPE_CHECKING:
    from great_expectations.core import ExpectationSuite
    from great_expectations.core.batch_definition import BatchDefinition

__all__ = [
    "RESULT_COLUMNS",
    "KeyDuplicates",
    "SuiteOutcome",
    "row_level_columns",
    "run_suite",
    "run_suite_in_parts",
]

RESULT_COLUMNS: tuple[str, ...] = (
    "check",
    "expectation_type",
    "columns",
    "severity",
    "success",
    "unexpected_count",
    "unexpected_percent",
    "unexpected_sample",
    "observed_value",
    "error",
)

SAMPLE_VALUES = 5  # distinct unexpected values shown per check
SAMPLE_CHARS = 200
_PARTIAL_UNEXPECTED_COUNT = 20  # what GE collects, of which SAMPLE_VALUES are shown
_COLUMN_KWARGS = ("column", "column_A", "column_B", "column_list")
_DATE_PAIR_TYPE = "expect_column_pair_values_a_to_be_greater_than_b"
# What needs every row of the table at once: answered by the database in run_suite_in_parts.
_UNIQUE_TYPES = frozenset(
    {"expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"}
)
_ROW_COUNT_TYPE = "expect_table_row_count_to_be_between"
_TABLE_WIDE_TYPES = _UNIQUE_TYPES | {_ROW_COUNT_TYPE}

_lock = threading.Lock()


@dataclass(frozen=True, eq=False)
class SuiteOutcome:
    """What a suite found: `success` is True when every error-severity expectation passed."""

    suite_name: str
    success: bool
    row_count: int
    results: pd.DataFrame  # RESULT_COLUMNS, one row per expectation, in suite order

    @property
    def failed_checks(self) -> tuple[str, ...]:
        """Names of the checks that failed, errors and warnings alike."""
        return tuple(self.results.loc[~self.results["success"], "check"])

    @property
    def failed_errors(self) -> tuple[str, ...]:
        failed = self.results[~self.results["success"] & (self.results["severity"] == "error")]
        return tuple(failed["check"])

    @property
    def failed_warnings(self) -> tuple[str, ...]:
        failed = self.results[~self.results["success"] & (self.results["severity"] == "warn")]
        return tuple(failed["check"])

    def to_markdown(self) -> str:
        """A heading line and one table row per check, for Dagster Markdown metadata."""
        verdict = "passed" if self.success else "failed"
        heading = (
            f"**{self.suite_name}**: {verdict} on {self.row_count:,} rows; failed checks: "
            f"{len(self.failed_errors)} errors, {len(self.failed_warnings)} warnings"
        )
        if self.results.empty:
            return heading + "\n\n_no expectations_"
        shown = pd.DataFrame(
            {
                "check": self.results["check"],
                "severity": self.results["severity"],
                "result": self.results["success"].map({True: "pass", False: "FAIL"}),
                "unexpected": self.results["unexpected_count"],
                "unexpected %": self.results["unexpected_percent"].map(_percent),
                "sample": self.results["unexpected_sample"],
                "observed": self.results["observed_value"],
                "error": self.results["error"],
            }
        )
        shown = shown.astype(object).where(shown.notna(), "")
        shown = shown.map(lambda value: str(value).replace("|", "\\|").replace("\n", " "))
        table: str = shown.to_markdown(index=False)
        return heading + "\n\n" + table


def run_suite(frame: pd.DataFrame, suite: ExpectationSuite) -> SuiteOutcome:
    """Validate `frame` against `suite`; never raises on bad data, empty or missing columns.

    A column the suite needs but the frame lacks makes that expectation fail, with GE's
    message in the `error` column.
    """
    rows = [_result_row(result) for result in _validate(frame, suite)]
    return _outcome(suite, rows, row_count=len(frame))


@dataclass(frozen=True)
class KeyDuplicates:
    """Keys held by more than one row, as the database counted them (GROUP BY ... HAVING)."""

    rows: int  # rows whose key another row holds too
    sample: tuple[tuple[Any, int], ...] = ()  # (key value or tuple of values, rows) of a few


def run_suite_in_parts(
    parts: Iterable[pd.DataFrame],
    suite: ExpectationSuite,
    *,
    table_row_count: int,
    duplicates: KeyDuplicates,
) -> SuiteOutcome:
    """`suite` on rows that arrive in parts, with what needs every row at once answered by
    the database: key uniqueness from `duplicates` and the row-count bound from
    `table_row_count` (SELECT count(*) of the whole table, whatever rows the parts hold).

    Every other expectation looks at one row at a time, so GE validates each part and the
    results add up: unexpected counts summed, the percentage over all parts' rows, samples
    merged. Memory is one part, not the table. `row_count` of the outcome is the rows checked.
    """
    gx = import_gx()
    row_level = [
        copy.deepcopy(expectation)
        for expectation in suite.expectations
        if expectation.configuration.type not in _TABLE_WIDE_TYPES
    ]
    part_suite = gx.ExpectationSuite(name=suite.name, expectations=row_level)
    merged: dict[str, _Merged] = {}
    rows_checked = 0
    seen_part = False
    for part in parts:
        seen_part = True
        rows_checked += len(part)
        for result in _validate(part, part_suite):
            row = _result_row(result)
            merged.setdefault(row["check"], _Merged(row)).add(row, result.result or {})
    if not seen_part:  # no rows: GE still says what it thinks of an empty frame
        columns, _ = _suite_columns(part_suite)
        for result in _validate(pd.DataFrame({c: [] for c in columns}), part_suite):
            row = _result_row(result)
            merged.setdefault(row["check"], _Merged(row)).add(row, result.result or {})
    rows = [entry.row() for entry in merged.values()]
    for expectation in suite.expectations:
        config = expectation.configuration
        if config.type in _UNIQUE_TYPES:
            rows.append(_duplicates_row(config, duplicates, rows_checked))
        elif config.type == _ROW_COUNT_TYPE:
            rows.append(_row_count_row(config, table_row_count))
    return _outcome(suite, rows, row_count=rows_checked)


def row_level_columns(suite: ExpectationSuite) -> list[str]:
    """The columns `run_suite_in_parts` needs in its parts (keys are counted by the database)."""
    columns: list[str] = []
    for expectation in suite.expectations:
        config = expectation.configuration
        if config.type not in _TABLE_WIDE_TYPES:
            columns += [name for name in _columns_of(config.kwargs) if name not in columns]
    return columns


def _validate(frame: pd.DataFrame, suite: ExpectationSuite) -> list[Any]:
    prepared = _prepare(frame, suite)
    result_format = {
        "result_format": "SUMMARY",
        "partial_unexpected_count": _PARTIAL_UNEXPECTED_COUNT,
    }
    with _lock:
        batch = _batch_definition().get_batch(batch_parameters={"dataframe": prepared})
        validation = batch.validate(suite, result_format=result_format)
    return list(validation.results)


def _outcome(
    suite: ExpectationSuite, rows: list[dict[str, Any]], *, row_count: int
) -> SuiteOutcome:
    order = {
        (expectation.meta or {}).get("check"): i for i, expectation in enumerate(suite.expectations)
    }
    rows = sorted(rows, key=lambda row: order.get(row["check"], len(order)))
    results = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    results = results.astype(
        {
            "success": bool,
            "unexpected_count": "Int64",
            "unexpected_percent": "Float64",
            "observed_value": object,
            "unexpected_sample": object,
            "error": object,
        }
    )
    errors_ok = results.loc[results["severity"] == "error", "success"].all()
    return SuiteOutcome(
        suite_name=suite.name,
        success=bool(errors_ok),
        row_count=row_count,
        results=results,
    )


class _Merged:
    """One expectation's results over several parts of the rows, added up."""

    def __init__(self, first: dict[str, Any]) -> None:
        self.first = first
        self.success = True
        self.errors: list[str] = []
        self.unexpected: int | None = None
        self.counted_rows = 0
        self.counts: dict[Any, int] = {}
        self.values: list[Any] = []
        self.observed: Any = None

    def add(self, row: dict[str, Any], body: Mapping[str, Any]) -> None:
        self.success = self.success and bool(row["success"])
        if row["error"] and row["error"] not in self.errors:
            self.errors.append(row["error"])
        if body.get("unexpected_count") is not None:
            self.unexpected = (self.unexpected or 0) + int(body["unexpected_count"])
            self.counted_rows += int(body.get("element_count") or 0) - int(
                body.get("missing_count") or 0
            )
        for item in body.get("partial_unexpected_counts") or []:
            key = _hashable(item["value"])
            self.counts[key] = self.counts.get(key, 0) + int(item.get("count", 1))
        for value in body.get("partial_unexpected_list") or []:
            if len(self.values) < _PARTIAL_UNEXPECTED_COUNT:
                self.values.append(value)
        if body.get("observed_value") is not None:
            self.observed = body["observed_value"]

    def row(self) -> dict[str, Any]:
        percent = None
        if self.unexpected is not None:
            percent = 100.0 * self.unexpected / self.counted_rows if self.counted_rows else 0.0
        body: dict[str, Any] = {"partial_unexpected_list": self.values}
        if self.counts:
            # Ties by value: the same sample whatever parts the rows came in.
            ranked = sorted(self.counts.items(), key=lambda item: (-item[1], _format(item[0])))
            body["partial_unexpected_counts"] = [
                {"value": value, "count": count} for value, count in ranked
            ]
        return self.first | {
            "success": self.success and not self.errors,
            "unexpected_count": self.unexpected,
            "unexpected_percent": percent,
            "unexpected_sample": _sample(body),
            "observed_value": None if self.observed is None else _format(self.observed),
            "error": "; ".join(self.errors) or None,
        }


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _duplicates_row(config: Any, duplicates: KeyDuplicates, rows_checked: int) -> dict[str, Any]:
    body = {
        "partial_unexpected_counts": [
            {"value": key, "count": count} for key, count in duplicates.sample
        ]
    }
    return _config_row(config) | {
        "success": duplicates.rows == 0,
        "unexpected_count": duplicates.rows,
        "unexpected_percent": 100.0 * duplicates.rows / rows_checked if rows_checked else 0.0,
        "unexpected_sample": _sample(body),
    }


def _row_count_row(config: Any, row_count: int) -> dict[str, Any]:
    """ExpectTableRowCountToBeBetween's rule (both bounds inclusive, None: unbounded) on a
    count the database made."""
    low, high = config.kwargs.get("min_value"), config.kwargs.get("max_value")
    success = (low is None or row_count >= low) and (high is None or row_count <= high)
    return _config_row(config) | {"success": success, "observed_value": _format(row_count)}


# --------------------------------------------------------------------------------------------
# Internals
# --------------------------------------------------------------------------------------------


@cache
def _batch_definition() -> BatchDefinition[Any]:
    gx = import_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    # tqdm bars would land in the step logs of every asset check.
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("npnflow_quality")
    asset = source.add_dataframe_asset("frame")
    definition: BatchDefinition[Any] = asset.add_batch_definition_whole_dataframe("whole_frame")
    return definition


def _suite_columns(suite: ExpectationSuite) -> tuple[list[str], set[str]]:
    """Every column the suite reads, and those compared as dates."""
    columns: list[str] = []
    dates: set[str] = set()
    for expectation in suite.expectations:
        config = expectation.configuration
        for name in _columns_of(config.kwargs):
            if name not in columns:
                columns.append(name)
        if config.type == _DATE_PAIR_TYPE:
            dates.update(_columns_of(config.kwargs))
    return columns, dates


def _prepare(frame: pd.DataFrame, suite: ExpectationSuite) -> pd.DataFrame:
    columns, dates = _suite_columns(suite)
    prepared = frame[[name for name in columns if name in frame.columns]].copy()
    for name in dates & set(prepared.columns):
        prepared[name] = _as_datetime(prepared[name])
    return prepared


def _as_datetime(series: pd.Series) -> pd.Series:
    """date objects, datetimes or timestamps as datetime64; anything else left for GE to flag."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return series
    try:
        return pd.to_datetime(series)
    except (TypeError, ValueError):
        return series


def _columns_of(kwargs: Mapping[str, Any]) -> list[str]:
    names: list[str] = []
    for key in _COLUMN_KWARGS:
        value = kwargs.get(key)
        if isinstance(value, str):
            names.append(value)
        elif isinstance(value, Iterable):
            names.extend(str(item) for item in value)
    return names


def _result_row(result: Any) -> dict[str, Any]:
    body = result.result or {}
    error = _exception_message(result.exception_info)
    observed = body.get("observed_value")
    return _config_row(result.expectation_config) | {
        "success": bool(result.success) and error is None,
        "unexpected_count": body.get("unexpected_count"),
        "unexpected_percent": body.get("unexpected_percent"),
        "unexpected_sample": _sample(body),
        "observed_value": None if observed is None else _format(observed),
        "error": error,
    }


def _config_row(config: Any) -> dict[str, Any]:
    """The columns of a result row that the expectation itself decides; the rest empty."""
    meta = config.meta or {}
    return {
        "check": meta.get("check", config.type),
        "expectation_type": config.type,
        "columns": ", ".join(_columns_of(config.kwargs)) or None,
        "severity": meta.get("severity", "error"),
        "success": True,
        "unexpected_count": None,
        "unexpected_percent": None,
        "unexpected_sample": None,
        "observed_value": None,
        "error": None,
    }


def _exception_message(info: Any) -> str | None:
    """GE's exception info is either one dict or a dict of them keyed by metric."""
    if not info:
        return None
    entries = [info] if "raised_exception" in info else list(info.values())
    messages = [
        str(entry.get("exception_message"))
        for entry in entries
        if isinstance(entry, Mapping) and entry.get("raised_exception")
    ]
    return "; ".join(dict.fromkeys(messages)) or None


def _sample(body: Mapping[str, Any]) -> str | None:
    counts = body.get("partial_unexpected_counts")
    if counts:
        parts = [
            _format(item["value"]) + (f" (x{item['count']})" if item.get("count", 1) > 1 else "")
            for item in counts[:SAMPLE_VALUES]
        ]
    else:
        values = body.get("partial_unexpected_list") or []
        parts = list(dict.fromkeys(_format(value) for value in values))[:SAMPLE_VALUES]
    if not parts:
        return None
    text = "; ".join(parts)
    return text if len(text) <= SAMPLE_CHARS else text[: SAMPLE_CHARS - 3] + "..."


def _format(value: Any) -> str:
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    elif isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return "<null>"
    if isinstance(value, pd.Timestamp | dt.datetime):
        timestamp = pd.Timestamp(value)
        return timestamp.date().isoformat() if timestamp == timestamp.normalize() else str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return ", ".join(f"{key}={_format(item)}" for key, item in value.items())
    if isinstance(value, tuple | list):
        return "(" + ", ".join(_format(item) for item in value) + ")"
    if isinstance(value, str):
        return repr(value) if value == "" or value != value.strip() else value
    return str(value)


def _percent(value: Any) -> str:
    return "" if pd.isna(value) else f"{value:.2f}"
