"""What an analyst reads about a processed upload: the metadata of `core_uploads__validated`
and `core_onboarding__producers`.

Counts, the first rejected rows and the warnings (SSNs already masked by the validator), the
error reports' paths, and for an agent upload what onboarding did. Every table shown goes
through the SSN mask once more (`cells.masked_frame`): the event log is read by people and
kept, so a 9-digit NPN in the onboarding preview is shown as `***-**-6789` too
(docs/decisions/0021). Apart from `assets.py` so that the asset definitions stay wiring: read,
call the rules, write, describe.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from assets.metadata import markdown_preview
from assets.onboarding.onboarding import OnboardingPlan
from assets.uploads import cells, ledger
from assets.uploads.validation import ValidatedUpload

SHOWN_ROWS = 20
OTHER_KIND_NOTES = {
    "appoint": "Appointment requests are validated here; turning them into eligibility-checked "
    "transaction batches is the appointments capability's work, not onboarding's.",
    "terminate": "Termination requests are validated here; batching and submitting them is the "
    "terminations capability's work, not onboarding's.",
    "portal_invite": "Portal invitations are validated here; sending them is the portal "
    "capability's work, not onboarding's.",
    "offboard": "Producers to offboard are validated here; offboarding them is the "
    "offboarding capability's work (core_offboarding__producers), not onboarding's.",
    "jit_release": "Held JIT lines to release are validated here; releasing them is the JIT "
    "capability's work (core_jit__released), not onboarding's.",
}


def report_path(key: str | None) -> Any:
    """The error report's key as a path in the UI, or "none"."""
    return dg.MetadataValue.path(key) if key else "none"


def validation_metadata(
    validated: ValidatedUpload, report_keys: list[str], status: str
) -> dict[str, Any]:
    """core_uploads__validated's metadata: the counts, the error reports, the first rejected
    rows with their messages and the warnings."""
    errors = validated.row_errors
    warnings = validated.warnings
    metadata: dict[str, Any] = {
        "status": status,
        "kind": validated.kind,
        "rows_total": validated.rows_total,
        "rows_blank": validated.rows_blank,
        "rows_valid": validated.rows_valid,
        "rows_rejected": validated.rows_rejected,
        "row_errors": len(errors),
        "warnings_count": len(warnings),
        "error_report": report_path(report_keys[0] if report_keys else None),
    }
    if len(report_keys) > 1:
        metadata["error_report_xlsx"] = dg.MetadataValue.path(report_keys[1])
    first_rows = validated.rejected_row_numbers[:SHOWN_ROWS]
    shown = errors[errors["row_number"].isin(first_rows)]
    metadata["first_rejected_rows"] = markdown_preview(
        ledger.markdown_safe(
            cells.masked_frame(shown[["row_number", "column", "value", "message"]])
        ),
        max_rows=4 * SHOWN_ROWS,
    )
    if len(warnings):
        metadata["warnings"] = markdown_preview(
            ledger.markdown_safe(cells.masked_frame(warnings.astype(object).fillna(""))),
            max_rows=SHOWN_ROWS,
        )
    return metadata


def onboarding_metadata(
    validated: ValidatedUpload, plan: OnboardingPlan | None, *, ssn_encrypted: bool
) -> dict[str, Any]:
    """core_onboarding__producers' metadata: counts, how SSNs were kept, the producers (no
    SSN digit), the next step; for another kind, why nothing was onboarded."""
    if validated.kind != "agent":
        return {
            "kind": validated.kind,
            "note": OTHER_KIND_NOTES.get(validated.kind, "Not an agent upload: nothing onboarded."),
            "producers_to_sync": 0,
        }
    if plan is None:
        return {
            "kind": "agent",
            "note": "No valid rows: nothing onboarded.",
            "producers_to_sync": 0,
        }
    metadata: dict[str, Any] = {"kind": "agent", **plan.counts}
    metadata["ssn_protection"] = (
        "encrypted with NPNFLOW_SSN_KEY, last four kept"
        if ssn_encrypted
        else "no NPNFLOW_SSN_KEY: full SSNs discarded, last four kept"
    )
    metadata["producers"] = markdown_preview(
        ledger.markdown_safe(cells.masked_frame(plan.summary.astype(object).fillna(""))),
        max_rows=SHOWN_ROWS,
    )
    metadata["next"] = (
        f"{plan.counts['producers_to_sync']} producer(s) Not Started: `sync_new_producers_job` "
        "fetches their Entity Info (requested by onboarded_producers_sensor, else by "
        "sync_new_producers_schedule)."
    )
    return metadata
