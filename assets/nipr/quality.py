"""Run a Great Expectations suite (`schemas/expectations.py`) on a DataFrame. Pure: no Dagster.

`run_suite(frame, suite)` validates the frame through an ephemeral GE context and returns a
`SuiteOutcome`: `success` (every error-severity expectation passed; "warn" ones never block)
and `results`, one row per expectation, in suite order, as data the asset checks turn into
metadata (`to_markdown()` for the UI).

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

__all__ = ["RESULT_COLUMNS", "SuiteOutcome", "run_suite"]

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
    prepared = _prepare(frame, suite)
    result_format = {
        "result_format": "SUMMARY",
        "partial_unexpected_count": _PARTIAL_UNEXPECTED_COUNT,
    }
    with _lock:
        batch = _batch_definition().get_batch(batch_parameters={"dataframe": prepared})
        validation = batch.validate(suite, result_format=result_format)

    order = {
        (expectation.meta or {}).get("check"): i for i, expectation in enumerate(suite.expectations)
    }
    rows = sorted(
        (_result_row(result) for result in validation.results),
        key=lambda row: order.get(row["check"], len(order)),
    )
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
        row_count=len(frame),
        results=results,
    )


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
    config = result.expectation_config
    meta = config.meta or {}
    body = result.result or {}
    error = _exception_message(result.exception_info)
    observed = body.get("observed_value")
    return {
        "check": meta.get("check", config.type),
        "expectation_type": config.type,
        "columns": ", ".join(_columns_of(config.kwargs)) or None,
        "severity": meta.get("severity", "error"),
        "success": bool(result.success) and error is None,
        "unexpected_count": body.get("unexpected_count"),
        "unexpected_percent": body.get("unexpected_percent"),
        "unexpected_sample": _sample(body),
        "observed_value": None if observed is None else _format(observed),
        "error": error,
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
