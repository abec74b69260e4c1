"""End-to-end appoint file (issue 17): a 100,000-row appoint CSV for 100,000 distinct producers,
through the functions the upload and appointment assets call, against its floor, on SQLite or
PostgreSQL (`--database-url`).

Setup (not timed), in a child process so that the world's frames never count in the measured
process's memory: a fresh migrated database with the shipped reference tables and company
setup (`harness.bench_database`), the sandbox world of `--producers` producers loaded in bulk
(producers synced; on PostgreSQL vacuumed and analyzed, as autovacuum leaves a table after a
bulk load), and the appoint CSV: one row per distinct NPN (3% unknown to the book), a
state where the producer holds a license and a company appoints (any company state for a
producer without one), one of the company's categories (one row in ten another one), Submit
TRUE for half the rows; producer assignments for 80% of the requests.

The path (timed), as `core_uploads__processed` then `core_appointments__evaluated` run it:
reference reads, `read_upload`, `validate_upload`, the error report when rows are rejected,
`apply_validated_upload` (counts, row errors, request rows) in one transaction;
`read_request_rows`; `upload_step._evaluate_and_write` (lock, line claim, the eligibility
inputs by join, `evaluate_appointment_requests`, the plan, `write_batch_plan`, completed) in
one transaction; then the batches page the asset records.

The floor (timed, same run, after the path): the file parsed by the `csv` module; the same
inputs (the same columns and rows) read by a plain SQL join on temporary tables of the same
NPNs and (NPN, state) pairs with the raw DBAPI cursor (filled by `executemany` on SQLite,
`COPY` on PostgreSQL) into frames; the engine alone on
them; the rows the path wrote (request rows, batches, transactions and their evidence,
rejections) written again
with one `executemany` of the driver's tuples (SQLite) or `COPY` (PostgreSQL).

Peak RSS is the measured process's, reset after setup (the path's own peak is reported apart).

Usage: .venv/bin/python bench/e2e_appoint_file.py [--producers 100000] [--rows 100000]
       [--database-url postgresql+psycopg2://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gc
import io
import multiprocessing
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import harness  # noqa: E402

BENCHMARK = "e2e_appoint_file"
UPLOAD_ID = "appoint__bench.csv__000000000000"
OBJECT_KEY = "inbox/appoint/bench.csv"
HEADER = (
    "NPN,States,CoCode,LOA Category,Line of Authority,Agent Type,Submit,Submit Just In Time,"
    "Effective Date"
)
UNKNOWN_NPN_SHARE = 0.03
MEMORY_TARGET_MB = 1024.0
# The rows the path writes for the upload, in foreign-key order.
WRITTEN_TABLES = (
    "upload_request_rows",
    "transaction_batches",
    "transactions",
    "transaction_evidence",
    "request_rejections",
)
# Which rows of each written table are the upload's: by its id, or (the evidence, issue 19)
# through its transactions.
_OF_THE_UPLOAD = {
    "transaction_evidence": (
        "transaction_id IN (SELECT transaction_id FROM transactions WHERE upload_id = {mark})"
    ),
}
INPUT_TABLES = (
    "producers",
    "licenses",
    "license_loas",
    "appointments",
    "producer_assignments",
    "transactions",
    "nipr_scope_reports",
)


# --- setup (child process) -----------------------------------------------------------------


def _sqlite_values(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    """The frame as SQLite stores it through SQLAlchemy: dates and timestamps as ISO text,
    booleans as 0/1, missing values as NULL."""
    columns = []
    for name in frame.columns:
        series = frame[name]
        if pd.api.types.is_datetime64_any_dtype(series):
            text = series.dt.strftime("%Y-%m-%d %H:%M:%S.%f")
            is_date = (series.dropna().dt.normalize() == series.dropna()).all()
            series = (
                series.dt.strftime("%Y-%m-%d") if is_date and name != "nipr_updated_at" else text
            )
        elif pd.api.types.is_bool_dtype(series):
            series = series.astype(int)
        columns.append(series.astype(object).where(series.notna(), None).tolist())
    return list(zip(*columns, strict=True))


def _load(url: str, frames: dict[str, pd.DataFrame]) -> None:
    """Bulk-load the world (setup only): COPY on PostgreSQL, executemany on SQLite."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as connection:
        raw = connection.connection
        cursor = raw.cursor()
        for name, frame in frames.items():
            columns = ", ".join(frame.columns)
            if url.startswith("sqlite"):
                marks = ", ".join("?" * len(frame.columns))
                cursor.executemany(
                    f"INSERT INTO {name} ({columns}) VALUES ({marks})", _sqlite_values(frame)
                )
            else:
                buffer = io.StringIO()
                frame.to_csv(buffer, header=False, index=False)
                buffer.seek(0)
                cursor.copy_expert(f"COPY {name} ({columns}) FROM STDIN WITH (FORMAT csv)", buffer)
        cursor.close()
    if not url.startswith("sqlite"):
        # The book as a running server holds it: autovacuum vacuums and analyzes a table
        # after a bulk load. Done here, before the clock, so that it does not run beside the
        # timed path on a shared machine (nor set the loaded rows' hint bits on the path's
        # first reads and not the floor's), as bench/e2e_daily_sync.py does.
        with engine.connect() as connection:
            autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
            for name in frames:
                autocommit.exec_driver_sql(f"VACUUM ANALYZE {name}")
    engine.dispose()


def _requests(frames: dict[str, pd.DataFrame], rows: int, seed: int) -> pd.DataFrame:
    """One request per producer (cycling when rows > producers): a state where it holds a
    license and a company appoints (any company state when it holds none)."""
    from assets.reference.loading import load_company_config, load_reference_data
    from resources import paths

    reference = load_reference_data(paths.reference_dir())
    config = load_company_config(paths.config_dir(), reference)
    rng = np.random.default_rng(seed)
    settings = config["company_state_settings"][["cocode", "state_code"]]
    licensed = frames["licenses"][["npn", "state_code"]].drop_duplicates()
    pairs = licensed.merge(settings, on="state_code").sample(frac=1.0, random_state=seed)
    pairs = pairs.drop_duplicates("npn")
    unlicensed = frames["producers"][["npn"]].loc[~frames["producers"]["npn"].isin(pairs["npn"])]
    anywhere = settings.iloc[rng.integers(0, len(settings), size=len(unlicensed))]
    pairs = pd.concat(
        [pairs, unlicensed.reset_index(drop=True).join(anywhere.reset_index(drop=True))],
        ignore_index=True,
    ).sample(frac=1.0, random_state=seed + 1)
    picked = pairs.iloc[np.arange(rows) % len(pairs)].reset_index(drop=True)
    categories_of = config["company_loa_categories"].groupby("cocode")["loa_category"].agg(list)
    own = np.array([rng.choice(categories_of[c]) for c in picked["cocode"]], dtype=object)
    other = rng.choice(["Life", "Accident & Health", "Property", "Casualty"], size=rows)
    npn = picked["npn"].to_numpy(dtype=object).copy()
    unknown = rng.random(rows) < UNKNOWN_NPN_SHARE
    npn[unknown] = [f"9{n:08d}" for n in rng.integers(0, 10**8, size=int(unknown.sum()))]
    return pd.DataFrame(
        {
            "npn": npn,
            "state_code": picked["state_code"].to_numpy(dtype=object),
            "cocode": picked["cocode"].to_numpy(dtype=object),
            "loa_category": np.where(rng.random(rows) < 0.1, other, own),
            "submit": np.where(rng.random(rows) < 0.5, "TRUE", "FALSE"),
            "assigned": rng.random(rows) < 0.8,
        }
    )


def _assignments(requests: pd.DataFrame) -> pd.DataFrame:
    """Producer assignments for most requests (the companies that require them read them)."""
    return requests.loc[requests["assigned"], ["npn", "loa_category", "state_code", "cocode"]]


def _appoint_csv(requests: pd.DataFrame) -> bytes:
    lines = [HEADER]
    for n, state, cocode, category, submit in zip(
        requests["npn"],
        requests["state_code"],
        requests["cocode"],
        requests["loa_category"],
        requests["submit"],
        strict=True,
    ):
        lines.append(f"{n},{state},{cocode},{category},,Producer,{submit},,")
    return ("\r\n".join(lines) + "\r\n").encode()


def setup_world(url: str, producers: int, rows: int, seed: int, csv_path: str) -> None:
    frames = harness.world_frames(producers, seed=seed)
    frames["producers"] = frames["producers"].assign(
        sync_status="Success", last_synced_at=pd.Timestamp(harness.WORLD_DAY)
    )
    requests = _requests(frames, rows, seed)
    known = requests["npn"].isin(frames["producers"]["npn"])
    frames["producer_assignments"] = _assignments(requests[known]).drop_duplicates()
    _load(url, frames)
    Path(csv_path).write_bytes(_appoint_csv(requests))
    print(
        "world: "
        + ", ".join(f"{len(f):,} {name}" for name, f in frames.items())
        + f"; appoint file {rows:,} rows",
        flush=True,
    )


# --- the path ------------------------------------------------------------------------------


def _record_upload(database: Any, data: bytes) -> None:
    from assets.uploads import store as upload_store
    from assets.uploads.ledger import RECEIVED, content_sha256

    with database.begin() as connection:
        upload_store.save_upload_row(
            connection,
            UPLOAD_ID,
            {
                "object_key": OBJECT_KEY,
                "content_sha256": content_sha256(data),
                "kind": "appoint",
                "received_at": dt.datetime.now(dt.UTC),
                "status": RECEIVED,
            },
        )


def run_path(database: Any, data: bytes) -> dict[str, Any]:
    """The assets' functions in the assets' order; returns the phase times and the plan."""
    from assets.appointments.assets import APPOINT_REQUESTS
    from assets.batches import upload_step
    from assets.batches.observation import batches_page_metadata
    from assets.uploads import request_rows
    from assets.uploads import store as upload_store
    from assets.uploads.assets import REFERENCE_READS
    from assets.uploads.error_report import error_report_csv
    from assets.uploads.reading import read_upload
    from assets.uploads.validation import validate_upload

    phases: dict[str, float] = {}

    def validate() -> Any:
        reference = {table: database.read_table(table) for table in REFERENCE_READS}
        companies = database.read_table("companies")
        raw = read_upload(data, "bench.csv")
        validated = validate_upload(raw, "appoint", reference, companies)
        if validated.rows_rejected:
            error_report_csv(raw, validated)
        with database.begin() as connection:
            upload_store.lock_upload_row(connection, UPLOAD_ID)
            upload_store.apply_validated_upload(
                connection,
                UPLOAD_ID,
                validated,
                error_report_key=None,
                protect=lambda ssn: (ssn[-4:], None),
                now=dt.datetime.now(dt.UTC),
            )
        # The validation step ends here: its frames are gone before the next step starts.
        return {
            "rows_valid": validated.rows_valid,
            "rows_rejected": validated.rows_rejected,
        }

    def evaluate() -> Any:
        with database.begin() as connection:
            requests = request_rows.read_request_rows(connection, UPLOAD_ID, "appoint")
        outcome = upload_step._evaluate_and_write(
            database, APPOINT_REQUESTS, requests, UPLOAD_ID, False, False
        )
        assert outcome is not None
        with database.begin() as connection:
            batches_page_metadata(connection, UPLOAD_ID, APPOINT_REQUESTS.transaction_kind)
        return requests, outcome[0]

    phases["read_validate_store_seconds"], validated = harness.timed(validate)
    phases["read_validate_store_peak_rss_mb"] = round(harness.peak_rss_mb())
    phases["inputs_evaluate_write_seconds"], (requests, plan) = harness.timed(evaluate)
    return {
        "phases": phases,
        "requests": requests,
        "counts": {
            **validated,
            "request_rows": len(requests),
            **plan.counts,
        },
    }


# --- the floor -----------------------------------------------------------------------------


def _snapshot(database: Any) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """The rows the path wrote for the upload, as the driver returns them, then removed (not
    timed): the floor writes exactly these rows again."""
    snapshot = {}
    with database.engine.begin() as connection:
        cursor = connection.connection.cursor()
        mark = "?" if database.engine.dialect.name == "sqlite" else "%s"
        for name in WRITTEN_TABLES:
            where = _OF_THE_UPLOAD.get(name, "upload_id = {mark}").format(mark=mark)
            cursor.execute(f"SELECT * FROM {name} WHERE {where}", (UPLOAD_ID,))
            columns = [d[0] for d in cursor.description]
            snapshot[name] = (columns, cursor.fetchall())
        for name in reversed(WRITTEN_TABLES):
            where = _OF_THE_UPLOAD.get(name, "upload_id = {mark}").format(mark=mark)
            cursor.execute(f"DELETE FROM {name} WHERE {where}", (UPLOAD_ID,))
        cursor.close()
    return snapshot


def _floor_inputs(
    cursor: Any, sqlite: bool, npns: list[str], pairs: list[tuple[str, str]]
) -> dict[str, pd.DataFrame]:
    if sqlite:
        cursor.execute("CREATE TEMP TABLE floor_npns (npn TEXT PRIMARY KEY)")
        cursor.executemany("INSERT INTO floor_npns VALUES (?)", [(n,) for n in npns])
        cursor.execute(
            "CREATE TEMP TABLE floor_pairs (npn TEXT, state_code TEXT, "
            "PRIMARY KEY (npn, state_code))"
        )
        cursor.executemany("INSERT INTO floor_pairs VALUES (?, ?)", pairs)
    else:
        cursor.execute("CREATE TEMPORARY TABLE floor_npns (npn VARCHAR PRIMARY KEY)")
        cursor.copy_expert("COPY floor_npns FROM STDIN", io.StringIO("\n".join(npns) + "\n"))
        cursor.execute(
            "CREATE TEMPORARY TABLE floor_pairs (npn VARCHAR, state_code VARCHAR, "
            "PRIMARY KEY (npn, state_code))"
        )
        cursor.copy_expert(
            "COPY floor_pairs FROM STDIN",
            io.StringIO("".join(f"{n}\t{s}\n" for n, s in pairs)),
        )
        cursor.execute("ANALYZE floor_npns")
        cursor.execute("ANALYZE floor_pairs")
    from assets.appointments.store import (
        BY_STATE,
        CONFIG_TABLES,
        READ_COLUMNS,
        READ_TRANSACTION_STATUSES,
    )

    statuses = ", ".join(f"'{s}'" for s in sorted(READ_TRANSACTION_STATUSES))
    narrower = {
        "transactions": f" WHERE t.status IN ({statuses})",
        "nipr_scope_reports": " WHERE t.category = 'APPOINTMENTS'",
    }
    inputs = {}
    for name in INPUT_TABLES:
        wanted = READ_COLUMNS.get(name)
        columns = ", ".join(f"t.{c}" for c in wanted) if wanted else "t.*"
        join = (
            "JOIN floor_pairs r ON r.npn = t.npn AND r.state_code = t.state_code"
            if name in (*BY_STATE, "transactions", "nipr_scope_reports")
            else "JOIN floor_npns r ON r.npn = t.npn"
        )
        cursor.execute(f"SELECT {columns} FROM {name} t {join}" + narrower.get(name, ""))
        inputs[name] = pd.DataFrame.from_records(
            cursor.fetchall(), columns=[d[0] for d in cursor.description]
        )

    for name in CONFIG_TABLES:
        cursor.execute(f"SELECT * FROM {name}")
        inputs[name] = pd.DataFrame.from_records(
            cursor.fetchall(), columns=[d[0] for d in cursor.description]
        )
    cursor.execute("DROP TABLE floor_npns")
    cursor.execute("DROP TABLE floor_pairs")
    return inputs


def _floor_write(cursor: Any, sqlite: bool, name: str, columns: list[str], rows: list) -> None:
    if not rows:
        return
    names = ", ".join(columns)
    if sqlite:
        marks = ", ".join("?" * len(columns))
        cursor.executemany(f"INSERT INTO {name} ({names}) VALUES ({marks})", rows)
        return
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    buffer.seek(0)
    cursor.copy_expert(f"COPY {name} ({names}) FROM STDIN WITH (FORMAT csv)", buffer)


def run_floor(database: Any, data: bytes, requests: pd.DataFrame) -> dict[str, float]:
    from assets.appointments.eligibility import evaluate_appointment_requests
    from assets.rules.business_day import nipr_business_date

    snapshot = _snapshot(database)
    sqlite = database.engine.dialect.name == "sqlite"
    npns = sorted({str(n) for n in requests["npn"].dropna()})
    pairs = sorted(
        set(zip(requests["npn"].astype(str), requests["state_code"].astype(str), strict=True))
    )
    phases: dict[str, float] = {}
    phases["parse_seconds"], _ = harness.timed(
        lambda: list(csv.reader(io.StringIO(data.decode("utf-8"))))
    )
    with database.engine.begin() as connection:
        cursor = connection.connection.cursor()
        phases["inputs_seconds"], inputs = harness.timed(
            lambda: _floor_inputs(cursor, sqlite, npns, pairs)
        )
        as_of = nipr_business_date(dt.datetime.now(dt.UTC))
        phases["engine_seconds"], _ = harness.timed(
            lambda: evaluate_appointment_requests(requests, inputs, as_of)
        )
        inputs.clear()

        def write() -> None:
            for name in WRITTEN_TABLES:
                _floor_write(cursor, sqlite, name, *snapshot[name])

        phases["write_seconds"], _ = harness.timed(write)
        cursor.close()
    return phases


# --- main ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--producers", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    harness.add_database_argument(parser)
    args = parser.parse_args()

    with (
        harness.bench_database(args.database_url) as database,
        tempfile.TemporaryDirectory(prefix="npnflow-bench-") as folder,
    ):
        csv_path = str(Path(folder) / "bench.csv")
        setup_seconds, _ = harness.timed(lambda: _setup(database.url, args, csv_path))
        print(f"setup {setup_seconds:.1f} s (not timed)", flush=True)
        data = Path(csv_path).read_bytes()
        _record_upload(database, data)
        database.engine.dispose()
        gc.collect()
        rss_before = harness.rss_mb()
        harness.reset_peak_rss()
        _, outcome = harness.timed(lambda: run_path(database, data))
        seconds = sum(v for k, v in outcome["phases"].items() if k.endswith("_seconds"))
        path_peak = harness.peak_rss_mb()
        floor_phases = run_floor(database, data, outcome["requests"])
        floor_seconds = sum(floor_phases.values())
        backend = harness.backend_of(database.url)
    print(f"  path phases: {outcome['phases']}")
    print(f"  floor phases: {floor_phases}")
    print(f"  counts: {outcome['counts']}")
    print(f"  path peak RSS {path_peak:,.0f} MB (process RSS before the path {rss_before:,.0f} MB)")
    measurement = harness.Measurement(
        "appoint file: read..write",
        seconds,
        floor_seconds,
        details={"path_phases": outcome["phases"], "floor_phases": floor_phases},
    )
    return harness.report(
        BENCHMARK,
        backend,
        [measurement],
        sizes={"producers": args.producers, "rows": args.rows},
        extra={
            "counts": outcome["counts"],
            "path_peak_rss_mb": round(path_peak, 1),
            "rss_before_path_mb": round(rss_before, 1),
        },
        extra_verdicts={
            f"path peak RSS < {MEMORY_TARGET_MB:,.0f} MB": path_peak < MEMORY_TARGET_MB
        },
    )


def _setup(url: str, args: argparse.Namespace, csv_path: str) -> None:
    """The world, loaded by a child process: its frames never touch this process's memory."""
    child = multiprocessing.get_context("spawn").Process(
        target=setup_world, args=(url, args.producers, args.rows, args.seed, csv_path)
    )
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"setup failed (exit code {child.exitcode})")


if __name__ == "__main__":
    sys.exit(main())
