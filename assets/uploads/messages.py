"""Row errors in plain English: pandera's failure cases turned into what an analyst reads. Pure.

`row_errors` validates the normalised frame with the kind's pandera model, lazily, and makes one
row error per failing cell: the spreadsheet row, the template column, the value (neutralised,
SSNs masked) and a message that says what is wrong and how to fix it. When a cell fails several
checks the most basic problem wins: a control character, a line break in a name or an
over-long cell, then a blank required cell, an invisible character in an identifier or a value
shaped like an SSN outside the SSN column, then a malformed value, then a value unknown to the
reference data, then cross-column rules, then duplicates. Every message goes through the SSN
mask last, whatever it quotes. Separate from `validation.py`: the rules live in `schemas/uploads.py` and there;
the wording of every message lives here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd
import pandera.pandas as pa

from assets.uploads import cells
from schemas.email_addresses import checked_email
from schemas.npns import npn_problem
from schemas.reference import JURISDICTION_CODES, LOA_CATEGORIES
from schemas.ssn_shapes import is_ssn_shape
from schemas.uploads import (
    AGENT_TYPES,
    ASSIGNMENT_FIELDS,
    SCORECARD_LICENSE_AND_APPOINTMENT,
    TEMPLATES,
    TemplateColumn,
)

ERROR_COLUMNS = ["row_number", "column", "value", "message"]
_VALUE_CHARS = 200  # the value column of a row error


def appoint_loa_outcome(
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
        loa = cells.shown(text.at[row, "line_of_authority"])
        states = cells.and_list(pd.Series(text.at[row, "state_codes"].split(";")))
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
    "control_character": 0,
    "line_break": 0,
    "cell_too_long": 0,
    "not_nullable": 1,
    "invisible_character": 1,
    "ssn_shaped": 1,
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
        if cells.missing(number):
            result.append(str(check))
        elif context == "DataFrameSchema":
            result.append(names.get(("", int(number)), str(check)))
        else:
            result.append(names.get((str(column), int(number)), str(check)))
    return pd.Series(result, index=cases.index, dtype="str")


def row_errors(
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
        return cells.empty_frame(ERROR_COLUMNS, {"row_number": "int64"})
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
    failures.loc[
        failures["name"].isin(["license_and_appointment_has_cocodes", "has_loa_category_or_line"]),
        "priority",
    ] = 4
    failures = failures.sort_values(["row", "field", "priority"], kind="stable")
    failures = failures.drop_duplicates(["row", "field"], keep="first")

    parts = []
    for (field_name, name), group in failures.groupby(["field", "name"], sort=False):
        rows = pd.Index(group["row"].to_numpy())
        values = text.loc[rows, field_name]
        message = _message(
            field_name, name, values, text, kind, headers, lengths, max_chars, explain
        )
        mask = cells.mask_ssn_value if field_name == "ssn" else cells.mask_ssns
        shown = cells.map_distinct(values, partial(report_value, mask=mask))
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
    errors = errors.astype(
        {"row_number": "int64", "column": "str", "value": "str", "message": "str"}
    )
    errors["message"] = cells.map_distinct(errors["message"], cells.mask_ssns)
    return errors


def report_value(value: str, mask: Callable[[str], str] = cells.mask_ssns) -> str:
    """A value as the error report's value column shows it: SSNs masked, never a formula, no
    control or invisible character."""
    return cells.neutralise(mask(cells.without_invisible_characters(value)))[:_VALUE_CHARS]


def a_file(kind: str) -> str:
    """'an appoint file', 'a terminate file'."""
    return f"{'an' if kind[:1] in ('a', 'e', 'i', 'o', 'u') else 'a'} {kind} file"


def control_character_message(header: str, character: str) -> str:
    return f"{header} holds a control character ({character}); retype the cell without it"


def _quoted(column: TemplateColumn, value: str) -> str:
    """A value quoted in a message; the SSN column's only by its last four digits."""
    return cells.mask_ssn_value(value) if column.kind == "ssn" else cells.shown(value)


def _character_message(
    name: str, column: TemplateColumn, values: pd.Series, kind: str
) -> pd.Series:
    """The words for the checks every cell gets (`cell_checks.py`)."""
    header = column.header
    if name == "line_break":
        return pd.Series(
            f"{header} holds a line break; type the name on one line",
            index=values.index,
            dtype="str",
        )
    if name == "invisible_character":
        return cells.map_distinct(
            values,
            lambda v: (
                f"{header} '{_quoted(column, v)}' holds an invisible character "
                f"({cells.invisible_character_name(v)}), often pasted from a web page or an "
                "email; retype the value"
            ),
        )
    ssn_column = next((c.header for c in TEMPLATES[kind] if c.kind == "ssn"), None)
    where = f"an SSN belongs only in {ssn_column}" if ssn_column else f"{a_file(kind)} has no SSNs"
    return cells.map_distinct(
        values,
        lambda v: (
            f"{header} '{cells.shown(v)}' holds a number shaped like an SSN; remove it ({where})"
        ),
    )


def _formula_or(
    values: pd.Series, header: str, default: Callable[[str, str], str], what: str = "the value"
) -> pd.Series:
    def one(value: str) -> str:
        shown = cells.shown(value)
        if cells.looks_like_formula(value):
            return f"{header} '{shown}' looks like a spreadsheet formula; type {what} as plain text"
        if value.startswith("#") and value.rstrip("!?/0").upper() in {
            "#N/A",
            "#VALUE",
            "#REF",
            "#NAME",
            "#DIV",
            "#NUM",
            "#NULL",
        }:
            return f"{header} '{shown}' is a spreadsheet error value; type {what} as plain text"
        return default(shown, value)

    return cells.map_distinct(values, one)


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
    if f"{name}:{field_name}" in explain:  # a check of every cell, with its field's words
        return explain[f"{name}:{field_name}"](rows)
    if name in explain:
        return explain[name](rows)
    if name in ("line_break", "invisible_character", "ssn_shaped"):
        return _character_message(name, column, values, kind)
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
        return _formula_or(
            values,
            header,
            lambda s, v: (
                f"{header} '{s}' is not a termination reason; use a code from the "
                "termination_reason_key sheet, or leave it blank for the state's default"
            ),
        )
    return _format_message(column, header, values)


def list_message(
    header: str, value: str, bad: Callable[[str], bool], hint: str, problem: str
) -> str:
    items = [i for i in value.split(";") if bad(i)]
    shown = ", ".join(f"'{cells.shown(i, 20)}'" for i in items[:5]) + (
        " ..." if len(items) > 5 else ""
    )
    verb = "is" if len(items) == 1 else "are"
    return f"{header} '{cells.shown(value)}': {shown} {verb} {problem}{hint}"


def _format_message(column: TemplateColumn, header: str, values: pd.Series) -> pd.Series:
    kind = column.kind
    if kind == "npn":

        def npn(shown: str, value: str) -> str:
            if re.fullmatch(r"[0-9](\.[0-9]+)?[eE]\+?[0-9]+", value):
                return (
                    f"{header} '{shown}' was turned into scientific notation by a "
                    "spreadsheet; format the column as Text and type the full NPN"
                )
            if value.isascii() and value.isdigit():  # all zeros, or over 10 digits
                return cells.mask_ssns(npn_problem(value, header) or "")
            if is_ssn_shape(value):
                return f"{header} '{shown}' looks like an SSN, not an NPN"
            if cells.has_non_ascii_digit(value):
                return _other_digits(header, shown)
            return f"{header} '{shown}' must be digits only (up to 10)"

        return _formula_or(values, header, npn, "the NPN")
    if kind == "cocode":

        def cocode(shown: str, value: str) -> str:
            if cells.has_non_ascii_digit(value):
                return _other_digits(header, shown)
            if re.fullmatch(r"[0-9]{1,4}", value):
                return (
                    f"{header} '{shown}' must be exactly 5 digits (did a spreadsheet drop a "
                    f"leading zero? format the column as Text and type '{value.zfill(5)}')"
                )
            if re.fullmatch(r"[0-9](\.[0-9]+)?[eE]\+?[0-9]+", value):
                return (
                    f"{header} '{shown}' was turned into scientific notation by a "
                    "spreadsheet; format the column as Text and type the 5 digits"
                )
            return f"{header} '{shown}' must be exactly 5 digits"

        return _formula_or(values, header, cocode, "the CoCode")
    if kind == "ssn":
        return cells.map_distinct(
            values,
            lambda v: (
                f"{header} uses digits other than 0-9 (the value ending in "
                f"'{cells.mask_ssn_value(v)[-4:]}'); retype it with the digits 0-9"
                if cells.has_non_ascii_digit(v)
                else f"{header} must be 9 digits, with or without dashes (the value ending in "
                f"'{cells.mask_ssn_value(v)[-4:]}' is not)"
            ),
        )
    if kind == "email":
        return _formula_or(
            values,
            header,
            lambda s, v: (
                f"{header} '{s}' is not a valid email address: "
                f"{checked_email(v)[1] or 'it is not an email address'}"
            ),
            "the address",
        )
    if kind == "states":
        return _formula_or(
            values,
            header,
            lambda s, v: list_message(
                header,
                v,
                lambda i: i not in _STATE_SET,
                _comma_hint(v, "states"),
                "not one of the 54 NIPR state codes",
            ),
            "the state codes",
        )
    if kind == "cocodes":

        def cocodes(shown: str, value: str) -> str:
            if cells.has_non_ascii_digit(value):
                return _other_digits(header, shown)
            short = any(re.fullmatch(r"[0-9]{1,4}", i) for i in value.split(";"))
            hint = _comma_hint(value, "CoCodes") or (
                " (did a spreadsheet drop a leading zero? format the column as Text)"
                if short
                else ""
            )
            return list_message(
                header, value, lambda i: not re.fullmatch(r"[0-9]{5}", i), hint, "not 5 digits"
            )

        return _formula_or(values, header, cocodes, "the CoCodes")
    if kind == "categories":
        return _formula_or(
            values,
            header,
            lambda s, v: list_message(
                header,
                v,
                lambda i: i not in LOA_CATEGORIES,
                _comma_hint(v, "categories"),
                "not an LOA category (see the accepted_values sheet)",
            ),
            "the categories",
        )
    if kind == "category":
        return _formula_or(
            values,
            header,
            lambda s, v: (
                f"{header} '{s}': one category per row; add a row for each category"
                if ";" in v
                else f"{header} '{s}' is not an LOA category (see the accepted_values sheet)"
            ),
        )
    if kind == "scorecard_type":
        return _formula_or(
            values,
            header,
            lambda s, v: f"{header} '{s}' must be 'License' or 'License & Appointment'",
        )
    if kind == "agent_type":
        allowed = " or ".join(f"'{t}'" for t in AGENT_TYPES)
        return _formula_or(values, header, lambda s, v: f"{header} '{s}' must be {allowed}")
    if kind == "bool":
        return _formula_or(
            values, header, lambda s, v: f"{header} '{s}' must be TRUE or FALSE (blank means FALSE)"
        )
    if kind == "date":
        return _formula_or(
            values,
            header,
            lambda s, v: f"{header} '{s}' is not a date; write YYYY-MM-DD or MM/DD/YYYY",
        )
    return cells.map_distinct(values, lambda v: f"{header} '{cells.shown(v)}' is not accepted")


_STATE_SET = frozenset(JURISDICTION_CODES)


def _other_digits(header: str, shown: str) -> str:
    return (
        f"{header} '{shown}' uses digits other than 0-9 (such as Arabic-Indic or full-width "
        "digits); retype it with the digits 0-9"
    )


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
        listed = cells.and_list(pd.Series(names))
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
            [
                f"{header} '{cells.shown(text.at[r, 'npn'])}' is already on row "
                f"{int(repeated.at[r, 'first'])}; list each producer once per file"
                for r in rows
            ],
            index=rows,
            dtype="str",
        )
    if name == "invite_once_per_file":
        keyed = text[["row_number", "npn"]].assign(portal=text["portal_name"].str.casefold())
        repeated = _first_rows(keyed.dropna(), ["npn", "portal"]).set_index("row_number")
        return pd.Series(
            [
                f"{header} '{cells.shown(text.at[r, 'npn'])}' is already invited to "
                f"'{cells.shown(text.at[r, 'portal_name'])}' on row {int(repeated.at[r, 'first'])}"
                for r in rows
            ],
            index=rows,
            dtype="str",
        )
    what = "loa_category" if kind == "appoint" else "line_of_authority"
    keyed = text[["row_number", "npn", "state_codes", "cocode"]].assign(
        what=text[what] if kind == "appoint" else text[what].str.casefold()
    )
    keyed = cells.split_explode(keyed.dropna(), "state_codes", "state_code")
    keyed = keyed.drop(columns="state_codes").rename(columns={"state_code": "state_codes"})
    repeated = _first_rows(keyed, ["npn", "state_codes", "cocode", "what"])
    repeated = repeated.sort_values(["row_number", "first"]).drop_duplicates("row_number")
    repeated = repeated.set_index("row_number")
    label = "LOA Category" if kind == "appoint" else "Line of Authority"
    return pd.Series(
        [
            f"NPN '{cells.shown(text.at[r, 'npn'])}', {repeated.at[r, 'state_codes']}, CoCode "
            f"'{text.at[r, 'cocode']}', {label} '{cells.shown(text.at[r, what])}' is already requested "
            f"on row {int(repeated.at[r, 'first'])}; list each request once per file"
            for r in rows
        ],
        index=rows,
        dtype="str",
    )
