"""The content claim: one upload per content, even when runs start together.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

Two drops of the same file processed at the same time were both `Processed`, and two uploads
asking for the same line at the same time both created an open transaction: the line was sent
to NIPR twice (issue 13). The checks that should have stopped them read the database and then
wrote, with nothing to stop a concurrent run reading the same state. This revision makes the
database refuse the second claim of a content (the open lines are serialised by the upload
step itself: `assets/batches/upload_step.py`):

- `uq_uploads_content_claim`: a content hash is held by at most one upload that is `Received`
  or `Processed` (a `Rejected` upload releases it; a `Duplicate` never holds it);
- `uploads.completed_at`: when every step of the upload's kind committed; an upload without it
  was cut short (a crash between steps) and is continued, by its partition's next run or by a
  drop of the same content;
- `uploads.duplicate_of`: the upload a `Duplicate` repeats or continues.

Existing uploads that are not `Received` are taken as completed (their history is not
rewritten). A database that already holds such a race's double (two uploads Received or
Processed with one content) cannot take the index: the upgrade stops and names them, and
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

CONTENT_CLAIM_WHERE = "status IN ('Received', 'Processed')"


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
    if not contents:
        return
    problems = [
        f"content {row[0][:12]}... is Received or Processed in {row[1]} uploads"
        for row in contents[:5]
    ]
    raise ClaimConflict(
        "Migration 0006 stops: the database already holds doubles the content claim refuses ("
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


def downgrade() -> None:
    op.drop_index("uq_uploads_content_claim", table_name="uploads")
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("duplicate_of")
        batch.drop_column("completed_at")
