"""The at-risk digest's SQL: the lines at risk, the ledger of what was told, and each digest's
send ledger (schemas/tables_notifications.py). No Dagster; the caller holds the transaction.

The send ledger works as the portal invitations' (assets/portal/store.py): a digest and the
lines it tells are recorded together (`record_digest`), claimed for sending
(`claim_for_sending`: only one run can), then marked sent (`mark_sent`) or released
(`release_digest`: certainly not sent, its lines leave the ledger to be told again).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assets.compliance.digest import AtRiskLine, LineKey, reason_text
from assets.portal.invitations import producer_name
from schemas.tables import companies, lines_of_authority, producers
from schemas.tables_compliance import appointment_standing
from schemas.tables_notifications import at_risk_digests, at_risk_notified_lines

# Rows deleted per statement: far below SQLite's and PostgreSQL's bound-parameter limits.
_CHUNK = 200


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()


def read_at_risk_lines(connection: Connection) -> list[AtRiskLine]:
    """Every line `appointment_standing` says is at risk, with the producer's, company's and
    line's names (blank when not on record: the NPN, CoCode and code are always shown)."""
    standing = appointment_standing
    query = (
        sa.select(
            standing.c.npn,
            standing.c.state_code,
            standing.c.cocode,
            standing.c.loa_code,
            standing.c.risk_reason,
            standing.c.at_risk_since,
            sa.func.coalesce(standing.c.company_name, companies.c.company_name).label(
                "company_name"
            ),
            producers.c.first_name,
            producers.c.last_name,
            lines_of_authority.c.loa_name,
        )
        .select_from(standing)
        .outerjoin(producers, producers.c.npn == standing.c.npn)
        .outerjoin(companies, companies.c.cocode == standing.c.cocode)
        .outerjoin(lines_of_authority, lines_of_authority.c.loa_code == standing.c.loa_code)
        .where(standing.c.is_at_risk.is_(sa.true()))
    )
    return [
        AtRiskLine(
            npn=_text(row.npn),
            state_code=_text(row.state_code),
            cocode=_text(row.cocode),
            loa_code=_text(row.loa_code),
            risk_reason=reason_text(row.risk_reason),
            at_risk_since=row.at_risk_since,
            producer_name=producer_name(row.first_name, row.last_name),
            company_name=_text(row.company_name),
            loa_name=_text(row.loa_name),
        )
        for row in connection.execute(query)
    ]


def standing_as_of(connection: Connection) -> dt.date | None:
    """The date the last evaluation checked the lines for (None before the first)."""
    value = connection.execute(sa.select(sa.func.max(appointment_standing.c.evaluated_as_of)))
    found = value.scalar_one_or_none()
    return found if isinstance(found, dt.date) else None


def read_told(connection: Connection) -> set[LineKey]:
    """The ledger's keys: the lines a digest told (or is telling) and that were at risk then."""
    ledger = at_risk_notified_lines
    rows = connection.execute(
        sa.select(
            ledger.c.npn,
            ledger.c.state_code,
            ledger.c.cocode,
            ledger.c.loa_code,
            ledger.c.risk_reason,
        )
    )
    return {(r.npn, r.state_code, r.cocode, r.loa_code, r.risk_reason) for r in rows}


def _key_is(key: LineKey) -> sa.ColumnElement[bool]:
    ledger = at_risk_notified_lines
    return sa.and_(
        ledger.c.npn == key[0],
        ledger.c.state_code == key[1],
        ledger.c.cocode == key[2],
        ledger.c.loa_code == key[3],
        ledger.c.risk_reason == key[4],
    )


def forget_lines(connection: Connection, keys: Sequence[LineKey]) -> int:
    """Take lines out of the ledger (they stopped being at risk): a new lapse is told again."""
    removed = 0
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        result = connection.execute(
            at_risk_notified_lines.delete().where(sa.or_(*(_key_is(key) for key in chunk)))
        )
        removed += result.rowcount
    return removed


def record_digest(
    connection: Connection,
    *,
    digest_id: str,
    lines: Iterable[AtRiskLine],
    recipients: Sequence[str],
    subject: str,
    now: dt.datetime,
    run_id: str | None,
) -> None:
    """The digest and the lines it tells, before it is sent. Raises IntegrityError when
    another run recorded one of the lines meanwhile (the caller plans again)."""
    rows = [
        {
            "npn": line.npn,
            "state_code": line.state_code,
            "cocode": line.cocode,
            "loa_code": line.loa_code,
            "risk_reason": line.risk_reason,
            "at_risk_since": line.at_risk_since,
            "digest_id": digest_id,
        }
        for line in lines
    ]
    connection.execute(
        at_risk_digests.insert().values(
            digest_id=digest_id,
            recorded_at=now,
            recipients=", ".join(recipients),
            subject=subject,
            line_count=len(rows),
            run_id=run_id,
        )
    )
    if rows:
        connection.execute(at_risk_notified_lines.insert(), rows)


def _digest_is(digest_id: str) -> sa.ColumnElement[bool]:
    return at_risk_digests.c.digest_id == digest_id


def _open() -> list[sa.ColumnElement[bool]]:
    """Neither sent nor given up."""
    return [at_risk_digests.c.sent_at.is_(None), at_risk_digests.c.not_sent_reason.is_(None)]


def claim_for_sending(connection: Connection, digest_id: str, now: dt.datetime) -> bool:
    """Make this run the one that sends the digest; True when it won (only one run can)."""
    result = connection.execute(
        at_risk_digests.update()
        .where(_digest_is(digest_id), *_open(), at_risk_digests.c.send_started_at.is_(None))
        .values(send_started_at=now)
    )
    return result.rowcount == 1


def mark_sent(connection: Connection, digest_id: str, now: dt.datetime, message_id: str) -> bool:
    """The mail server (or the outbox folder) accepted the digest."""
    result = connection.execute(
        at_risk_digests.update()
        .where(_digest_is(digest_id))
        .values(sent_at=now, message_id=message_id, not_sent_reason=None)
    )
    return result.rowcount == 1


def release_digest(connection: Connection, digest_id: str, reason: str) -> int:
    """The digest did not go (or is given up): says why, and its lines leave the ledger so the
    next digest tells the ones still at risk. Returns how many lines it released."""
    connection.execute(
        at_risk_digests.update()
        .where(_digest_is(digest_id), at_risk_digests.c.sent_at.is_(None))
        .values(not_sent_reason=reason)
    )
    result = connection.execute(
        at_risk_notified_lines.delete().where(at_risk_notified_lines.c.digest_id == digest_id)
    )
    return result.rowcount


@dataclass(frozen=True)
class OpenDigest:
    """A digest neither sent nor given up: recorded, or handed to the mailer unconfirmed."""

    digest_id: str
    recorded_at: dt.datetime
    send_started_at: dt.datetime | None
    line_count: int

    @property
    def unconfirmed(self) -> bool:
        return self.send_started_at is not None


def _aware(value: Any) -> Any:
    """SQLite gives timestamps back without their zone; they were written in UTC."""
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def open_digests(connection: Connection) -> list[OpenDigest]:
    rows = connection.execute(
        sa.select(
            at_risk_digests.c.digest_id,
            at_risk_digests.c.recorded_at,
            at_risk_digests.c.send_started_at,
            at_risk_digests.c.line_count,
        )
        .where(*_open())
        .order_by(at_risk_digests.c.recorded_at)
    )
    return [
        OpenDigest(r.digest_id, _aware(r.recorded_at), _aware(r.send_started_at), int(r.line_count))
        for r in rows
    ]
