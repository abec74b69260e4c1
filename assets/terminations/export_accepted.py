"""The terminate export's lines NIPR Accepted since the last sync. Pure: no Dagster.

The licensing report is built from `appointments`, NIPR's state as of the last sync: a line
appointed through our Gateway submission an hour ago is not in it, yet it can be terminated
(`accepted_appointments.py`; termination eligibility reads the same lines). `npnflow export
terminate` reads those lines from the database and adds them to the report it read, so the
export offers them like any Appointed line.
"""

from __future__ import annotations

import pandas as pd

from assets.terminations.export import APPOINTED, _cocode_text, _key_text, _report_lines


def with_accepted_lines(
    report: pd.DataFrame, accepted: pd.DataFrame, lines_of_authority: pd.DataFrame
) -> pd.DataFrame:
    """The report with a row per line NIPR Accepted since the last sync (npn, state_code, cocode,
    loa_code of `accepted`), as Appointed, named from `lines_of_authority`; a line the report
    already shows as Appointed is not added twice. `attrs["accepted_lines"]` holds the
    (npn, state_code, loa_code, cocode) of the rows added."""
    if accepted.empty:
        result = report.copy()
        result.attrs["accepted_lines"] = set()
        return result
    names = {
        (_key_text(state) or "").upper() + "|" + (_key_text(code) or ""): _key_text(name)
        for state, code, name in zip(
            lines_of_authority["state_code"],
            lines_of_authority["loa_code"],
            lines_of_authority["loa_name"],
            strict=True,
        )
    }
    lines = _report_lines(report)
    shown = set(
        zip(
            lines.loc[lines["is_appointed"], "npn"],
            lines.loc[lines["is_appointed"], "state_code"],
            lines.loc[lines["is_appointed"], "cocode"],
            lines.loc[lines["is_appointed"], "loa_code"],
            strict=True,
        )
    )
    added = []
    for line in accepted.to_dict("records"):
        npn, state = _key_text(line["npn"]), (_key_text(line["state_code"]) or "").upper()
        cocode, code = _cocode_text(line["cocode"]), _key_text(line["loa_code"])
        if (npn, state, cocode, code) in shown:
            continue
        added.append(
            {
                "npn": npn,
                "state_code": state,
                "loa_code": code,
                "loa_name": names.get(f"{state}|{code}"),
                "cocode": cocode,
                "appointment_status": APPOINTED,
            }
        )
    result = pd.concat([report, pd.DataFrame(added)], ignore_index=True) if added else report.copy()
    result.attrs["accepted_lines"] = {
        (a["npn"], a["state_code"], a["loa_code"], a["cocode"]) for a in added
    }
    return result
