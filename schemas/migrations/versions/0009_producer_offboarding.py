"""Producer offboarding: when and by whom a producer was offboarded.

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-07

Offboarding a producer (`npnflow offboard`, an `offboard` upload, `offboard_producers_job`;
docs/operations.md, "Offboarding") terminates its appointments, cancels its unsent lines,
revokes its portal seats and marks it offboarded. `is_active` false alone could not say who
decided it, or tell an offboarded producer from one NIPR reports inactive:

- `producers.offboarded_at`: when the producer was offboarded (NULL: never, or onboarded
  again since);
- `producers.offboarded_by`: who offboarded it (the `--by` name, recorded as given).

Existing producers were never offboarded through npnflow: both stay NULL. Portal seats take a
new status value, `Revoked`, which needs no schema change (statuses are plain strings).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("producers") as batch:
        batch.add_column(sa.Column("offboarded_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("offboarded_by", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("producers") as batch:
        batch.drop_column("offboarded_by")
        batch.drop_column("offboarded_at")
