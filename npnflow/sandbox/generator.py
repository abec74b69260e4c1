"""The sandbox's world: producers, licenses, lines of authority and appointments, generated.

Pure and deterministic: `generate_world(seed=..., producers=..., today=...)` always builds the
same world for the same arguments. `World.to_frames()` turns it into pandas frames with the
SPEC section 3 columns, and `World.producer(npn)` materialises one producer as records for the
XML replies.

The base world is the state as of `epoch` (`today` minus `HISTORY_DAYS`); `changes.py` holds the
daily change model that moves it forward one report day at a time, so the world as of any day
is a pure function of (seed, arguments, day).

This module is the entry point and sits on top of the parts (none of them imports it):
`world_data.py` (what a world holds), `building.py` (drawing the columns),
`producer_records.py` (one producer as records), `changes.py` (the daily changes) and
`frames.py` (the frames).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import pandas as pd

from npnflow.sandbox import changes
from npnflow.sandbox.building import build_columns
from npnflow.sandbox.changes import Change
from npnflow.sandbox.frames import base_frames, patch_frames
from npnflow.sandbox.producer_records import base_producer
from npnflow.sandbox.records import Producer
from npnflow.sandbox.reference import Reference, load_reference
from npnflow.sandbox.world_data import HISTORY_DAYS, Company, WorldData

__all__ = [
    "DEFAULT_COMPANIES",
    "HISTORY_DAYS",
    "Company",
    "World",
    "generate_world",
    "normalize_companies",
]

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


class World(WorldData):
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
        super().__init__(seed, producers, companies, today, reference)
        build_columns(self, firm_fraction)

    def base_producer(self, index: int) -> Producer:
        """Producer `index` as of `epoch` (before any daily change)."""
        return base_producer(self, index)

    def producer(self, npn: str, as_of: date | None = None) -> Producer | None:
        """Producer `npn` as of `as_of` (default: `today`), daily changes applied."""
        index = self.npn_to_index(npn)
        if index is None:
            return None
        return changes.producer_as_of(self, index, as_of or self.today)[0]

    def changes_on(self, day: date, npns: Iterable[str] | None = None) -> list[Change]:
        """What changed on report day `day` (whole category per state), for `npns` or all."""
        return changes.changes_on(self, day, npns)

    def to_frames(self, as_of: date | None = None) -> dict[str, pd.DataFrame]:
        """SPEC section 3 frames (producers, licenses, license_loas, appointments, companies)."""
        return patch_frames(self, base_frames(self), as_of or self.today)


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
