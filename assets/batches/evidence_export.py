"""A batch's lines for an auditor: reason, fees, explanation and evidence, one row per line
(issue 19, `npnflow batches export ID -o FILE.xlsx`). Pure.

The columns: the transaction's own (`LINE_COLUMNS`, the company's name beside its CoCode), the
paragraph of `explain_decision`, then every evidence field under its label
(`EVIDENCE_LABELS`). Every value is text as `explain` prints it (`value_text`) (`-` for none); the writer
(`assets/batches/spreadsheet.py`) makes each cell safe.
"""

from __future__ import annotations

from collections.abc import Sequence

from assets.batches.evidence_store import LINE_COLUMNS, ExplainedLine
from assets.batches.explain import EVIDENCE_LABELS, explain_decision, value_text
from assets.rules.evidence import EVIDENCE_NAMES

_LINE_HEADERS: dict[str, str] = {
    "transaction_id": "Transaction",
    "batch_id": "Batch",
    "kind": "Kind",
    "request_row": "Request row",
    "npn": "NPN",
    "state_code": "State",
    "cocode": "CoCode",
    "loa_category": "LOA category",
    "loa_code": "LOA code",
    "license_number": "License number",
    "license_class_code": "License class",
    "is_resident": "Resident",
    "agent_type": "Agent type",
    "termination_reason_code": "Termination reason code",
    "effective_date": "Effective date",
    "eligibility_reason": "Eligibility reason",
    "status": "Status",
    "estimated_fee": "Estimated state fee",
    "estimated_nipr_fee": "NIPR fee",
    "nipr_status": "NIPR status",
    "nipr_message": "NIPR message",
    "upload_id": "Upload",
}


def export_rows(items: Sequence[ExplainedLine]) -> tuple[list[str], list[list[str]]]:
    """The headers and one row per line."""
    headers = [
        *(_LINE_HEADERS[name] for name in LINE_COLUMNS),
        "Company",
        "Explanation",
        *(EVIDENCE_LABELS[name] for name in EVIDENCE_NAMES),
    ]
    rows = []
    for item in items:
        evidence = item.evidence or {}
        rows.append(
            [
                *(value_text(item.line.get(name)) for name in LINE_COLUMNS),
                value_text(item.line.get("company_name")),
                explain_decision(item.line, item.evidence),
                *(value_text(evidence.get(name)) for name in EVIDENCE_NAMES),
            ]
        )
    return headers, rows
