"""The data folder's NIPR world: which generated producers the embedded default's sandbox knows.

`npnflow demo`, `npnflow ui` and `npnflow sandbox-nipr` each start a sandbox. Each used to
choose its own world (200 producers on a random port for the demo, 500 on :8790 for the UI), so
the producers the demo onboarded did not exist in the UI's NIPR and every later call for them
was "Producer was not found in the PDB". The world is now part of the data folder, like the
database it has to agree with: `<data folder>/nipr_world.yaml`, written with the defaults on
first use and read by every command after that. An analyst may read and edit it.

A world is a pure function of (seed, number of producers, the customer's companies, the date it
is generated around): `npnflow.sandbox.generator.generate_world`. The date is recorded on first
use, so the world does not change overnight; the sandbox's clock follows the wall clock unless
`frozen_today` is set. The companies are always the customer's (`config/companies.yaml`), so
NIPR's producers hold appointments with them.

An explicit option (`--producers`, `--seed`) is an override for one command: it says that it
differs from the data folder's world and never rewrites the file. On a data folder without the
file, the options given are the world it is born with.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml  # type: ignore[import-untyped, unused-ignore]

from npnflow.sandbox.gateway_answers import ANSWERS_FILE_NAME
from resources import paths

if TYPE_CHECKING:
    from npnflow.sandbox.generator import World
    from npnflow.sandbox.server import NiprSandbox

DEFAULT_SEED = 7
DEFAULT_PRODUCERS = 200
WORLD_FILE_NAME = "nipr_world.yaml"

_HEADER = """\
# The NIPR world of this data folder: the producers the local NIPR sandbox knows.
# `npnflow demo`, `npnflow ui` and `npnflow sandbox-nipr` all start the sandbox with it, so the
# producers onboarded here are the ones NIPR answers for. Edit it to choose another world;
# the database then holds producers the new world may not know (`make reset` starts afresh).
#   seed:          which producers are generated (same seed, same producers)
#   producers:     how many producers NIPR knows
#   world_date:    the date the world was generated around (its licenses' and appointments'
#                  dates); recorded on first use so the world stays the same on later days
#   frozen_today:  empty: the sandbox's clock follows the wall clock; a date (YYYY-MM-DD):
#                  NIPR's "today" stays at noon that day
# List its NPNs with `npnflow sandbox-nipr npns`.
"""


class WorldFileError(ValueError):
    """The data folder's world file cannot be used; the message says which line to fix."""


@dataclass(frozen=True)
class WorldSettings:
    seed: int = DEFAULT_SEED
    producers: int = DEFAULT_PRODUCERS
    world_date: dt.date | None = None
    frozen_today: dt.date | None = None

    def describe(self) -> str:
        clock = (
            f"clock frozen at {self.frozen_today.isoformat()}"
            if self.frozen_today
            else "clock following the wall clock"
        )
        around = f", generated around {self.world_date.isoformat()}" if self.world_date else ""
        return f"seed {self.seed}, {self.producers} producers{around}, {clock}"


@dataclass(frozen=True)
class DataFolderWorld:
    """The world a command uses: the data folder's, with this command's overrides, if any."""

    settings: WorldSettings
    path: Path
    created: bool  # written just now: a new data folder (or a new world file)
    overrides: tuple[str, ...]  # what differs from the file, as "producers 150 (file: 200)"

    @property
    def answers_file(self) -> Path | None:
        """Where the sandbox keeps what its Gateway accepted, for the next sandbox of this
        world; None for a world overridden for one command (the answers are another world's)."""
        return None if self.overrides else self.path.parent / ANSWERS_FILE_NAME


def world_file() -> Path:
    return paths.data_dir() / WORLD_FILE_NAME


def _date(value: object, name: str, path: Path) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise WorldFileError(
            f"{path}: {name}: {value!r} is not a date; write it as YYYY-MM-DD, or leave it empty"
        ) from None


def _whole(value: object, name: str, path: Path, default: int) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not str(value).strip().isdigit() or int(str(value)) < 1:
        raise WorldFileError(f"{path}: {name}: {value!r} is not a whole number of 1 or more")
    return int(str(value))


def read_world_file(path: Path) -> WorldSettings:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise WorldFileError(
            f"{path} is not readable YAML ({error}); fix it or delete it"
        ) from None
    if not isinstance(data, dict):
        raise WorldFileError(f"{path} must hold 'name: value' lines (seed, producers, ...)")
    unknown = sorted(set(data) - {"seed", "producers", "world_date", "frozen_today"})
    if unknown:
        raise WorldFileError(
            f"{path}: unknown setting(s) {', '.join(map(str, unknown))}; the settings are seed, "
            "producers, world_date and frozen_today"
        )
    return WorldSettings(
        seed=_whole(data.get("seed"), "seed", path, DEFAULT_SEED),
        producers=_whole(data.get("producers"), "producers", path, DEFAULT_PRODUCERS),
        world_date=_date(data.get("world_date"), "world_date", path),
        frozen_today=_date(data.get("frozen_today"), "frozen_today", path),
    )


def write_world_file(path: Path, settings: WorldSettings) -> None:
    def text(value: dt.date | None) -> str:
        return value.isoformat() if value else ""

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        _HEADER
        + f"seed: {settings.seed}\n"
        + f"producers: {settings.producers}\n"
        + f"world_date: {text(settings.world_date)}\n"
        + f"frozen_today: {text(settings.frozen_today)}\n",
        encoding="utf-8",
    )


def data_folder_world(
    *, seed: int | None = None, producers: int | None = None, today: dt.date | None = None
) -> DataFolderWorld:
    """The data folder's world, created on first use; `seed`/`producers` override it for one
    command (on a new data folder they are what the world is created with)."""
    path = world_file()
    created = not path.exists()
    if created:
        settings = WorldSettings(
            seed=seed or DEFAULT_SEED,
            producers=producers or DEFAULT_PRODUCERS,
            world_date=today or dt.date.today(),
        )
        write_world_file(path, settings)
        return DataFolderWorld(settings, path, created=True, overrides=())
    stored = read_world_file(path)
    if stored.world_date is None:
        # Written by hand without a date: fix it now, or the world would move every day.
        stored = replace(stored, world_date=stored.frozen_today or today or dt.date.today())
        write_world_file(path, stored)
    overrides = []
    chosen = stored
    if seed is not None and seed != stored.seed:
        overrides.append(f"seed {seed} (the data folder's world: {stored.seed})")
        chosen = replace(chosen, seed=seed)
    if producers is not None and producers != stored.producers:
        overrides.append(f"{producers} producers (the data folder's world: {stored.producers})")
        chosen = replace(chosen, producers=producers)
    return DataFolderWorld(chosen, path, created=False, overrides=tuple(overrides))


def customer_companies() -> Any:
    """The customer's companies (config/companies.yaml): NIPR's producers are appointed with
    them, so appointments and terminations have lines to act on."""
    from assets.reference.loading import load_company_config, load_reference_data

    reference = load_reference_data(paths.reference_dir())
    return load_company_config(paths.config_dir(), reference)["companies"]


def generate(settings: WorldSettings, companies: Any = None) -> World:
    from npnflow.sandbox.generator import generate_world

    return generate_world(
        seed=settings.seed,
        producers=settings.producers,
        companies=customer_companies() if companies is None else companies,
        today=settings.world_date,
    )


def sandbox_for(
    settings: WorldSettings,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    companies: Any = None,
    answers_file: Path | None = None,
) -> NiprSandbox:
    """A sandbox (not started) serving this world, its clock as the settings say; with
    `answers_file` (`DataFolderWorld.answers_file`), it remembers what an earlier sandbox of
    the world accepted at its Gateway and records what it accepts (gateway_answers.py)."""
    from npnflow.sandbox.server import NiprSandbox

    return NiprSandbox(
        host=host,
        port=port,
        today=settings.frozen_today,
        world=generate(settings, companies),
        gateway_answers_file=answers_file,
    )


@dataclass(frozen=True)
class WorldNpn:
    npn: str
    name: str
    resident_state: str
    licensed_states: tuple[str, ...]  # active licenses, resident state first


def world_npns(world: World, limit: int | None = None) -> list[WorldNpn]:
    """The individual producers of the world, in NPN order, as a newcomer reads them."""
    listed = []
    for npn in world.individual_npns()[:limit]:
        producer = world.producer(npn)
        if producer is None:
            continue
        name = producer.display_name
        states = sorted(
            {lic.state for lic in producer.licenses if lic.is_active},
            key=lambda state: (state != producer.resident_state, state),
        )
        listed.append(WorldNpn(npn, name, producer.resident_state, tuple(states)))
    return listed
