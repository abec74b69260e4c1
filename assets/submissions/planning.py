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
    ACCEPTED,
    BATCH_COMPLETED,
    BATCH_SUBMITTED,
    ERROR,
    FINAL_TRANSACTION_STATUSES,
    HELD_JIT,
    IN_FLIGHT_TRANSACTION_STATUSES,
    PENDING_STATE_REVIEW,
    READY_TO_SUBMIT,
    REJECTED,
    SUBMITTED,
)

__all__ = [
    "MAX_PER_REQUEST",
    "batch_status_after",
    "describe_gateway_answer",
    "describe_gateway_fault",
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


# NIPR's answers in the order a reader wants them: the final ones first.
_ANSWER_ORDER = (ACCEPTED, REJECTED, ERROR, PENDING_STATE_REVIEW, SUBMITTED)


def describe_gateway_answer(
    batch_id: str, chunk_number: int, sent: int, answers: Iterable[str | None], missing: int
) -> str:
    """One Gateway call as the run's log tells it: which chunk, how many transactions, and
    NIPR's answer per status ("2 Accepted, 1 Rejected, 0 Pending State Review"), with how many
    the reply did not mention (their outcome is unknown: looked up before any resend)."""
    counts = Counter(a for a in answers if a is not None)
    told = [f"{counts.get(status, 0)} {status}" for status in _ANSWER_ORDER[:4]]
    told += [
        f"{n} {status}" for status, n in sorted(counts.items()) if status not in _ANSWER_ORDER[:4]
    ]
    line = (
        f"batch {batch_id}: Gateway call {chunk_number}: {sent} transaction(s) sent; "
        f"NIPR answered {', '.join(told)}"
    )
    if missing:
        line += f"; {missing} not in the reply (outcome unknown, looked up before any resend)"
    return line


def describe_gateway_fault(batch_id: str, chunk_number: int, sent: int, fault: str) -> str:
    """A Gateway call that got no usable reply, as the run's log tells it."""
    return (
        f"batch {batch_id}: Gateway call {chunk_number}: {sent} transaction(s) sent; no answer "
        f"({fault}): outcome unknown, NIPR is asked what it has before any resend"
    )


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
