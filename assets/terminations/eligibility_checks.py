"""Termination eligibility's look-ups per request row (SPEC section 7): line, appointment, reason.

Each function adds to the request frame what one check needs: the line a blank loa_code names
(`resolve_lines`), whether the line is appointed (`has_appointment`), the termination reason as
the state spells it and whether the state takes it (`resolve_reasons`), and the company's name.
The state's own rules (NIPR filing, effective dates) are in `eligibility_state_rules`; the
entry point turns these columns into the first failing check's reason. Vectorised where pandas
allows, plain dict look-ups where it would not help. Pure, no Dagster.
"""

from __future__ import annotations

import pandas as pd

from assets.terminations.eligibility_frames import ABSENT
from assets.terminations.eligibility_values import flag, lower, text, upper
from assets.terminations.eligibility_vocabulary import APPOINTMENT_APPOINTED, KEY


def resolve_lines(req: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """A blank loa_code takes the code its loa_name has in the state, when exactly one."""
    table = pd.DataFrame(
        {
            "state_code": upper(lines["state_code"]),
            "name_key": lower(lines["loa_name"]),
            "named_code": text(lines["loa_code"]),
        }
    ).dropna()
    table = table.drop_duplicates()
    table = table[~table.duplicated(["state_code", "name_key"], keep=False)]
    req["name_key"] = lower(req["loa_name"])
    merged = req.merge(table, on=["state_code", "name_key"], how="left")
    merged["loa_code"] = merged["loa_code"].where(merged["loa_code"].notna(), merged["named_code"])
    return merged.drop(columns=["name_key", "named_code"])


def has_appointment(
    req: pd.DataFrame, appointments: pd.DataFrame, appointment_keys: pd.DataFrame
) -> pd.Series:
    """Check 1: an `Appointed` appointment (any case) exists for the row's line
    (`appointment_keys`: `normalise_keys(appointments)`)."""
    appointed = appointment_keys
    status = lower(appointments["status"])
    appointed = appointed[status.eq(APPOINTMENT_APPOINTED.lower()).to_numpy()]
    keys = set(appointed[KEY].dropna().itertuples(index=False, name=None))
    found = [key in keys for key in req[KEY].itertuples(index=False, name=None)]
    return pd.Series(found, index=req.index, dtype=bool)


def resolve_reasons(
    req: pd.DataFrame, state_reasons: pd.DataFrame, known_reasons: pd.DataFrame
) -> pd.DataFrame:
    """Checks 3 and 4's look-up: the reason code as the state spells it, or the state's single
    default for a blank one; `accepted` whether the state takes it; `given_reason` as given."""
    table = pd.DataFrame(
        {
            "state_code": upper(state_reasons["state_code"]),
            "reason_code": text(state_reasons["reason_code"]),
            "is_default": state_reasons["is_default"].map(flag).eq(True).to_numpy(),
        }
    ).dropna(subset=["state_code", "reason_code"])
    if not known_reasons.attrs.get(ABSENT):
        known = set(upper(known_reasons["reason_code"]).dropna())
        table = table[table["reason_code"].str.upper().isin(known)]
    accepted = {
        (state, code.upper()): code
        for state, code in zip(table["state_code"], table["reason_code"], strict=True)
    }
    defaults = table[table["is_default"]].drop_duplicates(["state_code", "reason_code"])
    defaults = defaults[~defaults.duplicated("state_code", keep=False)]
    default_of = dict(zip(defaults["state_code"], defaults["reason_code"], strict=True))

    given = text(req["termination_reason_code"])
    resolved: list[str | None] = []
    is_accepted: list[bool] = []
    for state, code in zip(req["state_code"], given, strict=True):
        if code is None:
            default = default_of.get(state)
            resolved.append(default)
            is_accepted.append(default is not None)
        else:
            canonical = accepted.get((state, code.upper()))
            resolved.append(canonical if canonical is not None else code)
            is_accepted.append(canonical is not None)
    req["given_reason"] = given
    req["termination_reason_code"] = pd.Series(resolved, index=req.index, dtype=object)
    req["accepted"] = pd.Series(is_accepted, index=req.index, dtype=bool)
    return req


def company_names(req: pd.DataFrame, companies: pd.DataFrame) -> pd.Series:
    """The company's name per row (the lowest, should a CoCode have several), else None."""
    names = pd.DataFrame(
        {"cocode": text(companies["cocode"]), "name": text(companies["company_name"])}
    ).dropna()
    name_of = names.groupby("cocode")["name"].min().to_dict()
    return pd.Series([name_of.get(c) for c in req["cocode"]], index=req.index, dtype=object)
