"""NIPR's own transaction fee on a transaction, beside the state fee. Pure.

NIPR charges its fee per Gateway transaction it receives, and invoices it apart from the state
fees (DOMAIN 2.4). npnflow sends one Gateway transaction per line, so each line that will be
sent carries the fee of its kind (`nipr_transaction_fees`: appointment, termination). A line
that is never sent costs NIPR nothing and carries 0: Not Eligible (a termination not filed
through NIPR among them), Recorded (a registry state's appointment) and Held (JIT). 0 rather
than NULL so that sums, and the state fee of the same lines, read alike; NULL is kept for
lines evaluated before NIPR's fee was estimated (migration 0008).

Held (JIT) lines are sent only when released (a later issue); releasing one is where its NIPR
fee is to be set, with `nipr_fee_for(kind, READY_TO_SUBMIT, ...)`.

Kept apart from both domains so that appointments and terminations price NIPR alike.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from assets.rules.values import one_text
from schemas import statuses

#: The statuses of a line NIPR receives (or will, on approval): schemas/statuses.py's.
SENT_STATUSES: frozenset[str] = statuses.NIPR_FEE_STATUSES
#: The reference table (and its CSV) the fee is read from.
NIPR_FEES_INPUT = "nipr_transaction_fees"


def nipr_fee_table(frame: pd.DataFrame | None) -> dict[str, float]:
    """`nipr_transaction_fees` as {transaction_kind: fee}. Absent, empty or unreadable rows
    give no fee for their kind (unit worlds without the table): the fee is then 0, never a
    guess of ours; the reference loader refuses a file missing a kind."""
    if frame is None or frame.empty:
        return {}
    if not {"transaction_kind", "nipr_fee"} <= set(frame.columns):
        raise ValueError("the 'nipr_transaction_fees' frame needs transaction_kind and nipr_fee")
    table: dict[str, float] = {}
    for kind, fee in zip(frame["transaction_kind"], frame["nipr_fee"], strict=True):
        kind_text = one_text(kind)
        amount = pd.to_numeric(pd.Series([fee]), errors="coerce").iloc[0]
        if kind_text is None or pd.isna(amount) or float(amount) < 0:
            continue
        key = kind_text.lower()
        # A repeated kind takes the higher fee: an estimate errs high, never low.
        table[key] = max(table.get(key, 0.0), float(amount))
    return table


def nipr_fee_for(kind: str, status: str | None, fees: Mapping[str, float]) -> float:
    """NIPR's fee of one line: its kind's fee when the line is (or will be) sent, else 0."""
    if status not in SENT_STATUSES:
        return 0.0
    return round(float(fees.get(kind.lower(), 0.0)), 2)


def nipr_fees(kind: str, line_statuses: pd.Series, fees: Mapping[str, float]) -> np.ndarray:
    """`nipr_fee_for` per line, as a float array in the lines' order (vectorised: the
    engines price 100,000 lines at once)."""
    sent = line_statuses.isin(sorted(SENT_STATUSES)).to_numpy(dtype=bool)
    return np.where(sent, round(float(fees.get(kind.lower(), 0.0)), 2), 0.0).astype(np.float64)
