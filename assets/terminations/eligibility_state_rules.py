"""Termination eligibility's state rules: filing through NIPR and effective-date limits.

`state_appointment_rules` (DOMAIN 3.4) says per state whether terminations go through NIPR
(check 2) and which effective dates it takes (check 5): a date may not be given where the
state uses its processing date, none after the as-of date, none further back than the state's
`termination_max_backdate_days`, and a date that cannot be read is reported, not guessed. A
state with no row has no known rule: NIPR, not a guess of ours, then decides. Separate from
the other checks because these limits count from `as_of` and read dates, which no other check
does. Pure, no Dagster.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from assets.terminations.eligibility_values import flag, one_date_or_text, upper


def state_rules(req: pd.DataFrame, rules: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """Whether the state takes terminations through NIPR, and the effective-date limits.

    Adds `via_nipr`, `max_backdate_days`, the flags `date_unreadable`, `date_not_specifiable`,
    `date_in_future`, `date_too_old`, and `unreadable_date` (the text quoted in its reason);
    `effective_date` becomes the date read, or None.
    """
    table = pd.DataFrame(
        {
            "state_code": upper(rules["state_code"]),
            "via": rules["terminations_via_nipr"].map(flag).to_numpy(dtype=object),
            "specifiable": rules["termination_date_specifiable"].map(flag).to_numpy(dtype=object),
            "max_backdate_days": pd.to_numeric(
                rules["termination_max_backdate_days"], errors="coerce"
            ).to_numpy(),
        }
    ).dropna(subset=["state_code"])
    table = table.drop_duplicates("state_code", keep="last").set_index("state_code")
    found = table.reindex(req["state_code"].to_numpy())
    # Unknown is not false: only a rule that says "not via NIPR" stops the transaction.
    req["via_nipr"] = ~found["via"].eq(False).to_numpy(dtype=bool)
    req["max_backdate_days"] = found["max_backdate_days"].to_numpy()

    given = req["effective_date"].map(one_date_or_text)
    is_date = given.map(lambda v: isinstance(v, dt.date))
    req["date_unreadable"] = given.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
    dates = pd.Series([v if isinstance(v, dt.date) else None for v in given], index=req.index)
    req["date_not_specifiable"] = (is_date & found["specifiable"].eq(False).to_numpy()).to_numpy(
        dtype=bool
    )
    req["date_in_future"] = np.array([d is not None and d > as_of for d in dates], dtype=bool)
    limits = req["max_backdate_days"]
    req["date_too_old"] = np.array(
        [
            d is not None and pd.notna(days) and d < as_of - dt.timedelta(days=int(days))
            for d, days in zip(dates, limits, strict=True)
        ],
        dtype=bool,
    )
    req["unreadable_date"] = [v if isinstance(v, str) else None for v in given]
    # Only a date is written on the transaction; an unreadable one is quoted in its reason.
    req["effective_date"] = pd.Series(list(dates), index=req.index, dtype=object)
    return req
