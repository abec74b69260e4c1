"""Portal invitations record who invited, and a revoked seat who revoked it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07

An invitation recorded the door it came in by (`invitation_source`: `upload <id>`, `run <id>`,
the CLI) but no person (issue 16, item 6). These columns of `portal_users` keep the person:

- `invited_by`: who invited, as given (`npnflow portal invite --by NAME`, the `invited_by` of
  `invite_to_portal_job`), or `upload <object key>` for a dropped `portal_invite` file (the
  bucket does not record who dropped it);
- `revoked_at`, `revoked_by`: when and by whom the seat was revoked (offboarding: its `--by`
  name, or `upload <object key>`). A revoked producer invited again clears both.

Existing rows keep NULL: who invited them was never recorded, and `invitation_source` still
says by which door they came.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("portal_users") as batch:
        batch.add_column(sa.Column("invited_by", sa.String(), nullable=True))
        batch.add_column(sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("revoked_by", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("portal_users") as batch:
        batch.drop_column("revoked_by")
        batch.drop_column("revoked_at")
        batch.drop_column("invited_by")
