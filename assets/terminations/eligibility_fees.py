"""Termination eligibility's estimated fee: what the state will charge for each Ready row.

The state's `termination` row of `state_fees`: `resident_fee` when a license of the producer in
the state is resident, `nonresident_fee` when its licenses there are known and non-resident,
the higher of the two when residency is unknown (never a charge below what may come). No fee
row: 0. `per_loa` false: the first Ready row of each (npn, state, CoCode) carries the fee, the
others 0. Not Eligible rows: 0. Beside it NIPR's own fee (`estimated_nipr_fee`,
`assets.rules.nipr_fees`): the `termination` fee of `nipr_transaction_fees` on every Ready row,
each being one Gateway transaction; 0 on a row never sent (Not Eligible, a state whose
terminations are not filed through NIPR among them). Separate from the checks because nothing here decides
eligibility; it prices what was decided. Pure, no Dagster.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from assets.rules.nipr_fees import nipr_fees
from assets.terminations.eligibility_values import flag, lower, upper
from assets.terminations.eligibility_vocabulary import TRANSACTION_KIND
from schemas.statuses import READY_TO_SUBMIT


def fees(
    req: pd.DataFrame,
    state_fees: pd.DataFrame,
    licenses: pd.DataFrame,
    license_keys: pd.DataFrame,
    nipr_fees_by_kind: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """`req` (in result order) with `estimated_fee`, `estimated_nipr_fee` (NIPR's fee of
    `nipr_fees_by_kind`, none given: 0) and `is_resident` (True, False or None).
    `license_keys`: `producer_state_keys(licenses)`."""
    fee_table = pd.DataFrame(
        {
            "state_code": upper(state_fees["state_code"]),
            "resident_fee": pd.to_numeric(state_fees["resident_fee"], errors="coerce"),
            "nonresident_fee": pd.to_numeric(state_fees["nonresident_fee"], errors="coerce"),
            "per_loa": state_fees["per_loa"].map(flag).eq(True).to_numpy(),
        }
    )[lower(state_fees["transaction_kind"]).eq(TRANSACTION_KIND).to_numpy()]
    fee_table = fee_table.groupby("state_code", as_index=False).agg(
        resident_fee=("resident_fee", "max"),
        nonresident_fee=("nonresident_fee", "max"),
        per_loa=("per_loa", "any"),
    )

    residency = license_keys.assign(flag=licenses["is_resident"].map(flag).to_numpy()).dropna()
    residency = residency.groupby(["npn", "state_code"], as_index=False).agg(
        is_resident=("flag", "any")
    )

    out = req.merge(fee_table, on="state_code", how="left").merge(
        residency, on=["npn", "state_code"], how="left"
    )
    resident = out["resident_fee"].fillna(0.0).to_numpy(dtype=np.float64)
    nonresident = out["nonresident_fee"].fillna(0.0).to_numpy(dtype=np.float64)
    known = out["is_resident"].notna().to_numpy()
    is_resident = out["is_resident"].eq(True).to_numpy()
    fee = np.where(
        known, np.where(is_resident, resident, nonresident), np.maximum(resident, nonresident)
    )
    ready = out["status"].eq(READY_TO_SUBMIT).to_numpy()
    per_loa = out["per_loa"].eq(True).to_numpy()
    # Rows are already in result order, so the first of each appointment carries the fee.
    repeat_of_appointment = (
        out[ready][["npn", "state_code", "cocode"]]
        .duplicated()
        .reindex(out.index, fill_value=False)
        .to_numpy(dtype=bool)
    )
    charged = ready & (per_loa | ~repeat_of_appointment)
    out["estimated_fee"] = np.where(charged, fee, 0.0)
    out["estimated_nipr_fee"] = nipr_fees(TRANSACTION_KIND, out["status"], nipr_fees_by_kind or {})
    out["is_resident"] = [None if pd.isna(v) else bool(v) for v in out["is_resident"]]
    return out
