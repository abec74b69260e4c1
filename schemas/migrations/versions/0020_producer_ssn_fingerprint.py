"""A keyed fingerprint of each producer's SSN: `producers.ssn_fingerprint`.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-09

HMAC-SHA256 of the SSN's digits under a key derived from `NPNFLOW_SSN_KEY`
(`resources/ssn.py::SsnVault.fingerprinter`), NULL without a key. An agent file that gives a
producer the SSN already stored then keeps the stored token, so a producer whose row has not
changed is not written again (issue 17: the agent file's update path). Rows stored before
this revision have none: their next upload with an SSN encrypts it once more and fills it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("producers") as batch:
        batch.add_column(sa.Column("ssn_fingerprint", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("producers") as batch:
        batch.drop_column("ssn_fingerprint")
