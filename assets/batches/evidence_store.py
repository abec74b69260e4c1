"""Reading a decision and its evidence back from the operational database (issue 19).

`transaction_with_evidence`: one transaction (with its company's name) and its
`transaction_evidence` row, for `npnflow explain`. `batch_lines_with_evidence`: every line of a
batch with its evidence, for `npnflow batches show --evidence` and the batch export. Plain
SQLAlchemy rows as dicts, no pandas, so the commands stay quick. What they say is worded by
`assets/batches/explain.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assets.rules.evidence import EVIDENCE_NAMES
from schemas.tables import TABLES

#: The transaction's columns an explanation or an export shows.
LINE_COLUMNS: tuple[str, ...] = (
    "transaction_id",
    "batch_id",
    "kind",
    "request_row",
    "npn",
    "state_code",
    "cocode",
    "loa_category",
    "loa_code",
    "license_number",
    "license_class_code",
    "is_resident",
    "agent_type",
    "termination_reason_code",
    "effective_date",
    "eligibility_reason",
    "status",
    "estimated_fee",
    "estimated_nipr_fee",
    "nipr_status",
    "nipr_message",
    "upload_id",
)


@dataclass(frozen=True)
class ExplainedLine:
    """A transaction's columns (`LINE_COLUMNS` and `company_name`) and its evidence (None when
    it has none: written before migration 0019)."""

    line: dict[str, Any]
    evidence: dict[str, Any] | None


def _select() -> sa.Select[Any]:
    t = TABLES["transactions"]
    e = TABLES["transaction_evidence"]
    c = TABLES["companies"]
    evidence_columns = [e.c[name].label(f"evidence__{name}") for name in EVIDENCE_NAMES]
    return (
        sa.select(*(t.c[name] for name in LINE_COLUMNS), c.c.company_name, *evidence_columns)
        .select_from(
            t.outerjoin(e, e.c.transaction_id == t.c.transaction_id).outerjoin(
                c, c.c.cocode == t.c.cocode
            )
        )
        .order_by(t.c.request_row, t.c.state_code, t.c.loa_code, t.c.transaction_id)
    )


def _split(row: sa.Row[Any]) -> ExplainedLine:
    values = dict(row._mapping)
    evidence = {name: values.pop(f"evidence__{name}") for name in EVIDENCE_NAMES}
    return ExplainedLine(values, evidence if evidence["decided_by"] is not None else None)


def transaction_with_evidence(connection: Connection, transaction_id: str) -> ExplainedLine | None:
    """The transaction and its evidence; None when no transaction has that id."""
    t = TABLES["transactions"]
    row = connection.execute(_select().where(t.c.transaction_id == transaction_id)).first()
    return None if row is None else _split(row)


def batch_lines_with_evidence(
    connection: Connection, batch_id: str, *, limit: int | None = None, offset: int = 0
) -> Iterator[ExplainedLine]:
    """The batch's lines with their evidence, in the order `batches show` prints them."""
    t = TABLES["transactions"]
    statement = _select().where(t.c.batch_id == batch_id).offset(offset)
    if limit is not None:
        statement = statement.limit(limit)
    for row in connection.execute(statement):
        yield _split(row)
