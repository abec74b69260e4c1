"""Claims the database enforces: one upload per content, one open transaction per line.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

Two drops of the same file processed at the same time were both `Processed`, and two uploads
asking for the same line at the same time both created an open transaction: the line was sent
to NIPR twice (issue 13). The checks that should have stopped them read the database and then
wrote, with nothing to stop a concurrent run reading the same state. This revision makes the
database refuse the second write:

- `uq_uploads_content_claim`: a content hash is held by at most one upload that is `Received`
  or `Processed` (a `Rejected` upload releases it; a `Duplicate` never holds it);
- `uq_transactions_open_line`: a line (kind, npn, state, cocode, LOA code, license number) has
  at most one open transaction (`Ready to Submit`, `Held (JIT)`, `Submitted`, `Pending State
  Review`); the loser of a race evaluates again and reports its lines as repeats;
- `uploads.completed_at`: when every step of the upload's kind committed; an upload without it
  was cut short (a crash between steps) and is continued, by its partition's next run or by a
  drop of the same content;
- `uploads.duplicate_of`: the upload a `Duplicate` repeats or continues.

Existing uploads that are not `Received` are taken as completed (their history is not
rewritten). A database that already holds such a race's double (two claims on one content, two
open transactions of one line) cannot take the indexes: the upgrade stops and names them, and
docs/decisions/0022-claims-in-the-database.md says how to settle them by hand first.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here (a migration never imports the live code): the open statuses of this revision.
OPEN_STATUSES = ("Held (JIT)", "Pending State Review", "Ready to Submit", "Submitted")
CONTENT_CLAIM_WHERE = "status IN ('Received', 'Processed')"
OPEN_LINE_WHERE = "status IN ({})".format(", ".join(f"'{s}'" for s in OPEN_STATUSES))
LINE_COLUMNS = (
    "kind, npn, coalesce(state_code, ''), coalesce(cocode, ''), coalesce(loa_code, ''), "
    "coalesce(license_number, '')"
)


class ClaimConflict(RuntimeError):
    """The database holds doubles the new unique indexes refuse; settle them first."""


def _refuse_doubles() -> None:
    connection = op.get_bind()
    contents = connection.execute(
        sa.text(
            "SELECT content_sha256, COUNT(*) FROM uploads "
            f"WHERE {CONTENT_CLAIM_WHERE} GROUP BY content_sha256 HAVING COUNT(*) > 1"
        )
    ).all()
    lines = connection.execute(
        sa.text(
            f"SELECT {LINE_COLUMNS}, COUNT(*) FROM transactions "
            f"WHERE {OPEN_LINE_WHERE} GROUP BY {LINE_COLUMNS} HAVING COUNT(*) > 1"
        )
    ).all()
    if not contents and not lines:
        return
    problems = [f"content {row[0][:12]}… is held by {row[1]} uploads" for row in contents[:5]]
    problems += [
        f"{row[0]} line npn {row[1]} {row[2]} cocode {row[3]} LOA {row[4]} license {row[5]} "
        f"has {row[6]} open transactions"
        for row in lines[:5]
    ]
    raise ClaimConflict(
        "Migration 0006 stops: the database already holds doubles the new claims refuse ("
        + "; ".join(problems)
        + "). Settle them first as docs/decisions/0022-claims-in-the-database.md says, then "
        "upgrade again."
    )


def upgrade() -> None:
    _refuse_doubles()
    with op.batch_alter_table("uploads") as batch:
        batch.add_column(sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("duplicate_of", sa.String(), nullable=True))
    op.execute("UPDATE uploads SET completed_at = received_at WHERE status <> 'Received'")
    op.create_index(
        "uq_uploads_content_claim",
        "uploads",
        ["content_sha256"],
        unique=True,
        sqlite_where=sa.text(CONTENT_CLAIM_WHERE),
        postgresql_where=sa.text(CONTENT_CLAIM_WHERE),
    )
    op.create_index(
        "uq_transactions_open_line",
        "transactions",
        [
            sa.text("kind"),
            sa.text("npn"),
            sa.text("coalesce(state_code, '')"),
            sa.text("coalesce(cocode, '')"),
            sa.text("coalesce(loa_code, '')"),
            sa.text("coalesce(license_number, '')"),
        ],
        unique=True,
        sqlite_where=sa.text(OPEN_LINE_WHERE),
        postgresql_where=sa.text(OPEN_LINE_WHERE),
    )


def downgrade() -> None:
    op.drop_index("uq_transactions_open_line", table_name="transactions")
    op.drop_index("uq_uploads_content_claim", table_name="uploads")
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("duplicate_of")
        batch.drop_column("completed_at")
