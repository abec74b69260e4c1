"""What a generated world is made of: its arguments and its columns, without the code that fills them.

`World` (in `generator.py`) is this plus the ways to read it (one producer, a day's changes,
frames). The parts that build and read the columns (`building.py`, `producer_records.py`,
`changes.py`, `frames.py`) take a `WorldData`, so none of them imports `generator.py` and the
modules form a line, not a cycle.

Every column is a numpy array, one row per producer, license, line of authority or
appointment; dates are day numbers (`days.py`), codes are integers, the `*_start` columns are
offsets (the licenses of producer i are rows `lic_start[i]:lic_start[i + 1]`), and `-1` means
none.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from npnflow.sandbox.reference import Reference

Ints: TypeAlias = npt.NDArray[np.int64]
Flags: TypeAlias = npt.NDArray[np.bool_]
Texts: TypeAlias = npt.NDArray[np.object_]

# The daily change model starts this many days before `today`, so that every report NIPR lets a
# client backdate (14 days) has changes in it.
HISTORY_DAYS = 21

# The texts behind the coded columns `app_reason` and `loa_reason`.
TERMINATION_REASONS = (
    "Company Request",
    "Not for Cause",
    "Agent Request",
    "Agency Closure",
    "For Cause",
    "License Expired",
)
LOA_INACTIVE_REASONS = ("Voluntary Surrender", "Cancelled", "CE Deficiency", "Non-Renewal")


@dataclass(frozen=True)
class Company:
    cocode: str  # 5-digit NAIC code, text
    name: str
    fein: str  # 9 digits, no dash

    @property
    def fein_dashed(self) -> str:
        return f"{self.fein[:2]}-{self.fein[2:]}" if len(self.fein) == 9 else self.fein


class WorldData:
    """The world's arguments and columns. Read-only once built, except for caches (thread-safe)."""

    # Producers (one row each).
    is_firm: Flags
    npn: Texts
    first_idx: Ints  # indexes into names.FIRST_NAMES
    last_idx: Ints
    middle_idx: Ints  # letter A + n; negative: no middle initial
    suffix_idx: Ints  # -1: none
    firm_idx: Ints  # FIRM_FIRST x FIRM_SECOND
    birth_days: Ints
    fein: Texts
    resident_state: Ints  # index into `states`
    profile: Ints  # index into reference.PROFILES
    agency_idx: Ints  # the producer index of the agency, -1: none
    # License templates: the class name of each (state, residency, profile, firm) template.
    class_names: Texts
    # Licenses, grouped by producer.
    lic_producer: Ints
    lic_state: Ints
    lic_resident: Flags
    lic_template: Ints
    lic_class: Ints
    lic_start: Ints  # per producer, n + 1 offsets
    lic_expire: Ints
    lic_issue: Ints
    lic_active: Flags
    lic_updated: Ints
    lic_number: Texts
    # Lines of authority, grouped by license.
    loa_start: Ints  # per license, n_lic + 1 offsets
    loa_code: Ints
    loa_issue: Ints
    loa_active: Flags
    loa_reason: Ints  # -1 none; 0..: LOA_INACTIVE_REASONS; -2: the license is inactive
    loa_reason_date: Ints
    loa_initial_issue: Flags
    # Appointments, grouped by producer.
    app_producer: Ints
    app_state: Ints
    app_company: Ints  # index into `companies`
    app_loa_code: Ints
    app_terminated: Flags
    app_effective: Ints
    app_term_date: Ints  # -1 when appointed
    app_reason: Ints  # index into TERMINATION_REASONS, -1 when appointed
    app_renewal: Ints  # -1 when terminated
    app_start: Ints  # per producer, n + 1 offsets

    def __init__(
        self,
        seed: int,
        producers: int,
        companies: tuple[Company, ...],
        today: date,
        reference: Reference,
    ) -> None:
        self.seed = int(seed)
        self.size = int(producers)
        self.companies = companies
        self.today = today
        self.epoch = today - timedelta(days=HISTORY_DAYS)
        self.reference = reference
        self.states = list(reference.states)
        self.lock = threading.RLock()
        # The daily change model's memo (events per day, per producer), guarded by `lock`.
        self.changes_cache: dict[str, Any] = {}
        self._npn_index: dict[str, int] | None = None

    @property
    def npns(self) -> list[str]:
        return list(self.npn.tolist())

    def npn_to_index(self, npn: str) -> int | None:
        with self.lock:
            if self._npn_index is None:
                self._npn_index = {n: i for i, n in enumerate(self.npn.tolist())}
        # Exact text: a padded NPN (`0` + an NPN) is nobody. NIPR's NPNs carry no leading
        # zeros and NIPR does not publish whether it would resolve one, so the sandbox is the
        # strict side (docs/decisions/0029-canonical-npns.md).
        return self._npn_index.get(str(npn).strip())

    def fein_to_index(self, fein: str) -> int | None:
        digits = "".join(ch for ch in str(fein) if ch.isdigit())
        hits = np.flatnonzero((self.fein == digits) & self.is_firm)
        return int(hits[0]) if len(hits) else None

    def individual_npns(self) -> list[str]:
        return list(self.npn[~self.is_firm].tolist())

    def firm_npns(self) -> list[str]:
        return list(self.npn[self.is_firm].tolist())
