"""Values as NIPR writes them: text, codes, yes/no and residency flags, status words, and dates.

Called for every field of every record, so kept minimal (dict lookups, memo dicts). NIPR's
yes/no words are their own table (`YES_NO`), not `schemas/booleans.py`: that set also reads
"1"/"0"/"t"/"f", which NIPR never sends for a flag, and reading them would turn a value the
parser reports as unknown (None) today into True/False.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from schemas.ssn_shapes import mask_ssn_shapes


def clean(text: str | None) -> str | None:
    if text is None:
        return None
    text = text.strip()
    return text or None


YES_NO = {"yes": True, "y": True, "no": False, "n": False, "true": True, "false": False}
RESIDENCY = {"r": True, "nr": False, "true": True, "false": False}
_INACTIVE_WORDS = frozenset(
    {
        "inactive",
        "canceled",
        "cancelled",
        "expired",
        "terminated",
        "suspended",
        "revoked",
        "surrendered",
        "lapsed",
        "deceased",
        "denied",
        "withdrawn",
    }
)
_STATUS_FAST: dict[str | None, bool] = {"Active": True, "Inactive": False}
_STATUS_CANON = {"appointed": "Appointed", "terminated": "Terminated"}


def flag(table: dict[str, bool], text: str | None) -> bool | None:
    if text is None:
        return None
    return table.get(text.strip().lower())


def status_active(description: str | None, code: str | None = None) -> bool | None:
    """Active/inactive from the first of description, code that is a status word, else None."""
    fast = _STATUS_FAST.get(description)  # the common, exactly spelled case: one dict lookup
    if fast is not None:
        return fast
    for text in (description, code):
        if text is None:
            continue
        word = text.strip().lower()
        if word == "active":
            return True
        if word in _INACTIVE_WORDS:
            return False
    return None


def appointment_status(text: str | None) -> str | None:
    text = clean(text)
    if text is None:
        return None
    return _STATUS_CANON.get(text.lower(), text)


def scrub(message: str) -> str:
    """A message that may quote NIPR's input, with every SSN-shaped run (9 digits, or 3-2-4
    with dashes, spaces or dots) cut to its last four digits, as uploads show them."""
    return mask_ssn_shapes(message)


UNDECIDED = object()  # a description that is no status word: the code decides


def status_of_description(description: str) -> Any:
    """`status_active` split for memoizing: True/False when the description decides."""
    active = status_active(description)
    if active is None:
        return UNDECIDED
    return active


def status_of_code(code: str) -> bool | None:
    return status_active(None, code)


class Memo(dict[Any, Any]):
    """A dict that fills itself: `memo[key]` is `compute(key)`, computed once per distinct key
    (`__missing__`), so a repeated key costs a dict lookup and no Python call. None -> None."""

    __slots__ = ("_compute",)

    def __init__(self, compute: Any) -> None:
        super().__init__({None: None})
        self._compute = compute

    def __missing__(self, key: Any) -> Any:
        value = self[key] = self._compute(key)
        return value


STATE_KEY = re.compile(r"^(?:Person|Org)([A-Z]{2})\d")


def parse_date(value: str) -> dt.date:
    """A NIPR date: yyyy-mm-dd (Alerts) or MM/DD/YYYY (Entity Info); ValueError otherwise."""
    if len(value) == 10 and value[4] == "-":  # Alerts: yyyy-mm-dd
        return dt.date(int(value[:4]), int(value[5:7]), int(value[8:]))
    if len(value) == 10 and value[2] == "/":  # Entity Info: MM/DD/YYYY
        return dt.date(int(value[6:]), int(value[:2]), int(value[3:5]))
    raise ValueError(value)
