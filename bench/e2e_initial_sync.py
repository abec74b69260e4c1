"""Initial sync end to end (issue 17): new producers' Entity Info from the NIPR sandbox over
HTTP into a fresh database, against its floor measured in the same run; and its memory.

Speed (`--producers`, default 2,000): the sandbox serves a generated world (seed 7, the
companies of config/companies.yaml) from a process of its own, as NIPR is remote; a fresh
database (SQLite, or `--database-url` for a PostgreSQL server) holds the world's producers
in `Not Started`, without licenses. Timed: `sync_producers` (the asset's code path) with the
real `NiprClient` on 4 workers. The floor, in the same run: the same Entity Info URLs fetched
with plain `requests` on 4 threads, each reply parsed with bare lxml (`etree.fromstring` and
a walk taking every license, line and appointment element's values), then the rows the sync
wrote (read back, then deleted) written again the cheapest way: one `executemany` per table
on SQLite, `COPY` on PostgreSQL (the producers' status through a staging table).

Memory (`--memory-sizes`, default 500 and 5,000): the sync alone at each size, each in a
subprocess of its own (this script with `--measure-rss-only`), so the peak RSS of one does
not hide the other's; the sandbox and the database are prepared by the parent. Printed: the
peak RSS ratio (target <= 1.3), and the time 100,000 producers would take at the larger
run's rate (target < 30 minutes).

Usage: .venv/bin/python bench/e2e_initial_sync.py [--database-url URL] [--producers 2000]
       [--memory-sizes 500 5000] [--skip-memory] [--skip-speed]
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from harness import (
    WORLD_DAY,
    Measurement,
    add_database_argument,
    backend_of,
    bench_database,
    peak_rss_mb,
    report,
    rss_mb,
    world_frames,
)

WORKERS = 4
SEED = 7
RSS_TARGET = 1.3
PROJECTED_PRODUCERS = 100_000
PROJECTED_TARGET_SECONDS = 30 * 60
WRITTEN_TABLES = ("licenses", "license_loas", "appointments", "nipr_scope_reports")
PRODUCER_COLUMNS = ("npn", "first_name", "last_name", "email", "sync_status", "last_synced_at")
ENTITY_INFO_PATH = "/pdb-xml-reports/entityinfo_xml.cgi"

log = logging.getLogger("e2e_initial_sync")


# --- the sandbox, in a process of its own --------------------------------------------------


def serve_sandbox(producers: int) -> None:
    """`--serve-sandbox N`: serve the world of N producers; print the URL; stop on stdin EOF."""
    from assets.reference.loading import load_company_config, load_reference_data
    from npnflow.sandbox.server import NiprSandbox
    from resources import paths

    reference = load_reference_data(paths.reference_dir())
    companies = load_company_config(paths.config_dir(), reference)["companies"]
    sandbox = NiprSandbox(
        port=0, seed=SEED, producers=producers, companies=companies, today=WORLD_DAY
    )
    sandbox.start()
    print(json.dumps({"base_url": sandbox.base_url, "npns": list(sandbox.world.npns)}), flush=True)
    sys.stdin.read()
    sandbox.stop()


@contextmanager
def sandbox_process(producers: int) -> Iterator[tuple[str, list[str]]]:
    """The sandbox serving N producers in a child process: (base URL, its NPNs)."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve-sandbox", str(producers)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line:
            raise RuntimeError("the sandbox process did not start")
        served = json.loads(line)
        yield served["base_url"], served["npns"]
    finally:
        if child.stdin is not None:
            child.stdin.close()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def nipr_client(base_url: str) -> Any:
    from resources.nipr import NiprClient

    return NiprClient(
        pdb_base_url=base_url,
        alerts_base_url=base_url,
        gateway_base_url=base_url,
        username="sandbox",
        password="sandbox",
    )


# --- the database --------------------------------------------------------------------------


def load_waiting_producers(database: Any, producers: int, npns: list[str]) -> None:
    """The world's producers, `Not Started`, no licenses: what an agent file leaves."""
    frame = world_frames(producers, seed=SEED)["producers"]
    if sorted(frame["npn"].astype(str)) != sorted(npns):
        raise RuntimeError("the database's world and the sandbox's differ")
    frame = frame.assign(sync_status="Not Started", last_synced_at=None)
    database.replace_tables({"producers": frame})


def run_sync(database: Any, base_url: str, npns: list[str]) -> Any:
    from assets.nipr.initial_sync import sync_producers

    nipr = nipr_client(base_url)
    try:
        return sync_producers(database, nipr, sorted(npns), WORKERS, log)
    finally:
        nipr.close()


# --- the floor -----------------------------------------------------------------------------


def floor_fetch(base_url: str, npns: list[str]) -> int:
    """Plain requests on WORKERS threads, bare lxml: the rows' values, counted."""
    import requests
    from lxml import etree

    local = threading.local()
    url = base_url + ENTITY_INFO_PATH

    def one(npn: str) -> int:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.auth = ("sandbox", "sandbox")
        reply = session.get(url, params={"id_entity": npn}, timeout=30)
        reply.raise_for_status()
        root = etree.fromstring(reply.content)
        rows = [
            tuple(child.text for child in element)
            for element in root.iter("LICENSE", "DETAIL", "APPOINTMENT")
        ]
        rows.append((root.findtext(".//NPN"), root.findtext(".//NAME_LAST")))
        return len(rows)

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return sum(pool.map(one, npns))


def take_written_rows(database: Any) -> dict[str, Any]:
    """What the sync wrote, as the driver hands it back (SQLite: row tuples; PostgreSQL:
    COPY text); then the database is put back as it was before the sync."""
    import sqlalchemy as sa

    postgres = database.engine.dialect.name == "postgresql"
    taken: dict[str, Any] = {}
    with database.engine.begin() as connection:
        cursor = connection.connection.cursor()
        for table in (*WRITTEN_TABLES, "producers"):
            columns = PRODUCER_COLUMNS if table == "producers" else None
            select = f"SELECT {', '.join(columns) if columns else '*'} FROM {table}"
            if postgres:
                buffer = io.StringIO()
                cursor.copy_expert(f"COPY ({select}) TO STDOUT", buffer)
                taken[table] = buffer.getvalue()
            else:
                cursor.execute(select)
                taken[table] = cursor.fetchall()
        for table in WRITTEN_TABLES:
            connection.execute(sa.text(f"DELETE FROM {table}"))
        connection.execute(
            sa.text("UPDATE producers SET sync_status = 'Not Started', last_synced_at = NULL")
        )
    return taken


def floor_write(database: Any, taken: dict[str, Any]) -> None:
    postgres = database.engine.dialect.name == "postgresql"
    with database.engine.begin() as connection:
        cursor = connection.connection.cursor()
        for table in WRITTEN_TABLES:
            if postgres:
                cursor.copy_expert(f"COPY {table} FROM STDIN", io.StringIO(taken[table]))
            elif taken[table]:
                marks = ", ".join("?" * len(taken[table][0]))
                cursor.executemany(f"INSERT INTO {table} VALUES ({marks})", taken[table])
        sets = "first_name = {0}first_name, last_name = {0}last_name, email = {0}email, "
        sets += "sync_status = {0}sync_status, last_synced_at = {0}last_synced_at"
        if postgres:
            cursor.execute(
                "CREATE TEMP TABLE given ON COMMIT DROP AS "
                f"SELECT {', '.join(PRODUCER_COLUMNS)} FROM producers WITH NO DATA"
            )
            cursor.copy_expert("COPY given FROM STDIN", io.StringIO(taken["producers"]))
            cursor.execute(
                f"UPDATE producers SET {sets.format('given.')} FROM given "
                "WHERE producers.npn = given.npn"
            )
        else:
            cursor.executemany(
                "UPDATE producers SET first_name = ?, last_name = ?, email = ?, "
                "sync_status = ?, last_synced_at = ? WHERE npn = ?",
                [(*row[1:], row[0]) for row in taken["producers"]],
            )


# --- the runs ------------------------------------------------------------------------------


def speed(args: argparse.Namespace) -> int:
    producers = args.producers
    with sandbox_process(producers) as (base_url, npns), bench_database(args.database_url) as db:
        backend = backend_of(db.url)
        load_waiting_producers(db, producers, npns)
        floor_fetch(base_url, npns[:20])  # warm both ends (imports, connections)
        started = time.perf_counter()
        run = run_sync(db, base_url, npns)
        seconds = time.perf_counter() - started
        print(f"sync: {dict(run.by_status)}, rows written {run.rows_written}")
        taken = take_written_rows(db)
        started = time.perf_counter()
        floor_rows = floor_fetch(base_url, npns)
        fetch_seconds = time.perf_counter() - started
        started = time.perf_counter()
        floor_write(db, taken)
        write_seconds = time.perf_counter() - started
    floor_seconds = fetch_seconds + write_seconds
    print(
        f"  sync {producers / seconds:,.1f} producers/s; floor {producers / floor_seconds:,.1f} "
        f"producers/s (fetch + bare lxml {fetch_seconds:.2f} s, {floor_rows:,} rows; "
        f"write {write_seconds:.2f} s)"
    )
    extra: dict[str, Any] = {
        "producers_per_second": round(producers / seconds, 1),
        "floor_producers_per_second": round(producers / floor_seconds, 1),
        "floor_fetch_seconds": round(fetch_seconds, 3),
        "floor_write_seconds": round(write_seconds, 3),
        "by_status": dict(run.by_status),
        "rows_written": run.rows_written,
    }
    verdicts: dict[str, bool] = {}
    if not args.skip_memory:
        memory = memory_runs(args)
        extra["memory"] = memory
        verdicts.update(memory_verdicts(memory))
    return report(
        "e2e_initial_sync",
        backend,
        [Measurement(f"initial sync, {producers:,} producers", seconds, floor_seconds)],
        sizes={"producers": producers, "workers": WORKERS},
        extra=extra,
        extra_verdicts=verdicts,
    )


def memory_runs(args: argparse.Namespace) -> dict[str, Any]:
    """The sync alone at each size, each in a fresh subprocess."""
    runs: dict[str, Any] = {}
    for size in args.memory_sizes:
        with sandbox_process(size) as (base_url, npns), bench_database(args.database_url) as db:
            load_waiting_producers(db, size, npns)
            child = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--measure-rss-only",
                    "--sync-database",
                    db.url,
                    "--sandbox-url",
                    base_url,
                ],
                capture_output=True,
                text=True,
                check=False,
            )
        if child.returncode != 0:
            raise RuntimeError(f"the {size:,}-producer sync failed:\n{child.stderr[-3000:]}")
        measured = json.loads(child.stdout.strip().splitlines()[-1])
        runs[str(size)] = measured
        print(
            f"  memory, {size:,} producers: peak RSS {measured['peak_rss_mb']:,.0f} MB "
            f"(before the sync {measured['rss_before_mb']:,.0f} MB), "
            f"{measured['producers_per_second']:,.1f} producers/s"
        )
    return runs


def memory_verdicts(runs: dict[str, Any]) -> dict[str, bool]:
    sizes = sorted(runs, key=int)
    small, large = runs[sizes[0]], runs[sizes[-1]]
    ratio = large["peak_rss_mb"] / small["peak_rss_mb"]
    projected = PROJECTED_PRODUCERS / large["producers_per_second"]
    runs["peak_rss_ratio"] = round(ratio, 3)
    runs["projected_100k_seconds"] = round(projected, 1)
    print(
        f"  peak RSS {int(sizes[-1]):,} / {int(sizes[0]):,} producers: {ratio:.2f} "
        f"(target <= {RSS_TARGET}); projected {PROJECTED_PRODUCERS:,} producers: "
        f"{projected / 60:.1f} min (target < {PROJECTED_TARGET_SECONDS // 60} min)"
    )
    return {
        f"peak RSS ratio {ratio:.2f} <= {RSS_TARGET}": ratio <= RSS_TARGET,
        f"100k producers in {projected / 60:.1f} min < 30 min": projected
        < PROJECTED_TARGET_SECONDS,
    }


def measure_rss_only(args: argparse.Namespace) -> None:
    """`--measure-rss-only`: the sync alone on a prepared database; one JSON line out."""
    from assets.nipr.store import producers_to_sync
    from resources.database import OperationalDatabase

    database = OperationalDatabase(url=args.sync_database)
    with database.begin() as connection:
        npns = producers_to_sync(connection, ["Not Started"])
    before = rss_mb()
    started = time.perf_counter()
    run = run_sync(database, args.sandbox_url, npns)
    seconds = time.perf_counter() - started
    database.engine.dispose()
    print(
        json.dumps(
            {
                "producers": len(npns),
                "seconds": round(seconds, 2),
                "producers_per_second": round(len(npns) / seconds, 1),
                "rss_before_mb": round(before, 1),
                "peak_rss_mb": round(peak_rss_mb(), 1),
                "by_status": dict(run.by_status),
            }
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_argument(parser)
    parser.add_argument("--producers", type=int, default=2_000, help="Speed run size.")
    parser.add_argument("--memory-sizes", type=int, nargs="+", default=[500, 5_000])
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--serve-sandbox", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--measure-rss-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sync-database", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--sandbox-url", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.serve_sandbox is not None:
        serve_sandbox(args.serve_sandbox)
        return 0
    if args.measure_rss_only:
        measure_rss_only(args)
        return 0
    if args.skip_speed:
        memory = memory_runs(args)
        verdicts = memory_verdicts(memory)
        print(json.dumps(memory))
        return 0 if all(verdicts.values()) else 1
    return speed(args)


if __name__ == "__main__":
    sys.exit(main())
