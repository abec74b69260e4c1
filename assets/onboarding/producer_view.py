"""One producer's whole story, as `npnflow producers show NPN` prints it: what NIPR told us
(sync status, licenses, lines, appointments, how new the data is), what we hold for it
(agency, producer assignments, open transactions, portal seats).

Plain reads on the caller's connection, one query per table (the tables are keyed by NPN
first), no Dagster.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from assets.nipr.roster import NIPR_ERROR, NOT_FOUND, NOT_STARTED, SUCCESS, SUCCESS_NO_LICENSES
from schemas import statuses
from schemas.npns import canonical_npn
from schemas.tables import (
    agencies,
    appointments,
    license_loas,
    licenses,
    nipr_scope_reports,
    nipr_subscriptions,
    portal_users,
    portals,
    producer_assignments,
    producers,
    transaction_batches,
    transactions,
)

#: What each `sync_status` means for the person reading it (docs/nipr-sync.md).
SYNC_STATUS_MEANINGS: dict[str, str] = {
    NOT_STARTED: "onboarded, NIPR not asked yet; the next initial sync fetches it "
    "(`npnflow sync now NPN` does it now)",
    SUCCESS: "NIPR's Entity Info applied; PDB Alerts keep it current",
    SUCCESS_NO_LICENSES: "NIPR knows the producer but lists no license",
    NIPR_ERROR: "the last call to NIPR failed; retried by every initial sync",
    NOT_FOUND: "NIPR does not know this NPN (most likely mistyped in the upload); not retried. "
    "`npnflow producers remove NPN --by NAME` removes it if nothing was ever sent for it",
}


class ProducerNotFound(LookupError):
    """No producer has the NPN."""


@dataclass(frozen=True)
class ProducerView:
    typed: str  # the NPN as the person typed it
    npn: str  # as NIPR writes it (canonical_npn)
    producer: dict[str, Any]
    agency_name: str | None
    data_as_of: dt.datetime | None  # the newest NIPR data applied for it (any state, category)
    is_alerts_target: bool
    assignments: pd.DataFrame
    licenses: pd.DataFrame  # with `lines`: "16 Life (active), 296 Health (inactive)"
    appointments: pd.DataFrame
    open_transactions: pd.DataFrame
    portal_seats: pd.DataFrame

    @property
    def sync_meaning(self) -> str:
        return SYNC_STATUS_MEANINGS.get(str(self.producer["sync_status"]), "")


def _frame(connection: Connection, statement: sa.Select[Any]) -> pd.DataFrame:
    result = connection.execute(statement)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def _lines_by_license(connection: Connection, npn: str) -> dict[tuple[str, str, str], str]:
    lines = _frame(
        connection,
        sa.select(
            license_loas.c.state_code,
            license_loas.c.license_number,
            license_loas.c.license_class_code,
            license_loas.c.loa_code,
            license_loas.c.loa_name,
            license_loas.c.is_active,
        )
        .where(license_loas.c.npn == npn)
        .order_by(license_loas.c.state_code, license_loas.c.loa_code),
    )
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for line in lines.itertuples(index=False):
        active = "active" if line.is_active else "inactive"
        name = f" {line.loa_name}" if isinstance(line.loa_name, str) and line.loa_name else ""
        key = (line.state_code, line.license_number, line.license_class_code)
        grouped.setdefault(key, []).append(f"{line.loa_code}{name} ({active})")
    return {key: ", ".join(parts) for key, parts in grouped.items()}


def producer_view(connection: Connection, typed_npn: str) -> ProducerView:
    """Everything recorded about the producer `typed_npn` names (read as NIPR writes it)."""
    npn = canonical_npn(typed_npn)
    found = connection.execute(sa.select(producers).where(producers.c.npn == npn)).first()
    if found is None:
        changed = f" (read as {npn})" if npn != typed_npn.strip() else ""
        raise ProducerNotFound(
            f"No producer has NPN {typed_npn.strip()}{changed}. Producers come in with an agent "
            "file (`npnflow template agent`); `npnflow uploads list --kind agent` shows the "
            "agent files received."
        )
    producer = dict(found._mapping)
    agency_name = None
    if producer["agency_npn"]:
        agency_name = connection.execute(
            sa.select(agencies.c.agency_name).where(agencies.c.agency_npn == producer["agency_npn"])
        ).scalar()
    data_as_of = connection.execute(
        sa.select(sa.func.max(nipr_scope_reports.c.data_as_of)).where(
            nipr_scope_reports.c.npn == npn
        )
    ).scalar()
    is_target = (
        connection.execute(
            sa.select(sa.func.count())
            .select_from(nipr_subscriptions)
            .where(
                nipr_subscriptions.c.npn == npn,
                nipr_subscriptions.c.removed_at.is_(None),
                nipr_subscriptions.c.invalid_reason.is_(None),
            )
        ).scalar_one()
        > 0
    )
    license_frame = _frame(
        connection,
        sa.select(
            licenses.c.state_code,
            licenses.c.license_number,
            licenses.c.license_class_code,
            licenses.c.license_class,
            licenses.c.is_resident,
            licenses.c.is_active,
            licenses.c.expiration_date,
        )
        .where(licenses.c.npn == npn)
        .order_by(licenses.c.state_code, licenses.c.license_number),
    )
    lines = _lines_by_license(connection, npn)
    license_frame["lines"] = [
        lines.get((lic.state_code, lic.license_number, lic.license_class_code), "")
        for lic in license_frame.itertuples(index=False)
    ]
    open_statuses = sorted(statuses.OPEN_TRANSACTION_STATUSES)
    return ProducerView(
        typed=typed_npn.strip(),
        npn=npn,
        producer=producer,
        agency_name=agency_name,
        data_as_of=data_as_of,
        is_alerts_target=is_target,
        assignments=_frame(
            connection,
            sa.select(
                producer_assignments.c.cocode,
                producer_assignments.c.state_code,
                producer_assignments.c.loa_category,
                producer_assignments.c.agent_type,
            )
            .where(producer_assignments.c.npn == npn)
            .order_by(
                producer_assignments.c.cocode,
                producer_assignments.c.state_code,
                producer_assignments.c.loa_category,
            ),
        ),
        licenses=license_frame,
        appointments=_frame(
            connection,
            sa.select(
                appointments.c.state_code,
                appointments.c.cocode,
                appointments.c.company_name,
                appointments.c.loa_code,
                appointments.c.status,
                appointments.c.effective_date,
            )
            .where(appointments.c.npn == npn)
            .order_by(appointments.c.state_code, appointments.c.cocode, appointments.c.loa_code),
        ),
        open_transactions=_frame(
            connection,
            sa.select(
                transactions.c.transaction_id,
                transactions.c.kind,
                transactions.c.batch_id,
                transaction_batches.c.status.label("batch_status"),
                transactions.c.state_code,
                transactions.c.cocode,
                transactions.c.loa_code,
                transactions.c.status,
                transactions.c.eligibility_reason,
                transactions.c.nipr_message,
            )
            .join(transaction_batches, transaction_batches.c.batch_id == transactions.c.batch_id)
            .where(transactions.c.npn == npn, transactions.c.status.in_(open_statuses))
            .order_by(transactions.c.created_at, transactions.c.transaction_id),
        ),
        portal_seats=_frame(
            connection,
            sa.select(
                portal_users.c.portal_id,
                portals.c.portal_name,
                portal_users.c.status,
                portal_users.c.email,
                portal_users.c.invited_at,
                portal_users.c.invitation_sent_at,
                portal_users.c.registered_at,
            )
            .join(portals, portals.c.portal_id == portal_users.c.portal_id)
            .where(portal_users.c.npn == npn)
            .order_by(portal_users.c.portal_id),
        ),
    )
