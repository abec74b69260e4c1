"""The PDB Alerts subscriptions: `core_nipr__subscriptions`, NIPR's target lists following the
tracked producers (`roster.plan_subscriptions` decides the moves).

NIPR's lists are read first, so a re-run adds and removes nothing new; the ledger
(`nipr_subscriptions`) is written after each call, so a failure part-way leaves it true to what
NIPR did. The asset body is thin; the steps are the plain functions below it. Operator
documentation: docs/nipr-sync.md.
"""

from collections.abc import Callable
from typing import Any, TypeVar

import dagster as dg
import pandas as pd
from pydantic import Field

from assets.keys import INITIAL_SYNC_KEY, SUBSCRIPTIONS_KEY
from assets.nipr import store, sync_common
from assets.nipr.roster import (
    SUBSCRIPTION_PREFIX,
    is_tracked,
    ledger_after_add,
    ledger_after_remove,
    ledger_repairs,
    plan_subscriptions,
)
from assets.nipr.sync_common import GROUP, md
from resources.database import OperationalDatabase
from resources.nipr import NiprCallFailed, NiprClient, NiprFault

SUBSCRIPTION_NAME_NOT_UNIQUE = 12

T = TypeVar("T")


class SubscriptionsConfig(dg.Config):
    contact_email: str = Field(
        default="nipr-alerts@example.com",
        description="Contact email NIPR requires when a new subscription is created.",
    )
    max_targets_per_subscription: int = Field(
        default=10_000, description="NIPR's recommended maximum of targets per subscription."
    )


@dg.asset(
    key=SUBSCRIPTIONS_KEY,
    group_name=GROUP,
    kinds={"soap", "sql"},
    deps=[INITIAL_SYNC_KEY],
    description=(
        "PDB Alerts target lists (subscriptions npnflow-0001, ...): every active, synced "
        "producer is a target; offboarded producers are removed; refused NPNs are recorded."
    ),
)
def core_nipr__subscriptions(
    context: dg.AssetExecutionContext,
    config: SubscriptionsConfig,
    database: OperationalDatabase,
    nipr: NiprClient,
) -> dg.MaterializeResult:
    """Reconcile NIPR's target lists with the tracked producers. Idempotent: NIPR's lists are
    read first, so a re-run adds and removes nothing new."""
    metadata = reconcile_subscriptions(
        database,
        nipr,
        contact_email=config.contact_email,
        capacity=config.max_targets_per_subscription,
        log=context.log,
    )
    return dg.MaterializeResult(metadata=metadata)


def reconcile_subscriptions(
    database: OperationalDatabase,
    nipr: NiprClient,
    *,
    contact_email: str,
    capacity: int,
    log: Any,
) -> dict[str, Any]:
    """Plan against NIPR's lists, create, remove, add, repair the ledger; the metadata."""
    with database.begin() as connection:
        roster = store.read_roster(connection)
        ledger = store.read_subscription_rows(connection)
    tracked = roster.loc[is_tracked(roster), "npn"].astype(str).tolist()
    refused = ledger.loc[
        ledger["invalid_reason"].notna() & ledger["removed_at"].isna(), "npn"
    ].astype(str)

    try:
        names = nipr.list_subscriptions()
        targets = {
            name: nipr.list_targets(name) for name in names if name.startswith(SUBSCRIPTION_PREFIX)
        }
    except NiprCallFailed as error:
        raise dg.Failure(
            description=f"Reading the PDB Alerts subscriptions and targets failed: {error}"
        ) from error
    plan = plan_subscriptions(tracked, targets, refused, capacity=capacity)
    for name in plan.create:
        create_subscription(log, nipr, name, contact_email)

    # Removals first (they free room), then additions; the ledger is written after each call,
    # so a failure part-way leaves it true to what NIPR did (the next run reconciles the rest).
    refused_now: list[dict[str, str]] = []
    removed = added = 0
    for name, npns in plan.remove.items():
        _call(nipr.remove_targets, f"removeTargets on {name}", name, npns)
        gone = [n for n in npns if n not in plan.placement]  # else: kept on another of ours
        _save(database, ledger_after_remove(ledger, name, gone, sync_common.now()))
        removed += len(npns)
        log.info(f"{name}: {len(npns)} targets removed")
    for name, npns in plan.add.items():
        result = _call(nipr.add_targets, f"addTargets on {name}", name, npns)
        reasons = {invalid.input: invalid.reason for invalid in result.invalid}
        _save(database, ledger_after_add(ledger, name, result.valid, reasons, sync_common.now()))
        added += len(result.valid)
        refused_now += [
            {"npn": npn, "subscription": name, "reason": reason} for npn, reason in reasons.items()
        ]
        log.info(f"{name}: {len(result.valid)} targets added, {len(reasons)} refused")
    repairs = ledger_repairs(plan, ledger, sync_common.now())
    _save(database, repairs)

    with database.begin() as connection:
        after = store.read_subscription_rows(connection)
    refused_all = after.loc[
        after["invalid_reason"].notna() & after["removed_at"].isna(),
        ["npn", "subscription_name", "invalid_reason"],
    ].rename(columns={"subscription_name": "subscription", "invalid_reason": "reason"})
    sizes = pd.DataFrame(
        {
            "subscription": list(plan.sizes),
            "targets": list(plan.sizes.values()),
            "added": [len(plan.add.get(n, ())) for n in plan.sizes],
            "removed": [len(plan.remove.get(n, ())) for n in plan.sizes],
        }
    )
    return {
        "tracked_producers": len(tracked),
        "targets_added": added,
        "targets_removed": removed,
        "targets_refused_now": len(refused_now),
        "targets_refused_total": len(refused_all),
        "subscriptions_created": ", ".join(plan.create) or "none",
        "subscriptions": md(sizes),
        "refused_targets": md(refused_all),
        "ledger_rows_repaired": len(repairs),
    }


def _call(method: Callable[..., T], what: str, *args: Any) -> T:
    try:
        return method(*args)
    except NiprCallFailed as error:
        raise dg.Failure(description=f"PDB Alerts {what} failed: {error}") from error


def create_subscription(log: Any, nipr: NiprClient, name: str, email: str) -> None:
    """Create a subscription; one NIPR already has (a lost reply's resend) counts as created."""
    try:
        nipr.add_subscription(name, email)
    except NiprFault as error:
        if error.code != SUBSCRIPTION_NAME_NOT_UNIQUE:
            raise dg.Failure(
                description=f"Creating the PDB Alerts subscription {name} failed: {error}"
            ) from error
    except NiprCallFailed as error:
        # Not retried by the client (a resend could fail as a duplicate): look before failing.
        if name not in _call(nipr.list_subscriptions, "retrieveAllSubscriptions"):
            raise dg.Failure(
                description=f"Creating the PDB Alerts subscription {name} failed: {error}"
            ) from error
    log.info(f"PDB Alerts subscription {name} created")


def _save(database: OperationalDatabase, rows: pd.DataFrame) -> None:
    if rows.empty:
        return
    with database.begin() as connection:
        store.save_subscription_rows(connection, rows)
