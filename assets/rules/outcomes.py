"""What both eligibility engines write on a transaction besides its status. Pure.

The batch key a transaction is grouped by within its upload (SPEC 6.5, SPEC 7), the reason of
an eligible transaction left for review, the reason a request that repeats an open transaction
is left out, and the appointment status that counts as appointed. Statuses themselves are the
contract's (`schemas.statuses`). Kept apart from both domains so that appointments and
terminations, which never import each other, cannot drift: the batch key, for one, is hashed
into the batch id (`B-<12 hex>`), so two spellings would split a batch.
"""

from __future__ import annotations

from typing import Final

# The batch a transaction joins: `<kind>/<cocode>/<auto|review>` (the caller prefixes the
# upload). Auto batches are approved without review; review batches wait for a person.
BATCH_AUTO: Final = "auto"
BATCH_REVIEW: Final = "review"

# An eligible transaction that waits for review (SPEC 6.4 Submit false, SPEC 7).
REASON_IN_GOOD_STANDING: Final = "In Good Standing"

# Why an eligible transaction was left out: it repeats an open one (SPEC 6.6, SPEC 7).
REPEAT_OF_OPEN_TRANSACTION: Final = "Repeats an open transaction for the same line"

# The `appointments.status` of a live appointment (as NIPR reports it).
APPOINTMENT_APPOINTED: Final = "Appointed"


def batch_key(transaction_kind: str, cocode: str, auto_submit: bool) -> str:
    """The batch a transaction goes to within its upload (the caller prefixes the upload)."""
    return f"{transaction_kind}/{cocode}/{BATCH_AUTO if auto_submit else BATCH_REVIEW}"
