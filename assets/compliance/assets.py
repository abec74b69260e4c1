"""Continuous compliance in Dagster (group `compliance`): the standing of every Appointed line.

`compliance__appointment_standing` and `compliance__sales_authorization`, one step: after each
daily NIPR sync (`daily_nipr_sync_job` selects them, downstream of the current-state tables and
the company setup), every Appointed line of the customer's companies (and every line NIPR
accepted since the last sync) is judged as of NIPR's business day by the eligibility engine's
checks 6 to 8 (`assets/compliance/standing.py`), and both tables are rewritten in one database
transaction. The reports `rpt_appointments_at_risk` and `rpt_sales_authorization` read them.

Daily-partitioned like the sync it follows, so one run of the daily job applies the day and
then judges; any partition judges the tables as they are now, as of today (the current-state
tables hold no history to judge an older day by).

No `from __future__ import annotations` here: Dagster reads the annotations of what it wraps.
"""

import datetime as dt
from collections.abc import Iterator

import dagster as dg

from assets.compliance.store import (
    AUTHORIZATION_TABLE,
    STANDING_TABLE,
    evaluate_standing,
    read_standing_inputs,
    replace_evaluation,
)
from assets.keys import (
    APPOINTMENT_STANDING_KEY,
    COMPLIANCE_GROUP,
    CORE_TABLE_KEYS,
    NIPR_DAILY_PARTITIONS,
    SALES_AUTHORIZATION_KEY,
)
from assets.metadata import markdown_preview
from assets.rules.business_day import nipr_business_date
from resources.database import OperationalDatabase

SHOWN_ROWS = 50
# What the judgement reads besides NIPR's tables: which companies, lines and classes.
CONFIG_TABLES = (
    "companies",
    "company_state_settings",
    "company_loa_categories",
    "gateway_business_rules",
)
# Named as assets/reference/assets.py names them (keys.py's rule: no import of another
# domain's assets module).
_DEPS = [
    *CORE_TABLE_KEYS.values(),
    *(dg.AssetKey(f"core_config__{table}") for table in CONFIG_TABLES),
    dg.AssetKey("core_reference__loa_categories"),
]


@dg.multi_asset(
    name="compliance__appointment_standing",
    specs=[
        dg.AssetSpec(
            APPOINTMENT_STANDING_KEY,
            group_name=COMPLIANCE_GROUP,
            deps=_DEPS,
            kinds={"duckdb", "sql"},
            metadata={"table": STANDING_TABLE},
            description=(
                "Every Appointed line of the customer's companies (and every line NIPR accepted "
                "since the last sync), judged as of NIPR's business day by the eligibility "
                "engine's checks 6-8: the license in the state active and unexpired, an active "
                "resident license, the line active on the license. At risk when one fails, "
                "with the reason and since when (NIPR's dates). docs/compliance.md."
            ),
        ),
        dg.AssetSpec(
            SALES_AUTHORIZATION_KEY,
            group_name=COMPLIANCE_GROUP,
            deps=_DEPS,
            kinds={"duckdb", "sql"},
            metadata={"table": AUTHORIZATION_TABLE},
            description=(
                "May the producer sell: Yes/No with every line's reasons for each (npn, state, "
                "cocode, category) the companies appoint for, for producers with a line "
                "appointed with the company in the state; the rule of `npnflow can-sell`."
            ),
        ),
    ],
    partitions_def=NIPR_DAILY_PARTITIONS,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def compliance__appointment_standing(
    context: dg.AssetExecutionContext, database: OperationalDatabase
) -> Iterator[dg.MaterializeResult]:
    """Read, judge, and replace both tables in one database transaction."""
    as_of = nipr_business_date()
    evaluated_at = dt.datetime.now(dt.UTC)
    with database.begin() as connection:
        inputs = read_standing_inputs(connection)
        evaluation = evaluate_standing(inputs, as_of, evaluated_at)
        written = replace_evaluation(connection, evaluation)
    standing = evaluation.standing
    at_risk = standing[standing["is_at_risk"]]
    context.log.info(
        f"{len(standing):,} Appointed line(s) judged as of {as_of}: {len(at_risk):,} at risk."
    )
    by_reason = at_risk["risk_reason"].value_counts().to_dict()
    yield dg.MaterializeResult(
        asset_key=APPOINTMENT_STANDING_KEY,
        metadata={
            "as_of": as_of.isoformat(),
            "lines": written[STANDING_TABLE],
            "at_risk": len(at_risk),
            **{f"at_risk: {reason}": int(count) for reason, count in by_reason.items()},
            "at_risk_lines": markdown_preview(
                at_risk[["npn", "state_code", "cocode", "loa_code", "risk_reason"]], SHOWN_ROWS
            ),
        },
    )
    authorization = evaluation.authorization
    yield dg.MaterializeResult(
        asset_key=SALES_AUTHORIZATION_KEY,
        metadata={
            "as_of": as_of.isoformat(),
            "rows": written[AUTHORIZATION_TABLE],
            "yes": int(authorization["can_sell"].sum()),
            "no": int((~authorization["can_sell"].astype(bool)).sum()),
        },
    )


COMPLIANCE_ASSETS = [compliance__appointment_standing]
