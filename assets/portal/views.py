"""What a person is shown of the portals: each portal's seats and email counts, and the list
of portal users. Read-only queries, apart from the store's writes (`store.py`) so that the
seat reservation and the email ledger read on their own. No Dagster.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assets.portal.invitations import SEAT_HOLDING_STATUSES, STATUS_INVITED, STATUS_REGISTERED
from schemas.tables import portal_users, portals, producers


def portal_seats(connection: Connection) -> pd.DataFrame:
    """Per portal: seats total, invited, registered, left, and emails not sent or unconfirmed."""
    u = portal_users.c
    counts = (
        sa.select(
            u.portal_id,
            # A Revoked user (offboarded) gave its seat back.
            sa.func.sum(sa.case((u.status.in_(SEAT_HOLDING_STATUSES), 1), else_=0)).label(
                "seats_used"
            ),
            sa.func.sum(sa.case((u.status == STATUS_INVITED, 1), else_=0)).label("invited"),
            sa.func.sum(sa.case((u.status == STATUS_REGISTERED, 1), else_=0)).label("registered"),
            sa.func.sum(
                sa.case(
                    (
                        sa.and_(
                            u.status == STATUS_INVITED,
                            u.invitation_sent_at.is_(None),
                            u.invitation_send_started_at.is_(None),
                        ),
                        1,
                    ),
                    else_=0,
                )
            ).label("emails_not_sent"),
            sa.func.sum(
                sa.case(
                    (
                        sa.and_(
                            u.status == STATUS_INVITED,
                            u.invitation_sent_at.is_(None),
                            u.invitation_send_started_at.is_not(None),
                        ),
                        1,
                    ),
                    else_=0,
                )
            ).label("emails_unconfirmed"),
        )
        .group_by(u.portal_id)
        .subquery("counts")
    )
    rows = connection.execute(
        sa.select(
            portals.c.portal_id,
            portals.c.portal_name,
            portals.c.seats_total,
            *(
                sa.func.coalesce(counts.c[name], 0).label(name)
                for name in (
                    "seats_used",
                    "invited",
                    "registered",
                    "emails_not_sent",
                    "emails_unconfirmed",
                )
            ),
        )
        .outerjoin(counts, counts.c.portal_id == portals.c.portal_id)
        .order_by(portals.c.portal_id)
    ).all()
    frame = pd.DataFrame(
        [tuple(r) for r in rows],
        columns=[
            "portal_id",
            "portal_name",
            "seats_total",
            "seats_used",
            "invited",
            "registered",
            "emails_not_sent",
            "emails_unconfirmed",
        ],
    )
    for column in frame.columns[2:]:
        frame[column] = frame[column].astype("int64")
    frame.insert(4, "seats_left", (frame["seats_total"] - frame["seats_used"]).clip(lower=0))
    return frame


PORTAL_USER_COLUMNS = (
    "portal_id",
    "npn",
    "first_name",
    "last_name",
    "email",
    "status",
    "invited_at",
    "invitation_send_started_at",
    "invitation_sent_at",
    "registered_at",
    "invitation_source",
    "invited_by",
    "revoked_at",
    "revoked_by",
)


def portal_user_list(connection: Connection, portal_id: str | None = None) -> pd.DataFrame:
    """The portal users (optionally of one portal) with their names and email ledger."""
    columns = [
        producers.c[name] if name in ("first_name", "last_name") else portal_users.c[name]
        for name in PORTAL_USER_COLUMNS
    ]
    query = (
        sa.select(*columns)
        .outerjoin(producers, producers.c.npn == portal_users.c.npn)
        .order_by(portal_users.c.portal_id, portal_users.c.invited_at, portal_users.c.npn)
    )
    if portal_id is not None:
        query = query.where(portal_users.c.portal_id == portal_id)
    rows = connection.execute(query).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=list(PORTAL_USER_COLUMNS))
