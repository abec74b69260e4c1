"""The at-risk list and "may this producer sell": both from `evaluate_line_standing`. Pure.

- `appointment_standing`: every Appointed line (npn, state, cocode, line) judged by checks 6
  to 8, the rows of the `appointment_standing` table.
- `sales_authorization`: per (npn, state, cocode, category), Yes when at least one line of the
  category (the company's active business-rule lines, as the engine reads them: SPEC 6.2, and
  any line of the category the producer holds appointed with the company there) stands by checks 6 to 8 AND is appointed with the company (check 9: Appointed at NIPR,
  accepted since the last sync, or recorded in a registry state's register); each line's
  four answers are the reasons.

Which license a line is judged on: any license of the producer in the state that holds it (a
line hangs under its license's own class, ADR 0023). An appointment exists: it stands while
NIPR holds the line active on a license of the state, whatever class the company's business
rule names for new requests. The engine, judging a new request, looks only at the rule's class
(check 5); that is the one place the two answers can differ, and only for a line held under
another class than the rule's (tests/unit/test_compliance_can_sell.py: on a generated world,
every engine "Already Appointed" line is a Yes line, and every other Yes line is such a
line).
No Dagster, no I/O: frames in, frames out. docs/compliance.md gives the rules and choices.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import numpy as np
import pandas as pd

from assets.compliance.standing import evaluate_line_standing
from assets.rules.values import one_text

KEY = ("npn", "state_code", "cocode", "loa_code")
CATEGORY_KEY = ("npn", "state_code", "cocode", "loa_category")
#: The columns of the `appointment_standing` table, in its order.
STANDING_TABLE_COLUMNS = (
    *KEY,
    "company_name",
    "license_number",
    "license_class_code",
    "license_ok",
    "resident_ok",
    "line_ok",
    "is_at_risk",
    "risk_reason",
    "at_risk_since",
    "renewal_date",
    "evaluated_as_of",
    "evaluated_at",
    "at_risk_noticed_on",
)
#: One row per line of a category asked about (can-sell prints them).
LINE_ANSWER_COLUMNS = (
    "key_id",
    "loa_code",
    "license_number",
    "license_class_code",
    "license_ok",
    "resident_ok",
    "line_ok",
    "is_appointed",
    "can_sell",
    "risk_reason",
)
#: The columns of the `sales_authorization` table.
AUTHORIZATION_TABLE_COLUMNS = (
    *CATEGORY_KEY,
    "company_name",
    "can_sell",
    "selling_lines",
    "reasons",
    "evaluated_as_of",
    "evaluated_at",
)
NO_LINE_OF_CATEGORY = "The company has no active line of this category in the state"
YES, NO = "yes", "no"


def _text_frame(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """These columns as stripped text (None for blanks): keys compare as NIPR's text."""
    out = pd.DataFrame(index=frame.index)
    for column in columns:
        values = [one_text(v) for v in frame[column]] if column in frame.columns else None
        # Object, even when empty: an empty frame's keys must merge with any other's.
        out[column] = pd.Series(values, index=frame.index, dtype=object)
    return out


def active_rules(business_rules: pd.DataFrame) -> pd.DataFrame:
    """The active gateway business rules: cocode, state_code, loa_code, license_class_code
    (None: any class), loa_category."""
    columns = ("cocode", "state_code", "loa_code", "license_class_code", "loa_category")
    if business_rules.empty:
        return pd.DataFrame(columns=list(columns))
    active = business_rules["active"].map(
        lambda v: v is True or str(v).strip().lower() in {"true", "1", "t"}
    )
    return _text_frame(business_rules[active], columns).drop_duplicates().reset_index(drop=True)


def appointment_standing(
    appointed: pd.DataFrame,
    licenses: pd.DataFrame,
    license_loas: pd.DataFrame,
    as_of: dt.date,
    evaluated_at: dt.datetime,
) -> pd.DataFrame:
    """The `appointment_standing` rows (`STANDING_TABLE_COLUMNS`) of these Appointed lines
    (npn, state_code, cocode, loa_code; optional company_name, renewal_date), one per line."""
    lines = _text_frame(appointed, KEY)
    for column in ("company_name", "renewal_date"):
        lines[column] = appointed[column].to_numpy() if column in appointed.columns else None
    lines = lines.dropna(subset=list(KEY)).drop_duplicates(subset=list(KEY)).reset_index(drop=True)
    lines["line_id"] = range(len(lines))
    # Any class of the state (module docstring).
    classed = lines[["line_id", *KEY]].assign(license_class_code=None)
    standing = evaluate_line_standing(classed, licenses, license_loas, as_of)
    result = lines.merge(standing, on="line_id", how="left")
    result["is_at_risk"] = result["failing_check"].notna().to_numpy(dtype=bool)
    result["renewal_date"] = [_date(v) for v in result["renewal_date"]]
    result["evaluated_as_of"] = as_of
    result["evaluated_at"] = evaluated_at
    result["at_risk_noticed_on"] = pd.Series(
        [as_of if risky else None for risky in result["is_at_risk"]],
        index=result.index,
        dtype=object,
    )
    return result.loc[:, list(STANDING_TABLE_COLUMNS)]


def carry_noticed(standing: pd.DataFrame, previous: pd.DataFrame) -> pd.DataFrame:
    """`standing` with `at_risk_noticed_on` kept from the previous evaluation for a line that
    was already at risk then (`previous`: npn, state_code, cocode, loa_code,
    at_risk_noticed_on of the lines at risk before); a line newly at risk keeps this
    evaluation's day, a line that stands has none."""
    if previous.empty:
        return standing
    before = _text_frame(previous, KEY)
    before["noticed_before"] = [_date(v) for v in previous["at_risk_noticed_on"]]
    merged = standing.merge(before.drop_duplicates(subset=list(KEY)), on=list(KEY), how="left")
    noticed = [
        (earlier if isinstance(earlier, dt.date) else now) if risky else None
        for risky, earlier, now in zip(
            merged["is_at_risk"],
            merged["noticed_before"],
            merged["at_risk_noticed_on"],
            strict=True,
        )
    ]
    merged["at_risk_noticed_on"] = pd.Series(noticed, index=merged.index, dtype=object)
    return merged.loc[:, list(STANDING_TABLE_COLUMNS)]


def _date(value: object) -> dt.date | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return pd.Timestamp(str(value) if isinstance(value, str) else value).date()


def category_lines(
    keys: pd.DataFrame, business_rules: pd.DataFrame, loa_categories: pd.DataFrame
) -> pd.DataFrame:
    """Per key_id (a row of `keys`: npn, state_code, cocode, loa_category), the company's
    active business-rule lines of the category in the state, with the classes their rules
    name: key_id, npn, state_code, cocode, loa_code, license_class_code. A line is in the
    category by its rule's own category or by the loa_categories mapping (SPEC 6.2)."""
    asked = _text_frame(keys, CATEGORY_KEY)
    asked["key_id"] = range(len(asked))
    rules = active_rules(business_rules)
    mapping = _text_frame(loa_categories, ("state_code", "loa_code", "loa_category"))
    by_own = asked.merge(rules, on=["cocode", "state_code", "loa_category"])
    by_mapping = asked.merge(mapping, on=["state_code", "loa_category"]).merge(
        rules.drop(columns=["loa_category"]), on=["cocode", "state_code", "loa_code"]
    )
    columns = ["key_id", "npn", "state_code", "cocode", "loa_code", "license_class_code"]
    both = pd.concat([by_own[columns], by_mapping[columns]], ignore_index=True)
    return both.drop_duplicates().sort_values(["key_id", "loa_code"]).reset_index(drop=True)


def appointed_lines(
    appointments: pd.DataFrame, recorded: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Check 9's lines (npn, state_code, cocode, loa_code): Appointed appointments (give them
    with the lines NIPR accepted since the last sync, `with_accepted_appointments`) and the
    lines recorded in a registry state's register (`recorded`: transactions Recorded)."""
    parts = [_text_frame(appointments[appointments["status"].map(one_text) == "Appointed"], KEY)]
    if recorded is not None and not recorded.empty:
        parts.append(_text_frame(recorded, KEY))
    return pd.concat(parts, ignore_index=True).dropna().drop_duplicates().reset_index(drop=True)


def sales_authorization(
    keys: pd.DataFrame,
    business_rules: pd.DataFrame,
    loa_categories: pd.DataFrame,
    licenses: pd.DataFrame,
    license_loas: pd.DataFrame,
    appointed: pd.DataFrame,
    as_of: dt.date,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per key (a row of `keys`: npn, state_code, cocode, loa_category): key_id, can_sell,
    selling_lines (the lines that stand and are appointed, comma-separated), reasons (each
    line's four answers); and the lines themselves (`LINE_ANSWER_COLUMNS`). `appointed`:
    `appointed_lines`."""
    asked = _text_frame(keys, CATEGORY_KEY)
    asked["key_id"] = range(len(asked))
    columns = ["key_id", "npn", "state_code", "cocode", "loa_code"]
    ruled = category_lines(keys, business_rules, loa_categories)[columns]
    # And every line of the category the producer holds appointed with the company there, by
    # NIPR's facts, even where the company setup has no rule for it (or no longer appoints in
    # the state): the at-risk list judges those lines too, and the answers must agree.
    mapping = _text_frame(loa_categories, ("state_code", "loa_code", "loa_category"))
    held = asked.merge(appointed.loc[:, list(KEY)], on=["npn", "state_code", "cocode"]).merge(
        mapping, on=["state_code", "loa_code", "loa_category"]
    )[columns]
    line_keys = pd.concat([ruled, held], ignore_index=True).drop_duplicates()
    line_keys = line_keys.sort_values(["key_id", "loa_code"]).reset_index(drop=True)
    line_keys["line_id"] = range(len(line_keys))
    # Judged on any license of the state holding the line, as an appointment is (docstring).
    classed = line_keys.assign(license_class_code=None)
    standing = evaluate_line_standing(classed, licenses, license_loas, as_of)
    answers = line_keys.merge(standing, on="line_id", how="left")
    appointed_keys = appointed.loc[:, list(KEY)].assign(is_appointed=True)
    answers = answers.merge(appointed_keys, on=list(KEY), how="left")
    answers["is_appointed"] = answers["is_appointed"].eq(True)
    answers["can_sell"] = answers["failing_check"].isna() & answers["is_appointed"]
    line_answers = answers.loc[:, list(LINE_ANSWER_COLUMNS)]

    # One pass in plain Python: a book's authorization is a million lines (SPEC 12), and
    # pandas' per-group callables cost a hundred times more.
    reasons: dict[int, list[str]] = defaultdict(list)
    selling: dict[int, list[str]] = defaultdict(list)
    for key_id, code, sells, reason in zip(
        line_answers["key_id"].tolist(),
        line_answers["loa_code"].tolist(),
        line_answers["can_sell"].tolist(),
        line_reasons(line_answers).tolist(),
        strict=True,
    ):
        reasons[key_id].append(reason)
        if sells:
            selling[key_id].append(str(code))
    key_ids = asked["key_id"].tolist()
    per_key = asked.assign(
        can_sell=np.array([bool(selling.get(k)) for k in key_ids], dtype=bool),
        selling_lines=pd.Series(
            [", ".join(selling[k]) if selling.get(k) else None for k in key_ids],
            index=asked.index,
            dtype=object,
        ),
        reasons=pd.Series(
            ["; ".join(reasons[k]) if reasons.get(k) else NO_LINE_OF_CATEGORY for k in key_ids],
            index=asked.index,
            dtype=object,
        ),
    )
    return per_key, line_answers


def line_reasons(lines: pd.DataFrame) -> pd.Series:
    """Each line's answers in words: 'line 14 (license 123, class 1): licensed in the state
    yes, line active yes, resident license active yes, appointed with the company no'."""
    number = lines["license_number"].astype(object)
    license_class = (
        lines["license_class_code"].astype(object).where(lines["license_class_code"].notna(), "any")
    )
    on = pd.Series(
        [
            f" (license {n}, class {k})" if isinstance(n, str) else " (no license in the state)"
            for n, k in zip(number, license_class, strict=True)
        ],
        index=lines.index,
        dtype=object,
    )
    return (
        "line "
        + lines["loa_code"].astype(str)
        + on
        + ": licensed in the state "
        + _yes(lines["license_ok"])
        + ", line active "
        + _yes(lines["line_ok"])
        + ", resident license active "
        + _yes(lines["resident_ok"])
        + ", appointed with the company "
        + _yes(lines["is_appointed"])
    )


def _yes(flags: pd.Series) -> pd.Series:
    return pd.Series(np.where(flags.eq(True), YES, NO), index=flags.index, dtype=object)
