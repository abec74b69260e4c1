"""The liability of a renewal plan per company and state, and the words the command prints.
Pure: no Dagster, no I/O (docs/renewals.md).

`liability_by_state(plan, renewals)`: per (CoCode, state), the lines planned, the fees counted
as `count x fee` (appointments for a per-appointment fee, lines for a per-line fee), the state
fees, NIPR's processing fee where NIPR invoices the renewal (1% of the state fees, $5 to
$1,000), and what terminating the recommended lines before the cut-off saves (the state fees
saved and the part of NIPR's fee they carry).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from assets.renewals.plan import TERMINATE, nipr_processing_fee
from assets.rules.values import flag

LIABILITY_COLUMNS = (
    "cocode",
    "state_code",
    "renews",
    "lines",
    "lines_to_terminate",
    "fee_breakdown",
    "state_fees",
    "nipr_fee",
    "total",
    "saving",
    "cutoff_date",
    "cutoff_passed",
    "is_assumption",
)


def money(amount: float) -> str:
    return f"${amount:,.2f}"


def _breakdown(counted: pd.DataFrame, unit: str) -> str:
    """`3 appointments x $25.00 + 1 appointment x $60.00`, highest fee first."""
    if counted.empty:
        return "nothing counted"
    parts = []
    for fee, count in counted.groupby("fee")["fee"].count().sort_index(ascending=False).items():
        parts.append(f"{count} {unit}{'s' if count != 1 else ''} x {money(float(fee))}")
    return " + ".join(parts)


def liability_by_state(plan: pd.DataFrame, renewals: pd.DataFrame) -> pd.DataFrame:
    """One row per (CoCode, state) of the plan (`LIABILITY_COLUMNS`)."""
    nipr_states = {
        str(r["state_code"])
        for r in renewals.to_dict("records")
        if flag(r.get("nipr_processing_fee"))
    }
    rows: list[dict[str, object]] = []
    for (cocode, state), lines in plan.groupby(["cocode", "state_code"], sort=True):
        counted = lines[lines["fee_counted"].astype(bool)]
        unit = "line" if (lines["fee_basis"] == "per_line").all() else "appointment"
        state_fees = float(counted["fee"].sum())
        saving = float(lines["saving_if_terminated"].sum())
        nipr_fee = nipr_processing_fee(state_fees) if state in nipr_states else 0.0
        nipr_after = nipr_processing_fee(state_fees - saving) if state in nipr_states else 0.0
        cutoffs = [d for d in lines["cutoff_date"] if isinstance(d, dt.date)]
        passed = [p for p in lines["cutoff_passed"] if p is not None and not pd.isna(p)]
        rows.append(
            {
                "cocode": cocode,
                "state_code": state,
                "renews": lines["renews"].iloc[0],
                "lines": len(lines),
                "lines_to_terminate": int(lines["recommendation"].eq(TERMINATE).sum()),
                "fee_breakdown": _breakdown(counted, unit),
                "state_fees": state_fees,
                "nipr_fee": nipr_fee,
                "total": state_fees + nipr_fee,
                "saving": round(saving + nipr_fee - nipr_after, 2),
                "cutoff_date": min(cutoffs) if cutoffs else None,
                "cutoff_passed": any(bool(p) for p in passed) if passed else None,
                "is_assumption": bool(lines["is_assumption"].astype(bool).any()),
            }
        )
    return pd.DataFrame(rows, columns=list(LIABILITY_COLUMNS))


def cutoff_words(cutoff: dt.date | None, passed: bool | None, window: dt.date | None) -> str:
    """What the cut-off means for the analyst, in words (never a blank or `None`)."""
    if cutoff is None:
        if window is not None and passed:
            return f"cut-off unknown; the window opened on {window:%Y-%m-%d} (too late for this renewal)"
        if window is not None:
            return (
                f"cut-off unknown: terminate before the renewal window opens on {window:%Y-%m-%d}"
            )
        return "cut-off unknown: terminate as soon as possible"
    if passed:
        return f"cut-off {cutoff:%Y-%m-%d} passed (too late for this renewal)"
    return f"terminate by {cutoff:%Y-%m-%d}"
