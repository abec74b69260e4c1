"""NIPR's own transaction fee, beside the state fee.

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-07

A batch estimate carried the state fee only; NIPR's own per-transaction fee, which NIPR
invoices apart from the state fees (DOMAIN 2.4), was nowhere (issue 14, item 6). This revision
adds:

- `nipr_transaction_fees`: NIPR's fee per Gateway transaction, one row per transaction kind
  (`appointment`, `termination`), with `source` and `is_assumption` like the state tables. It
  is loaded from `config/reference/nipr_transaction_fees.csv` by the reference job; the
  upgrade seeds the shipped estimate so a database upgraded before that job runs again does
  not price NIPR's fee at nothing;
- `transactions.estimated_nipr_fee`: that fee on a line that will be sent, 0 on a line never
  sent (Not Eligible, Recorded, Held (JIT)). Lines evaluated before this revision keep it NULL:
  nobody estimated it for them, and their history is not rewritten.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The shipped estimate of config/reference/nipr_transaction_fees.csv (the reference job
# replaces these rows with the file's).
_SEED_SOURCE = (
    "[ASSUMPTION] seeded by migration 0008: DOMAIN 2.4 says NIPR's per-transaction fee is "
    "[NOT FOUND]; high-side estimate, replace with the amount on the customer's NIPR invoice"
)
_SEED = [
    {"transaction_kind": kind, "nipr_fee": 5.00, "source": _SEED_SOURCE, "is_assumption": True}
    for kind in ("appointment", "termination")
]


def upgrade() -> None:
    fees = op.create_table(
        "nipr_transaction_fees",
        sa.Column("transaction_kind", sa.String(), nullable=False),
        sa.Column("nipr_fee", sa.Numeric(precision=10, scale=2), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("is_assumption", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.PrimaryKeyConstraint("transaction_kind", name=op.f("pk_nipr_transaction_fees")),
    )
    op.bulk_insert(fees, _SEED)
    with op.batch_alter_table("transactions") as batch:
        batch.add_column(
            sa.Column("estimated_nipr_fee", sa.Numeric(precision=10, scale=2), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("transactions") as batch:
        batch.drop_column("estimated_nipr_fee")
    op.drop_table("nipr_transaction_fees")
