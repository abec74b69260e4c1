"""One producer of a generated world as records (`records.py`): what the XML replies render.

The world keeps producers in columns; a producer is materialised here, as of the world's
`epoch`, only when a reply or a day's changes need it (`changes.py` moves the record forward).
Addresses and contact details are not stored at all: they are derived from (seed, producer,
version), so a change of address is a new version number.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from npnflow.sandbox import names
from npnflow.sandbox.days import day_date
from npnflow.sandbox.records import (
    FIRM,
    INDIVIDUAL,
    Address,
    Appointment,
    Demographics,
    License,
    Loa,
    Producer,
)
from npnflow.sandbox.reference import PROFILES
from npnflow.sandbox.world_data import LOA_INACTIVE_REASONS, TERMINATION_REASONS, WorldData


def email_local(text: str) -> str:
    """The local part of an email address made of a name: letters, digits and dots."""
    return "".join(ch for ch in text.lower() if ch.isalnum() or ch == ".")


def demographics(world: WorldData, index: int, version: int, updated: date) -> Demographics:
    """Address and contact details: derived from (seed, producer, version), not stored."""
    rng = random.Random(f"{world.seed}:{index}:{version}:demographics")
    state = world.states[int(world.resident_state[index])]
    city, zip_code, area = names.STATE_CITIES[state]
    suite = f"Suite {rng.randrange(100, 999)}" if rng.random() < 0.5 else ""
    home = Address(
        f"{rng.randrange(10, 9999)} {rng.choice(names.STREETS)}", "", city, state, zip_code
    )
    office = Address(
        f"{rng.randrange(10, 9999)} {rng.choice(names.STREETS)}", suite, city, state, zip_code
    )
    local = email_local(
        firm_name(world, index)
        if world.is_firm[index]
        else f"{names.FIRST_NAMES[world.first_idx[index]]}.{names.LAST_NAMES[world.last_idx[index]]}"
    )
    suffix = "" if version == 0 else str(version)
    email = f"{local}{suffix}@{names.EMAIL_DOMAINS[index % len(names.EMAIL_DOMAINS)]}"
    phone = f"{area}-555-{rng.randrange(100, 199):04d}"
    fax = f"{area}-555-{rng.randrange(200, 299):04d}"
    return Demographics(email, phone, fax, home, office, updated)


def firm_name(world: WorldData, index: int) -> str:
    first, second = divmod(int(world.firm_idx[index]), len(names.FIRM_SECOND))
    return f"{names.FIRM_FIRST[first]} {names.FIRM_SECOND[second]}"


def base_producer(world: WorldData, index: int) -> Producer:
    """Producer `index` as of the world's `epoch` (before any daily change)."""
    firm = bool(world.is_firm[index])
    state = world.states[int(world.resident_state[index])]
    # Area numbers 900-999 are never issued, so this can never be somebody's real SSN.
    rng = random.Random(f"{world.seed}:{index}:ssn")
    fake_ssn = (
        ""
        if firm
        else (
            f"9{rng.randrange(0, 100):02d}-{rng.randrange(1, 100):02d}-"
            f"{rng.randrange(1, 10000):04d}"
        )
    )
    agency = int(world.agency_idx[index])
    producer = Producer(
        index=index,
        npn=str(world.npn[index]),
        entity_type=FIRM if firm else INDIVIDUAL,
        first_name="" if firm else names.FIRST_NAMES[world.first_idx[index]],
        middle_name=""
        if firm or world.middle_idx[index] < 0
        else chr(65 + world.middle_idx[index]),
        last_name="" if firm else names.LAST_NAMES[world.last_idx[index]],
        suffix=""
        if firm or world.suffix_idx[index] < 0
        else names.SUFFIXES[world.suffix_idx[index]],
        firm_name=firm_name(world, index) if firm else "",
        fein=str(world.fein[index]) if firm else "",
        fake_ssn=fake_ssn,
        birth_date=None if firm else day_date(world.birth_days[index]),
        resident_state=state,
        profile=PROFILES[int(world.profile[index])],
        agency_npn=str(world.npn[agency]) if agency >= 0 else "",
        demographics=demographics(world, index, 0, world.epoch - timedelta(days=index % 300)),
    )
    reference, states, today = world.reference, world.states, world.today
    lo, hi = int(world.lic_start[index]), int(world.lic_start[index + 1])
    loa_lo, loa_hi = int(world.loa_start[lo]), int(world.loa_start[hi])
    loa_bounds = (world.loa_start[lo : hi + 1] - loa_lo).tolist()
    loa_code = world.loa_code[loa_lo:loa_hi].tolist()
    loa_issue = world.loa_issue[loa_lo:loa_hi].tolist()
    loa_active = world.loa_active[loa_lo:loa_hi].tolist()
    loa_reason = world.loa_reason[loa_lo:loa_hi].tolist()
    loa_reason_date = world.loa_reason_date[loa_lo:loa_hi].tolist()
    loa_initial = world.loa_initial_issue[loa_lo:loa_hi].tolist()
    for k, (s_i, number, code, template, resident, active, issued, expires, updated) in enumerate(
        zip(
            world.lic_state[lo:hi].tolist(),
            world.lic_number[lo:hi].tolist(),
            world.lic_class[lo:hi].tolist(),
            world.lic_template[lo:hi].tolist(),
            world.lic_resident[lo:hi].tolist(),
            world.lic_active[lo:hi].tolist(),
            world.lic_issue[lo:hi].tolist(),
            world.lic_expire[lo:hi].tolist(),
            world.lic_updated[lo:hi].tolist(),
            strict=True,
        )
    ):
        lstate = states[s_i]
        record = License(
            lstate,
            number,
            code,
            str(world.class_names[template]),
            resident,
            active,
            day_date(issued),
            day_date(expires),
            day_date(updated),
        )
        for j in range(loa_bounds[k], loa_bounds[k + 1]):
            reason = loa_reason[j]
            if reason >= 0:
                text = LOA_INACTIVE_REASONS[reason]
            elif reason == -2:
                text = "License Expired" if record.expiration_date < today else "License Inactive"
            else:
                text = "Initial Issue" if loa_initial[j] else ""
            record.loas.append(
                Loa(
                    loa_code[j],
                    reference.loa_name(lstate, loa_code[j]),
                    day_date(loa_issue[j]),
                    loa_active[j],
                    text,
                    day_date(loa_reason_date[j]),
                )
            )
        producer.licenses.append(record)
    lo, hi = int(world.app_start[index]), int(world.app_start[index + 1])
    for s_i, c_i, code, terminated, effective, term, reason, renewal in zip(
        world.app_state[lo:hi].tolist(),
        world.app_company[lo:hi].tolist(),
        world.app_loa_code[lo:hi].tolist(),
        world.app_terminated[lo:hi].tolist(),
        world.app_effective[lo:hi].tolist(),
        world.app_term_date[lo:hi].tolist(),
        world.app_reason[lo:hi].tolist(),
        world.app_renewal[lo:hi].tolist(),
        strict=True,
    ):
        company = world.companies[c_i]
        astate = states[s_i]
        producer.appointments.append(
            Appointment(
                state=astate,
                cocode=company.cocode,
                company_name=company.name,
                fein=company.fein,
                loa_code=code,
                loa_name=reference.loa_name(astate, code),
                status="Terminated" if terminated else "Appointed",
                effective_date=day_date(effective),
                termination_date=day_date(term) if terminated else None,
                termination_reason=TERMINATION_REASONS[reason] if terminated else "",
                status_reason_date=day_date(term if terminated else effective),
                renewal_date=None if terminated else day_date(renewal),
            )
        )
    return producer
