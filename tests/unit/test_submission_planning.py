"""Submission planning: chunks, digests, chunk numbers, which answers may move a status, and the
batch's status after a run."""

from __future__ import annotations

import pytest

from assets.submissions.planning import (
    batch_status_after,
    may_overwrite,
    next_chunk_number,
    plan_chunks,
    request_digest,
    status_counts,
)
from schemas.statuses import (
    ACCEPTED,
    CANCELLED,
    ERROR,
    HELD_JIT,
    NOT_ELIGIBLE,
    PENDING_STATE_REVIEW,
    REJECTED,
    SUBMITTED,
)
from schemas.statuses import READY_TO_SUBMIT as READY  # the tests' short name


def test_chunks_keep_order_and_never_exceed_100():
    items = list(range(250))
    chunks = plan_chunks(items)
    assert [len(c) for c in chunks] == [100, 100, 50]
    assert [x for c in chunks for x in c] == items
    assert [len(c) for c in plan_chunks(items[:7], 3)] == [3, 3, 1]
    assert plan_chunks([], 10) == []


@pytest.mark.parametrize("size", [0, 101, -1])
def test_chunk_sizes_nipr_would_refuse_are_refused(size):
    with pytest.raises(ValueError, match="between 1 and 100"):
        plan_chunks([1], size)


def test_digest_ignores_order_and_tells_different_sets_apart():
    assert request_digest(["b", "a"]) == request_digest(["a", "b"])
    assert request_digest(["a", "b"]) != request_digest(["a", "c"])
    assert len(request_digest(["a"])) == 64


def test_chunk_numbers_continue_after_the_highest():
    assert next_chunk_number([]) == 1
    assert next_chunk_number([1, 2, 5]) == 6
    assert next_chunk_number([None, 3]) == 4


def test_a_batch_is_completed_when_all_but_held_transactions_are_final():
    assert batch_status_after([ACCEPTED, REJECTED, ERROR, NOT_ELIGIBLE]) == "Completed"
    assert batch_status_after([ACCEPTED, HELD_JIT, CANCELLED]) == "Completed"
    assert batch_status_after([ACCEPTED, PENDING_STATE_REVIEW]) == "Submitted"
    assert batch_status_after([ACCEPTED, SUBMITTED]) == "Submitted"
    assert batch_status_after([ACCEPTED, READY]) == "Submitted"
    assert batch_status_after([ACCEPTED, None]) == "Submitted"
    assert batch_status_after([HELD_JIT]) == "Completed"


@pytest.mark.parametrize(
    ("current", "new", "allowed"),
    [
        (READY, ACCEPTED, True),
        (READY, PENDING_STATE_REVIEW, True),
        (READY, SUBMITTED, True),
        (READY, ERROR, True),
        (SUBMITTED, PENDING_STATE_REVIEW, True),
        (SUBMITTED, REJECTED, True),
        (PENDING_STATE_REVIEW, ACCEPTED, True),
        (PENDING_STATE_REVIEW, SUBMITTED, False),  # no step back
        (ACCEPTED, REJECTED, False),  # a final answer is never undone
        (CANCELLED, ACCEPTED, False),
        (HELD_JIT, ACCEPTED, False),  # never sent: NIPR cannot speak for it
        (NOT_ELIGIBLE, ACCEPTED, False),
        (SUBMITTED, READY, False),
        (None, ACCEPTED, False),
    ],
)
def test_which_answers_may_move_a_status(current, new, allowed):
    assert may_overwrite(current, new) is allowed


def test_status_counts_are_sorted_and_name_missing_statuses():
    assert status_counts([ACCEPTED, READY, ACCEPTED, None]) == {
        "": 1,
        ACCEPTED: 2,
        READY: 1,
    }
