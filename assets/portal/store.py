"""Portal invitations in the operational database: reads, the race-safe seat reservation, the
email ledger, registration, and the portal setup from config/portals.yaml. The read-only views
(seat counts, the user list) are in `views.py`.

Every write function takes the caller's connection and does one small step; the caller opens
one short transaction per step (`engine.begin()`), so a lock is never held while an email is
being sent.

Seats are never oversold, however many runs invite at once:
- The reservation is ONE statement: `INSERT INTO portal_users ... SELECT ... FROM portals
  WHERE portal_id = :p AND (SELECT count(*) FROM portal_users WHERE portal_id = :p) <
  seats_total AND NOT EXISTS (the same producer's seat)`.
- PostgreSQL: it is preceded, in the same transaction, by `SELECT ... FROM portals WHERE
  portal_id = :p FOR UPDATE`. Under READ COMMITTED two concurrent inserts would each count the
  seats without the other's uncommitted row and both take "the last seat"; the row lock makes
  the second wait until the first commits, and its INSERT (a new statement, a new snapshot)
  then counts the first one's row.
- SQLite: one writer at a time for the whole file, and a write statement takes the write lock
  before it reads (with the busy timeout of `create_database_engine`), so the count and the
  insert cannot interleave with another writer's. The reservation must be the first statement
  of its transaction (pysqlite begins the transaction at the first write), so no stale snapshot
  is upgraded.

The email ledger (columns added by migration 0004) makes "one email per invitation" hold
across crashes and concurrent runs: `claim_for_sending` is a conditional UPDATE that only one
run can win; `mark_sent` records the mail server's acceptance; an invitation claimed but never
marked is "unconfirmed" and is only sent again on an explicit request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assets.portal.emails import token_hash
from assets.portal.invitations import (
    SEAT_HOLDING_STATUSES,
    STATUS_INVITED,
    STATUS_REGISTERED,
    STATUS_REVOKED,
    Portal,
    PortalUser,
    Producer,
    producer_name,
)

# The read-only views have a module of their own; callers that know them as
# `store.portal_seats` / `store.portal_user_list` still find them here.
from assets.portal.views import portal_seats as portal_seats
from assets.portal.views import portal_user_list as portal_user_list
from schemas.tables import agencies, portal_users, portals, producers

# reserve_seat's answers
RESERVED = "reserved"
NO_SEAT = "no seat"
ALREADY_HAS_SEAT = "already has a seat"

_CHUNK = 500  # NPNs per IN (...) list: far below every backend's bound-parameter limit


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    return str(value)


# ============================================================================ reads
def _holds_seat() -> sa.ColumnElement[bool]:
    """A portal user holding a seat: a Revoked one (offboarded) gave it back."""
    return portal_users.c.status.in_(SEAT_HOLDING_STATUSES)


def _seats_used() -> sa.Subquery:
    return (
        sa.select(portal_users.c.portal_id, sa.func.count().label("seats_used"))
        .where(_holds_seat())
        .group_by(portal_users.c.portal_id)
        .subquery("used")
    )


def read_portals(connection: Connection) -> list[Portal]:
    """Every portal with the seats in use now."""
    used = _seats_used()
    rows = connection.execute(
        sa.select(
            portals.c.portal_id,
            portals.c.portal_name,
            portals.c.seats_total,
            sa.func.coalesce(used.c.seats_used, 0),
            portals.c.registration_url,
        )
        .outerjoin(used, used.c.portal_id == portals.c.portal_id)
        .order_by(portals.c.portal_id)
    ).all()
    return [Portal(r[0], r[1], int(r[2] or 0), int(r[3]), r[4]) for r in rows]


def read_producers(connection: Connection, npns: Iterable[str]) -> dict[str, Producer]:
    """The producers among `npns`, with whether their agency is on record."""
    wanted = sorted(set(npns))
    found: dict[str, Producer] = {}
    for chunk in _chunks(wanted):
        rows = connection.execute(
            sa.select(
                producers.c.npn,
                producers.c.first_name,
                producers.c.last_name,
                producers.c.email,
                producers.c.agency_npn,
                agencies.c.agency_npn.is_not(None),
            )
            .outerjoin(agencies, agencies.c.agency_npn == producers.c.agency_npn)
            .where(producers.c.npn.in_(chunk))
        ).all()
        for r in rows:
            found[r[0]] = Producer(
                r[0], _text(r[1]), _text(r[2]), _text(r[3]), _text(r[4]), bool(r[5])
            )
    return found


def _portal_user(row: sa.Row[Any]) -> PortalUser:
    return PortalUser(
        npn=row.npn,
        portal_id=row.portal_id,
        status=row.status,
        invited_at=row.invited_at,
        send_started_at=row.invitation_send_started_at,
        sent_at=row.invitation_sent_at,
        registered_at=row.registered_at,
        invited_by=row.invited_by,
    )


def read_portal_users(
    connection: Connection, npns: Iterable[str]
) -> dict[tuple[str, str], PortalUser]:
    """The portal seats of `npns`, keyed by (npn, portal_id)."""
    wanted = sorted(set(npns))
    found: dict[tuple[str, str], PortalUser] = {}
    for chunk in _chunks(wanted):
        for row in connection.execute(
            sa.select(portal_users).where(portal_users.c.npn.in_(chunk))
        ).all():
            found[(row.npn, row.portal_id)] = _portal_user(row)
    return found


def read_portal_user(connection: Connection, npn: str, portal_id: str) -> PortalUser | None:
    row = connection.execute(
        sa.select(portal_users).where(
            portal_users.c.npn == npn, portal_users.c.portal_id == portal_id
        )
    ).first()
    return _portal_user(row) if row is not None else None


# ============================================================================ seats
def reserve_seat(
    connection: Connection,
    *,
    portal_id: str,
    npn: str,
    email: str,
    invitation_token_hash: str,
    now: dt.datetime,
    source: str,
    invited_by: str,
) -> str:
    """Take a seat of `portal_id` for `npn` and record the invitation (status Invited, the
    token's hash, email not sent yet, who invited and by which door), if a seat is free and
    the producer has none: RESERVED,
    NO_SEAT or ALREADY_HAS_SEAT. Call it first in its own transaction (module docstring)."""
    if connection.dialect.name != "sqlite":
        # Serialises reservations per portal (see the module docstring); SQLite has one writer.
        connection.execute(
            sa.select(portals.c.portal_id).where(portals.c.portal_id == portal_id).with_for_update()
        )
    seats_taken = (
        sa.select(sa.func.count())
        .select_from(portal_users)
        .where(portal_users.c.portal_id == portal_id, _holds_seat())
        .scalar_subquery()
    )
    has_seat = (
        sa.select(portal_users.c.npn)
        .where(portal_users.c.portal_id == portal_id, portal_users.c.npn == npn)
        .exists()
    )
    values = {
        "npn": npn,
        "portal_id": portal_id,
        "email": email,
        "status": STATUS_INVITED,
        "invited_at": now,
        "invitation_token_hash": invitation_token_hash,
        "invitation_source": source,
        "invited_by": invited_by,
    }
    chosen = sa.select(
        *(sa.literal(value, type_=portal_users.c[name].type) for name, value in values.items())
    ).where(
        portals.c.portal_id == portal_id,
        seats_taken < portals.c.seats_total,
        ~has_seat,
    )
    revoked = read_portal_user(connection, npn, portal_id)
    if revoked is not None and revoked.status == STATUS_REVOKED:
        return _reinvite_revoked(connection, values, seats_taken)
    result = connection.execute(portal_users.insert().from_select(list(values), chosen))
    if result.rowcount == 1:
        return RESERVED
    return ALREADY_HAS_SEAT if read_portal_user(connection, npn, portal_id) else NO_SEAT


def _reinvite_revoked(
    connection: Connection, values: dict[str, Any], seats_taken: sa.ScalarSelect[Any]
) -> str:
    """A producer whose seat was revoked (offboarded, then taken back) invited again: its row
    becomes a new invitation if a seat is free (one conditional UPDATE, as the INSERT is one
    statement), its email ledger and its revocation start over."""
    seats_total = (
        sa.select(portals.c.seats_total)
        .where(portals.c.portal_id == values["portal_id"])
        .scalar_subquery()
    )
    result = connection.execute(
        portal_users.update()
        .where(
            *_row(values["npn"], values["portal_id"]),
            portal_users.c.status == STATUS_REVOKED,
            seats_taken < seats_total,
        )
        .values(
            **{k: v for k, v in values.items() if k not in ("npn", "portal_id")},
            registered_at=None,
            invitation_send_started_at=None,
            invitation_sent_at=None,
            invitation_message_id=None,
            revoked_at=None,
            revoked_by=None,
        )
    )
    if result.rowcount == 1:
        return RESERVED
    user = read_portal_user(connection, values["npn"], values["portal_id"])
    return NO_SEAT if user is None or user.status == STATUS_REVOKED else ALREADY_HAS_SEAT


# ============================================================================ the email ledger
def _row(npn: str, portal_id: str) -> list[sa.ColumnElement[bool]]:
    return [portal_users.c.npn == npn, portal_users.c.portal_id == portal_id]


def _hash_is(value: str | None) -> sa.ColumnElement[bool]:
    column = portal_users.c.invitation_token_hash
    return column.is_(None) if value is None else column == value


def claim_for_sending(
    connection: Connection,
    *,
    npn: str,
    portal_id: str,
    seen_hash: str | None,
    new_hash: str,
    now: dt.datetime,
) -> bool:
    """Make this run the one that sends the invitation's email, if it is still unsent and
    nobody has started sending it: records the start and the hash of the token the email will
    carry (a new token when the run did not create the invitation: the raw token of an earlier
    run is gone). True when this run won; only one run can."""
    result = connection.execute(
        portal_users.update()
        .where(
            *_row(npn, portal_id),
            portal_users.c.status == STATUS_INVITED,
            portal_users.c.invitation_sent_at.is_(None),
            portal_users.c.invitation_send_started_at.is_(None),
            _hash_is(seen_hash),
        )
        .values(invitation_send_started_at=now, invitation_token_hash=new_hash)
    )
    return result.rowcount == 1


def claim_unconfirmed_for_resending(
    connection: Connection,
    *,
    npn: str,
    portal_id: str,
    started_before: dt.datetime,
    new_hash: str,
    email: str,
    now: dt.datetime,
) -> bool:
    """As claim_for_sending, for an invitation whose earlier send was never confirmed and
    started before `started_before` (so no run is still in the middle of sending it). The new
    token's hash replaces the old one: the earlier link, if it arrived, stops working. `email`
    is where the new email goes (the address on record now, perhaps corrected since)."""
    result = connection.execute(
        portal_users.update()
        .where(
            *_row(npn, portal_id),
            portal_users.c.status == STATUS_INVITED,
            portal_users.c.invitation_sent_at.is_(None),
            portal_users.c.invitation_send_started_at.is_not(None),
            portal_users.c.invitation_send_started_at < started_before,
        )
        .values(invitation_send_started_at=now, invitation_token_hash=new_hash, email=email)
    )
    return result.rowcount == 1


def mark_sent(
    connection: Connection,
    *,
    npn: str,
    portal_id: str,
    sent_hash: str,
    now: dt.datetime,
    message_id: str,
) -> bool:
    """The mail server accepted the email carrying the token hashed `sent_hash`."""
    result = connection.execute(
        portal_users.update()
        .where(*_row(npn, portal_id), _hash_is(sent_hash))
        .values(invitation_sent_at=now, invitation_message_id=message_id)
    )
    return result.rowcount == 1


def release_claim(connection: Connection, *, npn: str, portal_id: str, sent_hash: str) -> bool:
    """The email was certainly not accepted: back to "not sent yet", for the next run."""
    result = connection.execute(
        portal_users.update()
        .where(
            *_row(npn, portal_id), _hash_is(sent_hash), portal_users.c.invitation_sent_at.is_(None)
        )
        .values(invitation_send_started_at=None)
    )
    return result.rowcount == 1


def withdraw_invitation(
    connection: Connection, *, npn: str, portal_id: str, sent_hash: str
) -> bool:
    """The mail server refused the address for good: the invitation goes, its seat is free."""
    result = connection.execute(
        portal_users.delete().where(
            *_row(npn, portal_id),
            _hash_is(sent_hash),
            portal_users.c.status == STATUS_INVITED,
            portal_users.c.invitation_sent_at.is_(None),
        )
    )
    return result.rowcount == 1


def withdraw_unsent_invitation(
    connection: Connection, *, npn: str, portal_id: str, seen_hash: str | None
) -> bool:
    """An invitation whose email cannot be written goes before anyone claimed it for sending
    (the hash is still the one this run read): its seat is free, nothing was sent."""
    result = connection.execute(
        portal_users.delete().where(
            *_row(npn, portal_id),
            _hash_is(seen_hash),
            portal_users.c.status == STATUS_INVITED,
            portal_users.c.invitation_sent_at.is_(None),
            portal_users.c.invitation_send_started_at.is_(None),
        )
    )
    return result.rowcount == 1


@dataclass(frozen=True)
class UnsentInvitation:
    """An invitation recorded by a run that stopped before sending its email."""

    npn: str
    portal_id: str
    email: str | None
    invitation_token_hash: str | None
    first_name: str | None
    last_name: str | None

    @property
    def producer_name(self) -> str:
        return producer_name(self.first_name, self.last_name)


def unsent_invitations(connection: Connection) -> list[UnsentInvitation]:
    """Invitations whose email nobody has started to send, oldest first."""
    rows = connection.execute(
        sa.select(
            portal_users.c.npn,
            portal_users.c.portal_id,
            portal_users.c.email,
            portal_users.c.invitation_token_hash,
            producers.c.first_name,
            producers.c.last_name,
        )
        .outerjoin(producers, producers.c.npn == portal_users.c.npn)
        .where(
            portal_users.c.status == STATUS_INVITED,
            portal_users.c.invitation_sent_at.is_(None),
            portal_users.c.invitation_send_started_at.is_(None),
        )
        .order_by(portal_users.c.invited_at, portal_users.c.portal_id, portal_users.c.npn)
    ).all()
    return [
        UnsentInvitation(
            r.npn,
            r.portal_id,
            _text(r.email),
            r.invitation_token_hash,
            _text(r.first_name),
            _text(r.last_name),
        )
        for r in rows
    ]


# ============================================================================ registration
@dataclass(frozen=True)
class Registration:
    npn: str
    portal_id: str


def accept_invitation(connection: Connection, token: str, now: dt.datetime) -> Registration | None:
    """What a portal's registration page does with an invitation link's token: the invitation
    it belongs to becomes Registered and the hash is cleared, so the link works once. None for
    an unknown, replaced or already used token.

    Accepted when the email's send was started (sent or unconfirmed): the token can only be in
    an email from then on, and a producer holding it proves the email arrived."""
    hashed = token_hash(token)
    row = connection.execute(
        sa.select(portal_users.c.npn, portal_users.c.portal_id).where(
            portal_users.c.invitation_token_hash == hashed,
            portal_users.c.status == STATUS_INVITED,
            portal_users.c.invitation_send_started_at.is_not(None),
        )
    ).first()
    if row is None:
        return None
    result = connection.execute(
        portal_users.update()
        .where(*_row(row.npn, row.portal_id), portal_users.c.invitation_token_hash == hashed)
        .values(
            status=STATUS_REGISTERED,
            registered_at=now,
            invitation_token_hash=None,
            invitation_sent_at=sa.func.coalesce(portal_users.c.invitation_sent_at, now),
        )
    )
    return Registration(row.npn, row.portal_id) if result.rowcount == 1 else None


# ============================================================================ the portal setup
@dataclass(frozen=True)
class PortalSetupChanges:
    """What loading config/portals.yaml changed."""

    added: list[str]
    updated: list[str]
    unchanged: list[str]
    removed: list[str]
    kept_with_users: dict[str, int]  # not in the file any more, but producers hold seats
    over_capacity: dict[str, tuple[int, int]]  # portal_id -> (seats used, seats_total)


def apply_portal_setup(connection: Connection, configured: pd.DataFrame) -> PortalSetupChanges:
    """Make `portals` match the configured portals (portal_id, portal_name, seats_total,
    registration_url), in the caller's transaction.

    An upsert, not a replace: `portal_users` rows refer to their portal, and a producer's seat
    (and the record of their invitation) must survive a reload. A portal no longer in the file
    is deleted when nobody holds one of its seats, else kept as it is and reported. Lowering
    seats_total below the seats in use is allowed: nobody loses a seat, and no new invitation
    is sent until seats free up."""
    existing = {
        r.portal_id: r
        for r in connection.execute(
            sa.select(
                portals.c.portal_id,
                portals.c.portal_name,
                portals.c.seats_total,
                portals.c.registration_url,
            )
        ).all()
    }
    added, updated, unchanged = [], [], []
    wanted: set[str] = set()
    for row in configured.itertuples(index=False):
        values = {
            "portal_name": str(row.portal_name),
            "seats_total": int(row.seats_total),
            "registration_url": str(row.registration_url),
        }
        wanted.add(row.portal_id)
        before = existing.get(row.portal_id)
        if before is None:
            connection.execute(portals.insert().values(portal_id=row.portal_id, **values))
            added.append(row.portal_id)
        elif (before.portal_name, before.seats_total, before.registration_url) != tuple(
            values.values()
        ):
            connection.execute(
                portals.update().where(portals.c.portal_id == row.portal_id).values(**values)
            )
            updated.append(row.portal_id)
        else:
            unchanged.append(row.portal_id)
    # Every row counts for keeping a portal (a Revoked user's row still refers to it); only
    # seat holders count against seats_total.
    rows_per_portal: Sequence[tuple[str, int, int]] = connection.execute(
        sa.select(
            portal_users.c.portal_id,
            sa.func.sum(sa.case((_holds_seat(), 1), else_=0)),
            sa.func.count(),
        ).group_by(portal_users.c.portal_id)
    ).all()
    used = {portal: int(holding or 0) for portal, holding, _ in rows_per_portal}
    referring = {portal: int(count) for portal, _, count in rows_per_portal}
    removed, kept = [], {}
    for portal_id in sorted(set(existing) - wanted):
        if referring.get(portal_id):
            kept[portal_id] = used.get(portal_id, 0)
        else:
            connection.execute(portals.delete().where(portals.c.portal_id == portal_id))
            removed.append(portal_id)
    over = {
        row.portal_id: (used[row.portal_id], int(row.seats_total))
        for row in configured.itertuples(index=False)
        if used.get(row.portal_id, 0) > int(row.seats_total)
    }
    return PortalSetupChanges(added, updated, unchanged, removed, kept, over)
