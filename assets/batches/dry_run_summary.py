"""What a dry run (`npnflow check`) reports, from the plan the upload step would write. Pure.

- `lines`: every line of the plan, one row each: the transactions (Not Eligible included), an
  appoint file's rejected request rows, and the repeats the step would not create (status
  `NOT_CREATED_REPEAT`), with reason, status, state fee and NIPR's fee;
- `by_reason_and_status`, `status_counts`, `batches`: the counts and the batches per CoCode;
- `fees`: the fees to send, held, and avoided. Fees avoided, precisely: NIPR's own
  transaction fee of the kind (nipr_transaction_fees.csv) for each line the checks keep from
  being sent that a sender without them would have sent, that is each Not Eligible
  transaction and each repeat not created. A request row rejected before it names a line
  (Producer Not Found, ...) counts none: how many lines it would have asked is not known. The
  state fees of those lines are not counted (the engine prices a line only when it is
  eligible: a line without a license has no resident or nonresident fee), so the figure is a
  floor, never an overstatement;
- `compare`: the lines whose reason, status or fees differ between two evaluations;
- `preview_csv` / `preview_xlsx`: every line, each cell neutralised (a value starting with
  = + - @ is never run as a formula) and SSN-shaped text masked.
"""

from __future__ import annotations

import pandas as pd

from assets.batches.dry_run import Evaluation
from assets.batches.planning import TRANSACTION_ID_PARTS, transaction_ids_for
from assets.batches.spreadsheet import safe_csv, safe_xlsx
from schemas import statuses

#: The status of a line the step would not create because it repeats another (the preview's
#: word; such a line is never a row of `transactions`).
NOT_CREATED_REPEAT = "Not Created (Repeat)"
#: How the dry run names a batch's submission mode.
MODE_AUTO = "approved automatically"
MODE_REVIEW = "for review"

LINE_COLUMNS = (
    "request_row",
    "npn",
    "state_code",
    "cocode",
    "loa_category",
    "loa_code",
    "license_number",
    "termination_reason_code",
    "effective_date",
    "eligibility_reason",
    "status",
    "estimated_fee",
    "estimated_nipr_fee",
    "batch",
)
PREVIEW_HEADERS = {
    "request_row": "Row",
    "npn": "NPN",
    "state_code": "State",
    "cocode": "CoCode",
    "loa_category": "LOA Category",
    "loa_code": "LOA",
    "license_number": "License",
    "termination_reason_code": "Termination Reason",
    "effective_date": "Effective Date",
    "eligibility_reason": "Reason",
    "status": "Status",
    "estimated_fee": "State Fee",
    "estimated_nipr_fee": "NIPR Fee",
    "batch": "Batch",
}
COMPARED = ("eligibility_reason", "status", "estimated_fee", "estimated_nipr_fee")


def _mode(auto: object) -> str:
    return MODE_AUTO if auto is True or (not isinstance(auto, str) and bool(auto)) else MODE_REVIEW


def lines(evaluation: Evaluation) -> pd.DataFrame:
    """Every line of the plan (see the module docstring), in request row order."""
    plan = evaluation.plan
    t = plan.transactions
    created = pd.DataFrame(
        {
            column: t[column] if column in t.columns else None
            for column in LINE_COLUMNS
            if column != "batch"
        }
    )
    created["batch"] = [
        f"{cocode} {_mode(auto)}"
        for cocode, auto in zip(t["cocode"], t["auto_submit"], strict=True)
    ]
    parts = [created]
    if len(plan.rejections):
        r = plan.rejections
        parts.append(
            pd.DataFrame(
                {
                    column: r[column] if column in r.columns else None
                    for column in LINE_COLUMNS
                    if column not in ("estimated_fee", "estimated_nipr_fee", "batch")
                }
            ).assign(estimated_fee=0.0, estimated_nipr_fee=0.0, batch="")
        )
    if len(plan.repeats):
        r = plan.repeats
        parts.append(
            pd.DataFrame(
                {
                    column: r[column] if column in r.columns else None
                    for column in LINE_COLUMNS
                    if column
                    not in ("eligibility_reason", "status", "estimated_fee", "estimated_nipr_fee")
                    and column != "batch"
                }
            ).assign(
                eligibility_reason=r["reason"].to_numpy(),
                status=NOT_CREATED_REPEAT,
                estimated_fee=0.0,
                estimated_nipr_fee=0.0,
                batch="",
            )
        )
    out = (
        pd.concat([p for p in parts if len(p)], ignore_index=True)
        if any(len(p) for p in parts)
        else created
    )
    out = out.loc[:, list(LINE_COLUMNS)]
    for column in ("estimated_fee", "estimated_nipr_fee"):
        out[column] = pd.to_numeric(out[column], errors="coerce").fillna(0.0).astype(float)
    out["request_row"] = out["request_row"].astype("int64")
    return out.sort_values(
        ["request_row", "state_code", "loa_code"], kind="stable", na_position="first"
    ).reset_index(drop=True)


def by_reason_and_status(line_frame: pd.DataFrame) -> pd.DataFrame:
    """Lines per (reason, status), the most frequent first."""
    if line_frame.empty:
        return pd.DataFrame(columns=["eligibility_reason", "status", "lines"])
    return (
        line_frame.groupby(["eligibility_reason", "status"], dropna=False)
        .size()
        .rename("lines")
        .reset_index()
        .sort_values(["lines", "eligibility_reason"], ascending=[False, True], kind="stable")
        .reset_index(drop=True)
    )


def status_counts(line_frame: pd.DataFrame) -> dict[str, int]:
    counts = line_frame["status"].value_counts()
    return {str(status): int(count) for status, count in counts.items()}


def batches(evaluation: Evaluation) -> pd.DataFrame:
    """Per batch the step would create: CoCode, mode, status, lines, ready, held, not eligible,
    the state fees and NIPR's fees of its lines to send."""
    plan = evaluation.plan
    rows = []
    t = plan.transactions
    for batch in plan.batches.itertuples(index=False):
        mine = t[t["batch_id"].eq(batch.batch_id)]
        sent = mine["status"].isin(sorted(statuses.NIPR_FEE_STATUSES))
        rows.append(
            {
                "cocode": str(batch.cocode),
                "mode": _mode(batch.submit_immediately),
                "batch_status": str(batch.status),
                "lines": len(mine),
                "ready": int(mine["status"].eq(statuses.READY_TO_SUBMIT).sum()),
                "held": int(mine["status"].eq(statuses.HELD_JIT).sum()),
                "not_eligible": int(mine["status"].eq(statuses.NOT_ELIGIBLE).sum()),
                "state_fees": round(float(mine.loc[sent, "estimated_fee"].fillna(0).sum()), 2),
                "nipr_fees": round(float(mine.loc[sent, "estimated_nipr_fee"].fillna(0).sum()), 2),
            }
        )
    columns = ["cocode", "mode", "batch_status", "lines", "ready", "held", "not_eligible"]
    frame = pd.DataFrame(rows, columns=[*columns, "state_fees", "nipr_fees"])
    return frame.sort_values(["cocode", "mode"], kind="stable").reset_index(drop=True)


def fees(evaluation: Evaluation, line_frame: pd.DataFrame) -> dict[str, float | int]:
    """The fees to send, held and avoided (see the module docstring)."""
    ready = line_frame["status"].eq(statuses.READY_TO_SUBMIT)
    held = line_frame["status"].eq(statuses.HELD_JIT)
    avoided = line_frame["status"].isin([statuses.NOT_ELIGIBLE, NOT_CREATED_REPEAT])
    per_line = evaluation.nipr_fee_per_line
    return {
        "state_fees_to_send": round(float(line_frame.loc[ready, "estimated_fee"].sum()), 2),
        "nipr_fees_to_send": round(float(line_frame.loc[ready, "estimated_nipr_fee"].sum()), 2),
        "lines_held": int(held.sum()),
        "state_fees_held": round(float(line_frame.loc[held, "estimated_fee"].sum()), 2),
        "lines_avoided": int(avoided.sum()),
        "nipr_fee_per_line": per_line,
        "nipr_fees_avoided": round(per_line * int(avoided.sum()), 2),
    }


def _keyed(line_frame: pd.DataFrame) -> pd.DataFrame:
    keyed = line_frame.copy()
    # The transaction id's parts name a line (its request row, state, CoCode, category, LOA,
    # license); a repeat and a transaction of the same parts are told apart by their status.
    keyed["line_key"] = transaction_ids_for("compare", keyed.loc[:, list(TRANSACTION_ID_PARTS)])
    keyed["line_key"] += keyed["status"].eq(NOT_CREATED_REPEAT).map({True: "/repeat", False: ""})
    return keyed.drop_duplicates("line_key")


def compare(today: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    """The lines whose reason, status, state fee or NIPR fee differ between `today`'s lines
    and `other`'s, a line only one side has included (its other side blank)."""
    described = ["request_row", "npn", "state_code", "cocode", "loa_category", "loa_code"]
    left, right = _keyed(today), _keyed(other)
    merged = left.merge(
        right, on="line_key", how="outer", suffixes=("_today", "_other"), indicator=True
    )
    for column in described:
        merged[column] = merged[f"{column}_today"].where(
            merged[f"{column}_today"].notna(), merged[f"{column}_other"]
        )
    changed = merged["_merge"].ne("both")
    for column in COMPARED:
        a, b = merged[f"{column}_today"], merged[f"{column}_other"]
        changed |= ~((a == b) | (a.isna() & b.isna()))
    out = merged.loc[
        changed, [*described, *(f"{c}_{s}" for c in COMPARED for s in ("today", "other"))]
    ]
    out = out.assign(request_row=out["request_row"].astype("int64"))
    return out.sort_values(["request_row", "state_code", "loa_code"], kind="stable").reset_index(
        drop=True
    )


def cell_text(value: object) -> str:
    """A value as a person reads it: blank for a missing one (never nan, None or NaT), whole
    numbers without `.0` except money, dates as YYYY-MM-DD."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _preview_rows(line_frame: pd.DataFrame) -> list[list[str]]:
    return [[cell_text(v) for v in row] for row in line_frame.itertuples(index=False, name=None)]


def preview_csv(line_frame: pd.DataFrame) -> bytes:
    """Every line as CSV (UTF-8 with BOM, Excel line ends), every cell safe."""
    return safe_csv([PREVIEW_HEADERS[c] for c in line_frame.columns], _preview_rows(line_frame))


def preview_xlsx(line_frame: pd.DataFrame) -> bytes:
    """Every line on one sheet, header bold and frozen, every cell text and safe."""
    headers = [PREVIEW_HEADERS[c] for c in line_frame.columns]
    return safe_xlsx("dry run", headers, _preview_rows(line_frame))


__all__ = [
    "LINE_COLUMNS",
    "MODE_AUTO",
    "MODE_REVIEW",
    "NOT_CREATED_REPEAT",
    "batches",
    "by_reason_and_status",
    "cell_text",
    "compare",
    "fees",
    "lines",
    "preview_csv",
    "preview_xlsx",
    "status_counts",
]
