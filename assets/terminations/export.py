"""The terminate template filled from the appointments report (SPEC section 7). Pure: no Dagster.

The seed's "Bulk Terminate Appointments" routine copied columns by hand from the report into the
terminate template. Here one call does it:

- `terminate_rows_from_report(report, cocode, states, loas, ...)` picks the report's `Appointed`
  lines of one company (CoCode), optionally only in some states and for some lines of
  authority, and returns them as the terminate template's columns: one row per producer, state
  and line, sorted by NPN, state and line;
- `terminate_csv(rows, age)` and `terminate_xlsx(rows, reference, age)` turn those rows into
  the bytes of a file ready to drop into `inbox/terminate/`;
- `export_accepted.py::with_accepted_lines` adds to the report the lines NIPR Accepted since
  the last sync, which the report, built from the synced appointments, cannot show yet.

For the analyst who checks the file before dropping it, the writers add informational columns
after the template's (`assets/uploads/informational.py`, which the upload reader skips without
a warning, so the file drops back unchanged): each line's name beside its code (`Line of
Authority Name`), and how old the report was (`Report Built At`, `NIPR Data As Of`: the
newest NIPR data the report could include).

`report` is `rpt_producer_licensing_with_carrier_appointments` as
`assets/reports/relations.py::read_report` returns it. Keys are compared as text: a database may
hand back an NPN or a CoCode as a number, and a CoCode that lost its leading zero that way gets
it back (CoCodes are always 5 digits).

The Line of Authority is written as the NIPR loa code, not the name: a name can be shared by two
lines of one state (MS has two "Travel" lines), a code cannot, so the upload requests exactly
the line the report shows. Every text cell is neutralised (SPEC section 13): a value starting
with `=`, `+`, `-` or `@` gets a leading `'`, so opening the export never runs a formula.

Filter mistakes raise `TerminateExportError` with a message an analyst can act on. Terminations
cannot be undone, so a filter that was given but names nothing (`--states ""`) is an error,
never "no filter": it must not silently widen the export to every line of the company.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import numbers
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pandas as pd

from assets.uploads.informational import INFORMATIONAL_HEADERS
from assets.uploads.templates import template_xlsx
from assets.uploads.validation import neutralise
from schemas.npns import canonical_npns
from schemas.reference import JURISDICTION_CODES
from schemas.uploads import COCODE, TEMPLATES

__all__ = [
    "APPOINTED",
    "INFORMATIONAL",
    "REPORT_COLUMNS",
    "TERMINATE_HEADERS",
    "ReportAge",
    "TerminateExportError",
    "terminate_csv",
    "terminate_rows_from_report",
    "terminate_xlsx",
]

KIND = "terminate"
# Template field -> header, in template order; the headers are never retyped here.
TERMINATE_HEADERS: dict[str, str] = {c.field: c.header for c in TEMPLATES[KIND]}
APPOINTED = "Appointed"
REPORT_COLUMNS = ("npn", "state_code", "loa_code", "loa_name", "cocode", "appointment_status")
#: The informational columns written after the template's: line name, report built, NIPR as of.
INFORMATIONAL = INFORMATIONAL_HEADERS[KIND]
_SEPARATORS = re.compile(r"[;,]")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_LISTED = 8  # lines named in a message before "..."
_COCODE_DIGITS = 5


@dataclass(frozen=True)
class ReportAge:
    """How old the report an export read is: when it was built (None: not recorded), and the
    newest NIPR data it could include (`nipr_scope_reports.data_as_of` of the scopes applied
    before the build; None: no sync had been applied)."""

    built_at: dt.datetime | None
    nipr_data_as_of: dt.datetime | None

    @staticmethod
    def _stamp(moment: dt.datetime | None) -> str:
        if moment is None:
            return ""
        if moment.tzinfo is None:  # stored in UTC without an offset (SQLite)
            moment = moment.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")

    @property
    def built_text(self) -> str:
        return self._stamp(self.built_at) or "not recorded"

    @property
    def nipr_text(self) -> str:
        return self._stamp(self.nipr_data_as_of) or "unknown (no NIPR sync applied)"

    def describe(self, now: dt.datetime) -> str:
        """`Report built: 2026-11-24 09:00 UTC (3 hours ago); NIPR data as of: ...`."""
        built = self.built_text
        if self.built_at is not None:
            built += f" ({_ago(self.built_at, now)})"
        return f"Report built: {built}; NIPR data as of: {self.nipr_text}."


def _ago(moment: dt.datetime, now: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    minutes = max(0, int((now - moment).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''} ago"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} hour{'s' if hours != 1 else ''} ago"
    return f"{hours // 24} days ago"


class TerminateExportError(ValueError):
    """The export cannot be written as asked; `message` says what to change."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --------------------------------------------------------------------------------------------
# Rows
# --------------------------------------------------------------------------------------------


def terminate_rows_from_report(
    report: pd.DataFrame,
    cocode: str,
    states: Iterable[str] | None = None,
    loas: Iterable[str] | None = None,
    *,
    termination_reason_code: str | None = None,
    effective_date: dt.date | str | None = None,
    submit_immediately: bool = False,
    reason_codes: Iterable[str] | None = None,
) -> pd.DataFrame:
    """The terminate template's rows for the report's Appointed lines of `cocode`.

    - `states`: state codes (any case); each item may itself be a `;`- or `,`-separated list.
      None: every state.
    - `loas`: lines of authority, each a NIPR loa code or a line name (any case, extra spaces
      ignored), matched state by state against the report's `loa_code` and `loa_name`. An item
      that is a whole line name is kept whole (`LIFE, DISABILITY AND ANNUITIES`); otherwise it
      is split on `;` and `,`. None: every line.
    - `termination_reason_code`: written on every row (None: blank, the state's default);
      checked against `reason_codes` (the `termination_reasons` table) when given.
    - `effective_date`: a date or `YYYY-MM-DD` (None: blank, which means today).
    - `submit_immediately`: written as TRUE or FALSE (FALSE: the batch waits for review).

    Rows are sorted by NPN, state and line, with digit strings in numeric order (NPN 900
    before 0012345, loa code 16 before 935). Columns are the template's headers in template
    order, every cell text ('' for blank).
    `attrs["appointed_lines_of_cocode"]` holds how many Appointed lines the CoCode has in the
    report, and `attrs["incomplete_lines"]` how many Appointed lines of the selection lacked an
    NPN, a state or a line and could not be written.
    """
    cocode = _cocode_option(cocode)
    state_filter = _state_option(states)
    reason = _reason_option(termination_reason_code, reason_codes)
    effective = _date_option(effective_date)
    lines = _report_lines(report)

    appointed = lines[lines["cocode"].eq(cocode) & lines["is_appointed"]]
    total = len(appointed.drop_duplicates(["npn", "state_code", "line"]))
    if total == 0:  # before the filters: no filter can help, the CoCode is the question
        raise TerminateExportError(_nothing_selected(cocode, state_filter, None, appointed, 0, 0))
    in_states, chosen = lines, appointed
    if state_filter is not None:
        in_states = lines[lines["state_code"].isin(state_filter)]
        chosen = appointed[appointed["state_code"].isin(state_filter)]
    loa_items: list[str] | None = None
    if loas is not None:
        loa_items, loa_keys = _loa_option(loas, in_states, state_filter, chosen)
        chosen = chosen[chosen["code_key"].isin(loa_keys) | chosen["name_key"].isin(loa_keys)]

    complete = chosen["npn"].notna() & chosen["state_code"].notna() & chosen["line"].notna()
    incomplete = len(chosen[~complete].drop_duplicates(["npn", "state_code", "line"]))
    chosen = chosen[complete].drop_duplicates(["npn", "state_code", "line"])
    if chosen.empty:
        raise TerminateExportError(
            _nothing_selected(cocode, state_filter, loa_items, appointed, total, incomplete)
        )

    chosen = _sorted(chosen)
    values = {
        "npn": chosen["npn"].to_numpy(),
        "state_codes": chosen["state_code"].to_numpy(),
        "line_of_authority": chosen["line"].to_numpy(),
        "cocode": cocode,
        "termination_reason_code": reason or "",
        "effective_date": effective or "",
        "submit_immediately": "TRUE" if submit_immediately else "FALSE",
    }
    missing = set(TERMINATE_HEADERS) - set(values)
    if missing:  # the template gained a column this export does not know how to fill
        raise RuntimeError(f"terminate export does not fill template field(s) {sorted(missing)}")
    rows = pd.DataFrame(
        {TERMINATE_HEADERS[name]: values[name] for name in TERMINATE_HEADERS},
        index=pd.RangeIndex(len(chosen)),
    ).astype("str")
    rows.attrs["appointed_lines_of_cocode"] = total
    rows.attrs["incomplete_lines"] = incomplete
    # Each row's line name, written beside the code for the reader (None: the report has none).
    rows.attrs["loa_names"] = [None if _missing(n) else str(n) for n in chosen["loa_name"]]
    return rows


def _report_lines(report: pd.DataFrame) -> pd.DataFrame:
    """The report's rows with keys as trimmed text and match keys for the loa filter."""
    absent = [c for c in REPORT_COLUMNS if c not in report.columns]
    if absent:
        raise TerminateExportError(
            "The report rpt_producer_licensing_with_carrier_appointments has no column(s) "
            f"{', '.join(absent)}: it was built by an older version of the reports; rebuild "
            "them, then export again."
        )
    # As NIPR writes it: a report built before migration 0011 may still hold a padded NPN,
    # and the file must drop back with no "read as" warning.
    npn = canonical_npns(_text_column(report["npn"]))
    code = _text_column(report["loa_code"])
    name = _text_column(report["loa_name"])
    status = _text_column(report["appointment_status"])
    return pd.DataFrame(
        {
            "npn": npn,
            "state_code": _text_column(report["state_code"]).str.upper(),
            "cocode": report["cocode"].map(_cocode_text).astype("str"),
            # The code, else the name: the validator accepts either, and a line the report
            # knows only by name is still terminable.
            "line": code.where(code.notna(), name),
            "loa_code": code,
            "loa_name": name,
            "code_key": code.map(_match_key, na_action="ignore"),
            "name_key": name.map(_match_key, na_action="ignore"),
            # Any case: only `Appointed` is appointed; unknown is not appointed.
            "is_appointed": status.str.casefold().eq(APPOINTED.casefold()).fillna(False),
        },
        index=report.index,
    ).astype({"is_appointed": bool})


def _missing(value: object) -> bool:
    return (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and math.isnan(value))
    )


def _key_text(value: object) -> str | None:
    """A report cell as trimmed text; a whole number a driver returned as 12345.0 as its digits."""
    if _missing(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _text_column(series: pd.Series) -> pd.Series:
    # A string column even when the report is empty or a column is all missing (which pandas
    # would otherwise type as float).
    return series.map(_key_text).astype("str")


def _cocode_text(value: object) -> str | None:
    # A CoCode stored as a number (1234) lost its leading zero; the 5 digits are certain.
    if isinstance(value, numbers.Real) and not isinstance(value, bool) and not _missing(value):
        return str(math.trunc(value)).zfill(_COCODE_DIGITS)
    return _key_text(value)


def _match_key(text: str) -> str:
    """How a line is compared: no letter case, runs of spaces as one."""
    return " ".join(text.casefold().split())


def _sorted(lines: pd.DataFrame) -> pd.DataFrame:
    """By NPN, state and line; digit strings in numeric order (16 before 1052)."""

    def natural(series: pd.Series) -> pd.Series:
        return series.str.zfill(20) if series.name != "state_code" else series

    # Text order first, so two keys equal in numeric order (012 and 12) stay in a fixed order.
    lines = lines.sort_values(["npn", "state_code", "line"], kind="stable")
    return lines.sort_values(["npn", "state_code", "line"], key=natural, kind="stable")


# --------------------------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------------------------


def _items(values: Iterable[str], keep_whole: frozenset[str] = frozenset()) -> list[str]:
    """The items of option values: each value split on `;` and `,`, trimmed, repeats dropped.

    A value whose match key is in `keep_whole` is one item (a line name with a comma in it).
    """
    if isinstance(values, str):
        values = [values]
    items: list[str] = []
    for value in values:
        value = str(value).strip()
        pieces = [value] if _match_key(value) in keep_whole else _SEPARATORS.split(value)
        for piece in pieces:
            piece = piece.strip()
            if piece and piece not in items:
                items.append(piece)
    return items


def _cocode_option(cocode: str) -> str:
    text = str(cocode).strip()
    if not re.fullmatch(COCODE, text):
        hint = (
            f" (a leading zero lost? CoCode '{text.zfill(_COCODE_DIGITS)}')"
            if re.fullmatch(r"\d{1,4}", text)
            else ""
        )
        raise TerminateExportError(
            f"CoCode '{neutralise(text)}' must be exactly 5 digits, the company's NAIC CoCode"
            f"{hint}."
        )
    return text


def _state_option(states: Iterable[str] | None) -> list[str] | None:
    if states is None:
        return None
    codes = [s.upper() for s in _items(states)]
    if not codes:
        raise TerminateExportError(
            "The states filter (--states) was given but names no state: list the state codes "
            "to terminate in (e.g. CA;TX), or leave the option out for every state."
        )
    unknown = [c for c in codes if c not in JURISDICTION_CODES]
    if unknown:
        listed = ", ".join(f"'{neutralise(c)}'" for c in unknown)
        verb = "is not a state code" if len(unknown) == 1 else "are not state codes"
        raise TerminateExportError(
            f"{listed} {verb} (--states): use the two-letter NIPR codes, e.g. CA;TX (all 54 are "
            "on the accepted_values sheet of `npnflow template terminate --format xlsx`)."
        )
    return codes


def _reason_option(reason: str | None, reason_codes: Iterable[str] | None) -> str | None:
    if reason is None or not str(reason).strip():
        return None
    # Spelled the way the validator normalises it: `voluntary termination` is the code
    # VOLUNTARY_TERMINATION.
    code = re.sub(r"[\s\-]+", "_", str(reason).strip().upper())
    if reason_codes is not None and code not in {str(c) for c in reason_codes}:
        raise TerminateExportError(
            f"Termination reason '{neutralise(str(reason).strip())}' (--reason) is not a "
            "termination reason code: use one from the termination_reason_key sheet of "
            "`npnflow template terminate --format xlsx`, or leave it out for each state's "
            "default."
        )
    return code


def _date_option(value: dt.date | str | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).strip()
    if not text:
        return None
    try:
        if not _ISO_DATE.fullmatch(text):
            raise ValueError(text)
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise TerminateExportError(
            f"Effective date '{neutralise(text)}' (--effective-date) is not a date: write "
            "YYYY-MM-DD, e.g. 2026-01-31."
        ) from None


def _loa_option(
    loas: Iterable[str],
    in_states: pd.DataFrame,
    state_filter: list[str] | None,
    chosen: pd.DataFrame,
) -> tuple[list[str], set[str]]:
    """The --loas items and their match keys; every item must be a line of the chosen states.

    "A line of the chosen states" means any line the report shows there, whatever its company
    or status: an item that matches nothing there is a typo, while one that matches lines of
    other companies only just has nothing to terminate for this one.
    """
    known_codes = set(in_states["code_key"].dropna())
    known_names = set(in_states["name_key"].dropna())
    items = _items(loas, keep_whole=frozenset(known_names))
    if not items:
        raise TerminateExportError(
            "The lines of authority filter (--loas) was given but names no line: list the NIPR "
            "loa codes or names (e.g. 16;Casualty), or leave the option out for every line."
        )
    keys = {item: _match_key(item) for item in items}
    unknown = [i for i, k in keys.items() if k not in known_codes and k not in known_names]
    if unknown:
        listed = ", ".join(f"'{neutralise(i)}'" for i in unknown)
        where = _states_phrase(state_filter)
        verb = "matches" if len(unknown) == 1 else "match"
        raise TerminateExportError(
            f"Line of authority {listed} (--loas) {verb} no line in the report {where}: write "
            "the NIPR loa code or the line's name as the report shows it (a name with a ',' "
            "or ';' in it: use its code). "
            + _lines_hint(chosen, "This CoCode's Appointed lines there")
        )
    return items, set(keys.values())


# --------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------


def _states_phrase(state_filter: list[str] | None) -> str:
    return f"for {', '.join(state_filter)}" if state_filter else "in any state"


def _lines_hint(lines: pd.DataFrame, intro: str) -> str:
    distinct = lines.dropna(subset=["line"]).drop_duplicates(["line", "loa_name"])
    if distinct.empty:
        return f"{intro}: none."
    distinct = distinct.sort_values("line", key=lambda s: s.str.zfill(20))
    shown = [
        f"{neutralise(str(r.line))} ({neutralise(str(r.loa_name))})"
        if isinstance(r.loa_name, str) and r.loa_name != r.line
        else neutralise(str(r.line))
        for r in distinct.head(_LISTED).itertuples(index=False)
    ]
    more = f" and {len(distinct) - _LISTED} more" if len(distinct) > _LISTED else ""
    return f"{intro}: {', '.join(shown)}{more}."


def _nothing_selected(
    cocode: str,
    state_filter: list[str] | None,
    loa_items: list[str] | None,
    appointed: pd.DataFrame,
    total: int,
    incomplete: int,
) -> str:
    if total == 0:
        return (
            f"CoCode {cocode} has no Appointed lines in the report, so there is nothing to "
            "terminate: check the CoCode (your companies are in config/companies.yaml), or "
            "rebuild the reports if its appointments were synced since they were built."
        )
    filters = []
    if state_filter is not None:
        filters.append(f"states {', '.join(state_filter)}")
    if loa_items is not None:
        filters.append(f"lines of authority {', '.join(neutralise(i) for i in loa_items)}")
    applied = "; ".join(filters) if filters else "none"
    states = sorted(appointed["state_code"].dropna().unique())
    shown = ", ".join(states[:20]) + (" ..." if len(states) > 20 else "")
    unwritable = (
        f" {incomplete} matching Appointed line(s) lack an NPN, a state or a line of authority "
        "in the report and cannot be written."
        if incomplete
        else ""
    )
    return (
        f"No Appointed lines of CoCode {cocode} match the filters (applied: {applied}). The "
        f"CoCode has {total} Appointed line(s) in the report in total, in {shown}: widen or "
        f"correct the filters.{unwritable}"
    )


# --------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------


def _check_columns(rows: pd.DataFrame) -> None:
    expected = list(TERMINATE_HEADERS.values())
    if list(rows.columns) != expected:
        raise ValueError(
            f"rows must have the terminate template's columns {expected}, not {list(rows.columns)}"
        )


def _cell(value: object) -> str:
    return "" if _missing(value) else neutralise(str(value))


def _informational(rows: pd.DataFrame, age: ReportAge) -> list[list[str]]:
    """Per row, the informational cells: the line's name, the report's build and NIPR age."""
    names = rows.attrs.get("loa_names") or [None] * len(rows)
    return [[name or "", age.built_text, age.nipr_text] for name in names]


def terminate_csv(rows: pd.DataFrame, age: ReportAge | None = None) -> bytes:
    """The rows as the terminate template in CSV: the template's header, UTF-8, Excel line
    ends; with `age`, the informational columns after the template's."""
    _check_columns(rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    extra = _informational(rows, age) if age is not None else [[] for _ in range(len(rows))]
    writer.writerow([*rows.columns, *(INFORMATIONAL if age is not None else ())])
    writer.writerows(
        [_cell(v) for v in (*row, *more)]
        for row, more in zip(rows.itertuples(index=False, name=None), extra, strict=True)
    )
    return buffer.getvalue().encode("utf-8")


def terminate_xlsx(
    rows: pd.DataFrame, reference: Mapping[str, pd.DataFrame], age: ReportAge | None = None
) -> bytes:
    """The rows on the data sheet of the XLSX terminate template; with `age`, the
    informational columns after the template's, in italics under a grey header.

    The template's other sheets (accepted_values, termination_reason_key), its header styles,
    drop-down lists and Text-formatted columns stay: the analyst can still edit the file in
    Excel before dropping it, and an NPN cell stays text, so `0012345` keeps its zeros.
    """
    from openpyxl import load_workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    _check_columns(rows)
    workbook = load_workbook(io.BytesIO(template_xlsx(KIND, reference)))
    sheet = workbook.worksheets[0]
    as_text = [c.as_text for c in TEMPLATES[KIND]]
    width = len(as_text)
    extra = _informational(rows, age) if age is not None else [[] for _ in range(len(rows))]
    if age is not None:
        for offset, header in enumerate(INFORMATIONAL, start=width + 1):
            cell = sheet.cell(row=1, column=offset, value=header)
            cell.font = Font(italic=True, color="808080")
    for row_number, (values, more) in enumerate(
        zip(rows.itertuples(index=False, name=None), extra, strict=True), start=2
    ):
        for position, value in enumerate((*values, *more), start=1):
            text = _cell(value)
            if not text:
                continue  # a blank cell reads as blank: the column's default applies
            cell = sheet.cell(row=row_number, column=position)
            # Control characters are not allowed in XLSX XML; the text is already neutralised,
            # so it cannot start with '=' and openpyxl stores it as a string, not a formula.
            cell.value = ILLEGAL_CHARACTERS_RE.sub("", text)
            cell.data_type = "s"
            if position > width or as_text[position - 1]:
                cell.number_format = "@"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
