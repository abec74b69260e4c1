"""The daily at-risk digest in Dagster: `compliance__at_risk_digest` (group `compliance`).

Downstream of `compliance__appointment_standing` (the evaluation that rewrites
`appointment_standing` after each daily sync) and in `daily_nipr_sync_job`'s selection, so it
runs after the standing in every daily sync. Thin: the settings are read by
`notifications_config.py`, the rules are `digest.py`, the run is `digest_run.py`.

What an analyst reads (metadata, logs): how many lines became at risk, how many are still at
risk from earlier digests, how many recovered, whether the digest was sent and why (not), and
the new lines. Never a recipient's address (the count, and where mail goes).

The step fails (the NIPR tables the sync applied stay applied) when `notifications.yaml` is
wrong, or the digest did not go, or its outcome is unknown: each failure says what the
operator does. Nothing to tell, or nobody to tell, is a success that says so.

No `from __future__ import annotations` here: Dagster reads the annotations of what it wraps.
"""

from typing import Any

import dagster as dg
import pandas as pd
from pydantic import Field

from assets.compliance.digest_run import (
    NO_RECIPIENTS,
    NO_SETTINGS,
    UNCONFIRMED,
    DigestRun,
    send_at_risk_digest,
)
from assets.compliance.notifications_config import NOTIFICATIONS_FILE, load_notification_config
from assets.keys import APPOINTMENT_STANDING_KEY, AT_RISK_DIGEST_KEY, COMPLIANCE_GROUP
from assets.metadata import markdown_preview
from assets.reference.config_files import ConfigError
from assets.retries import retry_transient_database_errors
from assets.uploads.ledger import markdown_safe
from resources import paths
from resources.database import OperationalDatabase
from resources.mailer import Mailer

SHOWN_LINES = 50


class AtRiskDigestConfig(dg.Config):
    retell_unconfirmed: bool = Field(
        default=False,
        description=(
            "Give up the digests whose sending was never confirmed (started more than 15 "
            "minutes ago) and tell their lines again, if still at risk. Set it only after "
            "checking that the unconfirmed digest did not reach its recipients."
        ),
    )


def new_lines_frame(run: DigestRun) -> pd.DataFrame:
    """The lines this run found newly at risk, as the asset page shows them."""
    return pd.DataFrame(
        [
            {
                "company": line.company_label,
                "state": line.state_code,
                "producer": line.producer_label,
                "line": line.line_label,
                "why": line.risk_reason,
                "since": line.since_label,
            }
            for line in run.new_lines
        ],
        columns=["company", "state", "producer", "line", "why", "since"],
    )


def digest_metadata(run: DigestRun, mailer: Mailer) -> dict[str, Any]:
    """Counts, the outcome and the new lines; no address."""
    metadata: dict[str, Any] = {
        "new_at_risk": len(run.plan.new),
        "still_at_risk": len(run.plan.still_at_risk),
        "at_risk_total": run.plan.at_risk,
        "recovered": len(run.plan.recovered),
        "sent": run.sent,
        "outcome": run.outcome,
        "as_of": run.as_of.isoformat() if run.as_of else "no evaluation yet",
        "new_lines": markdown_preview(markdown_safe(new_lines_frame(run)), max_rows=SHOWN_LINES),
    }
    if run.recipients:
        metadata["recipients"] = run.recipients
        metadata["mail"] = mailer.destination
    if run.digest_id:
        metadata["digest_id"] = run.digest_id
    if run.subject:
        metadata["subject"] = run.subject
    if run.abandoned:
        metadata["abandoned_digests"] = run.abandoned
    if run.retold:
        metadata["retold_unconfirmed_digests"] = run.retold
    if run.unconfirmed:
        metadata["unconfirmed_digests"] = ", ".join(run.unconfirmed)
    return metadata


def _failure(run: DigestRun, metadata: dict[str, Any]) -> dg.Failure:
    if run.outcome == UNCONFIRMED:
        what = (
            f"The at-risk digest {run.digest_id} was handed to the mailer but no confirmation "
            f"came ({run.failure}); it may have arrived. It is never resent by itself: check "
            "the recipients' inbox (or the mail server's log) and, if it did not arrive, "
            "materialize compliance__at_risk_digest with retell_unconfirmed: true (after 15 "
            "minutes) to tell its lines again."
        )
    else:
        what = (
            f"{run.failure}. Nothing is recorded as told: the next daily sync (or re-executing "
            "this step once the mail server works) sends the lines still at risk."
        )
    return dg.Failure(description=what, metadata=metadata)


@dg.asset(
    key=AT_RISK_DIGEST_KEY,
    group_name=COMPLIANCE_GROUP,
    deps=[APPOINTMENT_STANDING_KEY],
    kinds={"sql", "email"},
    metadata={"table": "at_risk_notified_lines"},
    description=(
        "The daily at-risk digest: one email to the recipients of config/notifications.yaml "
        "listing the Appointed lines that became at risk since the last digest (license, "
        "resident license or line lapsed), by company and state, each told once. Nothing is "
        "sent when nothing changed or no recipient is set."
    ),
)
@retry_transient_database_errors
def compliance__at_risk_digest(
    context: dg.AssetExecutionContext,
    config: AtRiskDigestConfig,
    database: OperationalDatabase,
    mailer: Mailer,
) -> dg.MaterializeResult[Any]:
    source = paths.config_dir()
    try:
        settings = load_notification_config(source)
    except ConfigError as error:
        raise dg.Failure(description=str(error), allow_retries=False) from None
    run = send_at_risk_digest(
        database.engine,
        mailer,
        settings,
        run_id=context.run.run_id,
        retell_unconfirmed=config.retell_unconfirmed,
    )
    metadata = digest_metadata(run, mailer)
    context.log.info(
        f"At-risk digest: {len(run.plan.new)} new, {len(run.plan.still_at_risk)} still at risk, "
        f"{len(run.plan.recovered)} recovered; {run.outcome}."
    )
    if run.outcome in (NO_SETTINGS, NO_RECIPIENTS):
        context.log.info(f"Set recipients in {source / NOTIFICATIONS_FILE} to receive the digest.")
    if run.failure:
        raise _failure(run, metadata)
    if run.unconfirmed:
        context.log.warning(
            f"Unconfirmed at-risk digest(s) {', '.join(run.unconfirmed)}: check whether they "
            "arrived; if not, run this asset with retell_unconfirmed: true."
        )
    return dg.MaterializeResult(metadata=metadata)


AT_RISK_DIGEST_ASSETS = (compliance__at_risk_digest,)
