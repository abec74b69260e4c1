"""The sandbox's world: producers, licenses, lines of authority and appointments, generated.

Pure and deterministic: `generate_world(seed=..., producers=..., today=...)` always builds the
same world for the same arguments. Built column-wise with numpy so that 200,000 producers with
about a million licenses take seconds; `World.to_frames()` turns it into pandas frames with the
SPEC section 3 columns, and `World.producer(npn)` materialises one producer as records for the
XML replies.

What makes it realistic (and what the pipeline's rules need to see):
- every producer holds a resident license of the state's producer class
  (`config/reference/producer_license_classes.csv`), and 0-8 non-resident ones (1.5% hold 20+);
- lines of authority come from NIPR's workbook Assignments for that state and class (never code
  101 "None"), chosen by the producer's line of business (life/health, P&C, all lines, personal);
  NY splits life/health and P&C into two classes, so an all-lines NY producer holds two licenses;
- some licenses are expired, some inactive, some expire within 30/60/90 days of `today`;
- appointments with the given companies (the customer's, or a few fictional carriers) per
  state and line, some Terminated with a reason.

The base world is the state as of `epoch` (`today` minus `HISTORY_DAYS`); `changes.py` holds the
daily change model that moves it forward one report day at a time, so the world as of any day
is a pure function of (seed, arguments, day).
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from npnflow.sandbox import names
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
from npnflow.sandbox.reference import PROFILES, Reference, load_reference

if TYPE_CHECKING:
    from npnflow.sandbox.changes import Change

# The daily change model starts this many days before `today`, so that every report NIPR lets a
# client backdate (14 days) has changes in it.
HISTORY_DAYS = 21

TERMINATION_REASONS = (
    "Company Request",
    "Not for Cause",
    "Agent Request",
    "Agency Closure",
    "For Cause",
    "License Expired",
)
LOA_INACTIVE_REASONS = ("Voluntary Surrender", "Cancelled", "CE Deficiency", "Non-Renewal")
_UNIX_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class Company:
    cocode: str  # 5-digit NAIC code, text
    name: str
    fein: str  # 9 digits, no dash

    @property
    def fein_dashed(self) -> str:
        return f"{self.fein[:2]}-{self.fein[2:]}" if len(self.fein) == 9 else self.fein


# Fictional carriers (NAIC codes 99xxx, FEIN prefix 00 is never assigned by the IRS).
DEFAULT_COMPANIES: tuple[Company, ...] = (
    Company("99101", "Sandbox Mutual Life Insurance Company", "000990101"),
    Company("99102", "Prairie Harbor Casualty Company", "000990102"),
    Company("99103", "Bluewater Indemnity Insurance Company", "000990103"),
    Company("99104", "Keystone Ridge Life & Annuity Company", "000990104"),
)


def normalize_companies(companies: Any = None) -> tuple[Company, ...]:
    """Accept Company objects, (cocode, name, fein) tuples, dicts or a DataFrame."""
    if companies is None:
        return DEFAULT_COMPANIES
    if isinstance(companies, pd.DataFrame):
        companies = companies.to_dict("records")
    out = []
    for item in companies:
        if isinstance(item, Company):
            out.append(item)
        elif isinstance(item, dict):
            cocode = str(item["cocode"]).strip().zfill(5)
            name = str(item.get("company_name") or item.get("name") or f"Company {cocode}")
            fein = "".join(ch for ch in str(item.get("fein") or "") if ch.isdigit())
            out.append(Company(cocode, name, fein or f"00099{cocode[-4:]}".zfill(9)))
        else:
            cocode, name, fein = (list(item) + [""])[:3]
            fein = "".join(ch for ch in str(fein) if ch.isdigit())
            out.append(Company(str(cocode).zfill(5), str(name), fein or "000990000"))
    if not out:
        raise ValueError("at least one company is needed to generate appointments")
    return tuple(out)


def _days(d: date) -> int:
    return (d - _UNIX_EPOCH).days


_UNIX_ORDINAL = _UNIX_EPOCH.toordinal()


def _date(n: int) -> date:
    return date.fromordinal(_UNIX_ORDINAL + int(n))


def _to_datetime(days: np.ndarray, missing: np.ndarray | None = None) -> np.ndarray:
    """Day numbers since 1970 to a datetime64 column (`missing` marks empty dates)."""
    values = days.astype("int64").astype("datetime64[D]").astype("datetime64[ns]")
    if missing is not None:
        values[missing] = np.datetime64("NaT")
    return values


def _codes_text(codes: np.ndarray) -> np.ndarray:
    """Integer codes as text, through a lookup table (much faster than astype(str))."""
    table = np.array([str(i) for i in range(int(codes.max(initial=0)) + 1)], dtype=object)
    return table[codes]


def _email_local(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum() or ch == ".")


class World:
    """The generated world. Read-only after construction except for caches (thread-safe)."""

    def __init__(
        self,
        seed: int,
        producers: int,
        companies: tuple[Company, ...],
        today: date,
        reference: Reference,
        firm_fraction: float = 0.02,
    ) -> None:
        self.seed = int(seed)
        self.size = int(producers)
        self.companies = companies
        self.today = today
        self.epoch = today - timedelta(days=HISTORY_DAYS)
        self.reference = reference
        self.states = list(reference.states)
        self._lock = threading.RLock()
        self._npn_index: dict[str, int] | None = None
        self._changes_cache: dict[str, Any] = {}
        _build(self, firm_fraction)

    # ----------------------------------------------------------------- look-ups
    @property
    def npns(self) -> list[str]:
        return self.npn.tolist()

    def npn_to_index(self, npn: str) -> int | None:
        with self._lock:
            if self._npn_index is None:
                self._npn_index = {n: i for i, n in enumerate(self.npn.tolist())}
        return self._npn_index.get(str(npn).strip())

    def fein_to_index(self, fein: str) -> int | None:
        digits = "".join(ch for ch in str(fein) if ch.isdigit())
        hits = np.flatnonzero((self.fein == digits) & self.is_firm)
        return int(hits[0]) if len(hits) else None

    def individual_npns(self) -> list[str]:
        return self.npn[~self.is_firm].tolist()

    def firm_npns(self) -> list[str]:
        return self.npn[self.is_firm].tolist()

    # ----------------------------------------------------------------- records
    def base_producer(self, index: int) -> Producer:
        """Producer `index` as of `epoch` (before any daily change)."""
        return _base_record(self, index)

    def producer(self, npn: str, as_of: date | None = None) -> Producer | None:
        """Producer `npn` as of `as_of` (default: `today`), daily changes applied."""
        from npnflow.sandbox import changes

        index = self.npn_to_index(npn)
        if index is None:
            return None
        return changes.producer_as_of(self, index, as_of or self.today)[0]

    def changes_on(self, day: date, npns: Iterable[str] | None = None) -> list[Change]:
        """What changed on report day `day` (whole category per state), for `npns` or all."""
        from npnflow.sandbox import changes

        return changes.changes_on(self, day, npns)

    def to_frames(self, as_of: date | None = None) -> dict[str, pd.DataFrame]:
        """SPEC section 3 frames (producers, licenses, license_loas, appointments, companies)."""
        from npnflow.sandbox import changes

        frames = _base_frames(self)
        return changes.patch_frames(self, frames, as_of or self.today)


def generate_world(
    seed: int = 7,
    producers: int = 1000,
    companies: Any = None,
    today: date | None = None,
    firm_fraction: float = 0.02,
    config_dir: str | None = None,
) -> World:
    """Build the world. Same arguments, same world."""
    if producers < 1:
        raise ValueError("the sandbox world needs at least one producer")
    return World(
        seed,
        producers,
        normalize_companies(companies),
        today or date.today(),
        load_reference(config_dir),
        firm_fraction,
    )


# ====================================================================== building
def _unique_npns(rng: np.random.Generator, count: int) -> np.ndarray:
    """Distinct NPNs of 6 to 10 digits, never starting with 0 (NIPR numbers are integers)."""
    lengths = rng.choice([6, 7, 8, 9, 10], size=count, p=[0.03, 0.17, 0.55, 0.2, 0.05])
    low, high = 10 ** (lengths - 1), 10**lengths
    values = low + (rng.random(count) * (high - low)).astype(np.int64)
    while True:
        _, first = np.unique(values, return_index=True)
        duplicate = np.ones(count, dtype=bool)
        duplicate[first] = False
        if not duplicate.any():
            return values
        n = int(duplicate.sum())
        values[duplicate] = 10_000_000 + (rng.random(n) * 89_999_999).astype(np.int64)


def _build(world: World, firm_fraction: float) -> None:
    rng = np.random.default_rng([world.seed, 0x5A4D])
    reference = world.reference
    n = world.size
    n_states = len(world.states)
    epoch = _days(world.epoch)
    today = _days(world.today)

    # ---------------------------------------------------------------- producers
    firms = 0 if n < 10 else max(2, round(n * firm_fraction))
    is_firm = np.zeros(n, dtype=bool)
    if firms:
        is_firm[rng.choice(n, firms, replace=False)] = True
    npn_values = _unique_npns(rng, n)
    world.is_firm = is_firm
    world.npn = npn_values.astype(str).astype(object)
    world.first_idx = rng.integers(0, len(names.FIRST_NAMES), n)
    world.last_idx = rng.integers(0, len(names.LAST_NAMES), n)
    world.middle_idx = rng.integers(-8, 26, n)  # negative: no middle initial
    world.suffix_idx = np.where(rng.random(n) < 0.04, rng.integers(0, len(names.SUFFIXES), n), -1)
    world.firm_idx = rng.integers(0, len(names.FIRM_FIRST) * len(names.FIRM_SECOND), n)
    world.birth_days = today - rng.integers(23 * 365, 72 * 365, n)
    world.fein = np.array([f"00{v:07d}" for v in rng.integers(0, 10_000_000, n)], dtype=object)
    weights = np.array([names.STATE_WEIGHTS.get(s, 0.3) for s in world.states])
    world.resident_state = rng.choice(n_states, n, p=weights / weights.sum())
    world.profile = rng.choice(len(PROFILES), n, p=[0.35, 0.25, 0.3, 0.1])
    firm_positions = np.flatnonzero(is_firm)
    agency = np.full(n, -1)
    if firms:
        affiliated = (~is_firm) & (rng.random(n) < 0.3)
        agency[affiliated] = firm_positions[rng.integers(0, firms, int(affiliated.sum()))]
    world.agency_idx = agency

    # ---------------------------------------------------------------- license slots
    nr_count = rng.integers(0, 9, n)
    multi = rng.random(n) < 0.015
    nr_count[multi] = rng.integers(20, 36, int(multi.sum()))
    nr_count = np.minimum(nr_count, n_states - 1)
    steps = np.array([s for s in range(1, n_states) if math.gcd(s, n_states) == 1])
    step = steps[rng.integers(0, len(steps), n)]
    slots_per = nr_count + 1
    slot_prod = np.repeat(np.arange(n), slots_per)
    slot_start = np.concatenate([[0], np.cumsum(slots_per)[:-1]])
    slot_j = np.arange(len(slot_prod)) - np.repeat(slot_start, slots_per)
    # Distinct states: an arithmetic walk with a step coprime to the number of states.
    slot_state = (world.resident_state[slot_prod] + slot_j * step[slot_prod]) % n_states
    slot_res = slot_j == 0

    # ---------------------------------------------------------------- templates
    tmpl_class, tmpl_class_name, tmpl_loas, tmpl_extras = [], [], [], []
    key_start = np.zeros(n_states * 2 * len(PROFILES) * 2, dtype=np.int64)
    key_count = np.zeros_like(key_start)
    for s_i, state in enumerate(world.states):
        for res in (0, 1):
            for p_i, profile in enumerate(PROFILES):
                for firm in (0, 1):
                    key = ((s_i * 2 + res) * len(PROFILES) + p_i) * 2 + firm
                    templates = reference.templates(state, bool(res), profile, bool(firm))
                    key_start[key] = len(tmpl_class)
                    key_count[key] = len(templates)
                    for t in templates:
                        tmpl_class.append(t.license_class_code)
                        tmpl_class_name.append(t.license_class)
                        tmpl_loas.append(t.loa_codes)
                        tmpl_extras.append(t.extra_loa_codes)
    world.class_names = np.array(tmpl_class_name, dtype=object)
    t_class = np.array(tmpl_class)
    t_loa_count = np.array([len(x) for x in tmpl_loas])
    t_loa_start = np.concatenate([[0], np.cumsum(t_loa_count)[:-1]])
    t_loa_flat = np.array([c for x in tmpl_loas for c in x], dtype=np.int64)
    t_extra_count = np.array([len(x) for x in tmpl_extras])
    t_extra_start = np.concatenate([[0], np.cumsum(t_extra_count)[:-1]])
    t_extra_flat = np.array([c for x in tmpl_extras for c in x] or [0], dtype=np.int64)

    slot_key = (
        (slot_state * 2 + slot_res) * len(PROFILES) + world.profile[slot_prod]
    ) * 2 + is_firm[slot_prod]
    lic_per_slot = key_count[slot_key]
    lic_slot = np.repeat(np.arange(len(slot_key)), lic_per_slot)
    lic_slot_start = np.concatenate([[0], np.cumsum(lic_per_slot)[:-1]])
    lic_within = np.arange(len(lic_slot)) - np.repeat(lic_slot_start, lic_per_slot)
    lic_t = key_start[slot_key][lic_slot] + lic_within
    n_lic = len(lic_t)

    world.lic_producer = slot_prod[lic_slot]
    world.lic_state = slot_state[lic_slot]
    world.lic_resident = slot_res[lic_slot]
    world.lic_template = lic_t
    world.lic_class = t_class[lic_t]
    world.lic_start = np.searchsorted(world.lic_producer, np.arange(n + 1))

    # Dates: past dates are on or before `epoch` (the base world is the state as of epoch);
    # expirations are spread around `today` so the 30/60/90-day windows are populated.
    u = rng.random(n_lic)
    expires = np.where(
        u < 0.04,
        today - rng.integers(1, 400, n_lic),
        np.where(
            u < 0.16, today + rng.integers(0, 91, n_lic), today + rng.integers(91, 731, n_lic)
        ),
    )
    issued = np.minimum(epoch - rng.integers(60, 9000, n_lic), expires - 180)
    expired = expires < today
    active = np.where(expired, rng.random(n_lic) < 0.2, rng.random(n_lic) >= 0.04)
    world.lic_expire = expires
    world.lic_issue = issued
    world.lic_active = active
    world.lic_updated = np.maximum(issued, epoch - rng.integers(0, 400, n_lic))
    world.lic_number = _license_numbers(rng, world, n_lic)

    # ---------------------------------------------------------------- lines of authority
    base_count = t_loa_count[lic_t]
    has_extra = (rng.random(n_lic) < 0.12) & (t_extra_count[lic_t] > 0)
    loas_per = base_count + has_extra
    loa_lic = np.repeat(np.arange(n_lic), loas_per)
    world.loa_start = np.concatenate([[0], np.cumsum(loas_per)])
    pos = np.arange(len(loa_lic)) - np.repeat(world.loa_start[:-1], loas_per)
    t = lic_t[loa_lic]
    pick = rng.integers(0, 1 << 30, len(loa_lic))
    extra_pos = t_extra_start[t] + pick % np.maximum(t_extra_count[t], 1)
    world.loa_code = np.where(
        pos < base_count[loa_lic],
        t_loa_flat[t_loa_start[t] + np.minimum(pos, base_count[loa_lic] - 1)],
        t_extra_flat[np.minimum(extra_pos, len(t_extra_flat) - 1)],
    )
    n_loa = len(loa_lic)
    lic_issue = issued[loa_lic]
    span = np.maximum(epoch - lic_issue, 1)
    world.loa_issue = np.where(
        pos == 0, lic_issue, lic_issue + (rng.random(n_loa) * span * 0.5).astype(np.int64)
    )
    lic_ok = active[loa_lic]
    world.loa_active = lic_ok & (rng.random(n_loa) >= 0.04)
    reason = np.full(n_loa, -1)  # -1: none; 0..: LOA_INACTIVE_REASONS; -2 license inactive
    own = lic_ok & ~world.loa_active
    reason[own] = rng.integers(0, len(LOA_INACTIVE_REASONS), int(own.sum()))
    reason[~lic_ok] = -2
    world.loa_reason = reason
    world.loa_reason_date = np.where(
        world.loa_active,
        world.loa_issue,
        np.minimum(
            world.loa_issue
            + (rng.random(n_loa) * np.maximum(epoch - world.loa_issue, 1)).astype(np.int64),
            epoch,
        ),
    )
    world.loa_initial_issue = world.loa_active & (rng.random(n_loa) < 0.2)

    # ---------------------------------------------------------------- appointments
    n_companies = len(world.companies)
    per_producer = np.minimum(rng.choice(4, n, p=[0.3, 0.45, 0.18, 0.07]), n_companies)
    offset = rng.integers(0, n_companies, n)
    m = per_producer[world.lic_producer]
    pair_lic = np.repeat(np.arange(n_lic), m)
    pair_start = np.concatenate([[0], np.cumsum(m)[:-1]])
    pair_slot = np.arange(len(pair_lic)) - np.repeat(pair_start, m)
    pair_company = (offset[world.lic_producer[pair_lic]] + pair_slot) % n_companies
    keep_p = np.where(world.lic_resident[pair_lic], 0.85, 0.35) * np.where(active[pair_lic], 1, 0.3)
    keep = rng.random(len(pair_lic)) < keep_p
    pair_lic, pair_company = pair_lic[keep], pair_company[keep]
    n_pairs = len(pair_lic)
    p_issue = issued[pair_lic]
    effective = p_issue + (rng.random(n_pairs) * np.maximum(epoch - p_issue, 1)).astype(np.int64)
    terminated = rng.random(n_pairs) < np.where(active[pair_lic], 0.1, 0.6)
    term_date = np.minimum(
        effective + 1 + (rng.random(n_pairs) * np.maximum(epoch - effective, 1)).astype(np.int64),
        epoch,
    )
    term_reason = rng.integers(0, len(TERMINATION_REASONS), n_pairs)
    years = np.ceil((today - effective + 1) / 365).astype(np.int64)
    renewal = effective + np.maximum(years, 1) * 365

    counts = np.diff(world.loa_start)[pair_lic]
    app_pair = np.repeat(np.arange(n_pairs), counts)
    app_pair_start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    app_loa = world.loa_start[pair_lic][app_pair] + (
        np.arange(len(app_pair)) - np.repeat(app_pair_start, counts)
    )
    keep_loa = rng.random(len(app_pair)) < np.where(world.loa_active[app_loa], 0.92, 0.15)
    app_pair, app_loa = app_pair[keep_loa], app_loa[keep_loa]
    app_lic = pair_lic[app_pair]
    order = np.argsort(world.lic_producer[app_lic], kind="stable")
    app_pair, app_loa, app_lic = app_pair[order], app_loa[order], app_lic[order]
    world.app_producer = world.lic_producer[app_lic]
    world.app_state = world.lic_state[app_lic]
    world.app_company = pair_company[app_pair]
    world.app_loa_code = world.loa_code[app_loa]
    world.app_terminated = terminated[app_pair]
    world.app_effective = np.maximum(effective[app_pair], world.loa_issue[app_loa])
    world.app_term_date = np.where(
        world.app_terminated, np.maximum(term_date[app_pair], world.app_effective), -1
    )
    world.app_reason = np.where(world.app_terminated, term_reason[app_pair], -1)
    world.app_renewal = np.where(world.app_terminated, -1, renewal[app_pair])
    world.app_start = np.searchsorted(world.app_producer, np.arange(n + 1))


def _license_numbers(rng: np.random.Generator, world: World, count: int) -> np.ndarray:
    """State-styled license numbers, kept as text (some start with 0, as CA's do)."""
    style = np.array([names.LICENSE_NUMBER_STYLE.get(s, 1) for s in world.states])[world.lic_state]
    digits = rng.integers(100_000, 99_999_999, count)
    letters = rng.integers(0, 26, count)
    npns = world.npn[world.lic_producer]
    within = np.arange(count) - world.lic_start[world.lic_producer]
    out = np.empty(count, dtype=object)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for i, (s, d, letter, npn, w) in enumerate(
        zip(
            style.tolist(),
            digits.tolist(),
            letters.tolist(),
            npns.tolist(),
            within.tolist(),
            strict=True,
        )
    ):
        if s == 0 and w == 0:  # states that use the NPN as license number
            out[i] = npn
        elif s == 2:
            out[i] = f"0{alphabet[letter]}{d % 100000:05d}"
        else:
            out[i] = str(d)
    return out


# ====================================================================== records
def _demographics(world: World, index: int, version: int, updated: date) -> Demographics:
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
    local = _email_local(
        _firm_name(world, index)
        if world.is_firm[index]
        else f"{names.FIRST_NAMES[world.first_idx[index]]}.{names.LAST_NAMES[world.last_idx[index]]}"
    )
    suffix = "" if version == 0 else str(version)
    email = f"{local}{suffix}@{names.EMAIL_DOMAINS[index % len(names.EMAIL_DOMAINS)]}"
    phone = f"{area}-555-{rng.randrange(100, 199):04d}"
    fax = f"{area}-555-{rng.randrange(200, 299):04d}"
    return Demographics(email, phone, fax, home, office, updated)


def _firm_name(world: World, index: int) -> str:
    first, second = divmod(int(world.firm_idx[index]), len(names.FIRM_SECOND))
    return f"{names.FIRM_FIRST[first]} {names.FIRM_SECOND[second]}"


def _base_record(world: World, index: int) -> Producer:
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
        firm_name=_firm_name(world, index) if firm else "",
        fein=str(world.fein[index]) if firm else "",
        fake_ssn=fake_ssn,
        birth_date=None if firm else _date(world.birth_days[index]),
        resident_state=state,
        profile=PROFILES[int(world.profile[index])],
        agency_npn=str(world.npn[agency]) if agency >= 0 else "",
        demographics=_demographics(world, index, 0, world.epoch - timedelta(days=index % 300)),
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
            _date(issued),
            _date(expires),
            _date(updated),
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
                    _date(loa_issue[j]),
                    loa_active[j],
                    text,
                    _date(loa_reason_date[j]),
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
                effective_date=_date(effective),
                termination_date=_date(term) if terminated else None,
                termination_reason=TERMINATION_REASONS[reason] if terminated else "",
                status_reason_date=_date(term if terminated else effective),
                renewal_date=None if terminated else _date(renewal),
            )
        )
    return producer


# ====================================================================== frames
def _base_frames(world: World) -> dict[str, pd.DataFrame]:
    reference = world.reference
    states = np.array(world.states, dtype=object)
    n = world.size
    firm = world.is_firm
    first = np.array(names.FIRST_NAMES, dtype=object)[world.first_idx]
    last = np.array(names.LAST_NAMES, dtype=object)[world.last_idx]
    firm_names = np.array([_firm_name(world, i) for i in np.flatnonzero(firm)], dtype=object)
    first = np.where(firm, "", first)
    last = np.where(firm, "", last)
    firm_col = np.full(n, "", dtype=object)
    firm_col[firm] = firm_names
    first_local = np.array([_email_local(x) for x in names.FIRST_NAMES], dtype=object)
    last_local = np.array([_email_local(x) for x in names.LAST_NAMES], dtype=object)
    local = first_local[world.first_idx] + "." + last_local[world.last_idx]
    local[firm] = np.array([_email_local(x) for x in firm_names], dtype=object)
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
            "birth_date": _to_datetime(world.birth_days, missing=firm),
        }
    )

    lic_state = states[world.lic_state]
    expired = world.lic_expire < _days(world.today)
    licenses = pd.DataFrame(
        {
            "npn": world.npn[world.lic_producer],
            "state_code": lic_state,
            "license_number": world.lic_number,
            "license_class_code": _codes_text(world.lic_class),
            "license_class": world.class_names[world.lic_template],
            "is_resident": world.lic_resident,
            "is_active": world.lic_active,
            "issue_date": _to_datetime(world.lic_issue),
            "expiration_date": _to_datetime(world.lic_expire),
            "nipr_updated_at": _to_datetime(world.lic_updated),
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
            "loa_code": _codes_text(world.loa_code),
            "loa_name": loa_names,
            "is_active": world.loa_active,
            "issue_date": _to_datetime(world.loa_issue),
            "license_class_code": _codes_text(world.lic_class)[loa_lic],
            "status_reason": reason,
            "status_reason_date": _to_datetime(world.loa_reason_date),
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
            "loa_code": _codes_text(world.app_loa_code),
            "loa_name": app_loa_names,
            "company_name": company_names[world.app_company],
            "status": np.where(terminated, "Terminated", "Appointed"),
            "effective_date": _to_datetime(world.app_effective),
            "termination_reason": np.where(
                terminated,
                np.array(TERMINATION_REASONS, dtype=object)[np.maximum(world.app_reason, 0)],
                "",
            ),
            "status_reason_date": _to_datetime(
                np.where(terminated, world.app_term_date, world.app_effective)
            ),
            "renewal_date": _to_datetime(world.app_renewal, missing=terminated),
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
