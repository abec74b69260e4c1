"""Who NIPR should watch: initial-sync outcomes and the PDB Alerts target plan. Pure.

No Dagster, no database, no HTTP: the assets read the producers, the subscription ledger and
NIPR's target lists, ask these functions what to do, and do it.

Initial sync (`classify_entity_info`, `SYNC_RETRY_STATUSES`). A producer's `sync_status`:
- `Not Started`: onboarded, never fetched. Picked by the next initial sync.
- `Success`: Entity Info read and applied; the producer holds at least one license.
- `Success - No Licenses`: Entity Info read and applied; NIPR lists no license.
- `Not Found`: NIPR answered with its error reply (no such NPN, or not a valid number). Not
  retried automatically: asking again gives the same answer; the NPN is most likely wrong in
  the upload. Fixing the producer (or setting the status back to `Not Started`) retries it.
- `NIPR Error`: we got no usable answer (the call failed after its retries, or the reply was
  not a readable report). Retried by every following initial sync, like `Not Started`:
  it says nothing about the producer, only about that attempt.

Subscriptions (`plan_subscriptions`). Tracked producers (`is_tracked`: not offboarded and
synced with NIPR, status `Success` or `Success - No Licenses`) must be Alerts targets; any
other NPN on our subscriptions is removed (offboarded: `is_active` false). Our subscriptions
are named `npnflow-0001`, `npnflow-0002`, ...; each holds at most `capacity` targets (NIPR
recommends at most 10,000), new NPNs fill the existing subscriptions in name order first, and
a new subscription is opened only when they are full. NIPR's own target lists are the truth
for what is on a subscription (they are listed on every run), so the plan also repairs drift:
an NPN found on two of our subscriptions is kept on the first only. NPNs NIPR refused as
targets (`invalid_reason` in `nipr_subscriptions`) are not offered again, so a re-run adds
and removes nothing; clearing `invalid_reason` offers them again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from assets.nipr.parsing import ParsedReport
from schemas.tables import nipr_subscriptions

__all__ = [
    "MAX_TARGETS_PER_SUBSCRIPTION",
    "NIPR_ERROR",
    "NOT_FOUND",
    "NOT_STARTED",
    "SUBSCRIPTION_PREFIX",
    "SUCCESS",
    "SUCCESS_NO_LICENSES",
    "SYNC_RETRY_STATUSES",
    "SYNCED_STATUSES",
    "SubscriptionPlan",
    "SyncOutcome",
    "LEDGER_COLUMNS",
    "classify_entity_info",
    "is_tracked",
    "ledger_after_add",
    "ledger_after_remove",
    "ledger_repairs",
    "plan_subscriptions",
    "subscription_name",
]

NOT_STARTED = "Not Started"
SUCCESS = "Success"
SUCCESS_NO_LICENSES = "Success - No Licenses"
NIPR_ERROR = "NIPR Error"
NOT_FOUND = "Not Found"
SYNC_STATUSES = (NOT_STARTED, SUCCESS, SUCCESS_NO_LICENSES, NIPR_ERROR, NOT_FOUND)
SYNC_RETRY_STATUSES = (NOT_STARTED, NIPR_ERROR)
SYNCED_STATUSES = (SUCCESS, SUCCESS_NO_LICENSES)

MAX_TARGETS_PER_SUBSCRIPTION = 10_000
SUBSCRIPTION_PREFIX = "npnflow-"
_OUR_SUBSCRIPTION = re.compile(rf"^{re.escape(SUBSCRIPTION_PREFIX)}(\d{{4,}})$")


# --------------------------------------------------------------------------------------------
# Initial sync
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncOutcome:
    status: str
    message: str = ""
    apply: bool = False  # whether the report's rows go into the current-state tables


def classify_entity_info(report: ParsedReport, npn: str) -> SyncOutcome:
    """The sync status an Entity Info reply for `npn` gives (parse it with requested_npn=npn)."""
    return classify_reply_values(
        npn,
        report.errors[["code", "message"]].itertuples(index=False, name=None),
        report.producers["npn"],
        report.licenses["npn"],
    )


def classify_reply_values(
    npn: str,
    errors: Iterable[tuple[object, object]],
    described_npns: Iterable[object],
    license_npns: Iterable[object],
) -> SyncOutcome:
    """The rules of `classify_entity_info` on plain values, so the initial sync's batch path
    (which reads replies into lists, not frames) decides with the same code: NIPR's error reply
    is Not Found; a reply describing another producer is NIPR Error; else Success, or Success -
    No Licenses when it lists none of the producer's licenses."""
    for code, message in errors:
        if code == "NIPR_ERROR":
            return SyncOutcome(NOT_FOUND, str(message))
    described = {str(n) for n in described_npns}
    if npn not in described:
        found = ", ".join(sorted(described)) or "no producer"
        return SyncOutcome(
            NIPR_ERROR, f"the Entity Info reply for NPN {npn} describes {found} instead"
        )
    if any(str(n) == npn for n in license_npns):
        return SyncOutcome(SUCCESS, apply=True)
    return SyncOutcome(SUCCESS_NO_LICENSES, apply=True)


# --------------------------------------------------------------------------------------------
# Subscriptions
# --------------------------------------------------------------------------------------------


def subscription_name(number: int) -> str:
    return f"{SUBSCRIPTION_PREFIX}{number:04d}"


def _number(name: str) -> int | None:
    match = _OUR_SUBSCRIPTION.match(name)
    return int(match.group(1)) if match else None


def is_tracked(roster: pd.DataFrame) -> pd.Series:
    """Producers that must be Alerts targets: not offboarded (is_active not false) and synced.

    `is_active` empty counts as active: only an explicit offboarding (false) stops tracking.
    """
    offboarded = roster["is_active"].astype("boolean").eq(False).fillna(False)
    synced = roster["sync_status"].isin(SYNCED_STATUSES)
    return (~offboarded & synced).astype(bool)


@dataclass(frozen=True)
class SubscriptionPlan:
    """What to do at NIPR: create these subscriptions, then remove and add these targets."""

    create: tuple[str, ...]
    remove: dict[str, tuple[str, ...]] = field(default_factory=dict)
    add: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Where each tracked NPN is (or will be) a target, for the ledger: npn -> subscription.
    placement: dict[str, str] = field(default_factory=dict)
    # After the plan: targets per subscription.
    sizes: dict[str, int] = field(default_factory=dict)

    @property
    def adds(self) -> int:
        return sum(len(v) for v in self.add.values())

    @property
    def removes(self) -> int:
        return sum(len(v) for v in self.remove.values())

    @property
    def is_empty(self) -> bool:
        return not (self.create or self.adds or self.removes)


def plan_subscriptions(
    tracked_npns: Iterable[str],
    targets: Mapping[str, Iterable[str]],
    refused_npns: Iterable[str] = (),
    capacity: int = MAX_TARGETS_PER_SUBSCRIPTION,
) -> SubscriptionPlan:
    """Plan the target lists.

    `tracked_npns`: NPNs that must be targets. `targets`: NIPR's current target list of each
    subscription of the account (ours are recognised by name; others are left alone).
    `refused_npns`: NPNs NIPR refused before (not offered again).
    """
    if capacity < 1:
        raise ValueError("a subscription must hold at least one target")
    wanted = {str(n).strip() for n in tracked_npns} - {""}
    refused = {str(n) for n in refused_npns}
    ours = sorted(
        (name for name in targets if _number(name) is not None),
        key=lambda name: _number(name) or 0,
    )

    remove: dict[str, list[str]] = {}
    members: dict[str, set[str]] = {}
    placement: dict[str, str] = {}
    for name in ours:
        members[name] = set()
        for npn in sorted({str(n) for n in targets[name]}):
            if npn in wanted and npn not in placement:
                placement[npn] = name
                members[name].add(npn)
            else:  # offboarded, no longer synced, or already on an earlier subscription
                remove.setdefault(name, []).append(npn)

    pending = sorted(wanted - set(placement) - refused, key=lambda n: (len(n), n))
    add: dict[str, list[str]] = {}
    create: list[str] = []
    names = list(ours)
    next_number = max((_number(n) or 0 for n in ours), default=0) + 1
    index = 0
    while pending:
        while index < len(names) and len(members[names[index]]) >= capacity:
            index += 1
        if index == len(names):
            name = subscription_name(next_number)
            next_number += 1
            names.append(name)
            members[name] = set()
            create.append(name)
        name = names[index]
        room = capacity - len(members[name])
        batch, pending = pending[:room], pending[room:]
        add.setdefault(name, []).extend(batch)
        members[name].update(batch)
        placement.update(dict.fromkeys(batch, name))

    return SubscriptionPlan(
        create=tuple(create),
        remove={name: tuple(npns) for name, npns in remove.items() if npns},
        add={name: tuple(npns) for name, npns in add.items() if npns},
        placement=placement,
        sizes={name: len(members[name]) for name in names},
    )


# --------------------------------------------------------------------------------------------
# The subscription ledger (nipr_subscriptions)
# --------------------------------------------------------------------------------------------

#: The columns of `nipr_subscriptions`, the ledger these functions plan rows for.
LEDGER_COLUMNS: tuple[str, ...] = tuple(c.name for c in nipr_subscriptions.columns)


def _ledger_frame(rows: pd.DataFrame) -> pd.DataFrame:
    frame = rows.reindex(columns=list(LEDGER_COLUMNS)).astype(object)
    frame = frame.where(frame.notna(), None)
    frame["npn"] = frame["npn"].astype(str)
    return frame.reset_index(drop=True)


def _with_ledger(npns: pd.DataFrame, ledger: pd.DataFrame) -> pd.DataFrame:
    """`npns` (an npn column plus new values) joined with the ledger's current row."""
    known = _ledger_frame(ledger).rename(columns=lambda c: c if c == "npn" else f"old_{c}")
    return npns.assign(npn=npns["npn"].astype(str)).merge(known, how="left", on="npn")


def ledger_after_add(
    ledger: pd.DataFrame,
    subscription: str,
    valid: Iterable[str],
    refused: Mapping[str, str],
    at: object,
) -> pd.DataFrame:
    """Ledger rows after addTargets on `subscription`: NPNs NIPR took are targets since `at`;
    refused ones keep NIPR's reason (and are not offered again until it is cleared)."""
    took = pd.DataFrame({"npn": list(valid)}).assign(
        subscription_name=subscription, added_at=at, removed_at=None, invalid_reason=None
    )
    refused_frame = _with_ledger(
        pd.DataFrame({"npn": list(refused), "invalid_reason": list(refused.values())}), ledger
    )
    refused_frame = refused_frame.assign(
        subscription_name=subscription, added_at=refused_frame["old_added_at"], removed_at=None
    )
    return _ledger_frame(pd.concat([took, refused_frame], ignore_index=True))


def ledger_after_remove(
    ledger: pd.DataFrame, subscription: str, npns: Iterable[str], at: object
) -> pd.DataFrame:
    """Ledger rows after removeTargets: the NPNs are no longer targets since `at`."""
    frame = _with_ledger(pd.DataFrame({"npn": list(npns)}), ledger)
    frame = frame.assign(
        subscription_name=subscription,
        added_at=frame["old_added_at"],
        removed_at=at,
        invalid_reason=frame["old_invalid_reason"],
    )
    return _ledger_frame(frame)


def ledger_repairs(plan: SubscriptionPlan, ledger: pd.DataFrame, at: object) -> pd.DataFrame:
    """Rows for NPNs already on our subscriptions at NIPR (and staying there) whose ledger
    row is missing or says otherwise (first run, a lost write, changes made at NIPR)."""
    planned = {npn for npns in plan.add.values() for npn in npns}
    placed = pd.DataFrame(
        {"npn": list(plan.placement), "subscription_name": list(plan.placement.values())}
    )
    placed = placed[~placed["npn"].isin(planned)]
    frame = _with_ledger(placed, ledger)
    agrees = (
        frame["old_subscription_name"].eq(frame["subscription_name"])
        & frame["old_removed_at"].isna()
        & frame["old_invalid_reason"].isna()
        & frame["old_added_at"].notna()
    )
    stale = frame[~agrees.to_numpy()]
    keep_added = (
        stale["old_subscription_name"].eq(stale["subscription_name"])
        & stale["old_removed_at"].isna()
    )
    stale = stale.assign(
        added_at=stale["old_added_at"].where(keep_added & stale["old_added_at"].notna(), at),
        removed_at=None,
        invalid_reason=None,
    )
    return _ledger_frame(stale)
