"""Pure decisions of the Gateway submission: chunks, digests, the batch's status, which answer
may replace which status (the vocabulary itself is `schemas/statuses.py`).

No I/O and no Dagster here, so every rule is a plain function with plain unit tests
(tests/unit/test_submission_planning.py). `submission.py` does the reading, calling and writing.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TypeVar

from resources.nipr_gateway_xml import MAX_PER_REQUEST  # NIPR: at most 100 per request
from schemas.statuses import (
    BATCH_COMPLETED,
    BATCH_SUBMITTED,
    FINAL_TRANSACTION_STATUSES,
    HELD_JIT,
    IN_FLIGHT_TRANSACTION_STATUSES,
    PENDING_STATE_REVIEW,
    READY_TO_SUBMIT,
    SUBMITTED,
)

__all__ = [
    "MAX_PER_REQUEST",
    "batch_status_after",
    "may_overwrite",
    "next_chunk_number",
    "plan_chunks",
    "request_digest",
    "status_counts",
]


T = TypeVar("T")


def plan_chunks(items: Sequence[T], size: int = MAX_PER_REQUEST) -> list[list[T]]:
    """Split `items` (already in sending order) into requests of at most `size` (<= 100)."""
    if not 1 <= size <= MAX_PER_REQUEST:
        raise ValueError(f"chunk size must be between 1 and {MAX_PER_REQUEST}, not {size}")
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def request_digest(idempotency_keys: Iterable[str]) -> str:
    """sha256 of the sorted keys: the ledger row says which transactions a call carried,
    independent of their order, without storing the list."""
    joined = "\n".join(sorted(idempotency_keys))
    return hashlib.sha256(joined.encode()).hexdigest()


def next_chunk_number(existing: Iterable[int | None]) -> int:
    """Next chunk number for a (batch, approval_version): max + 1, starting at 1."""
    return max((c for c in existing if c is not None), default=0) + 1


def batch_status_after(statuses: Iterable[str | None]) -> str:
    """`Completed` when every transaction that is not `Held (JIT)` is final, else `Submitted`.

    Held transactions wait for their own release (a JIT appointment goes out when the producer
    writes business), so they must not keep the batch open forever; the release path owns them.
    """
    remaining = [s for s in statuses if s != HELD_JIT]
    return (
        BATCH_COMPLETED
        if all(s in FINAL_TRANSACTION_STATUSES for s in remaining)
        else BATCH_SUBMITTED
    )


def status_counts(statuses: Iterable[str | None]) -> dict[str, int]:
    """Transactions per status, for reports and Dagster metadata (sorted, None as '')."""
    counts = Counter(s or "" for s in statuses)
    return dict(sorted(counts.items()))


def may_overwrite(current: str | None, new: str) -> bool:
    """May a Gateway answer `new` replace the stored status `current`?

    Final statuses are never overwritten (a late or repeated answer must not undo Accepted or a
    reviewer's Cancelled); Held and Not Eligible were never sent, so NIPR cannot speak for them.
    An answer never moves a transaction back to Ready to Submit, and a final answer beats
    Submitted / Pending State Review, not the reverse.
    """
    if (
        current in FINAL_TRANSACTION_STATUSES
        or current in (HELD_JIT, None)
        or new == READY_TO_SUBMIT
    ):
        return False
    if current in IN_FLIGHT_TRANSACTION_STATUSES:
        return new in FINAL_TRANSACTION_STATUSES or (
            current == SUBMITTED and new == PENDING_STATE_REVIEW
        )
    return current == READY_TO_SUBMIT
