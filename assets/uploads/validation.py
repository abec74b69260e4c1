"""Validate a read upload against its template: every problem of every row at once. Pure.

`validate_upload(raw, kind, reference, companies)`:

1. matches the header to the kind's template (`schemas/uploads.py`); a missing required
   column rejects the whole file (`UploadRejected`); unknown columns are ignored, with a
   warning (one whose header names SSNs says so, and its cells are masked wherever shown);
2. skips blank rows (every cell empty or spaces) and counts them;
3. normalises the cells (`normalising.py`), each change noted as a warning; an NPN loses its
   leading zeros (`schemas/npns.py`: "Agent NPN 048905991 read as 48905991"); a Line of
   Authority (name or NIPR code) is mapped to its LOA category in the row's states;
4. validates the normalised frame with the kind's pandera model and the checks every cell
   gets (`cell_checks.py`: control characters, line breaks in names, invisible characters in
   identifiers, SSN-shaped values outside the SSN column), lazily, and turns pandera's
   failure cases into row errors (`messages.py`: spreadsheet row, template column, the value
   neutralised and with SSNs masked, a plain-English message), one per cell; a control
   character in a column the template does not have rejects its row too;
5. types the valid rows (booleans, dates, defaults) and, for appoint and terminate, explodes
   them into one row per state (`REQUEST_COLUMNS`: what `upload_request_rows` stores).

An SSN is never echoed: in row errors and warnings the `Agent SSN` column, a column whose
header names SSNs, and anything shaped like an SSN (9 digits, or 3-2-4 with dashes, spaces or
dots, `schemas/ssn_shapes.py`) show only the last four digits (`cells.py`). `valid_rows` of an
agent upload does hold the full SSN (9 ASCII digits, column `ssn`) for the onboarding step to
encrypt or discard; never log it, never store it. No other column of `valid_rows` holds an
SSN-shaped value but an NPN column (an NPN may have 9 digits).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pandera.pandas as pa

from assets.uploads import cell_checks, cells, messages, normalising
from assets.uploads.cells import mask_ssn_value, mask_ssns, neutralise
from assets.uploads.informational import is_informational
from assets.uploads.messages import ERROR_COLUMNS
from assets.uploads.normalising import WARNING_COLUMNS
from assets.uploads.reading import RawUpload, UploadRejected, require_columns
from schemas.npns import canonical_npn, npn_read_note
from schemas.reference import JURISDICTION_CODES
from schemas.ssn_shapes import looks_like_ssn_header
from schemas.tables import producer_assignments
from schemas.uploads import (
    ASSIGNMENT_FIELDS,
    DEFAULT_AGENT_TYPE,
    TEMPLATES,
    split_items,
    upload_schema,
)

__all__ = [
    "ERROR_COLUMNS",
    "REQUEST_COLUMNS",
    "WARNING_COLUMNS",
    "ValidatedUpload",
    "mask_ssn_value",
    "mask_ssns",
    "neutralise",
    "validate_upload",
]

#: The columns of `exploded()` for each kind whose requests later steps read (in this order).
REQUEST_COLUMNS: dict[str, tuple[str, ...]] = {
    "appoint": (
        "request_row",
        "npn",
        "state_code",
        "cocode",
        "loa_category",
        "agent_type",
        "submit",
        "submit_just_in_time",
        "effective_date",
        "county",
        "line_of_authority",
    ),
    "terminate": (
        "request_row",
        "npn",
        "state_code",
        "cocode",
        "loa_code",
        "loa_name",
        "termination_reason_code",
        "effective_date",
        "submit_immediately",
    ),
    "portal_invite": ("row_number", *(c.field for c in TEMPLATES["portal_invite"])),
    # One row per producer, its CoCodes as the `;`-list typed (blank: every company).
    "offboard": ("row_number", *(c.field for c in TEMPLATES["offboard"])),
    # One row per file row, its states as the `;`-list typed; released per state.
    "jit_release": ("row_number", *(c.field for c in TEMPLATES["jit_release"])),
}
# An agent upload's exploded rows: the producer assignments it asks for, with their file row.
_ASSIGNMENT_COLUMNS = ("row_number", *(c.name for c in producer_assignments.columns))
# The kinds whose reason codes must be termination reasons, and whose CoCodes must be the
# customer's companies.
_REASON_KINDS = frozenset({"terminate", "offboard"})
_COMPANY_KINDS = frozenset({"agent", "offboard"})
_TERMINATE_EMPTY_DTYPES = {
    "request_row": "int64",
    "effective_date": "datetime64[ns]",
    "submit_immediately": "bool",
}


@dataclass(frozen=True)
class ValidatedUpload:
    """The result of validating one upload.

    - `valid_rows`: one typed row per accepted spreadsheet row (`row_number` first); lists stay
      `;`-joined text (`state_codes` `CA;TX`); `exploded()` gives one row per list item;
    - `row_errors`: row_number, column (template header), value, message; several per row;
    - `warnings`: row_number (missing for the whole file), column, message;
    - counts: `rows_total` (data rows up to the last filled one) = blank + valid + rejected;
    - `ssn_labels`: the upload's columns (labels) that hold SSNs: the template's SSN column
      and any other whose header names SSNs; whoever shows their cells shows the last four
      digits only.
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
    ssn_labels: tuple[str, ...] = ()
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
        - portal_invite, offboard, jit_release: the valid rows.
        """
        if self._exploded is not None:
            return self._exploded
        if self.kind == "agent":
            return _producer_assignments(self.valid_rows)
        return self.valid_rows


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def validate_upload(
    raw: RawUpload,
    kind: str,
    reference: Mapping[str, pd.DataFrame],
    companies: pd.DataFrame | None = None,
) -> ValidatedUpload:
    """Validate `raw` as an upload of `kind` (agent, appoint, terminate, portal_invite,
    offboard).

    `reference` is `load_reference_data()`'s result (or the same tables read from the
    database): `jurisdictions`, `loa_categories`, `lines_of_authority` and
    `termination_reasons` are used. `companies` (the `companies` table) makes an agent
    upload's producer-assignment CoCodes, and an offboard upload's CoCodes, checked against
    the customer's companies. Raises
    `UploadRejected` for a whole-file problem.
    """
    if kind not in TEMPLATES:
        raise UploadRejected(f"'{kind}' is not an upload kind.")
    match = require_columns(raw.labels, kind)
    columns = TEMPLATES[kind]
    headers = {c.field: c.header for c in columns}
    notes = normalising.Notes()
    for line in raw.warnings:
        notes.file(line)

    frame = raw.frame
    stripped = {label: frame[label].str.strip() for label in frame.columns}
    blank = _blank_rows(frame, stripped)
    ssn_labels = [match.fields["ssn"]] if "ssn" in match.fields else []
    for label in match.unknown:
        if label.startswith("Column ") and label[7:].isalpha() and label not in raw.headers:
            if (~blank & stripped[label].ne("")).any():
                notes.file(f"{label} has values but no header; it was ignored.")
            continue
        if looks_like_ssn_header(label):
            ssn_labels.append(label)
            notes.file(_ssn_column_warning(label, kind, headers.get("ssn")), label)
            continue
        if is_informational(kind, label):
            continue  # written by an export for the reader (a line's name): read, not used
        notes.file(f"Column '{label}' is not in the {kind} template and was ignored.", label)
    data = frame.loc[~blank]
    if data.empty:
        raise UploadRejected(
            f"The file has the {kind} header but no rows to process: fill in one row per "
            "request under the header and drop it again."
        )

    text = pd.DataFrame({"row_number": data.index.to_numpy(dtype="int64")}, index=data.index)
    for column in columns:
        source = match.fields.get(column.field)
        if source is None:
            text[column.field] = pd.Series(pd.NA, index=data.index, dtype="str")
        else:
            column_cells = stripped[source].loc[~blank]
            text[column.field] = column_cells.mask(column_cells.eq(""))
    text = text.astype({c.field: "str" for c in columns})
    lengths = {c.field: text[c.field].str.len() for c in columns}
    too_long = {f: s.gt(raw.max_cell_chars).fillna(False) for f, s in lengths.items()}
    for column in columns:
        # Normalise the cells a spreadsheet can hold; an over-long cell is reported as is.
        keep = too_long[column.field]
        normalised = normalising.normalise(text[column.field].mask(keep), column, notes)
        text[column.field] = normalised.where(~keep, text[column.field])
    for column in columns:
        if column.kind == "npn":
            text[column.field] = _canonical_npn_cells(text[column.field], column.header, notes)

    states = _states(reference)
    loa_lookup = _LoaLookup(reference) if kind in ("appoint", "terminate") else None
    checks, explain = _reference_checks(kind, text, states, loa_lookup, companies)
    schema = upload_schema(
        kind,
        states=states,
        reason_codes=_reason_codes(reference) if kind in _REASON_KINDS else None,
        company_cocodes=(
            frozenset(companies["cocode"].astype(str))
            if companies is not None and kind in _COMPANY_KINDS
            else None
        ),
        max_cell_chars=raw.max_cell_chars if any(s.any() for s in too_long.values()) else None,
        extra_checks=checks,
    )
    as_read = {f: frame[label].loc[~blank] for f, label in match.fields.items()}
    schema, explain_cells = cell_checks.with_cell_checks(schema, kind, as_read)
    errors = messages.row_errors(
        text, schema, kind, headers, lengths, raw.max_cell_chars, explain | explain_cells
    )
    unknown = cell_checks.unknown_column_errors(data, match.unknown, ssn_labels)
    if len(unknown):
        errors = pd.concat([errors, unknown], ignore_index=True)
        errors = errors.sort_values("row_number", kind="stable").reset_index(drop=True)
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
        ssn_labels=tuple(ssn_labels),
        _exploded=exploded,
    )


def _canonical_npn_cells(series: pd.Series, header: str, notes: normalising.Notes) -> pd.Series:
    """NPNs as NIPR writes them (no leading zeros), a warning on each row that changed.

    Before the checks, so that `048905991` and `48905991` in one file are one producer to the
    once-per-file checks, and the stored rows match the producer NIPR knows. An all-zero or
    over-long NPN is left for the `is_npn` check to refuse.
    """
    canonical = cells.map_distinct(series, canonical_npn)
    changed = (series.notna() & series.ne(canonical)).fillna(False).astype(bool)
    if changed.any():
        typed, now = series[changed], canonical[changed]
        shown = {
            (t, n): npn_read_note(cells.shown(t), cells.shown(n), header) or ""
            for t, n in set(zip(typed, now, strict=True))
        }
        said = [shown[(t, n)] for t, n in zip(typed, now, strict=True)]
        notes.per_cell(typed.index, header, pd.Series(said, index=typed.index, dtype="str"))
    return canonical


def _ssn_column_warning(label: str, kind: str, ssn_header: str | None) -> str:
    advice = (
        f"delete it and put SSNs only in the {ssn_header} column"
        if ssn_header
        else f"delete it, as {messages.a_file(kind)} needs no SSNs"
    )
    return (
        f"Column '{label}' looks like it holds SSNs and was ignored (its values are never "
        f"stored or shown); {advice}."
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
        ok, why = messages.appoint_loa_outcome(text, resolved, pairs)
        checks.append(_rows_pass(ok, "line_of_authority_resolves"))
        explain["line_of_authority_resolves"] = why.reindex
    if kind == "terminate" and loa_lookup is not None:
        missing_states = loa_lookup.unknown_states(text, states)
        known = missing_states.isna()
        checks.append(_rows_pass(known, "line_of_authority_in_states"))
        explain["line_of_authority_in_states"] = lambda rows: pd.Series(
            [
                f"Line of Authority '{cells.shown(text.at[r, 'line_of_authority'])}' is not a line of "
                f"authority in {missing_states.at[r]} (NIPR's workbook); write its name or NIPR "
                "code as the state lists it"
                for r in rows
            ],
            index=rows,
            dtype="str",
        )
    if companies is not None and kind in _COMPANY_KINDS:
        known_cocodes = frozenset(companies["cocode"].astype(str))
        explain["known_company"] = lambda rows: text.loc[rows, "cocodes"].map(
            lambda v: messages.list_message(
                "CoCodes",
                v,
                lambda i: i not in known_cocodes,
                "",
                "not one of your companies (config/companies.yaml)",
            )
        )
    return checks, explain


def _rows_pass(ok: pd.Series, name: str) -> pa.Check:
    """A dataframe-wide check that passes the rows `ok` says (rows it does not know pass)."""
    return pa.Check(lambda frame: ok.reindex(frame.index, fill_value=True), name=name)


def _blank_rows(frame: pd.DataFrame, stripped: Mapping[str, pd.Series]) -> pd.Series:
    blank = np.ones(len(frame), dtype=bool)
    for column_cells in stripped.values():
        blank &= column_cells.eq("").to_numpy(dtype=bool)
    return pd.Series(blank, index=frame.index)


def _states(reference: Mapping[str, pd.DataFrame]) -> list[str]:
    table = reference.get("jurisdictions")
    if table is None or table.empty:
        return list(JURISDICTION_CODES)
    return sorted(table["state_code"].astype(str).str.strip().str.upper().unique())


def _reason_codes(reference: Mapping[str, pd.DataFrame]) -> list[str]:
    return sorted(reference["termination_reasons"]["reason_code"].astype(str).unique())


# --------------------------------------------------------------------------------------------
# Lines of authority
# --------------------------------------------------------------------------------------------


class _LoaLookup:
    """Lines of authority by (state, NIPR code) or (state, name), and their categories."""

    def __init__(self, reference: Mapping[str, pd.DataFrame]):
        lines = reference["lines_of_authority"][["state_code", "loa_code", "loa_name"]]
        lines = lines.astype({"state_code": "str", "loa_code": "str"})
        self.lines = lines.assign(
            name_key=cells.map_distinct(lines["loa_name"].astype("str"), cells.match_key)
        )
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
        asked = asked.assign(
            name_key=cells.map_distinct(asked["loa"].astype("str"), cells.match_key)
        )
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
            [
                by_code[["row", "state_code", "loa_code", "loa_name"]],
                by_name[["row", "state_code", "loa_code", "loa_name"]],
            ],
            ignore_index=True,
        ).drop_duplicates()
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
        hit = asked.merge(
            found[["row", "state_code"]].drop_duplicates(),
            how="left",
            on=["row", "state_code"],
            indicator=True,
        )
        missing = hit[hit["_merge"] == "left_only"]
        joined = missing.groupby("row")["state_code"].agg(cells.and_list)
        return joined.reindex(text.index).astype("str")

    def termination_requests(self, valid: pd.DataFrame) -> pd.DataFrame:
        columns = list(REQUEST_COLUMNS["terminate"])
        if valid.empty:
            # Typed like a frame with rows, so that an upload without valid rows reads back the
            # same from `upload_request_rows`.
            return cells.empty_frame(columns, _TERMINATE_EMPTY_DTYPES)
        text = valid.set_axis(pd.Index(valid["row_number"].to_numpy()), axis=0)
        _, found = self._matches(text, list(JURISDICTION_CODES))
        out = found.merge(
            text.drop(columns=["state_codes"]), left_on="row", right_on="row_number"
        ).rename(columns={"row": "request_row"})
        return out.sort_values(["request_row", "state_code", "loa_code"])[columns].reset_index(
            drop=True
        )


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
        # The separators schemas.uploads.SSN lets through: dashes, spaces, dots.
        ssn = out["ssn"].str.replace(r"[-. ]", "", regex=True)
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
    elif kind == "offboard":
        out["effective_date"] = _date(out["effective_date"])
    elif kind == "jit_release":
        out["business_date"] = _date(out["business_date"])
    return out


def _producer_assignments(valid: pd.DataFrame) -> pd.DataFrame:
    columns = list(_ASSIGNMENT_COLUMNS)
    rows = valid[valid["has_assignment"]] if "has_assignment" in valid else valid.iloc[0:0]
    if rows.empty:
        return cells.empty_frame(columns, {"row_number": "int64"})
    rows = rows[
        [
            "row_number",
            "npn",
            "loa_categories",
            "state_codes",
            "cocodes",
            "scorecard_type",
            "agent_type",
        ]
    ]
    out = cells.split_explode(rows, "loa_categories", "loa_category")
    out = cells.split_explode(out, "state_codes", "state_code")
    out = cells.split_explode(out, "cocodes", "cocode")
    return out[columns]


def _appointment_requests(valid: pd.DataFrame) -> pd.DataFrame:
    out = cells.split_explode(valid, "state_codes", "state_code").rename(
        columns={"row_number": "request_row"}
    )
    return out[list(REQUEST_COLUMNS["appoint"])]
