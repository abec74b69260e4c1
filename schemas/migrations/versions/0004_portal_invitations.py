"""Portal invitations: each portal's registration page, and a ledger of the invitation emails.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24

- `portals.registration_url`: where an invitation's link points (the token is appended).
- `portal_users`: `invitation_send_started_at`, `invitation_sent_at`, `invitation_message_id`
  and `invitation_source`, so an invitation's email is sent once: recorded before the mail
  server is called, confirmed after it accepted the message (docs/portal.md).
- A unique index on `portal_users.invitation_token_hash`: the registration page finds an
  invitation by its token's hash, and two invitations never share a token.

The seat limit needs no column: seats are counted from `portal_users` under a lock on the
portal's row, so a stored count could only drift from the truth.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("portals") as batch:
        batch.add_column(sa.Column("registration_url", sa.Text(), nullable=True))
    with op.batch_alter_table("portal_users") as batch:
        batch.add_column(
            sa.Column("invitation_send_started_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("invitation_sent_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("invitation_message_id", sa.String(), nullable=True))
        batch.add_column(sa.Column("invitation_source", sa.String(), nullable=True))
    op.create_index(
        op.f("ix_portal_users_invitation_token_hash"),
        "portal_users",
        ["invitation_token_hash"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_portal_users_invitation_token_hash"), table_name="portal_users")
    with op.batch_alter_table("portal_users") as batch:
        batch.drop_column("invitation_source")
        batch.drop_column("invitation_message_id")
        batch.drop_column("invitation_sent_at")
        batch.drop_column("invitation_send_started_at")
    with op.batch_alter_table("portals") as batch:
        batch.drop_column("registration_url")
