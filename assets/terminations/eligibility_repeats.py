"""Termination eligibility's repeats: Ready rows that would file a termination twice.

A Ready row is left out when an open termination transaction exists for its line, when an
earlier row of the same call terminates the same line, or when NIPR already ACCEPTED a
termination of that line on or after the appointment's effective date (`appointments` changes
only with the next NIPR sync; until then the line still reads Appointed, and a second drop
would pay for the same termination again). Each NIPR transaction is charged, hence the care.
Not Eligible rows are never left out (the audit). Separate from the checks because it looks at
the transactions already filed and at the other rows of the call, not at one row's rules.
Pure, no Dagster.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from assets.terminations.eligibility_frames import empty_repeats
from assets.terminations.eligibility_values import (
    LineKey,
    lower,
    normalise_keys,
    one_date_or_text,
    text,
)
from assets.terminations.eligibility_vocabulary import (
    APPOINTMENT_APPOINTED,
    KEY,
    OPEN_STATUSES,
    REPEAT_COLUMNS,
    REPEAT_IN_REQUESTS,
    REPEAT_OF_ACCEPTED,
    REPEAT_OF_OPEN_TRANSACTION,
    TRANSACTION_KIND,
)
from schemas import statuses
from schemas.statuses import READY_TO_SUBMIT


def drop_repeats(
    req: pd.DataFrame,
    transactions: pd.DataFrame,
    appointments: pd.DataFrame,
    appointment_keys: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rows kept (in their order) and what was left out (`REPEAT_COLUMNS`).

    `req` must be in result order: of two rows for one line, the first is kept.
    `appointment_keys`: `normalise_keys(appointments)`.
    """
    ready = req["status"].eq(READY_TO_SUBMIT)
    tx = normalise_keys(transactions)
    tx["transaction_id"] = text(transactions["transaction_id"])
    tx["completed_on"] = transactions["completed_at"].map(one_date_or_text).to_numpy()
    is_termination = lower(transactions["kind"]).eq(TRANSACTION_KIND).to_numpy()
    status = text(transactions["status"])
    open_tx = tx[is_termination & status.isin(sorted(OPEN_STATUSES)).to_numpy()].dropna(subset=KEY)
    open_of = _first_id_per_key(open_tx)

    # NIPR accepted a termination the current-state tables do not show yet.
    accepted = tx[is_termination & status.eq(statuses.ACCEPTED).to_numpy()].dropna(subset=KEY)
    accepted = accepted.loc[_accepted_since_appointed(accepted, appointments, appointment_keys)]
    accepted_of = _first_id_per_key(accepted)

    dropped: list[dict[str, Any]] = []
    first_row: dict[LineKey, int] = {}
    keep = np.ones(len(req), dtype=bool)
    keys = req[KEY].itertuples(index=False, name=None)
    for i, (key, is_ready, row) in enumerate(zip(keys, ready, req["request_row"], strict=True)):
        if not is_ready:
            continue
        record = dict(zip(KEY, key, strict=True), request_row=row)
        if key in open_of or key in accepted_of:
            dropped.append(
                record
                | {
                    "repeats_transaction_id": open_of.get(key) or accepted_of.get(key),
                    "repeats_request_row": None,
                    "reason": REPEAT_OF_OPEN_TRANSACTION if key in open_of else REPEAT_OF_ACCEPTED,
                }
            )
            keep[i] = False
        elif key in first_row:
            dropped.append(
                record
                | {
                    "repeats_transaction_id": None,
                    "repeats_request_row": first_row[key],
                    "reason": REPEAT_IN_REQUESTS,
                }
            )
            keep[i] = False
        else:
            first_row[key] = row
    repeats = pd.DataFrame(dropped, columns=list(REPEAT_COLUMNS)) if dropped else empty_repeats()
    return req[keep], repeats


def _accepted_since_appointed(
    accepted: pd.DataFrame, appointments: pd.DataFrame, appointment_keys: pd.DataFrame
) -> np.ndarray:
    """Per accepted termination: whether it ends the line's current appointment, that is, it
    was completed on or after the appointment's effective date (either date unknown: yes). A
    re-appointment has a later effective date and can be terminated again."""
    if accepted.empty:  # the usual case: no appointment's date needs reading
        return np.zeros(0, dtype=np.bool_)
    appointed = appointment_keys.assign(
        since=appointments["effective_date"].map(one_date_or_text).to_numpy()
    )
    appointed = appointed[
        lower(appointments["status"]).eq(APPOINTMENT_APPOINTED.lower()).to_numpy()
    ]
    since_of: dict[LineKey, dt.date | None] = {
        key: since if isinstance(since, dt.date) else None
        for key, since in zip(
            appointed[KEY].itertuples(index=False, name=None), appointed["since"], strict=True
        )
    }

    def ends_current(key: LineKey, done: object) -> bool:
        since = since_of.get(key)
        return not isinstance(since, dt.date) or not isinstance(done, dt.date) or done >= since

    return np.array(
        [
            ends_current(key, done)
            for key, done in zip(
                accepted[KEY].itertuples(index=False, name=None),
                accepted["completed_on"],
                strict=True,
            )
        ],
        dtype=np.bool_,
    )


def _first_id_per_key(transactions: pd.DataFrame) -> dict[LineKey, str | None]:
    """Per line key, its lowest transaction id (None when none has an id)."""
    ids: dict[LineKey, list[str]] = {}
    for key, tx_id in zip(
        transactions[KEY].itertuples(index=False, name=None),
        transactions["transaction_id"],
        strict=True,
    ):
        ids.setdefault(key, []).extend([tx_id] if tx_id is not None else [])
    return {key: min(found) if found else None for key, found in ids.items()}
