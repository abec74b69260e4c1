"""Validate a read upload against its template: every problem of every row at once. Pure.

`validate_upload(raw, kind, reference, companies)`:

1. matches the header to the kind's template (`schemas/uploads.py`); a missing required
   column rejects the whole file (`UploadRejected`); unknown columns are ignored, with a
   warning;
2. skips blank rows (every cell empty or spaces) and counts them;
3. normalises the cells, vectorised: surrounding spaces; `;`-lists (`ca; tx` -> `CA;TX`,
   empty items dropped, repeats dropped) and letter case of known values, each change noted as
   a warning; TRUE/FALSE/yes/no/1/0; ISO or US dates (MM/DD/YYYY) to ISO; a Line of Authority
   (name or NIPR code) mapped to its LOA category in the row's states;
4. validates the normalised frame with the kind's pandera model, lazily, and turns pandera's
   failure cases into row errors (spreadsheet row, template column, the value neutralised and
   with SSNs masked, a plain-English message), one per cell (the most basic problem wins: an
   over-long cell, then a blank required cell, then a malformed value, then a value unknown to
   the reference data, then cross-column rules, then duplicates);
5. types the valid rows (booleans, dates, defaults) and, for appoint and terminate, explodes
   them into one row per state.

An SSN is never echoed: in row errors and warnings the `Agent SSN` column and anything shaped
like an SSN show only the last four digits. `valid_rows` of an agent upload does hold the full
SSN (9 digits, column `ssn`) for the onboarding step to encrypt or discard; never log it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pandera.pandas as pa

from assets.uploads.reading import RawUpload, UploadRejected, require_columns
from schemas.booleans import FALSE_WORDS, TRUE_WORDS
from schemas.reference import JURISDICTION_CODES, LOA_CATEGORIES
from schemas.uploads import (
    AGENT_TYPES,
    ASSIGNMENT_FIELDS,
    DEFAULT_AGENT_TYPE,
    SCORECARD_ALIASES,
    SCORECARD_LICENSE_AND_APPOINTMENT,
    TEMPLATES,
    TemplateColumn,
    split_items,
    upload_schema,
)

__all__ = [
    "ERROR_COLUMNS",
    "WARNING_COLUMNS",
    "ValidatedUpload",
    "mask_ssn_value",
    "mask_ssns",
    "neutralise",
    "validate_upload",
]

ERROR_COLUMNS = ["row_number", "column", "value", "message"]
WARNING_COLUMNS = ["row_number", "column", "message"]
_SHOWN_CHARS = 60  # a value quoted in a message
_VALUE_CHARS = 200  # the value column of a row error


@dataclass(frozen=True)
class ValidatedUpload:
    """The result of validating one upload.

    - `valid_rows`: one typed row per accepted spreadsheet row (`row_number` first); lists stay
      `;`-joined text (`state_codes` `CA;TX`); `exploded()` gives one row per list item;
    - `row_errors`: row_number, column (template header), value, message; several per row;
    - `warnings`: row_number (missing for the whole file), column, message;
    - counts: `rows_total` (data rows up to the last filled one) = blank + valid + rejected.
    """

    kind: str
    valid_rows: pd.DataFrame
    row_errors: pd.DataFrame
    warnings: pd.DataFrame
    rows_total: int
    rows_blank: int
    rows_valid: int
    rows_rejected: int
    columns: dict[str, str] = field(default_factory=dict)  # template field -> upload label
    _exploded: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def rejected_row_numbers(self) -> list[int]:
        return sorted({int(r) for r in self.row_errors["row_number"]})

    def exploded(self) -> pd.DataFrame:
        """One row per list item of the valid rows.

        - agent: the producer assignments (states x LOA categories x CoCodes) of the rows that
          have one: row_number, npn, loa_category, state_code, cocode (missing for a License
          scorecard without CoCodes), scorecard_type, agent_type;
        - appoint: the eligibility requests of SPEC section 6, one per state: request_row,
          npn, state_code, cocode, loa_category, agent_type, submit, submit_just_in_time,
          effective_date, county, line_of_authority;
        - terminate: one per state and line: request_row, npn, state_code, cocode, loa_code,
          loa_name (NIPR's name in that state), termination_reason_code (missing: the
          state's default), effective_date, submit_immediately;
        - portal_invite: the valid rows.
        """
        if self._exploded is not None:
            return self._exploded
        if self.kind == "agent":
            return _producer_assignments(self.valid_rows)
        return self.valid_rows


# --------------------------------------------------------------------------------------------
# Safe display: formulas neutralised, SSNs masked
# --------------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SSN_SHAPE = re.compile(r"(?<!\d)\d{3}-\d{2}-(\d{4})(?!\d)")


def neutralise(text: str) -> str:
    """A cell that a spreadsheet would not run as a formula (`'` before = + - @ tab CR)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def mask_ssns(text: str) -> str:
    """Anything shaped like an SSN (123-45-6789) reduced to its last four digits."""
    return _SSN_SHAPE.sub(r"***-**-\1", text)


def mask_ssn_value(text: str) -> str:
    """A value typed in the SSN column: only its last four digits survive."""
    digits = re.sub(r"\D", "", text)
    return f"***-**-{digits[-4:]}" if len(digits) >= 4 else "****" if text else ""


def _looks_like_formula(text: str) -> bool:
    return bool(text) and (
        text[0] in "=@" or (text[0] in "+-" and len(text) > 1 and not text[1].isdigit())
    )


def _shown(text: object, limit: int = _SHOWN_CHARS) -> str:
    value = "" if _missing(text) else str(text)
    value = mask_ssns(value.replace("\r", " ").replace("\n", " "))
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _missing(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def validate_upload(
    raw: RawUpload,
    kind: str,
    reference: Mapping[str, pd.DataFrame],
    companies: pd.DataFrame | None = None,
) -> ValidatedUpload:
    """Validate `raw` as an upload of `kind` (agent, appoint, terminate, portal_invite).

    `reference` is `load_reference_data()`'s result (or the same tables read from the
    database): `jurisdictions`, `loa_categories`, `lines_of_authority` and
    `termination_reasons` are used. `companies` (the `companies` table) makes an agent
    upload's producer-assignment CoCodes checked against the customer's companies. Raises
    `UploadRejected` for a whole-file problem.
    """
    if kind not in TEMPLATES:
        raise UploadRejected(f"'{kind}' is not an upload kind.")
    match = require_columns(raw.labels, kind)
    columns = TEMPLATES[kind]
    headers = {c.field: c.header for c in columns}
    notes = _Notes()
    for line in raw.warnings:
        notes.file(line)

    frame = raw.frame
    stripped = {label: frame[label].str.strip() for label in frame.columns}
    blank = _blank_rows(frame, stripped)
    for label in match.unknown:
        if label.startswith("Column ") and label[7:].isalpha() and label not in raw.headers:
            if (~blank & stripped[label].ne("")).any():
                notes.file(f"{label} has values but no header; it was ignored.")
            continue
        notes.file(f"Column '{label}' is not in the {kind} template and was ignored.", label)
    data = frame.loc[~blank]
    if data.empty:
        raise UploadRejected(
            f"The file has the {kind} header but no rows to process: fill in one row per "
            "request under the header and drop it again."
        )

    text = pd.DataFrame({"row_number": data.index.to_numpy(dtype="int64")}, index=data.index)
    for column in columns:
        label = match.fields.get(column.field)
        if label is None:
            text[column.field] = pd.Series(pd.NA, index=data.index, dtype="str")
        else:
            cells = stripped[label].loc[~blank]
            text[column.field] = cells.mask(cells.eq(""))
    text = text.astype({c.field: "str" for c in columns})
    lengths = {c.field: text[c.field].str.len() for c in columns}
    too_long = {f: s.gt(raw.max_cell_chars).fillna(False) for f, s in lengths.items()}
    for column in columns:
        # Normalise the cells a spreadsheet can hold; an over-long cell is reported as is.
        keep = too_long[column.field]
        normalised = _normalise(text[column.field].mask(keep), column, notes)
        text[column.field] = normalised.where(~keep, text[column.field])

    states = _states(reference)
    loa_lookup = _LoaLookup(reference) if kind in ("appoint", "terminate") else None
    checks, explain = _reference_checks(kind, text, states, loa_lookup, companies)
    schema = upload_schema(
        kind,
        states=states,
        reason_codes=_reason_codes(reference) if kind == "terminate" else None,
        company_cocodes=(
            frozenset(companies["cocode"].astype(str))
            if companies is not None and kind == "agent"
            else None
        ),
        max_cell_chars=raw.max_cell_chars if any(s.any() for s in too_long.values()) else None,
        extra_checks=checks,
    )
    errors = _row_errors(text, schema, kind, headers, lengths, raw.max_cell_chars, explain)
    rejected = set(errors["row_number"].tolist())
    valid_text = text.loc[~text.index.isin(list(rejected))]
    valid = _typed(valid_text, kind)
    exploded = None
    if kind == "appoint":
        exploded = _appointment_requests(valid)
    elif loa_lookup is not None:
        exploded = loa_lookup.termination_requests(valid)

    rows_total = len(frame)
    rows_blank = int(blank.sum())
    return ValidatedUpload(
        kind=kind,
        valid_rows=valid,
        row_errors=errors,
        warnings=notes.frame(),
        rows_total=rows_total,
        rows_blank=rows_blank,
        rows_valid=len(valid),
        rows_rejected=len(rejected),
        columns=dict(match.fields),
        _exploded=exploded,
    )


def _reference_checks(
    kind: str,
    text: pd.DataFrame,
    states: list[str],
    loa_lookup: _LoaLookup | None,
    companies: pd.DataFrame | None,
) -> tuple[list[pa.Check], dict[str, Callable[[pd.Index], pd.Series]]]:
    """The checks that join the upload to reference tables, and the words for their failures.

    For appoint, a blank LOA Category is filled in `text` from the Line of Authority first.
    """
    checks: list[pa.Check] = []
    explain: dict[str, Callable[[pd.Index], pd.Series]] = {}
    if kind == "appoint" and loa_lookup is not None:
        resolved, pairs = loa_lookup.categories_for(text, states)
        filled = text["loa_category"].isna() & resolved["category"].notna()
        text["loa_category"] = text["loa_category"].where(~filled, resolved["category"])
        ok, messages = _appoint_loa_outcome(text, resolved, pairs)
        checks.append(pa.Check(lambda f, ok=ok: ok.reindex(f.index, fill_value=True),
                               name="line_of_authority_resolves"))  # fmt: skip
        explain["line_of_authority_resolves"] = lambda rows, m=messages: m.reindex(rows)
    if kind == "terminate" and loa_lookup is not None:
        missing_states = loa_lookup.unknown_states(text, states)
        known = missing_states.isna()
        checks.append(pa.Check(lambda f, ok=known: ok.reindex(f.index, fill_value=True),
                               name="line_of_authority_in_states"))  # fmt: skip
        explain["line_of_authority_in_states"] = lambda rows: pd.Series(
            [
                f"Line of Authority '{_shown(text.at[r, 'line_of_authority'])}' is not a line of "
                f"authority in {missing_states.at[r]} (NIPR's workbook); write its name or NIPR "
                "code as the state lists it"
                for r in rows
            ],
            index=rows,
            dtype="str",
        )
    if companies is not None and kind == "agent":
        known_cocodes = frozenset(companies["cocode"].astype(str))
        explain["known_company"] = lambda rows: text.loc[rows, "cocodes"].map(
            lambda v: _list_message(
                "CoCodes", v, lambda i: i not in known_cocodes, "",
                "not one of your companies (config/companies.yaml)",
            )
        )  # fmt: skip
    return checks, explain


def _blank_rows(frame: pd.DataFrame, stripped: Mapping[str, pd.Series]) -> pd.Series:
    blank = np.ones(len(frame), dtype=bool)
    for cells in stripped.values():
        blank &= cells.eq("").to_numpy(dtype=bool)
    return pd.Series(blank, index=frame.index)


def _states(reference: Mapping[str, pd.DataFrame]) -> list[str]:
    table = reference.get("jurisdictions")
    if table is None or table.empty:
        return list(JURISDICTION_CODES)
    return sorted(table["state_code"].astype(str).str.strip().str.upper().unique())


def _reason_codes(reference: Mapping[str, pd.DataFrame]) -> list[str]:
    return sorted(reference["termination_reasons"]["reason_code"].astype(str).unique())


# --------------------------------------------------------------------------------------------
# Warnings
# --------------------------------------------------------------------------------------------


class _Notes:
    """Warnings: whole-file lines, and per-cell frames collected without a loop per row."""

    def __init__(self) -> None:
        self._parts: list[pd.DataFrame] = []

    def file(self, message: str, column: str | None = None) -> None:
        self._parts.append(
            pd.DataFrame({"row_number": [pd.NA], "column": [column], "message": [message]})
        )

    def cells(self, rows: pd.Index, column: str, messages: pd.Series) -> None:
        if len(rows):
            self._parts.append(
                pd.DataFrame(
                    {
                        "row_number": rows.to_numpy(dtype="int64"),
                        "column": column,
                        "message": messages.to_numpy(),
                    }
                )
            )

    def frame(self) -> pd.DataFrame:
        if not self._parts:
            return _empty(WARNING_COLUMNS, {"row_number": "Int64"})
        frame = pd.concat(self._parts, ignore_index=True)
        frame["row_number"] = frame["row_number"].astype("Int64")
        # The whole-file lines first, then by row, in column order within a row.
        frame["_file"] = frame["row_number"].isna()
        frame = frame.sort_values(["_file", "row_number"], ascending=[False, True], kind="stable")
        frame = frame.reset_index(drop=True)
        frame["column"] = frame["column"].astype("str")
        frame["message"] = frame["message"].astype("str")
        return frame[WARNING_COLUMNS]


def _empty(columns: list[str], dtypes: Mapping[str, str] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="str") for c in columns})
    return frame.astype(dict(dtypes or {}))


def _note_changes(
    notes: _Notes, column: TemplateColumn, before: pd.Series, after: pd.Series
) -> None:
    """A warning for each cell the normalisation changed: "'ca; tx' was read as 'CA;TX'"."""
    changed = (before.notna() & (after.isna() | before.ne(after))).fillna(False).astype(bool)
    if not changed.any():
        return
    pairs = pd.DataFrame({"was": before[changed], "now": after[changed]})
    # One message per distinct (typed, normalised) pair: files repeat the same slip.
    distinct = pairs.drop_duplicates()
    text = {
        (was, now): f"{column.header} '{_shown(was)}' was read as "
        + ("blank" if _missing(now) else f"'{_shown(now)}'")
        for was, now in zip(distinct["was"], distinct["now"], strict=True)
    }
    messages = pd.Series(
        [text[(w, n)] for w, n in zip(pairs["was"], pairs["now"], strict=True)],
        index=pairs.index,
        dtype="str",
    )
    notes.cells(pairs.index, column.header, messages)


# --------------------------------------------------------------------------------------------
# Normalisation: each rule runs once per distinct cell value (a 100,000-row file has a few
# hundred distinct States or LOA Category cells), then is spread back with numpy.
# --------------------------------------------------------------------------------------------

_CATEGORY_BY_KEY = {re.sub(r"\s+", " ", c.casefold()): c for c in LOA_CATEGORIES}
_CATEGORY_BY_KEY.update({k.replace("&", "and"): v for k, v in list(_CATEGORY_BY_KEY.items())})
_AGENT_TYPE_BY_KEY = {t.casefold(): t for t in AGENT_TYPES}
_VOCABULARY = {
    "category": _CATEGORY_BY_KEY,
    "categories": _CATEGORY_BY_KEY,
    "agent_type": _AGENT_TYPE_BY_KEY,
    "scorecard_type": SCORECARD_ALIASES,
}
_FORMULA_LIKE = r"[=@]|[+\-](?!\d)"


def _map_distinct(series: pd.Series, function: Callable[[str], str | None]) -> pd.Series:
    """`function` applied once per distinct non-missing value; missing stays missing."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    if len(uniques) == 0:
        return series.copy()
    done = np.array([function(str(u)) for u in uniques] + [None], dtype=object)
    return pd.Series(done[codes], index=series.index, dtype="str")


def _key(text: str) -> str:
    return " ".join(text.casefold().split())


def _list_value(kind: str) -> Callable[[str], str | None]:
    def normalise(value: str) -> str | None:
        items: list[str] = []
        for item in value.split(";"):
            item = item.strip()
            if not item:
                continue  # CA;;TX and a trailing ; are tolerated
            if kind == "states":
                item = item.upper()
            elif kind == "categories":
                item = _CATEGORY_BY_KEY.get(_key(item), item)
            else:  # a CoCode a spreadsheet wrote as a number: 91234.0
                item = re.sub(r"^(\d+)\.0+$", r"\1", item)
            if item not in items:
                items.append(item)
        return ";".join(items) or None

    return normalise


def _date_value(value: str) -> str | None:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return value
    midnight = re.fullmatch(r"(\d{4}-\d{2}-\d{2})[ T]00:00(?::00)?", value)
    if midnight:
        return midnight.group(1)
    if re.fullmatch(r"\d{1,2}/\d{1,2}/(\d{2}|\d{4})", value):
        for pattern in ("%m/%d/%Y", "%m/%d/%y"):
            try:
                return dt.datetime.strptime(value, pattern).date().isoformat()
            except ValueError:
                continue
    return value  # not a date: the check reports it as typed


def _normalise(series: pd.Series, column: TemplateColumn, notes: _Notes) -> pd.Series:
    kind = column.kind
    if kind in ("states", "cocodes", "categories"):
        after = _map_distinct(series, _list_value(kind))
        _note_changes(notes, column, series, after)
        return after
    if kind in ("npn", "cocode"):
        # A number a spreadsheet wrote as 12345678.0: the digits are all there.
        whole = series.str.fullmatch(r"\d+\.0+").fillna(False).astype(bool)
        if whole.any():
            after = series.where(~whole, series.str.replace(r"\.0+$", "", regex=True))
            _note_changes(notes, column, series[whole], after[whole])
            return after
        return series
    if kind in _VOCABULARY:
        table = _VOCABULARY[kind]
        after = _map_distinct(series, lambda v: table.get(_key(v), v))
        _note_changes(notes, column, series, after)
        return after
    if kind == "bool":
        return _map_distinct(
            series,
            lambda v: "TRUE" if v.casefold() in TRUE_WORDS
            else "FALSE" if v.casefold() in FALSE_WORDS else v,
        )  # fmt: skip
    if kind == "date":
        return _map_distinct(series, _date_value)
    if kind == "reason_code":
        after = _map_distinct(series, lambda v: re.sub(r"[\s\-]+", "_", v.upper()))
        _note_changes(notes, column, series, after)
        return after
    if kind == "text":
        formula = series.str.match(_FORMULA_LIKE).fillna(False).astype(bool)
        if formula.any():
            shown = series[formula].map(_shown)
            notes.cells(
                shown.index,
                column.header,
                column.header + " '" + shown + "' starts like a spreadsheet formula; it is "
                "kept as text and never run",
            )
    return series


# --------------------------------------------------------------------------------------------
# Lines of authority
# --------------------------------------------------------------------------------------------


class _LoaLookup:
    """Lines of authority by (state, NIPR code) or (state, name), and their categories."""

    def __init__(self, reference: Mapping[str, pd.DataFrame]):
        lines = reference["lines_of_authority"][["state_code", "loa_code", "loa_name"]]
        lines = lines.astype({"state_code": "str", "loa_code": "str"})
        self.lines = lines.assign(name_key=_map_distinct(lines["loa_name"].astype("str"), _key))
        categories = reference["loa_categories"][["state_code", "loa_code", "loa_category"]]
        self.categories = categories.astype("str").drop_duplicates()

    def _matches(self, text: pd.DataFrame, states: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(row, state) pairs asked for, and the lines each matches (by code or by name)."""
        rows = text[text["line_of_authority"].notna() & text["state_codes"].notna()]
        positions, items = split_items(rows["state_codes"])
        asked = pd.DataFrame(
            {
                "row": rows.index.to_numpy()[positions],
                "loa": rows["line_of_authority"].to_numpy()[positions],
                "state_code": pd.Series(items, dtype="str"),
            }
        )
        asked = asked[asked["state_code"].isin(states)]
        asked = asked.assign(name_key=_map_distinct(asked["loa"].astype("str"), _key))
        by_code = asked.merge(
            self.lines[["state_code", "loa_code", "loa_name"]],
            left_on=["state_code", "loa"],
            right_on=["state_code", "loa_code"],
        )
        by_name = asked.merge(
            self.lines[["state_code", "loa_code", "loa_name", "name_key"]],
            on=["state_code", "name_key"],
        )
        found = pd.concat(
            [by_code[["row", "state_code", "loa_code", "loa_name"]],
             by_name[["row", "state_code", "loa_code", "loa_name"]]],
            ignore_index=True,
        ).drop_duplicates()  # fmt: skip
        return asked[["row", "state_code"]].drop_duplicates(), found

    def categories_for(
        self, text: pd.DataFrame, states: list[str]
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Per row with a Line of Authority, what it maps to in the row's (valid) states.

        Returns (per row: checked, known (a line in at least one state), count of categories,
        category (the one category, else missing)), and the distinct (row, loa_category) pairs.
        """
        asked, found = self._matches(text, states)
        pairs = found.merge(self.categories, on=["state_code", "loa_code"])[
            ["row", "loa_category"]
        ].drop_duplicates()
        grouped = pairs.groupby("row")["loa_category"]
        out = pd.DataFrame(
            {
                "checked": text.index.isin(asked["row"].unique()),
                "known": text.index.isin(found["row"].unique()),
                "count": grouped.size().reindex(text.index, fill_value=0).to_numpy(),
            },
            index=text.index,
        )
        first = grouped.first().reindex(text.index)
        out["category"] = first.where(out["count"] == 1).astype("str")
        return out, pairs

    def unknown_states(self, text: pd.DataFrame, states: list[str]) -> pd.Series:
        """Per row: the valid states where the Line of Authority is not a line ('PR and VI')."""
        asked, found = self._matches(text, states)
        hit = asked.merge(found[["row", "state_code"]].drop_duplicates(), how="left",
                          on=["row", "state_code"], indicator=True)  # fmt: skip
        missing = hit[hit["_merge"] == "left_only"]
        joined = missing.groupby("row")["state_code"].agg(_and_list)
        return joined.reindex(text.index).astype("str")

    def termination_requests(self, valid: pd.DataFrame) -> pd.DataFrame:
        columns = ["request_row", "npn", "state_code", "cocode", "loa_code", "loa_name",
                   "termination_reason_code", "effective_date", "submit_immediately"]  # fmt: skip
        if valid.empty:
            return _empty(columns)
        text = valid.set_axis(pd.Index(valid["row_number"].to_numpy()), axis=0)
        _, found = self._matches(text, list(JURISDICTION_CODES))
        out = found.merge(
            text.drop(columns=["state_codes"]), left_on="row", right_on="row_number"
        ).rename(columns={"row": "request_row"})
        return out.sort_values(["request_row", "state_code", "loa_code"])[columns].reset_index(
            drop=True
        )


def _and_list(values: pd.Series) -> str:
    items = list(dict.fromkeys(values))
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _appoint_loa_outcome(
    text: pd.DataFrame, resolved: pd.DataFrame, pairs: pd.DataFrame
) -> tuple[pd.Series, pd.Series]:
    """Which appoint rows' Line of Authority fails, and why (unknown, ambiguous, mismatch)."""
    typed = text["loa_category"]
    valid_typed = typed.isin(LOA_CATEGORIES).fillna(False).to_numpy(dtype=bool)
    typed_pairs = pd.DataFrame({"row": text.index.to_numpy(), "loa_category": typed.to_numpy()})
    in_set = text.index.isin(typed_pairs.merge(pairs, on=["row", "loa_category"])["row"])
    checked, count = resolved["checked"].to_numpy(), resolved["count"].to_numpy()
    unknown = checked & ~resolved["known"].to_numpy()
    uncategorised = checked & resolved["known"].to_numpy() & (count == 0)
    mismatch = checked & (count > 0) & valid_typed & ~in_set
    ambiguous = checked & (count > 1) & ~valid_typed
    failed = pd.Series(unknown | uncategorised | mismatch | ambiguous, index=text.index)
    messages = pd.Series(pd.NA, index=text.index, dtype="str")
    rows = failed[failed].index
    listed = pairs[pairs["row"].isin(rows)].sort_values(["row", "loa_category"])
    names = listed.groupby("row")["loa_category"].agg(list).to_dict()
    for position, row in zip(np.flatnonzero(failed.to_numpy()), rows, strict=True):
        loa = _shown(text.at[row, "line_of_authority"])
        states = _and_list(pd.Series(text.at[row, "state_codes"].split(";")))
        categories = names.get(row, [])
        if unknown[position]:
            message = (
                f"Line of Authority '{loa}' is not a line of authority in {states} (NIPR's "
                "workbook); write its name or NIPR code, or fill LOA Category instead"
            )
        elif uncategorised[position]:
            message = (
                f"Line of Authority '{loa}' is not in any LOA category in {states}; fill "
                "LOA Category instead"
            )
        elif mismatch[position]:
            which = (
                f"LOA category '{categories[0]}'"
                if len(categories) == 1
                else "LOA categories " + ", ".join(categories)
            )
            message = (
                f"Line of Authority '{loa}' is in {which}, not '{typed[row]}' as LOA Category "
                "says; correct one of them"
            )
        else:
            message = (
                f"Line of Authority '{loa}' belongs to several LOA categories "
                f"({', '.join(categories)}); fill LOA Category to say which"
            )
        messages[row] = message
    return ~failed, messages


# --------------------------------------------------------------------------------------------
# pandera failure cases -> row errors
# --------------------------------------------------------------------------------------------

# (priority, the field a dataframe-wide check is about). Lower priority wins within a cell.
_CHECK_PRIORITY = {
    "cell_too_long": 0,
    "not_nullable": 1,
    "known_reason_code": 3,
    "known_company": 3,
    "line_of_authority_resolves": 3,
    "line_of_authority_in_states": 3,
    "npn_once_per_file": 5,
    "request_once_per_file": 5,
    "invite_once_per_file": 5,
}
_FRAME_CHECK_FIELD = {
    "assignment_has_loa_categories": "loa_categories",
    "assignment_has_state_codes": "state_codes",
    "assignment_has_scorecard_type": "scorecard_type",
    "assignment_has_agent_type": "agent_type",
    "license_and_appointment_has_cocodes": "cocodes",
    "has_loa_category_or_line": "loa_category",
    "line_of_authority_resolves": "line_of_authority",
    "line_of_authority_in_states": "line_of_authority",
    "npn_once_per_file": "npn",
    "request_once_per_file": "npn",
    "invite_once_per_file": "npn",
}


def _check_names(schema: pa.DataFrameSchema, cases: pd.DataFrame) -> pd.Series:
    """The check's own name for every failure case (pandera's `check` column holds its error
    text, e.g. `str_matches('^\\d{5}$')`)."""
    names: dict[tuple[str, int], str] = {}
    for number, check in enumerate(schema.checks):
        names[("", number)] = str(check.name)
    for name, column in schema.columns.items():
        for number, check in enumerate(column.checks):
            names[(str(name), number)] = str(check.name)
    result = []
    for context, column, check, number in zip(
        cases["schema_context"],
        cases["column"],
        cases["check"],
        cases["check_number"],
        strict=True,
    ):  # one entry per distinct failure, not per row: the frame is grouped below
        if _missing(number):
            result.append(str(check))
        elif context == "DataFrameSchema":
            result.append(names.get(("", int(number)), str(check)))
        else:
            result.append(names.get((str(column), int(number)), str(check)))
    return pd.Series(result, index=cases.index, dtype="str")


def _row_errors(
    text: pd.DataFrame,
    schema: pa.DataFrameSchema,
    kind: str,
    headers: dict[str, str],
    lengths: dict[str, pd.Series],
    max_chars: int,
    explain: dict[str, Callable[[pd.Index], pd.Series]],
) -> pd.DataFrame:
    try:
        schema.validate(text, lazy=True)
    except pa.errors.SchemaErrors as error:
        cases = error.failure_cases
    else:
        return _empty(ERROR_COLUMNS, {"row_number": "int64"})
    cases = cases[cases["index"].notna()].reset_index(drop=True)
    # Group first: the check name lookup is per distinct (context, column, check, number).
    keys = cases[["schema_context", "column", "check", "check_number"]]
    keys = keys.astype(object).fillna("-").astype(str)  # not_nullable has no check number
    distinct = cases.loc[~keys.duplicated()]
    names = _check_names(schema, distinct)
    key_of = keys["schema_context"] + "\x1f" + keys["column"] + "\x1f" + keys["check"]
    key_of = key_of + "\x1f" + keys["check_number"]
    name_by_key = pd.Series(names.to_numpy(), index=key_of.loc[distinct.index].to_numpy())
    cases = cases.assign(name=key_of.map(name_by_key).to_numpy())

    frame_wide = cases["schema_context"].eq("DataFrameSchema")
    per_cell = cases.loc[~frame_wide, ["column", "name", "index"]].rename(
        columns={"column": "field", "index": "row"}
    )
    rows_failed = cases.loc[frame_wide, ["name", "index"]].drop_duplicates()
    per_row = pd.DataFrame(
        {
            "field": rows_failed["name"].map(_FRAME_CHECK_FIELD).to_numpy(),
            "name": rows_failed["name"].to_numpy(),
            "row": rows_failed["index"].to_numpy(),
        }
    )
    failures = pd.concat([per_cell, per_row], ignore_index=True)
    failures = failures.dropna(subset=["field"])
    failures["row"] = failures["row"].astype("int64")
    failures["priority"] = failures["name"].map(_CHECK_PRIORITY).fillna(2).astype(int)
    failures.loc[failures["name"].str.startswith("assignment_has_"), "priority"] = 4
    failures.loc[failures["name"].isin(["license_and_appointment_has_cocodes",
                                        "has_loa_category_or_line"]), "priority"] = 4  # fmt: skip
    failures = failures.sort_values(["row", "field", "priority"], kind="stable")
    failures = failures.drop_duplicates(["row", "field"], keep="first")

    parts = []
    for (field_name, name), group in failures.groupby(["field", "name"], sort=False):
        rows = pd.Index(group["row"].to_numpy())
        values = text.loc[rows, field_name]
        message = _message(field_name, name, values, text, kind, headers, lengths, max_chars,
                           explain)  # fmt: skip
        safe = mask_ssn_value if field_name == "ssn" else mask_ssns
        shown = _map_distinct(values, lambda v, safe=safe: neutralise(safe(v))[:_VALUE_CHARS])
        shown = shown.fillna("")
        parts.append(
            pd.DataFrame(
                {
                    "row_number": rows.to_numpy(dtype="int64"),
                    "column": headers[field_name],
                    "value": shown.to_numpy(),
                    "message": message.reindex(rows).to_numpy(),
                    "_order": list(headers).index(field_name),
                }
            )
        )
    errors = pd.concat(parts, ignore_index=True).sort_values(["row_number", "_order"])
    errors = errors.drop(columns="_order").reset_index(drop=True)
    return errors.astype({"row_number": "int64", "column": "str", "value": "str",
                          "message": "str"})  # fmt: skip


def _formula_or(
    values: pd.Series, header: str, default: Callable[[str, str], str], what: str = "the value"
) -> pd.Series:
    def one(value: str) -> str:
        shown = _shown(value)
        if _looks_like_formula(value):
            return f"{header} '{shown}' looks like a spreadsheet formula; type {what} as plain text"
        if value.startswith("#") and value.rstrip("!?/0").upper() in {
            "#N/A", "#VALUE", "#REF", "#NAME", "#DIV", "#NUM", "#NULL",
        }:  # fmt: skip
            return f"{header} '{shown}' is a spreadsheet error value; type {what} as plain text"
        return default(shown, value)

    return _map_distinct(values, one)


def _message(
    field_name: str,
    name: str,
    values: pd.Series,
    text: pd.DataFrame,
    kind: str,
    headers: dict[str, str],
    lengths: dict[str, pd.Series],
    max_chars: int,
    explain: dict[str, Callable[[pd.Index], pd.Series]],
) -> pd.Series:
    header = headers[field_name]
    rows = values.index
    column = next(c for c in TEMPLATES[kind] if c.field == field_name)

    def const(message: str) -> pd.Series:
        return pd.Series(message, index=rows, dtype="str")

    if name == "cell_too_long":
        counts = lengths[field_name].reindex(rows)
        return counts.map(
            lambda n: f"{header} has {int(n):,} characters; a cell can hold at most {max_chars:,}"
        )
    if name == "not_nullable":
        return const(f"{header} is required (the cell is empty)")
    if name in explain:
        return explain[name](rows)
    if name.startswith("assignment_has_"):
        return _assignment_message(field_name, rows, text, headers)
    if name == "license_and_appointment_has_cocodes":
        return const(
            f"{header} is required for a '{SCORECARD_LICENSE_AND_APPOINTMENT}' scorecard "
            "(the companies to appoint with)"
        )
    if name == "has_loa_category_or_line":
        return const("LOA Category is required (or fill Line of Authority)")
    if name.endswith("_once_per_file"):
        return _duplicate_message(name, rows, text, kind, header)
    if name == "known_reason_code":
        return _formula_or(values, header, lambda s, v: (
            f"{header} '{s}' is not a termination reason; use a code from the "
            "termination_reason_key sheet, or leave it blank for the state's default"))  # fmt: skip
    return _format_message(column, header, values)


def _list_message(
    header: str, value: str, bad: Callable[[str], bool], hint: str, problem: str
) -> str:
    items = [i for i in value.split(";") if bad(i)]
    shown = ", ".join(f"'{_shown(i, 20)}'" for i in items[:5]) + (" ..." if len(items) > 5 else "")
    verb = "is" if len(items) == 1 else "are"
    return f"{header} '{_shown(value)}': {shown} {verb} {problem}{hint}"


def _format_message(column: TemplateColumn, header: str, values: pd.Series) -> pd.Series:
    kind = column.kind
    if kind == "npn":

        def npn(shown: str, value: str) -> str:
            if re.fullmatch(r"\d(\.\d+)?[eE]\+?\d+", value):
                return (f"{header} '{shown}' was turned into scientific notation by a "
                        "spreadsheet; format the column as Text and type the full NPN")  # fmt: skip
            if _SSN_SHAPE.fullmatch(value):
                return f"{header} '{shown}' looks like an SSN, not an NPN"
            return f"{header} '{shown}' must be digits only (up to 10)"

        return _formula_or(values, header, npn, "the NPN")
    if kind == "cocode":

        def cocode(shown: str, value: str) -> str:
            if re.fullmatch(r"\d{1,4}", value):
                return (f"{header} '{shown}' must be exactly 5 digits (did a spreadsheet drop a "
                        f"leading zero? format the column as Text and type '{value.zfill(5)}')")  # fmt: skip
            if re.fullmatch(r"\d(\.\d+)?[eE]\+?\d+", value):
                return (f"{header} '{shown}' was turned into scientific notation by a "
                        "spreadsheet; format the column as Text and type the 5 digits")  # fmt: skip
            return f"{header} '{shown}' must be exactly 5 digits"

        return _formula_or(values, header, cocode, "the CoCode")
    if kind == "ssn":
        return _map_distinct(values, lambda v: (
            f"{header} must be 9 digits, with or without dashes (the value ending in "
            f"'{mask_ssn_value(v)[-4:]}' is not)"))  # fmt: skip
    if kind == "email":
        return _formula_or(values, header,
                           lambda s, v: f"{header} '{s}' is not a valid email address",
                           "the address")  # fmt: skip
    if kind == "states":
        return _formula_or(values, header, lambda s, v: _list_message(
            header, v, lambda i: i not in _STATE_SET, _comma_hint(v, "states"),
            "not one of the 54 NIPR state codes"), "the state codes")  # fmt: skip
    if kind == "cocodes":

        def cocodes(shown: str, value: str) -> str:
            short = any(re.fullmatch(r"\d{1,4}", i) for i in value.split(";"))
            hint = _comma_hint(value, "CoCodes") or (
                " (did a spreadsheet drop a leading zero? format the column as Text)"
                if short
                else ""
            )
            return _list_message(header, value, lambda i: not re.fullmatch(r"\d{5}", i), hint,
                                 "not 5 digits")  # fmt: skip

        return _formula_or(values, header, cocodes, "the CoCodes")
    if kind == "categories":
        return _formula_or(values, header, lambda s, v: _list_message(
            header, v, lambda i: i not in LOA_CATEGORIES, _comma_hint(v, "categories"),
            "not an LOA category (see the accepted_values sheet)"), "the categories")  # fmt: skip
    if kind == "category":
        return _formula_or(values, header, lambda s, v: (
            f"{header} '{s}': one category per row; add a row for each category"
            if ";" in v else
            f"{header} '{s}' is not an LOA category (see the accepted_values sheet)"))  # fmt: skip
    if kind == "scorecard_type":
        return _formula_or(values, header, lambda s, v: (
            f"{header} '{s}' must be 'License' or 'License & Appointment'"))  # fmt: skip
    if kind == "agent_type":
        allowed = " or ".join(f"'{t}'" for t in AGENT_TYPES)
        return _formula_or(values, header, lambda s, v: f"{header} '{s}' must be {allowed}")
    if kind == "bool":
        return _formula_or(values, header,
                           lambda s, v: f"{header} '{s}' must be TRUE or FALSE (blank means FALSE)")  # fmt: skip
    if kind == "date":
        return _formula_or(values, header, lambda s, v: (
            f"{header} '{s}' is not a date; write YYYY-MM-DD or MM/DD/YYYY"))  # fmt: skip
    return _map_distinct(values, lambda v: f"{header} '{_shown(v)}' is not accepted")


_STATE_SET = frozenset(JURISDICTION_CODES)


def _comma_hint(value: str, what: str) -> str:
    return f" (separate {what} with ';', not ',')" if "," in value else ""


def _assignment_message(
    field_name: str, rows: pd.Index, text: pd.DataFrame, headers: dict[str, str]
) -> pd.Series:
    others = [f for f in ASSIGNMENT_FIELDS if f != field_name]
    filled = text.loc[rows, others].notna().to_numpy(dtype=bool)
    messages = []
    for row_filled in filled:
        names = [headers[f] for f, on in zip(others, row_filled, strict=True) if on]
        listed = _and_list(pd.Series(names))
        verb = "is" if len(names) == 1 else "are"
        messages.append(
            f"{headers[field_name]} is required for a producer assignment ({listed} {verb} filled)"
        )
    return pd.Series(messages, index=rows, dtype="str")


def _first_rows(keyed: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """For each repeated key item: (row, first row with that key, the key item)."""
    keyed = keyed.drop_duplicates()
    first = keyed.groupby(key, sort=False)["row_number"].transform("min")
    repeated = keyed[keyed["row_number"] > first].assign(first=first)
    return repeated


def _duplicate_message(
    name: str, rows: pd.Index, text: pd.DataFrame, kind: str, header: str
) -> pd.Series:
    if name == "npn_once_per_file":
        keyed = text[["row_number", "npn"]].dropna()
        repeated = _first_rows(keyed, ["npn"]).set_index("row_number")
        return pd.Series(
            [f"{header} '{_shown(text.at[r, 'npn'])}' is already on row "
             f"{int(repeated.at[r, 'first'])}; list each producer once per file" for r in rows],
            index=rows, dtype="str",
        )  # fmt: skip
    if name == "invite_once_per_file":
        keyed = text[["row_number", "npn"]].assign(portal=text["portal_name"].str.casefold())
        repeated = _first_rows(keyed.dropna(), ["npn", "portal"]).set_index("row_number")
        return pd.Series(
            [f"{header} '{_shown(text.at[r, 'npn'])}' is already invited to "
             f"'{_shown(text.at[r, 'portal_name'])}' on row {int(repeated.at[r, 'first'])}"
             for r in rows],
            index=rows, dtype="str",
        )  # fmt: skip
    what = "loa_category" if kind == "appoint" else "line_of_authority"
    keyed = text[["row_number", "npn", "state_codes", "cocode"]].assign(
        what=text[what] if kind == "appoint" else text[what].str.casefold()
    )
    keyed = _split_explode(keyed.dropna(), "state_codes", "state_code")
    keyed = keyed.drop(columns="state_codes").rename(columns={"state_code": "state_codes"})
    repeated = _first_rows(keyed, ["npn", "state_codes", "cocode", "what"])
    repeated = repeated.sort_values(["row_number", "first"]).drop_duplicates("row_number")
    repeated = repeated.set_index("row_number")
    label = "LOA Category" if kind == "appoint" else "Line of Authority"
    return pd.Series(
        [f"NPN '{_shown(text.at[r, 'npn'])}', {repeated.at[r, 'state_codes']}, CoCode "
         f"'{text.at[r, 'cocode']}', {label} '{_shown(text.at[r, what])}' is already requested "
         f"on row {int(repeated.at[r, 'first'])}; list each request once per file" for r in rows],
        index=rows, dtype="str",
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# Typed valid rows and exploded frames
# --------------------------------------------------------------------------------------------


def _bool(series: pd.Series, default: bool = False) -> pd.Series:
    values = series.eq("TRUE").fillna(False).to_numpy(dtype=bool)
    return pd.Series(np.where(series.isna().to_numpy(), default, values), index=series.index)


def _date(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, format="%Y-%m-%d", errors="coerce").astype("datetime64[ns]")


def _typed(text: pd.DataFrame, kind: str) -> pd.DataFrame:
    out = text.reset_index(drop=True).copy()
    out["row_number"] = out["row_number"].astype("int64")
    if kind == "agent":
        ssn = out["ssn"].str.replace("-", "", regex=False)
        out["ssn"] = ssn
        out["ssn_last4"] = ssn.str[-4:]
        out["has_assignment"] = out[list(ASSIGNMENT_FIELDS)].notna().any(axis=1)
    elif kind == "appoint":
        out["agent_type"] = out["agent_type"].fillna(DEFAULT_AGENT_TYPE).astype("str")
        out["submit"] = _bool(out["submit"])
        out["submit_just_in_time"] = _bool(out["submit_just_in_time"])
        out["effective_date"] = _date(out["effective_date"])
    elif kind == "terminate":
        out["submit_immediately"] = _bool(out["submit_immediately"])
        out["effective_date"] = _date(out["effective_date"])
    return out


def _split_explode(frame: pd.DataFrame, column: str, into: str) -> pd.DataFrame:
    """One row per item of the `;`-list in `column` (a missing list: one row, item missing)."""
    positions, items = split_items(frame[column])
    empty = np.flatnonzero(frame[column].isna().to_numpy(dtype=bool))
    order = np.concatenate([positions, empty])
    values = np.concatenate([items, np.full(len(empty), None, dtype=object)])
    sort = np.argsort(order, kind="stable")
    out = frame.iloc[order[sort]].reset_index(drop=True)
    out[into] = pd.Series(values[sort], dtype="str")
    return out


def _producer_assignments(valid: pd.DataFrame) -> pd.DataFrame:
    columns = ["row_number", "npn", "loa_category", "state_code", "cocode", "scorecard_type",
               "agent_type"]  # fmt: skip
    rows = valid[valid["has_assignment"]] if "has_assignment" in valid else valid.iloc[0:0]
    if rows.empty:
        return _empty(columns, {"row_number": "int64"})
    rows = rows[["row_number", "npn", "loa_categories", "state_codes", "cocodes",
                 "scorecard_type", "agent_type"]]  # fmt: skip
    out = _split_explode(rows, "loa_categories", "loa_category")
    out = _split_explode(out, "state_codes", "state_code")
    out = _split_explode(out, "cocodes", "cocode")
    return out[columns]


def _appointment_requests(valid: pd.DataFrame) -> pd.DataFrame:
    out = _split_explode(valid, "state_codes", "state_code").rename(
        columns={"row_number": "request_row"}
    )
    columns = ["request_row", "npn", "state_code", "cocode", "loa_category", "agent_type",
               "submit", "submit_just_in_time", "effective_date", "county",
               "line_of_authority"]  # fmt: skip
    return out[columns]
