"""A generated world as pandas frames with the SPEC section 3 columns (`World.to_frames()`).

The base frames come straight from the columns (fast, for any size); the producers the daily
change model touched up to the asked day are then replaced by their records as of that day.
Separate from the building and from the change model: this is the only part that knows the
frames' columns, and the records and the columns must agree on them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from npnflow.sandbox import names
from npnflow.sandbox.changes import changed_producers, producer_as_of
from npnflow.sandbox.days import date_column, datetime_column, day_number
from npnflow.sandbox.producer_records import email_local, firm_name
from npnflow.sandbox.records import FIRM, INDIVIDUAL, Producer
from npnflow.sandbox.world_data import (
    LOA_INACTIVE_REASONS,
    TERMINATION_REASONS,
    Ints,
    Texts,
    WorldData,
)

FRAMES = ("producers", "licenses", "license_loas", "appointments")
# One producer's row in a frame, in the frame's column order.
Row = tuple[Any, ...]


def codes_text(codes: Ints) -> Texts:
    """Integer codes as text, through a lookup table (much faster than astype(str))."""
    table = np.array([str(i) for i in range(int(codes.max(initial=0)) + 1)], dtype=object)
    return table[codes]


def base_frames(world: WorldData) -> dict[str, pd.DataFrame]:
    reference = world.reference
    states = np.array(world.states, dtype=object)
    n = world.size
    firm = world.is_firm
    first = np.array(names.FIRST_NAMES, dtype=object)[world.first_idx]
    last = np.array(names.LAST_NAMES, dtype=object)[world.last_idx]
    firm_names = np.array(
        [firm_name(world, i) for i in np.flatnonzero(firm).tolist()], dtype=object
    )
    first = np.where(firm, "", first)
    last = np.where(firm, "", last)
    firm_col = np.full(n, "", dtype=object)
    firm_col[firm] = firm_names
    first_local = np.array([email_local(x) for x in names.FIRST_NAMES], dtype=object)
    last_local = np.array([email_local(x) for x in names.LAST_NAMES], dtype=object)
    local = first_local[world.first_idx] + "." + last_local[world.last_idx]
    local[firm] = np.array([email_local(x) for x in firm_names], dtype=object)
    domains = np.array(names.EMAIL_DOMAINS, dtype=object)[np.arange(n) % len(names.EMAIL_DOMAINS)]
    emails = local + "@" + domains
    agency = np.where(world.agency_idx >= 0, world.npn[np.maximum(world.agency_idx, 0)], "")
    lic_counts = np.diff(world.lic_start)
    any_active = np.add.reduceat(world.lic_active.astype(np.int64), world.lic_start[:-1]) > 0
    any_active &= lic_counts > 0
    producers = pd.DataFrame(
        {
            "npn": world.npn,
            "first_name": first,
            "last_name": last,
            "firm_name": firm_col,
            "entity_type": np.where(firm, FIRM, INDIVIDUAL),
            "email": emails,
            "agency_npn": agency,
            "agent_type": np.where(firm, "Agency", "Producer"),
            "is_active": any_active,
            "resident_state": states[world.resident_state],
            "birth_date": datetime_column(world.birth_days, missing=firm),
        }
    )

    lic_state = states[world.lic_state]
    expired = world.lic_expire < day_number(world.today)
    licenses = pd.DataFrame(
        {
            "npn": world.npn[world.lic_producer],
            "state_code": lic_state,
            "license_number": world.lic_number,
            "license_class_code": codes_text(world.lic_class),
            "license_class": world.class_names[world.lic_template],
            "is_resident": world.lic_resident,
            "is_active": world.lic_active,
            "issue_date": datetime_column(world.lic_issue),
            "expiration_date": datetime_column(world.lic_expire),
            "nipr_updated_at": datetime_column(world.lic_updated),
        }
    )

    loa_lic = np.repeat(np.arange(len(world.lic_producer)), np.diff(world.loa_start))
    names_lookup = {}
    loa_state = world.lic_state[loa_lic]
    pair = loa_state.astype(np.int64) * 100_000 + world.loa_code
    uniq, inverse = np.unique(pair, return_inverse=True)
    for u in uniq.tolist():
        names_lookup[u] = reference.loa_name(world.states[u // 100_000], u % 100_000)
    loa_names = np.array([names_lookup[u] for u in uniq.tolist()], dtype=object)[inverse]
    reason = np.where(
        world.loa_reason >= 0,
        np.array(LOA_INACTIVE_REASONS, dtype=object)[np.maximum(world.loa_reason, 0)],
        np.where(
            world.loa_reason == -2,
            np.where(expired[loa_lic], "License Expired", "License Inactive"),
            np.where(world.loa_initial_issue, "Initial Issue", ""),
        ),
    )
    license_loas = pd.DataFrame(
        {
            "npn": world.npn[world.lic_producer[loa_lic]],
            "state_code": lic_state[loa_lic],
            "license_number": world.lic_number[loa_lic],
            "loa_code": codes_text(world.loa_code),
            "loa_name": loa_names,
            "is_active": world.loa_active,
            "issue_date": datetime_column(world.loa_issue),
            "license_class_code": codes_text(world.lic_class)[loa_lic],
            "status_reason": reason,
            "status_reason_date": datetime_column(world.loa_reason_date),
        }
    )

    companies = world.companies
    cocodes = np.array([c.cocode for c in companies], dtype=object)
    company_names = np.array([c.name for c in companies], dtype=object)
    app_pair = world.app_state.astype(np.int64) * 100_000 + world.app_loa_code
    uniq, inverse = np.unique(app_pair, return_inverse=True)
    app_loa_names = np.array(
        [reference.loa_name(world.states[u // 100_000], u % 100_000) for u in uniq.tolist()],
        dtype=object,
    )[inverse]
    terminated = world.app_terminated
    appointments = pd.DataFrame(
        {
            "npn": world.npn[world.app_producer],
            "state_code": states[world.app_state],
            "cocode": cocodes[world.app_company],
            "loa_code": codes_text(world.app_loa_code),
            "loa_name": app_loa_names,
            "company_name": company_names[world.app_company],
            "status": np.where(terminated, "Terminated", "Appointed"),
            "effective_date": datetime_column(world.app_effective),
            "termination_reason": np.where(
                terminated,
                np.array(TERMINATION_REASONS, dtype=object)[np.maximum(world.app_reason, 0)],
                "",
            ),
            "status_reason_date": datetime_column(
                np.where(terminated, world.app_term_date, world.app_effective)
            ),
            "renewal_date": datetime_column(world.app_renewal, missing=terminated),
        }
    )
    company_frame = pd.DataFrame(
        {
            "cocode": cocodes,
            "company_name": company_names,
            "fein": [c.fein for c in companies],
        }
    )
    return {
        "producers": producers,
        "licenses": licenses,
        "license_loas": license_loas,
        "appointments": appointments,
        "companies": company_frame,
    }


_DATE_COLUMNS = {
    "birth_date",
    "issue_date",
    "expiration_date",
    "nipr_updated_at",
    "status_reason_date",
    "effective_date",
    "renewal_date",
}


def record_rows(record: Producer) -> dict[str, list[Row]]:
    """One producer's rows for the frames of `World.to_frames()` (dates as `date` or None).

    Tuples follow the column order of the frames built in ``base_frames``.
    """
    active = any(lic.is_active for lic in record.licenses)
    firm = record.is_firm
    producers: list[Row] = [
        (
            record.npn,
            record.first_name,
            record.last_name,
            record.firm_name,
            FIRM if firm else INDIVIDUAL,
            record.demographics.email,
            record.agency_npn,
            "Agency" if firm else "Producer",
            active,
            record.resident_state,
            record.birth_date,
        )
    ]
    licenses: list[Row] = []
    loas: list[Row] = []
    appointments: list[Row] = []
    for lic in record.licenses:
        licenses.append(
            (
                record.npn,
                lic.state,
                lic.number,
                str(lic.class_code),
                lic.class_name,
                lic.is_resident,
                lic.is_active,
                lic.issue_date,
                lic.expiration_date,
                lic.updated_date,
            )
        )
        for loa in lic.loas:
            loas.append(
                (
                    record.npn,
                    lic.state,
                    lic.number,
                    str(loa.code),
                    loa.name,
                    loa.is_active,
                    loa.issue_date,
                    str(lic.class_code),
                    loa.status_reason,
                    loa.status_reason_date,
                )
            )
    for a in record.appointments:
        appointments.append(
            (
                record.npn,
                a.state,
                a.cocode,
                str(a.loa_code),
                a.loa_name,
                a.company_name,
                a.status,
                a.effective_date,
                a.termination_reason,
                a.status_reason_date,
                a.renewal_date,
            )
        )
    return {
        "producers": producers,
        "licenses": licenses,
        "license_loas": loas,
        "appointments": appointments,
    }


def patch_frames(
    world: WorldData, frames: dict[str, pd.DataFrame], as_of: date
) -> dict[str, pd.DataFrame]:
    """Replace the rows of producers changed in (epoch, as_of] by their state as of `as_of`."""
    touched = changed_producers(world, as_of)
    if not touched:
        return frames
    rows: dict[str, list[Row]] = {table: [] for table in FRAMES}
    for index in touched:
        record, _ = producer_as_of(world, index, as_of)
        for table, table_rows in record_rows(record).items():
            rows[table].extend(table_rows)
    npns = set(world.npn[touched].tolist())
    out = dict(frames)
    for table, table_rows in rows.items():
        base = frames[table]
        kept = base[~base["npn"].isin(npns)]
        if not table_rows:
            out[table] = kept.reset_index(drop=True)
            continue
        columns = list(zip(*table_rows, strict=True))
        patch = pd.DataFrame(
            {
                name: (
                    date_column(list(values))
                    if name in _DATE_COLUMNS
                    else np.array(values, dtype=object if base[name].dtype != bool else bool)
                )
                for name, values in zip(base.columns, columns, strict=True)
            }
        )
        out[table] = pd.concat([kept, patch], ignore_index=True)
    return out
