"""Building a world's columns: producers, licenses, lines of authority and appointments, drawn
column-wise with numpy from one seeded generator.

Column-wise so that 200,000 producers with about a million licenses take seconds. Separate from
`generator.py` (what a world is and how it is read) because this is the one place that draws
the random numbers: the order of the draws below is the world, so any change here changes
every generated world (and the tests that compare them).

What makes it realistic (and what the pipeline's rules need to see):
- every producer holds a resident license of the state's producer class
  (`config/reference/producer_license_classes.csv`), and 0-8 non-resident ones (1.5% hold 20+);
- lines of authority come from NIPR's workbook Assignments for that state and class (never code
  101 "None"), chosen by the producer's line of business (life/health, P&C, all lines, personal);
  NY splits life/health and P&C into two classes, so an all-lines NY producer holds two licenses;
- some licenses are expired, some inactive, some expire within 30/60/90 days of `today`;
- appointments with the given companies (the customer's, or a few fictional carriers) per
  state and line, some Terminated with a reason.
"""

from __future__ import annotations

import math

import numpy as np

from npnflow.sandbox import names
from npnflow.sandbox.days import day_number
from npnflow.sandbox.reference import PROFILES
from npnflow.sandbox.world_data import (
    LOA_INACTIVE_REASONS,
    TERMINATION_REASONS,
    Ints,
    Texts,
    WorldData,
)


def _unique_npns(rng: np.random.Generator, count: int) -> Ints:
    """Distinct NPNs of 6 to 10 digits, never starting with 0 (NIPR numbers are integers)."""
    lengths = rng.choice([6, 7, 8, 9, 10], size=count, p=[0.03, 0.17, 0.55, 0.2, 0.05])
    low, high = 10 ** (lengths - 1), 10**lengths
    values: Ints = low + (rng.random(count) * (high - low)).astype(np.int64)
    while True:
        _, first = np.unique(values, return_index=True)
        duplicate = np.ones(count, dtype=bool)
        duplicate[first] = False
        if not duplicate.any():
            return values
        n = int(duplicate.sum())
        values[duplicate] = 10_000_000 + (rng.random(n) * 89_999_999).astype(np.int64)


def build_columns(world: WorldData, firm_fraction: float) -> None:
    """Fill every column of `world` (as of its `epoch`) from its seed and arguments."""
    rng = np.random.default_rng([world.seed, 0x5A4D])
    reference = world.reference
    n = world.size
    n_states = len(world.states)
    epoch = day_number(world.epoch)
    today = day_number(world.today)

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
    tmpl_class: list[int] = []
    tmpl_class_name: list[str] = []
    tmpl_loas: list[tuple[int, ...]] = []
    tmpl_extras: list[tuple[int, ...]] = []
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
    world.lic_number = _share_numbers_across_classes(
        world, _license_numbers(rng, world, n_lic), lic_slot_start[lic_slot], lic_within
    )

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


# NIPR files one license number under several classes (a VA number carries two; ADR 0023). One
# producer in SHARED_NUMBER_EVERY (by NPN) holds the later classes of a state under the number
# of its first license there, so the sandbox serves such reports too. Chosen from the NPN, not
# drawn: the rest of the world (the order of draws) stays as it was.
SHARED_NUMBER_EVERY = 4


def _share_numbers_across_classes(
    world: WorldData, numbers: Texts, first_of_state: Ints, within_state: Ints
) -> Texts:
    """`numbers` with the later licenses of a sharing producer's state renumbered to the
    state's first license (`first_of_state`: the index of that license; `within_state`: the
    license's position among the producer's licenses of the state)."""
    sharing = world.npn.astype(np.int64) % SHARED_NUMBER_EVERY == 0
    share = (within_state > 0) & sharing[world.lic_producer]
    out = numbers.copy()
    out[share] = numbers[first_of_state[share]]
    return out


def _license_numbers(rng: np.random.Generator, world: WorldData, count: int) -> Texts:
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
