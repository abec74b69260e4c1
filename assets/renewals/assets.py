"""Appointment renewals in Dagster: the plan table the report rpt_appointment_renewals reads.

- `core_renewals__plan` (group `renewals`): the renewal plan (`plan.py`) of every Appointed
  line of the customer's companies for the cycle (the year of `as_of`, default today), written
  whole to `appointment_renewal_plan` in one database transaction. Downstream of the NIPR
  current-state tables, the renewal rules, the JIT releases and offboarding; the build of the
  reports (`build_reports_job`, `npnflow reports build`) runs it before the dbt models.

The three standing reasons come from `appointment_standing`, written by the at-risk evaluation;
this asset reads that table as it is.

No `from __future__ import annotations` here: Dagster reads the annotations of what it wraps.
"""

import datetime as dt
from typing import Any

import dagster as dg
from pydantic import Field

from assets.keys import (
    APPOINTMENT_STANDING_KEY,
    CORE_TABLE_KEYS,
    JIT_RELEASE_KEY,
    OFFBOARDING_KEY,
    RENEWAL_PLAN_KEY,
    RENEWAL_RULES_KEY,
    TRANSACTIONS_KEY,
)
from assets.metadata import markdown_preview
from assets.renewals.liability import liability_by_state
from assets.renewals.plan import TERMINATE, renewal_plan
from assets.renewals.store import plan_inputs, write_plan
from resources.database import OperationalDatabase


class RenewalPlanConfig(dg.Config):
    as_of: str | None = Field(
        default=None,
        description="YYYY-MM-DD the cut-offs are judged on (default: today, UTC).",
    )
    cycle: int | None = Field(
        default=None, description="The renewal year (default: the year of as_of)."
    )


@dg.asset(
    key=RENEWAL_PLAN_KEY,
    group_name="renewals",
    kinds={"python", "sql"},
    deps=[
        RENEWAL_RULES_KEY,
        # Three of the plan's reasons are the standing's (appointment_standing).
        APPOINTMENT_STANDING_KEY,
        CORE_TABLE_KEYS["appointments"],
        CORE_TABLE_KEYS["producers"],
        CORE_TABLE_KEYS["licenses"],
        TRANSACTIONS_KEY,
        JIT_RELEASE_KEY,
        OFFBOARDING_KEY,
    ],
    description=(
        "The renewal plan of every Appointed line of the customer's companies in a renewing "
        "state: renewal date, cut-off, fee, and Renew or Terminate Before Cut-Off with the "
        "reason (docs/renewals.md). Table appointment_renewal_plan."
    ),
    metadata={"table": "appointment_renewal_plan"},
)
def renewal_plan_table(
    context: dg.AssetExecutionContext, config: RenewalPlanConfig, database: OperationalDatabase
) -> dg.MaterializeResult[Any]:
    as_of = dt.date.fromisoformat(config.as_of) if config.as_of else dt.datetime.now(dt.UTC).date()
    cycle = config.cycle or as_of.year
    with database.begin() as connection:
        inputs = plan_inputs(connection)
        plan = renewal_plan(inputs, cycle, as_of)
        written = write_plan(connection, plan, as_of, dt.datetime.now(dt.UTC))
    liability = liability_by_state(plan, inputs["state_appointment_renewals"])
    context.log.info(f"Renewal plan for {cycle}: {written} lines.")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": written,
            "cycle": cycle,
            "as_of": as_of.isoformat(),
            "lines_to_terminate": int(plan["recommendation"].eq(TERMINATE).sum()),
            "liability": float(liability["total"].sum()),
            "saving": float(liability["saving"].sum()),
            "by_state": markdown_preview(liability),
        }
    )


RENEWAL_ASSETS = [renewal_plan_table]
