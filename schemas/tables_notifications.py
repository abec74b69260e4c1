"""Tables of the daily at-risk digest (issue 18): what was told, to whom, and whether it went.

Defined on `schemas.tables.metadata` (imported at the bottom of `schemas/tables.py`, so the
metadata always holds every table); changed only by Alembic migrations, like every table.

`at_risk_digests`: one row per digest email, written before it is sent. Its ledger columns
work as the portal invitation's (`portal_users.invitation_send_started_at` / `_sent_at`):
- `recorded_at` only: written, not yet handed to the mailer (a run stopped in between). A
  later run abandons it (`not_sent_reason`) and tells its lines again, if they are still at
  risk: nothing of it left the machine.
- `send_started_at` without `sent_at`: handed to the mailer, no confirmation came. It may have
  arrived, so it is never resent by itself; the operator checks the recipients' inbox and, if
  it did not arrive, runs the digest with `retell_unconfirmed` (docs/notifications.md).
- `sent_at`: the mail server (or the outbox folder) accepted it.
- `not_sent_reason`: it certainly did not go (or was abandoned); its lines left the ledger.

`at_risk_notified_lines`: the ledger of what the digests told, one row per at-risk line and
reason (npn, state, company, line, reason). A line is in a digest only when it is not here;
a line that stops being at risk leaves it, so if it lapses again it is told again.
"""

from __future__ import annotations

from sqlalchemy import Column, Date, DateTime, ForeignKey, Index, Integer, String, Table, Text

from schemas.tables import metadata

at_risk_digests = Table(
    "at_risk_digests",
    metadata,
    Column("digest_id", String, primary_key=True),  # random, chosen by the app
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("send_started_at", DateTime(timezone=True), nullable=True),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("message_id", String, nullable=True),  # the email's Message-ID header
    Column("not_sent_reason", Text, nullable=True),
    Column("recipients", Text, nullable=False),  # the To addresses, comma-separated
    Column("subject", Text, nullable=False),
    Column("line_count", Integer, nullable=False),  # the lines it tells
    Column("run_id", String, nullable=True),  # the Dagster run that wrote it
)

at_risk_notified_lines = Table(
    "at_risk_notified_lines",
    metadata,
    Column("npn", String, primary_key=True),
    Column("state_code", String, primary_key=True),
    Column("cocode", String, primary_key=True),
    Column("loa_code", String, primary_key=True),
    # appointment_standing.risk_reason; a line at risk for another reason is told again.
    Column("risk_reason", String, primary_key=True),
    Column("at_risk_since", Date, nullable=True),  # as the digest told it
    Column(
        "digest_id", String, ForeignKey("at_risk_digests.digest_id"), nullable=False
    ),  # the digest that told it
    Index(None, "digest_id"),
)
