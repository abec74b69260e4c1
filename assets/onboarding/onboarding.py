"""Bulk onboarding of producers from a validated `agent` upload: the rules. Pure.

No Dagster, no database: `plan_onboarding` takes the upload's valid rows and producer
assignments, the producers and agencies already known, and a function that protects an SSN;
it returns exactly the rows to write. `assets/onboarding/store.py` writes them.

The rules (docs/uploads.md, "Onboarding"):

- **Agencies**: an Agency NPN not yet known is added (its name is not in the template, so it
  stays empty); known agencies are left as they are.
- **Producers**: a new NPN is added as active with sync status `Not Started`, so the next
  `sync_new_producers_job` (the sensor after this upload, or its schedule) fetches its Entity
  Info and puts it on the PDB Alerts target list. An NPN already known is updated: names and
  agency from the file; email, agent type and SSN only when the file has them (a blank
  optional cell never erases what is stored); `is_active` true. A known producer whose row
  this leaves as stored is not written at all (`unchanged_npns`): its `updated_at` is when
  onboarding last changed it (decision 0037).
- **Sync status of a known producer** is kept (re-uploading a roster must not make NIPR fetch
  hundreds of producers again, nor drop what the daily sync keeps current), with two
  exceptions that go back to `Not Started`:
  - a producer offboarded (`is_active` false) and now uploaded again: while off the target
    list its NIPR data was not kept current, so it needs a fresh Entity Info; its
    `offboarded_at` and `offboarded_by` are cleared (it is no longer offboarded);
  - a producer NIPR did not find (`Not Found`): uploading the NPN again is the analyst saying
    it is right (a new licensee's NPN may not have been in NIPR yet), which is the documented
    way to retry it.
- **SSN**: only the last four digits and the vault's ciphertext (None without a key) are
  kept; the full SSN never leaves this function. A new SSN replaces both (the old ciphertext
  belonged to the old value); a blank SSN keeps what is stored. With the vault's keyed
  fingerprint (`ssn_fingerprint`), an SSN whose fingerprint is the stored one is the stored
  SSN: its token is kept, not encrypted again (a new token would differ every time).
- **Producer assignments**: the file is the truth for the producers whose row fills the
  assignment columns: all their assignments are replaced by the row's states x categories x
  CoCodes. A row without assignment columns leaves that producer's assignments alone (the
  basic onboarding template has none, and updating a name must not wipe them). A `License`
  scorecard without CoCodes is stored with cocode '' (no company): cocode is part of the key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from schemas.tables import producer_assignments, producers

NOT_STARTED = "Not Started"
NOT_FOUND = "Not Found"
NO_COMPANY = ""  # cocode of a License-scorecard assignment without CoCodes

# Every producers column but last_synced_at, which only the NIPR sync writes.
PRODUCER_COLUMNS = tuple(c.name for c in producers.columns if c.name != "last_synced_at")
# What is read of the stored producers: every planned column, so that a producer whose row
# would not change is not written again (created_at and updated_at aside).
EXISTING_COLUMNS = (
    "npn",
    "first_name",
    "last_name",
    "email",
    "agency_npn",
    "agent_type",
    "is_active",
    "sync_status",
    "ssn_last4",
    "ssn_encrypted",
    "ssn_fingerprint",
    "created_at",
    "offboarded_at",
    "offboarded_by",
)
# Not compared: created_at is kept as stored, updated_at is when the row last changed.
_NOT_COMPARED = frozenset({"npn", "created_at", "updated_at"})
ASSIGNMENT_COLUMNS = tuple(c.name for c in producer_assignments.columns)

# What a person reads about each producer (never an SSN, not even its last four digits).
CHANGE_NEW = "new"
CHANGE_UPDATED = "updated"
CHANGE_REACTIVATED = "reactivated"
CHANGE_RETRY_NOT_FOUND = "retry (was Not Found)"

Protect = Callable[[str], tuple[str, "str | None"]]
Fingerprint = Callable[[str], "str | None"]


@dataclass(frozen=True)
class OnboardingPlan:
    agencies: pd.DataFrame  # agency_npn, agency_name: agencies to add
    producers: pd.DataFrame  # PRODUCER_COLUMNS: every producer of the file, as it must be stored
    replace_assignments_for: list[str]  # NPNs whose assignments are replaced
    assignments: pd.DataFrame  # ASSIGNMENT_COLUMNS: the new assignments of those NPNs
    summary: pd.DataFrame  # one row per producer, safe to show: npn, names, change, ...
    counts: dict[str, int] = field(default_factory=dict)
    # Known NPNs whose stored row already is what `producers` plans (created_at and
    # updated_at aside): nothing to write for them.
    unchanged_npns: frozenset[str] = frozenset()
    known_npns: frozenset[str] = frozenset()  # the file's NPNs already stored

    @property
    def producers_to_write(self) -> pd.DataFrame:
        """`producers` but the unchanged ones."""
        if not self.unchanged_npns:
            return self.producers
        return self.producers[~self.producers["npn"].isin(self.unchanged_npns)]


def _text(series: pd.Series) -> pd.Series:
    return series.astype(object).where(series.notna(), None)


def plan_onboarding(
    valid_rows: pd.DataFrame,
    assignments: pd.DataFrame,
    existing_producers: pd.DataFrame,
    existing_agencies: Iterable[str],
    protect: Protect,
    now: dt.datetime,
    *,
    fingerprint: Fingerprint | None = None,
) -> OnboardingPlan:
    """The rows to write for an agent upload (see the module docstring for the rules).

    `valid_rows`: `ValidatedUpload.valid_rows` of an agent upload (one row per NPN: the
    validator rejects a repeated NPN). `assignments`: its `exploded()`. `existing_producers`:
    the stored producers among those NPNs, with `EXISTING_COLUMNS`. `fingerprint`: the
    vault's keyed SSN fingerprint; an SSN whose fingerprint is the stored one keeps its stored
    token (not encrypted again), so an unchanged producer is left as it is.
    """
    rows = valid_rows.reset_index(drop=True)
    npn = rows["npn"].astype(str)
    existing = existing_producers.reindex(columns=list(EXISTING_COLUMNS))
    existing = existing.drop_duplicates("npn").set_index(existing["npn"].astype(str).rename(None))
    before = existing.reindex(npn.to_numpy())
    before.index = rows.index
    known = npn.isin(existing.index).to_numpy(dtype=bool)
    was_inactive = before["is_active"].astype("boolean").eq(False).fillna(False).to_numpy(bool)
    was_not_found = before["sync_status"].eq(NOT_FOUND).fillna(False).to_numpy(dtype=bool)

    reset = ~known | was_inactive | was_not_found
    sync_status = np.where(reset, NOT_STARTED, before["sync_status"].astype(object).to_numpy())

    # SSNs: protected one by one, the full value dropped right after. One whose keyed
    # fingerprint is the stored one is the stored SSN: its token is kept.
    ssn = rows["ssn"] if "ssn" in rows else pd.Series(pd.NA, index=rows.index, dtype="str")
    given = ssn.notna().to_numpy(dtype=bool)
    last4 = before["ssn_last4"].astype(object).to_numpy(copy=True)
    cipher = before["ssn_encrypted"].astype(object).to_numpy(copy=True)
    fingerprints = before["ssn_fingerprint"].astype(object).to_numpy(copy=True)
    positions = np.flatnonzero(given)
    values = ssn.iloc[positions].astype(object).tolist()
    if fingerprint is not None and len(positions):
        taken = np.array([fingerprint(value) for value in values], dtype=object)
        stored = known[positions] & pd.notna(cipher[positions])
        same = stored & pd.notna(taken) & (taken == fingerprints[positions])
        fingerprints[positions] = taken
        values = [values[i] for i in np.flatnonzero(~same)]
        positions = positions[~same]
    else:
        fingerprints[positions] = None  # a new token without a fingerprint to match it
    protected = [protect(value) for value in values]
    del values
    if protected:
        last4[positions] = [pair[0] for pair in protected]
        cipher[positions] = [pair[1] for pair in protected]
    del protected
    last4 = pd.Series(last4, index=rows.index).where(lambda s: s.notna(), None)
    cipher = pd.Series(cipher, index=rows.index).where(lambda s: s.notna(), None)
    fingerprints = pd.Series(fingerprints, index=rows.index).where(lambda s: s.notna(), None)

    def upload_or_stored(column: str) -> pd.Series:
        uploaded = rows[column] if column in rows else pd.Series(pd.NA, index=rows.index)
        return _text(uploaded).where(uploaded.notna(), _text(before[column]))

    created = before["created_at"].astype(object).where(before["created_at"].notna(), now)
    producers = pd.DataFrame(
        {
            "npn": npn.to_numpy(dtype=object),
            "first_name": _text(rows["first_name"]),
            "last_name": _text(rows["last_name"]),
            "email": upload_or_stored("email"),
            "agency_npn": _text(rows["agency_npn"]),
            "agent_type": upload_or_stored("agent_type"),
            "is_active": True,
            "sync_status": sync_status,
            "ssn_last4": last4,
            "ssn_encrypted": cipher,
            "ssn_fingerprint": fingerprints,
            "created_at": created.where(known, now),
            "updated_at": now,
            # Onboarding a producer again is the decision to take it back: active, tracked
            # again (sync status Not Started above), no longer marked offboarded.
            "offboarded_at": None,
            "offboarded_by": None,
        },
        index=rows.index,
    )[list(PRODUCER_COLUMNS)]

    agency_npns = pd.Series(rows["agency_npn"].dropna().astype(str).unique(), dtype=object)
    new_agencies = agency_npns[~agency_npns.isin(set(existing_agencies))]
    agencies = pd.DataFrame({"agency_npn": new_agencies.to_numpy(), "agency_name": None})

    with_assignment = (
        rows["has_assignment"].astype(bool)
        if "has_assignment" in rows
        else pd.Series(False, index=rows.index)
    )
    replace_for = sorted(npn[with_assignment.to_numpy(dtype=bool)].unique().tolist())
    if assignments.empty:
        new_assignments = pd.DataFrame(columns=list(ASSIGNMENT_COLUMNS))
    else:
        new_assignments = assignments.reindex(columns=list(ASSIGNMENT_COLUMNS)).copy()
        new_assignments["cocode"] = _text(new_assignments["cocode"]).fillna(NO_COMPANY)
        for column in ASSIGNMENT_COLUMNS:
            new_assignments[column] = _text(new_assignments[column])
        new_assignments["cocode"] = new_assignments["cocode"].fillna(NO_COMPANY)
        new_assignments = new_assignments.drop_duplicates(
            ["npn", "loa_category", "state_code", "cocode"]
        ).reset_index(drop=True)

    change = np.select(
        [~known, was_inactive, was_not_found],
        [CHANGE_NEW, CHANGE_REACTIVATED, CHANGE_RETRY_NOT_FOUND],
        default=CHANGE_UPDATED,
    )
    per_producer = new_assignments.groupby("npn").size() if len(new_assignments) else None
    assignment_count = (
        npn.map(per_producer).fillna(0).astype(int)
        if per_producer is not None
        else pd.Series(0, index=rows.index)
    )
    ssn_shown = np.where(
        given,
        np.where(cipher.notna().to_numpy(dtype=bool), "encrypted", "last 4 only"),
        np.where(last4.notna().to_numpy(dtype=bool), "kept", "none"),
    )
    summary = pd.DataFrame(
        {
            "row": rows["row_number"].to_numpy() if "row_number" in rows else rows.index + 2,
            "npn": npn.to_numpy(),
            "first_name": producers["first_name"].to_numpy(),
            "last_name": producers["last_name"].to_numpy(),
            "agency_npn": producers["agency_npn"].to_numpy(),
            "change": change,
            "sync_status": sync_status,
            "ssn": ssn_shown,
            "assignments": np.where(
                with_assignment.to_numpy(dtype=bool), assignment_count.astype(str), "kept"
            ),
        }
    )
    counts = {
        "producers_in_file": int(len(rows)),
        "producers_new": int((~known).sum()),
        "producers_updated": int(known.sum()),
        "producers_reactivated": int((known & was_inactive).sum()),
        "producers_not_found_retried": int((known & was_not_found & ~was_inactive).sum()),
        "producers_to_sync": int((sync_status == NOT_STARTED).sum()),
        "agencies_new": int(len(agencies)),
        "producers_with_assignments_replaced": len(replace_for),
        "assignments_written": int(len(new_assignments)),
        "ssns_encrypted": int((given & cipher.notna().to_numpy(dtype=bool)).sum()),
        "ssns_last4_only": int((given & cipher.isna().to_numpy(dtype=bool)).sum()),
    }
    return OnboardingPlan(
        agencies=agencies,
        producers=producers.reset_index(drop=True),
        replace_assignments_for=replace_for,
        assignments=new_assignments,
        summary=summary,
        counts=counts,
        unchanged_npns=frozenset(npn[known & _as_stored(producers, before)].tolist()),
        known_npns=frozenset(npn[known].tolist()),
    )


def _as_stored(planned: pd.DataFrame, before: pd.DataFrame) -> np.ndarray:
    """Per row, whether every compared column of `planned` equals the stored one exactly
    (empty equals empty: None, or NaN where pandas read a NULL into a string column; a
    column missing from `before` counts as different, so a producer in doubt is written)."""
    same = np.ones(len(planned), dtype=bool)
    for column in planned.columns:
        if column in _NOT_COMPARED:
            continue
        if column not in before.columns:
            return np.zeros(len(planned), dtype=bool)
        planned_values = planned[column].to_numpy(dtype=object)
        stored_values = before[column].to_numpy(dtype=object)
        equal = np.asarray(planned_values == stored_values)
        if equal.dtype != bool:  # a value whose == is no plain bool (pd.NA): in doubt, different
            equal = np.fromiter((value is True for value in equal.tolist()), bool, len(equal))
        same &= equal | (pd.isna(planned_values) & pd.isna(stored_values))
    return same
