"""Jobs: named selections of assets that a person or a schedule launches.

No `from __future__ import annotations` here: Dagster reads the annotations of the op.
"""

import datetime as dt
from typing import TYPE_CHECKING

import dagster as dg

from assets.batches.approval import BatchActionRefused, BatchNotFound, approve_in_transaction
from assets.jit.assets import release_named_jit_lines
from assets.keys import (
    APPOINTMENT_ASSET_KEYS,
    AT_RISK_DIGEST_KEY,
    COMPLIANCE_ASSET_KEYS,
    CORE_TABLE_KEYS,
    INITIAL_SYNC_KEY,
    JIT_UPLOAD_ASSET_KEYS,
    OFFBOARDING_UPLOAD_ASSET_KEYS,
    PORTAL_UPLOAD_ASSET_KEYS,
    RAW_PDB_ALERTS_KEY,
    RENEWAL_PLAN_KEY,
    SUBMISSIONS_KEY,
    SUBSCRIPTIONS_KEY,
    TAG_PURPOSE,
    TERMINATION_ASSET_KEYS,
    UPLOAD_ASSET_KEYS,
)
from assets.offboarding.assets import offboard_named_producers
from assets.portal.assets import invite_producers_to_portal
from resources.database import OperationalDatabase
from schemas.statuses import DOOR_LAUNCHPAD

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

load_reference_data_job = dg.define_asset_job(
    name="load_reference_data_job",
    selection=dg.AssetSelection.groups("reference", "company_config"),
    description=(
        "Load NIPR's reference tables, the state rules and fees, and the customer's company "
        "setup from config/ into the operational database."
    ),
)

daily_nipr_sync_job = dg.define_asset_job(
    name="daily_nipr_sync_job",
    # Daily-partitioned like its assets (NIPR_DAILY_PARTITIONS); Dagster infers it from them.
    # Then the standing of every Appointed line (issue 18), judged on the tables just applied,
    # and the at-risk digest (unpartitioned: it reads the whole standing) after it.
    selection=dg.AssetSelection.assets(
        RAW_PDB_ALERTS_KEY, *CORE_TABLE_KEYS.values(), *COMPLIANCE_ASSET_KEYS, AT_RISK_DIGEST_KEY
    ),
    description=(
        "Fetch one day's PDB Alerts report from NIPR (kept verbatim in the object store) and "
        "apply it to the current-state tables: producers, licenses, license_loas, appointments; "
        "their checks then validate the scopes the day applied. Then judge every Appointed "
        "line of the customer's companies (appointment_standing, sales_authorization) and "
        "email the daily at-risk digest: the lines that became at risk since the last one."
    ),
)

sync_new_producers_job = dg.define_asset_job(
    name="sync_new_producers_job",
    selection=dg.AssetSelection.assets(INITIAL_SYNC_KEY, SUBSCRIPTIONS_KEY),
    description=(
        "Fetch Entity Info for producers not yet synced (Not Started, NIPR Error), then bring "
        "the PDB Alerts target lists in line with the tracked producers."
    ),
)

check_nipr_current_state_job = dg.define_asset_job(
    name="check_nipr_current_state_job",
    # Only the checks. In a run that applies PDB Alerts days (the daily sync) they check the
    # scopes those days applied; here, with nothing applied, they check the whole tables, in
    # bounded parts (assets/nipr/check_scope.py). weekly_nipr_quality_schedule runs it.
    selection=dg.AssetSelection.checks_for_assets(*CORE_TABLE_KEYS.values()),
    description=(
        "Run the Great Expectations checks on the whole NIPR current-state tables without "
        "syncing: keys unique, NIPR codes known, expiration on or after issue, row counts "
        "within bounds. Weekly (weekly_nipr_quality_schedule) and on demand; the daily sync "
        "checks only the scopes its day applied."
    ),
)

process_upload_job = dg.define_asset_job(
    name="process_upload_job",
    # Partitioned by `uploads` (one dynamic partition per file), inferred from its assets.
    selection=dg.AssetSelection.assets(
        *UPLOAD_ASSET_KEYS,
        *APPOINTMENT_ASSET_KEYS,
        *TERMINATION_ASSET_KEYS,
        *PORTAL_UPLOAD_ASSET_KEYS,
        *OFFBOARDING_UPLOAD_ASSET_KEYS,
        *JIT_UPLOAD_ASSET_KEYS,
    ),
    description=(
        "Process one dropped file (a partition of `uploads`, requested by inbox_file_sensor): "
        "read it, validate every row, write the error report beside it; for an agent file, "
        "onboard the producers with their producer assignments; for an appoint or terminate "
        "file, check every request's eligibility and group the transactions into batches; for "
        "a portal_invite file, invite the producers to their portals (one email each); for an "
        "offboard file, offboard the producers (terminations, unsent lines cancelled, portal "
        "seats revoked); for a jit_release file, release the held JIT lines it names."
    ),
)

submit_batch_job = dg.define_asset_job(
    name="submit_batch_job",
    # Partitioned by `batches` (one dynamic partition per batch, added by
    # approved_batch_sensor), inferred from its asset.
    selection=dg.AssetSelection.assets(SUBMISSIONS_KEY),
    description=(
        "Send one approved batch to the NIPR Gateway, exactly once (requested by "
        "approved_batch_sensor with run key '{batch_id}:{approval_version}'), or poll NIPR for "
        "the answers still pending on a submitted batch (tag npnflow/purpose=poll)."
    ),
    # On every run of this job (sensor, Launchpad; a polling run's request overrides the
    # purpose): the run queue lets one `submit` run go at a time, and Dagster never re-runs a
    # submission by itself (deploy/dagster.yaml): sending again is decided by the run's look-up
    # at NIPR, within the run, or by `npnflow batches retry`.
    run_tags={TAG_PURPOSE: "submit", "dagster/max_retries": "0"},
)


class ApproveBatchConfig(dg.Config):
    batch_id: str
    approved_by: str


@dg.op(
    description=(
        "Approve a batch in Pending Review, as `npnflow batches approve ID --by NAME` does: "
        "records who and when and bumps approval_version; approved_batch_sensor then requests "
        "its submission."
    ),
)
def approve_pending_batch(
    context: dg.OpExecutionContext, config: ApproveBatchConfig, database: OperationalDatabase
) -> None:
    try:
        result = approve_in_transaction(
            database,
            config.batch_id.strip(),
            approved_by=config.approved_by,
            now=dt.datetime.now(dt.UTC),
            # The batch's page in the UI records the approval, in this run's event log.
            record=context.log_event,
            door=DOOR_LAUNCHPAD,
        )
    except (BatchActionRefused, BatchNotFound) as refusal:
        raise dg.Failure(description=str(refusal), allow_retries=False) from None
    context.log.info(
        f"Approved {result.batch_id} (version {result.approval_version}) by {result.by}: "
        f"{result.transactions_to_send} transaction(s), ${result.fees_to_send:,.2f} to send "
        f"(NIPR's own transaction fees ${result.nipr_fees_to_send:,.2f} besides, invoiced by "
        "NIPR); approved_batch_sensor requests its submission run."
    )
    context.add_output_metadata(
        {
            "batch_id": result.batch_id,
            "approval_version": result.approval_version,
            "approved_by": result.by,
            "transactions_to_send": result.transactions_to_send,
            "fees_to_send": float(result.fees_to_send),
            "nipr_fees_to_send": float(result.nipr_fees_to_send),
        }
    )


@dg.job(
    description=(
        "Approve one batch from the Launchpad (config: batch_id, approved_by). Same effect as "
        "`npnflow batches approve`."
    ),
    tags={"npnflow/action": "approve"},
)
def approve_batch_job() -> None:
    approve_pending_batch()


@dg.job(
    description=(
        "Invite producers to a portal from the Launchpad (config: npns, portal, invited_by; "
        "resend_unconfirmed). Same effect as `npnflow portal invite --portal P --by NAME "
        "NPN...`: a seat and one email each, or the reason not; already invited producers get "
        "nothing."
    ),
    tags={"npnflow/action": "portal_invite"},
)
def invite_to_portal_job() -> None:
    invite_producers_to_portal()


@dg.job(
    description=(
        "Offboard producers from the Launchpad (config: npns, offboarded_by; reason, "
        "effective_date, cocodes, submit_immediately). Same effect as `npnflow offboard NPN... "
        "--by NAME`: every Appointed line with the customer's companies becomes a termination "
        "(one batch per CoCode, Pending Review unless submit_immediately), lines never sent "
        "are Cancelled, portal seats Revoked, the producer marked offboarded; one database "
        "transaction per producer."
    ),
    tags={"npnflow/action": "offboard"},
)
def offboard_producers_job() -> None:
    offboard_named_producers()


@dg.job(
    description=(
        "Release held JIT appointment lines from the Launchpad (config: released_by; "
        "transaction_ids, or npn with state, cocode, loa_category; business_date). Same effect "
        "as `npnflow jit release`: re-checked as of today (a line no longer eligible becomes Not "
        "Eligible, never sent), moved into a new Approved batch that approved_batch_sensor "
        "submits once, with its JIT due date."
    ),
    tags={"npnflow/action": "jit_release"},
)
def release_jit_job() -> None:
    release_named_jit_lines()


build_reports_job = dg.define_asset_job(
    name="build_reports_job",
    # The dbt models of dbt_reports (assets/reports/assets.py), with their dbt tests as checks,
    # and the renewal plan table rpt_appointment_renewals reads (computed in Python first).
    selection=dg.AssetSelection.groups("reports") | dg.AssetSelection.assets(RENEWAL_PLAN_KEY),
    description=(
        "Build the reports (dbt_reports: licensing with carrier appointments, transactions by "
        "eligibility reason, batch status, expiring licenses) in the operational database and "
        "run their checks. Same as `npnflow reports build`; config `as_of` (YYYY-MM-DD) pins "
        "the date the expiring-licenses report counts from."
    ),
    # The run queue lets one dbt build go at a time (deploy/dagster.yaml): two would replace
    # the same report tables under each other.
    run_tags={TAG_PURPOSE: "reports"},
)

# Typed as what Definitions takes: the asset jobs' class is not exported by dagster's top level.
JOBS: "list[dg.JobDefinition | UnresolvedAssetJobDefinition]" = [
    load_reference_data_job,
    daily_nipr_sync_job,
    sync_new_producers_job,
    check_nipr_current_state_job,
    process_upload_job,
    submit_batch_job,
    approve_batch_job,
    invite_to_portal_job,
    offboard_producers_job,
    release_jit_job,
    build_reports_job,
]
