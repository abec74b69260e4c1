"""License lines keyed by class: `license_loas.license_class_code` joins the primary key.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07

NIPR files one license number under several license classes (a VA license number carries
two; NIPR's workbook assigns the same LOA codes to more than one class of a state), each class
with its own lines and statuses. `license_loas` was keyed (npn, state_code, license_number,
loa_code), so applying a report holding the same LOA under two classes kept one of them and
dropped the other: an active line could vanish behind an inactive one (issue 14). The key is
now (npn, state_code, license_number, license_class_code, loa_code); see
docs/decisions/0023-license-lines-keyed-by-class.md.

Existing rows are upgraded in place, never dropped. Each takes the class of its license (same
npn, state and license number in `licenses`):
- the number has one class: that class, and the row is exact;
- the number has several classes: the row is ambiguous (the old apply kept one class's line
  and we cannot tell which), so it takes the lowest class code (numerically) and its
  producer is synced again;
- the number has no license row: the row takes `UNKNOWN_CLASS_CODE` ("", as a company-level
  appointment takes loa_code "": the key cannot hold NULL) and its producer is synced again.

"Synced again" means `producers.sync_status` becomes `Not Started`, which the initial sync
picks (assets/nipr/roster.py, SYNC_RETRY_STATUSES): its Entity Info, NIPR's full picture,
then replaces the producer's licenses and lines with every class's own. The subscriptions
step runs after the initial sync in the same job, so a producer whose Entity Info comes back
is tracked again before its Alerts targets are planned. An offboarded producer (is_active
false) is not synced; its guessed rows stay until it is onboarded again.

Downgrade folds the classes back into the old key: of the lines one old key holds, the
active one is kept (then the lowest class code), the others are deleted, and their producers
are set to `Not Started` likewise.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The class of a line whose license number has no license row (the key cannot be NULL).
UNKNOWN_CLASS_CODE = ""
#: What the initial sync picks (assets/nipr/roster.py NOT_STARTED).
RESYNC_STATUS = "Not Started"

OLD_KEY = ("npn", "state_code", "license_number", "loa_code")
NEW_KEY = ("npn", "state_code", "license_number", "license_class_code", "loa_code")

# The licenses of a line's license number, lowest class code first. NIPR's class codes are
# digit strings: the shorter is the smaller, then text order is number order.
_SAME_NUMBER = (
    "licenses.npn = license_loas.npn AND licenses.state_code = license_loas.state_code "
    "AND licenses.license_number = license_loas.license_number"
)


def upgrade() -> None:
    with op.batch_alter_table("license_loas") as batch:
        batch.add_column(sa.Column("license_class_code", sa.String(), nullable=True))
    op.execute(
        sa.text(
            "UPDATE license_loas SET license_class_code = COALESCE(("
            f"SELECT licenses.license_class_code FROM licenses WHERE {_SAME_NUMBER} "
            "ORDER BY LENGTH(licenses.license_class_code), licenses.license_class_code "
            "LIMIT 1), :unknown)"
        ).bindparams(unknown=UNKNOWN_CLASS_CODE)
    )
    # Producers holding a guessed row (no license row, or a number with several classes) are
    # picked by the next initial sync, whose Entity Info replaces the guess.
    op.execute(
        sa.text(
            "UPDATE producers SET sync_status = :status WHERE npn IN ("
            "SELECT license_loas.npn FROM license_loas "
            "WHERE license_loas.license_class_code = :unknown "
            "OR (SELECT COUNT(DISTINCT licenses.license_class_code) FROM licenses "
            f"WHERE {_SAME_NUMBER}) > 1)"
        ).bindparams(status=RESYNC_STATUS, unknown=UNKNOWN_CLASS_CODE)
    )
    with op.batch_alter_table("license_loas") as batch:
        batch.alter_column("license_class_code", existing_type=sa.String(), nullable=False)
        batch.drop_constraint("pk_license_loas", type_="primary")
        batch.create_primary_key("pk_license_loas", list(NEW_KEY))


def downgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT npn, state_code, license_number, license_class_code, loa_code, is_active "
            "FROM license_loas"
        )
    ).all()
    kept: dict[tuple[str, ...], tuple[object, ...]] = {}
    dropped: list[tuple[object, ...]] = []
    for row in sorted(rows, key=_preference):
        old_key = (row[0], row[1], row[2], row[4])
        if old_key in kept:
            dropped.append(tuple(row[:5]))
        else:
            kept[old_key] = tuple(row)
    for npn, state, number, class_code, loa in dropped:
        connection.execute(
            sa.text(
                "DELETE FROM license_loas WHERE npn = :npn AND state_code = :state "
                "AND license_number = :number AND license_class_code = :class_code "
                "AND loa_code = :loa"
            ),
            {"npn": npn, "state": state, "number": number, "class_code": class_code, "loa": loa},
        )
        connection.execute(
            sa.text("UPDATE producers SET sync_status = :status WHERE npn = :npn"),
            {"status": RESYNC_STATUS, "npn": npn},
        )
    with op.batch_alter_table("license_loas") as batch:
        batch.drop_constraint("pk_license_loas", type_="primary")
        batch.create_primary_key("pk_license_loas", list(OLD_KEY))
        batch.drop_column("license_class_code")


def _preference(row: sa.Row[tuple[object, ...]]) -> tuple[object, ...]:
    """Old key first; within it the active line (SQLite hands back 1), then the lowest class."""
    class_code = str(row[3])
    return (row[0], row[1], row[2], row[4], not row[5], len(class_code), class_code)
