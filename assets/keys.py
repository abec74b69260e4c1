"""The asset graph's shared names: asset keys, partitions and run tags.

Every domain imports what it needs of another domain from here, never from that domain's
`assets.py`, so a domain's asset module can change without the others following it, and the
sensors, jobs and schedules (`pipelines/`) name the graph through one module. Plain constants
and two tiny tag builders; nothing here touches a database or a client.
"""

from __future__ import annotations

import dagster as dg

# --- partitions --------------------------------------------------------------------------------
#: One dynamic partition per dropped file version, added only by `inbox_file_sensor`.
UPLOADS_PARTITIONS = dg.DynamicPartitionsDefinition(name="uploads")
#: One dynamic partition per batch, added only by `approved_batch_sensor`.
BATCH_PARTITIONS = dg.DynamicPartitionsDefinition(name="batches")

NIPR_TIMEZONE = "America/Chicago"  # NIPR's day: runs publish by 10:00 Central
# A fixed start keeps partition keys stable across deployments. NIPR serves a report up to
# 14 days back, so only the last 14 partitions can ever be fetched; older ones stay missing
# in the UI and fail with NIPR's INVALID_DATE if launched. end_offset=1: today's partition
# exists from midnight Central, so the 10:30 schedule can request it.
NIPR_PARTITIONS_START = "2026-01-01"
NIPR_DAILY_PARTITIONS = dg.DailyPartitionsDefinition(
    start_date=NIPR_PARTITIONS_START, timezone=NIPR_TIMEZONE, end_offset=1
)

# --- asset keys: reference data and company setup ----------------------------------------------
PORTALS_CONFIG_KEY = dg.AssetKey("core_config__portals")

# --- asset keys: NIPR ----------------------------------------------------------------------------
RAW_PDB_ALERTS_KEY = dg.AssetKey("raw_nipr__pdb_alerts")
INITIAL_SYNC_KEY = dg.AssetKey("core_nipr__initial_sync")
SUBSCRIPTIONS_KEY = dg.AssetKey("core_nipr__subscriptions")
#: The NIPR current-state tables, each its own asset (daily partitioned).
NIPR_CURRENT_STATE_TABLES = ("producers", "licenses", "license_loas", "appointments")
CORE_TABLE_KEYS = {table: dg.AssetKey(f"core_nipr__{table}") for table in NIPR_CURRENT_STATE_TABLES}

# --- asset keys: dropped files -------------------------------------------------------------------
RAW_FILE_KEY = dg.AssetKey("raw_uploads__file")
VALIDATED_KEY = dg.AssetKey("core_uploads__validated")
ONBOARDING_KEY = dg.AssetKey("core_onboarding__producers")
UPLOAD_ASSET_KEYS = (RAW_FILE_KEY, VALIDATED_KEY, ONBOARDING_KEY)

# --- asset keys: transactions and batches ----------------------------------------------------------
TRANSACTIONS_KEY = dg.AssetKey("core_appointments__transactions")
BATCHES_KEY = dg.AssetKey("core_appointments__batches")
APPOINTMENT_ASSET_KEYS = (TRANSACTIONS_KEY, BATCHES_KEY)
TERMINATION_TRANSACTIONS_KEY = dg.AssetKey("core_terminations__transactions")
TERMINATION_BATCHES_KEY = dg.AssetKey("core_terminations__batches")
TERMINATION_ASSET_KEYS = (TERMINATION_TRANSACTIONS_KEY, TERMINATION_BATCHES_KEY)
#: Every asset that writes `transaction_batches`: the submission reads what they wrote.
BATCH_WRITING_KEYS = (BATCHES_KEY, TERMINATION_BATCHES_KEY)
SUBMISSIONS_KEY = dg.AssetKey("out_nipr__gateway_submissions")

# --- asset keys: portal ------------------------------------------------------------------------------
INVITATIONS_KEY = dg.AssetKey("core_portal__invitations")
PORTAL_UPLOAD_ASSET_KEYS = (INVITATIONS_KEY,)

# --- asset keys: offboarding -------------------------------------------------------------------------
OFFBOARDING_KEY = dg.AssetKey("core_offboarding__producers")
OFFBOARDING_UPLOAD_ASSET_KEYS = (OFFBOARDING_KEY,)

# --- asset keys: just-in-time appointments -------------------------------------------------------------
JIT_RELEASE_KEY = dg.AssetKey("core_jit__released")
JIT_UPLOAD_ASSET_KEYS = (JIT_RELEASE_KEY,)

# --- asset keys: appointment renewals ---------------------------------------------------------------
RENEWAL_RULES_KEY = dg.AssetKey("core_reference__state_appointment_renewals")
#: `appointment_renewal_plan`, which the report rpt_appointment_renewals reads.
RENEWAL_PLAN_KEY = dg.AssetKey("core_renewals__plan")
# --- asset keys: continuous compliance (issue 18) ---------------------------------------------------
APPOINTMENT_STANDING_KEY = dg.AssetKey("compliance__appointment_standing")
SALES_AUTHORIZATION_KEY = dg.AssetKey("compliance__sales_authorization")
COMPLIANCE_ASSET_KEYS = (APPOINTMENT_STANDING_KEY, SALES_AUTHORIZATION_KEY)
#: The daily email of the Appointed lines that became at risk (after the standing).
AT_RISK_DIGEST_KEY = dg.AssetKey("compliance__at_risk_digest")
COMPLIANCE_GROUP = "compliance"

# --- run tags ----------------------------------------------------------------------------------------
# A dropped file's run: the sensor names the file version so the run reads exactly it.
TAG_OBJECT_KEY = "npnflow/object_key"
TAG_ETAG = "npnflow/etag"
TAG_KIND = "npnflow/kind"
TAG_CONTINUES = "npnflow/continues"  # a run requested again for an unfinished upload
# A batch's submission or polling run.
TAG_BATCH_ID = "npnflow/batch_id"
TAG_APPROVAL_VERSION = "npnflow/approval_version"
TAG_PURPOSE = "npnflow/purpose"  # "submit" (default) or "poll"

APPROVED_BATCH_SENSOR_NAME = "approved_batch_sensor"


def batch_run_tags(batch_id: str, approval_version: int, purpose: str = "submit") -> dict[str, str]:
    """The tags of a batch's submission (or polling) run, read back by the submission asset."""
    return {
        TAG_BATCH_ID: batch_id,
        TAG_APPROVAL_VERSION: str(approval_version),
        TAG_PURPOSE: purpose,
    }
