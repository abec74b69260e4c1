"""NPNs as NIPR writes them: leading zeros stripped from every stored NPN.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

Until now an NPN was kept as typed, so `048905991` was a second producer beside `48905991`:
NIPR answered `Not Found` for it, and it could still take a portal seat (issue 16, item 7).
Every door now reads an NPN through `schemas/npns.py::canonical_npn`; this migration brings the
rows already stored to the same spelling (docs/decisions/0029-canonical-npns.md):

- a padded NPN (all digits, a leading zero, not all zeros) becomes its canonical NPN in every
  table that holds one (`npn`, `agency_npn`);
- where a table's key includes the NPN and the canonical producer already has a row with the
  same key, the canonical row wins and the padded one is dropped; every other row is moved.
  So a padded producer with a canonical twin disappears, its assignments, lines and
  history join the twin's, and its portal seat in a portal where the twin holds one is freed;
- a padded producer without a twin becomes the producer NIPR knows, `Not Started`, so the
  next initial sync asks NIPR for its real NPN (what NIPR said of the padded one was about a
  number it does not have);
- a padded NPN's PDB Alerts target rows are dropped: NIPR never listed a padded NPN, and the
  targets step adds the canonical producer as for any producer not on the list;
- an all-zero NPN is left as it is (there is no NIPR number to move it to): the quality check
  on `producers.npn` reports it.

Downgrade: nothing (the padded spellings are not kept, and a canonical NPN is valid before
this revision too).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LOG = logging.getLogger("alembic.runtime.migration")

# (table, NPN column, the other columns of its primary key), as of revision 0010. A table
# whose key holds the NPN can meet a canonical twin's row; the others (None) never conflict.
_KEYED: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("producers", "npn", ()),
    ("agencies", "agency_npn", ()),
    ("licenses", "npn", ("state_code", "license_number", "license_class_code")),
    ("license_loas", "npn", ("state_code", "license_number", "license_class_code", "loa_code")),
    ("appointments", "npn", ("state_code", "cocode", "loa_code")),
    ("producer_assignments", "npn", ("loa_category", "state_code", "cocode")),
    ("nipr_scope_reports", "npn", ("state_code", "category")),
    ("portal_users", "npn", ("portal_id",)),
)
_UNKEYED: tuple[tuple[str, str], ...] = (
    ("producers", "agency_npn"),
    ("transactions", "npn"),
    ("request_rejections", "npn"),
    ("upload_request_rows", "npn"),
)
# NIPR never held a padded NPN on a target list: these rows describe nothing NIPR has.
_DROPPED = (("nipr_subscriptions", "npn"),)
_NOT_STARTED = "Not Started"


def _canonical(value: str) -> str | None:
    """The canonical NPN of a padded one, or None when `value` is not a padded NPN.

    A copy of `schemas/npns.py::canonical_npn` as of this revision: a migration must do the
    same thing whenever it runs.
    """
    text = value.strip()
    if not (text.isascii() and text.isdigit() and text.startswith("0")):
        return None
    stripped = text.lstrip("0")
    return stripped or None


def _padded(connection: sa.Connection, table: str, column: str) -> dict[str, str]:
    """The padded NPNs of `table.column` -> their canonical NPN."""
    rows = connection.execute(
        sa.text(f"SELECT DISTINCT {column} FROM {table} WHERE {column} LIKE :zero"),
        {"zero": "0%"},
    )
    found = {str(value): _canonical(str(value)) for (value,) in rows if value is not None}
    return {padded: canonical for padded, canonical in found.items() if canonical}


def upgrade() -> None:
    connection = op.get_bind()
    changed: dict[str, int] = {}
    for table, column in _DROPPED:
        for padded in _padded(connection, table, column):
            result = connection.execute(
                sa.text(f"DELETE FROM {table} WHERE {column} = :padded"),
                {"padded": padded},
            )
            changed[f"{table} dropped"] = changed.get(f"{table} dropped", 0) + result.rowcount
    for table, column, key in _KEYED:
        twin = " AND ".join(
            [f"twin.{column} = :canonical", *(f"twin.{k} = {table}.{k}" for k in key)]
        )
        for padded, canonical in _padded(connection, table, column).items():
            values = {"padded": padded, "canonical": canonical}
            dropped = connection.execute(
                sa.text(
                    f"DELETE FROM {table} WHERE {column} = :padded AND EXISTS "
                    f"(SELECT 1 FROM {table} twin WHERE {twin})"
                ),
                values,
            ).rowcount
            moved_set = f"{column} = :canonical"
            if table == "producers":  # what NIPR said was about the padded number
                moved_set += ", sync_status = :not_started"
                values["not_started"] = _NOT_STARTED
            moved = connection.execute(
                sa.text(f"UPDATE {table} SET {moved_set} WHERE {column} = :padded"),
                values,
            ).rowcount
            changed[f"{table} dropped"] = changed.get(f"{table} dropped", 0) + dropped
            changed[f"{table} moved"] = changed.get(f"{table} moved", 0) + moved
    for table, column in _UNKEYED:
        for padded, canonical in _padded(connection, table, column).items():
            moved = connection.execute(
                sa.text(f"UPDATE {table} SET {column} = :canonical WHERE {column} = :padded"),
                {"padded": padded, "canonical": canonical},
            ).rowcount
            changed[f"{table} moved"] = changed.get(f"{table} moved", 0) + moved
    said = ", ".join(f"{what}: {n}" for what, n in sorted(changed.items()) if n)
    _LOG.info("Canonical NPNs: %s", said or "no padded NPN stored")


def downgrade() -> None:
    """Nothing to undo: canonical NPNs are valid before this revision, and the padded
    spellings were not kept (docs/decisions/0029-canonical-npns.md)."""
