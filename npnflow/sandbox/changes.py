"""The daily change model: what changes in the PDB on each alerts run day.

For every run day D after the world's `epoch` (Monday to Saturday; NIPR runs no alerts on
Sundays), a random generator seeded with (seed, D) picks some producers (0.4% of the world, at
least 8, always including a firm when there are firms) and gives each one change event:

- LICENSING: a license renewed (new expiration, active again), a line added, a line or a
  license made inactive, a new non-resident license, or every license in a non-resident state
  deleted;
- APPOINTMENTS: an appointment with a company in a licensed state, a termination (with a
  reason), a renewal date moved on, or every appointment in a state deleted;
- DEMOGRAPHICS: a new address, phone and email.

An event is applied to the producer's state at that point, which decides the concrete change
and the state it lands in (a termination needs an appointment to terminate; when the intended
change is impossible a fallback is used). The world as of D is therefore the base world plus
every event up to D, in day order: a pure function of (seed, world arguments, D), so asking for
the same day twice gives the same answer.

The resident license is never deleted, so every producer keeps one.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeVar

import numpy as np

from npnflow.sandbox import names
from npnflow.sandbox.producer_records import base_producer, demographics
from npnflow.sandbox.records import (
    APPOINTMENTS,
    DEMOGRAPHICS,
    LICENSING,
    Appointment,
    License,
    Loa,
    Producer,
)
from npnflow.sandbox.world_data import WorldData

T = TypeVar("T")

DAILY_RATE = 0.004
MIN_DAILY = 8
RENEWAL_PERIOD = timedelta(days=730)


@dataclass(frozen=True)
class Event:
    day: date
    index: int
    category: str
    u: float  # picks the kind of change within the category
    r: int  # picks among candidates


@dataclass(frozen=True)
class Change:
    """One category of one producer changed in one state on one day."""

    npn: str
    day: date
    category: str
    state: str
    kind: str


def is_run_day(day: date) -> bool:
    """NIPR runs alerts Monday to Saturday."""
    return day.weekday() != 6


def events_on(world: WorldData, day: date) -> tuple[Event, ...]:
    """The change events of one run day, by producer index (cached, deterministic)."""
    if day <= world.epoch or not is_run_day(day):
        return ()
    cache: dict[date, tuple[Event, ...]] = world.changes_cache.setdefault("events", {})
    with world.lock:
        if day in cache:
            return cache[day]
    rng = np.random.default_rng([world.seed, day.toordinal(), 0xC4A7])
    n = world.size
    k = min(n, max(MIN_DAILY, round(n * DAILY_RATE)))
    chosen = rng.choice(n, k, replace=False)
    firms = np.flatnonzero(world.is_firm)
    if len(firms) and not world.is_firm[chosen].any():
        chosen[0] = firms[int(rng.integers(0, len(firms)))]
    category_u = rng.random(k)
    kind_u = rng.random(k)
    picks = rng.integers(0, 1 << 30, k)
    events: list[Event] = []
    for index, cu, ku, r in zip(
        chosen.tolist(), category_u.tolist(), kind_u.tolist(), picks.tolist(), strict=True
    ):
        category = LICENSING if cu < 0.5 else APPOINTMENTS if cu < 0.85 else DEMOGRAPHICS
        events.append(Event(day, index, category, ku, r))
    events.sort(key=lambda e: e.index)
    result = tuple(events)
    with world.lock:
        cache[day] = result
    return result


def _events_by_producer(world: WorldData, upto: date) -> dict[int, list[Event]]:
    """Index of every event in (epoch, upto], by producer; extended lazily as days are asked."""
    with world.lock:
        index: dict[int, list[Event]] = world.changes_cache.setdefault("by_producer", {})
        done: date = world.changes_cache.get("indexed_until", world.epoch)
        day = done + timedelta(days=1)
        while day <= upto:
            for event in events_on(world, day):
                index.setdefault(event.index, []).append(event)
            day += timedelta(days=1)
        if upto > done:
            world.changes_cache["indexed_until"] = upto
        return index


def producer_as_of(world: WorldData, index: int, as_of: date) -> tuple[Producer, list[Change]]:
    """Producer `index` with every change up to `as_of` applied, and those changes."""
    record = base_producer(world, index)
    applied: list[Change] = []
    for event in list(_events_by_producer(world, as_of).get(index, [])):
        if event.day > as_of:
            break
        applied.extend(apply_event(world, record, event))
    return record, applied


def changed_producers(world: WorldData, as_of: date) -> list[int]:
    """The producers (indexes, ascending) with at least one change in (epoch, as_of]."""
    by_producer = _events_by_producer(world, as_of)
    return sorted(i for i, events in by_producer.items() if events and events[0].day <= as_of)


def changes_on(world: WorldData, day: date, npns: Iterable[str] | None = None) -> list[Change]:
    """What changed on `day`, for the given NPNs (all producers when None)."""
    events = events_on(world, day)
    if npns is not None:
        wanted = {i for i in (world.npn_to_index(n) for n in npns) if i is not None}
        events = tuple(e for e in events if e.index in wanted)
    out: list[Change] = []
    for event in events:
        _, applied = producer_as_of(world, event.index, day)
        out.extend(c for c in applied if c.day == day)
    return out


# ====================================================================== applying events
# One kind of change: applied to `record` on `day` when possible (None when not), `rng` and `r`
# decide among the candidates.
Kind = Callable[[WorldData, Producer, date, random.Random, int], Change | None]


def apply_event(world: WorldData, record: Producer, event: Event) -> list[Change]:
    rng = random.Random(f"{world.seed}:{event.day.toordinal()}:{event.index}:event")
    day = event.day
    if event.category == DEMOGRAPHICS:
        return [_move(world, record, day)]
    if event.category == APPOINTMENTS:
        kinds = [_appoint, _terminate, _renew_appointments, _delete_appointments]
        chosen = kinds[_bucket(event.u, (0.35, 0.65, 0.8))]
        attempts: list[Kind] = [
            chosen,
            _appoint,
            _renew_appointments,
            _renew_license,
        ]
    else:
        kinds = [
            _renew_license,
            _add_loa,
            _deactivate_loa,
            _deactivate_license,
            _new_license,
            _delete_licenses,
        ]
        chosen = kinds[_bucket(event.u, (0.35, 0.5, 0.6, 0.7, 0.85))]
        attempts = [chosen, _renew_license]
    for attempt in attempts:
        change = attempt(world, record, day, rng, event.r)
        if change is not None:
            return [change]
    return []


def _bucket(u: float, edges: tuple[float, ...]) -> int:
    for i, edge in enumerate(edges):
        if u < edge:
            return i
    return len(edges)


def _pick(items: Sequence[T], r: int) -> T:
    return items[r % len(items)]


def _change(record: Producer, day: date, category: str, state: str, kind: str) -> Change:
    return Change(record.npn, day, category, state, kind)


def _renew_license(
    world: WorldData, record: Producer, day: date, rng: random.Random, r: int
) -> Change | None:
    if not record.licenses:
        return None
    soon = [
        lic
        for lic in record.licenses
        if lic.expiration_date <= day + timedelta(days=90) or not lic.is_active
    ]
    lic = _pick(soon or record.licenses, r)
    lic.expiration_date = max(lic.expiration_date, day) + RENEWAL_PERIOD
    lic.is_active = True
    lic.updated_date = day
    for loa in lic.loas:
        if loa.status_reason in ("License Expired", "License Inactive"):
            loa.is_active, loa.status_reason, loa.status_reason_date = True, "", day
    return _change(record, day, LICENSING, lic.state, "license_renewed")


def _add_loa(
    world: WorldData, record: Producer, day: date, rng: random.Random, r: int
) -> Change | None:
    options = []
    for lic in record.licenses:
        if not lic.is_active:
            continue
        held = {loa.code for loa in lic.loas}
        held |= {
            loa.code for other in record.licenses if other.state == lic.state for loa in other.loas
        }
        options += [
            (lic, code)
            for code in world.reference.lines(lic.state, lic.class_code)
            if code not in held
        ]
    if not options:
        return None
    lic, code = _pick(options, r)
    lic.loas.append(Loa(code, world.reference.loa_name(lic.state, code), day, True, "", day))
    lic.updated_date = day
    return _change(record, day, LICENSING, lic.state, "loa_added")


def _deactivate_loa(
    world: WorldData, record: Producer, day: date, rng: random.Random, r: int
) -> Change | None:
    options = [
        (lic, loa)
        for lic in record.licenses
        if lic.is_active
        for loa in lic.loas
        if loa.is_active and sum(x.is_active for x in lic.loas) > 1
    ]
    if not options:
        return None
    lic, loa = _pick(options, r)
    loa.is_active = False
    loa.status_reason = _pick(["Voluntary Surrender", "Cancelled", "CE Deficiency"], r // 7)
    loa.status_reason_date = day
    lic.updated_date = day
    return _change(record, day, LICENSING, lic.state, "loa_inactivated")


def _deactivate_license(
    world: WorldData, record: Producer, day: date, rng: random.Random, r: int
) -> Change | None:
    options = [lic for lic in record.licenses if lic.is_active and not lic.is_resident]
    if not options:
        return None
    lic = _pick(options, r)
    lic.is_active = False
    lic.updated_date = day
    for loa in lic.loas:
        if loa.is_active:
            loa.is_active, loa.status_reason, loa.status_reason_date = (
                False,
                "License Inactive",
                day,
            )
    return _change(record, day, LICENSING, lic.state, "license_inactivated")


def _new_license(
    world: WorldData, record: Producer, day: date, rng: random.Random, r: int
) -> Change | None:
    held = {lic.state for lic in record.licenses} | {record.resident_state}
    options = [s for s in world.states if s not in held]
    if not options:
        return None
    state = _pick(options, r)
    for template in world.reference.templates(state, False, record.profile, record.is_firm):
        style = names.LICENSE_NUMBER_STYLE.get(state, 1)
        digits = rng.randrange(100_000, 99_999_999)
        number = (
            record.npn
            if style == 0
            else f"0{chr(65 + digits % 26)}{digits % 100000:05d}"
            if style == 2
            else str(digits)
        )
        lic = License(
            state,
            number,
            template.license_class_code,
            template.license_class,
            False,
            True,
            day,
            day + RENEWAL_PERIOD,
            day,
        )
        lic.loas = [
            Loa(c, world.reference.loa_name(state, c), day, True, "Initial Issue", day)
            for c in template.loa_codes
        ]
        record.licenses.append(lic)
    return _change(record, day, LICENSING, state, "license_added")


def _delete_licenses(
    world: WorldData, record: Producer, day: date, rng: random.Random, r: int
) -> Change | None:
    options = sorted({lic.state for lic in record.licenses if lic.state != record.resident_state})
    if not options:
        return None
    state = _pick(options, r)
    record.licenses = [lic for lic in record.licenses if lic.state != state]
    return _change(record, day, LICENSING, state, "licenses_deleted")


def _appoint(
    world: WorldData, record: Producer, day: date, rng: random.Random, r: int
) -> Change | None:
    companies = world.companies
    options = []
    for lic in record.licenses:
        if not lic.is_active or lic.expiration_date < day:
            continue
        for k in range(len(companies)):
            company = companies[(r + k) % len(companies)]
            appointed = {
                a.loa_code
                for a in record.appointments
                if a.state == lic.state and a.cocode == company.cocode and a.is_appointed
            }
            missing = [loa for loa in lic.loas if loa.is_active and loa.code not in appointed]
            if missing:
                options.append((lic, company, missing))
    if not options:
        return None
    lic, company, missing = _pick(options, r // 3)
    for loa in missing:
        existing = [
            a
            for a in record.appointments
            if a.state == lic.state and a.cocode == company.cocode and a.loa_code == loa.code
        ]
        if existing:
            a = existing[0]
            a.status, a.effective_date, a.termination_date = "Appointed", day, None
            a.termination_reason, a.status_reason_date = "", day
            a.renewal_date = day + timedelta(days=365)
        else:
            record.appointments.append(
                Appointment(
                    lic.state,
                    company.cocode,
                    company.name,
                    company.fein,
                    loa.code,
                    loa.name,
                    "Appointed",
                    day,
                    None,
                    "",
                    day,
                    day + timedelta(days=365),
                )
            )
    return _change(record, day, APPOINTMENTS, lic.state, "appointed")


def _terminate(
    world: WorldData, record: Producer, day: date, rng: random.Random, r: int
) -> Change | None:
    groups = sorted({(a.state, a.cocode) for a in record.appointments if a.is_appointed})
    if not groups:
        return None
    state, cocode = _pick(groups, r)
    reason = _pick(["Company Request", "Not for Cause", "Agent Request", "Agency Closure"], r // 5)
    for a in record.appointments:
        if a.state == state and a.cocode == cocode and a.is_appointed:
            a.status, a.termination_date, a.termination_reason = "Terminated", day, reason
            a.status_reason_date, a.renewal_date = day, None
    return _change(record, day, APPOINTMENTS, state, "terminated")


def _renew_appointments(
    world: WorldData, record: Producer, day: date, rng: random.Random, r: int
) -> Change | None:
    states = sorted({a.state for a in record.appointments if a.is_appointed})
    if not states:
        return None
    state = _pick(states, r)
    for a in record.appointments:
        if a.state == state and a.is_appointed:
            a.renewal_date = max(a.renewal_date or day, day) + timedelta(days=365)
    return _change(record, day, APPOINTMENTS, state, "appointment_renewed")


def _delete_appointments(
    world: WorldData, record: Producer, day: date, rng: random.Random, r: int
) -> Change | None:
    states = sorted({a.state for a in record.appointments})
    if not states:
        return None
    state = _pick(states, r)
    record.appointments = [a for a in record.appointments if a.state != state]
    return _change(record, day, APPOINTMENTS, state, "appointments_deleted")


def _move(world: WorldData, record: Producer, day: date) -> Change:
    record.demographics_version += 1
    record.demographics = demographics(world, record.index, record.demographics_version, day)
    return _change(record, day, DEMOGRAPHICS, record.resident_state, "address_changed")
