"""Releasing just-in-time (JIT) appointments: who released a held line, when, and its deadline.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

A `Held (JIT)` line waited for a release path that did not exist (issue 15, item 1). Releasing
moves the held line itself into a new Approved batch (docs/decisions/0026-jit-release.md), so
the line keeps its transaction id and idempotency key (sent once, however often it is
released). These columns of `transactions` keep the audit trail of that move and the state's
deadline:

- `held_batch_id`: the batch the line was held in before its release (NULL: never released);
- `released_at`, `released_by`: when and by whom it was released (the `--by` name, as given);
- `jit_business_date`: the date the producer's first business arrived (given on the release,
  else the release's NIPR business date);
- `jit_due_date`: `jit_business_date` + `state_appointment_rules.jit_deadline_days` (NULL when
  the state gives no deadline): filed after it, or still unsent past it, is `Late JIT Filing`;
- `cancelled_by`: who cancelled a held line (`npnflow jit cancel --by NAME`).

Existing lines were never released: every column stays NULL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("transactions") as batch:
        batch.add_column(sa.Column("held_batch_id", sa.String(), nullable=True))
        batch.add_column(sa.Column("released_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("released_by", sa.String(), nullable=True))
        batch.add_column(sa.Column("jit_business_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("jit_due_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("cancelled_by", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transactions") as batch:
        batch.drop_column("cancelled_by")
        batch.drop_column("jit_due_date")
        batch.drop_column("jit_business_date")
        batch.drop_column("released_by")
        batch.drop_column("released_at")
        batch.drop_column("held_batch_id")
