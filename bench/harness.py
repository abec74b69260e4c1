"""What every end-to-end benchmark (`bench/e2e_*.py`) shares: the database it runs on, a
generated world loaded into it, the machine and memory figures, and the one way a result is
printed and written (time, floor measured in the same run, ratio, peak RSS, JSON).

A floor is the same data movement done the cheapest honest way (plain `requests` on the same
threads, bare lxml, `executemany`/`COPY` of the same rows), measured in the same process right
beside the path, so a noisy shared machine moves both alike and only the ratio is compared.

The database: `--database-url` names a PostgreSQL server (or any SQLAlchemy URL); a fresh,
uniquely named database is created on it, migrated, and dropped afterwards. Without it, a
fresh SQLite file in a temporary folder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

if TYPE_CHECKING:
    import pandas as pd

    from resources.database import OperationalDatabase

# NPNFLOW_BENCH_RESULTS: another folder for the JSON (the tests that run every benchmark small
# write there, so a real measurement in bench/results is never overwritten by a smoke run).
RESULTS_DIR = Path(
    os.environ.get("NPNFLOW_BENCH_RESULTS") or Path(__file__).resolve().parent / "results"
)
WORLD_DAY = dt.date(2026, 11, 20)


# --- memory and machine --------------------------------------------------------------------


def rss_mb(field_name: str = "VmRSS") -> float:
    """The process's resident set (VmRSS) or its peak (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rss_mb() -> float:
    return rss_mb("VmHWM")


def reset_peak_rss() -> None:
    """Start a new peak (Linux: writing 5 to clear_refs resets VmHWM), so one process can
    measure the peak of each phase. Ignored where the kernel does not allow it."""
    with suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def machine() -> dict[str, Any]:
    import pandas as pd
    import sqlalchemy as sa

    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "pandas": pd.__version__,
        "sqlalchemy": sa.__version__,
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
    }


# --- the database --------------------------------------------------------------------------


def add_database_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        default=None,
        help=(
            "SQLAlchemy URL of a server (e.g. postgresql+psycopg2://postgres@127.0.0.1:5432/"
            "postgres): a fresh database is created on it and dropped afterwards. "
            "Default: a fresh SQLite file."
        ),
    )


def backend_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


@contextmanager
def fresh_database_url(server_url: str | None) -> Iterator[str]:
    """A URL of a new, empty database: on `server_url`'s server, or a temporary SQLite file."""
    if server_url is None or server_url.startswith("sqlite"):
        with tempfile.TemporaryDirectory(prefix="npnflow-bench-") as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    server = sa.make_url(server_url)
    engine = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"npnflow_bench_{uuid.uuid4().hex[:12]}"  # generated, never user input
    with engine.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@contextmanager
def bench_database(server_url: str | None) -> Iterator[OperationalDatabase]:
    """A fresh migrated database holding the shipped reference tables and company setup."""
    from assets.reference.loading import load_company_config, load_reference_data
    from resources import paths
    from resources.database import OperationalDatabase
    from schemas.migrate import upgrade

    with fresh_database_url(server_url) as url:
        upgrade(url)
        database = OperationalDatabase(url=url)
        reference = load_reference_data(paths.reference_dir())
        database.replace_tables(reference)
        database.replace_tables(load_company_config(paths.config_dir(), reference))
        try:
            yield database
        finally:
            if database._engine is not None:
                database._engine.dispose()


# --- a generated world ---------------------------------------------------------------------


def world_frames(
    producers: int, seed: int = 7, today: dt.date = WORLD_DAY
) -> dict[str, pd.DataFrame]:
    """The sandbox world's SPEC section 3 frames (producers, licenses, license_loas,
    appointments), with the companies of config/companies.yaml, every producer synced."""
    from assets.reference.loading import load_company_config, load_reference_data
    from npnflow.sandbox.generator import generate_world
    from resources import paths
    from schemas.tables import metadata

    reference = load_reference_data(paths.reference_dir())
    companies = load_company_config(paths.config_dir(), reference)["companies"]
    world = generate_world(seed=seed, producers=producers, companies=companies, today=today)
    frames = world.to_frames()
    tables = ("producers", "licenses", "license_loas", "appointments")
    return {
        name: frames[name][[c for c in frames[name].columns if c in metadata.tables[name].c]]
        for name in tables
    }


# --- timing and the result -----------------------------------------------------------------


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = action()
    return time.perf_counter() - started, value


@dataclass
class Measurement:
    """One path against its floor, measured in the same run."""

    path: str
    seconds: float
    floor_seconds: float
    target_ratio: float = 2.0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.seconds / self.floor_seconds if self.floor_seconds > 0 else float("inf")

    @property
    def meets_target(self) -> bool:
        return self.ratio <= self.target_ratio


def report(
    benchmark: str,
    backend: str,
    measurements: list[Measurement],
    *,
    sizes: dict[str, Any],
    extra: dict[str, Any] | None = None,
    extra_verdicts: dict[str, bool] | None = None,
) -> int:
    """Print each path's time, floor, ratio and verdict, the peak RSS and the machine, and
    write bench/results/<benchmark>_<backend>.json. Returns the exit code (0: every target met)."""
    peak = peak_rss_mb()
    info = machine()
    print(
        f"{benchmark} on {backend}: {', '.join(f'{k} {v:,}' if isinstance(v, int) else f'{k} {v}' for k, v in sizes.items())}"
    )
    for m in measurements:
        verdict = "PASS" if m.meets_target else "FAIL"
        print(
            f"  {m.path:<40} {m.seconds:9.2f} s  floor {m.floor_seconds:8.2f} s  "
            f"ratio {m.ratio:5.2f} (target <= {m.target_ratio:g}): {verdict}"
        )
    for name, ok in (extra_verdicts or {}).items():
        print(f"  {name}: {'PASS' if ok else 'FAIL'}")
    print(f"  peak RSS {peak:,.0f} MB")
    print(f"  machine: {info}")
    passed = all(m.meets_target for m in measurements) and all((extra_verdicts or {}).values())
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{benchmark}_{backend}.json"
    path.write_text(
        json.dumps(
            {
                "benchmark": benchmark,
                "backend": backend,
                "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "machine": info,
                "sizes": sizes,
                "measurements": [
                    {
                        "path": m.path,
                        "seconds": round(m.seconds, 3),
                        "floor_seconds": round(m.floor_seconds, 3),
                        "ratio": round(m.ratio, 3),
                        "target_ratio": m.target_ratio,
                        "meets_target": m.meets_target,
                        **m.details,
                    }
                    for m in measurements
                ],
                "peak_rss_mb": round(peak, 1),
                "verdicts": extra_verdicts or {},
                "passed": passed,
                **(extra or {}),
            },
            indent=2,
            default=str,
        )
        + "\n"
    )
    print(
        f"  written to {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}"
    )
    return 0 if passed else 1
