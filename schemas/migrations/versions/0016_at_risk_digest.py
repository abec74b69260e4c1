"""The daily at-risk digest: the digests sent and the ledger of the lines they told.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07

Two new tables (schemas/tables_notifications.py), no existing table changes. Issue 18:
- `at_risk_digests`: one row per digest email, written before it is sent, with the
  started/sent timestamps that make it go once (as the portal invitations' do);
- `at_risk_notified_lines`: one row per at-risk line (npn, state, company, line, reason) a
  digest told; a line leaves it when it stops being at risk, so a new lapse is told again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "at_risk_digests",
        sa.Column("digest_id", sa.String(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("send_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message_id", sa.String(), nullable=True),
        sa.Column("not_sent_reason", sa.Text(), nullable=True),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("digest_id", name=op.f("pk_at_risk_digests")),
    )
    op.create_table(
        "at_risk_notified_lines",
        sa.Column("npn", sa.String(), nullable=False),
        sa.Column("state_code", sa.String(), nullable=False),
        sa.Column("cocode", sa.String(), nullable=False),
        sa.Column("loa_code", sa.String(), nullable=False),
        sa.Column("risk_reason", sa.String(), nullable=False),
        sa.Column("at_risk_since", sa.Date(), nullable=True),
        sa.Column("digest_id", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["digest_id"],
            ["at_risk_digests.digest_id"],
            name=op.f("fk_at_risk_notified_lines_digest_id_at_risk_digests"),
        ),
        sa.PrimaryKeyConstraint(
            "npn",
            "state_code",
            "cocode",
            "loa_code",
            "risk_reason",
            name=op.f("pk_at_risk_notified_lines"),
        ),
    )
    op.create_index(
        op.f("ix_at_risk_notified_lines_digest_id"), "at_risk_notified_lines", ["digest_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_at_risk_notified_lines_digest_id"), table_name="at_risk_notified_lines")
    op.drop_table("at_risk_notified_lines")
    op.drop_table("at_risk_digests")
