"""CLI benchmark (issue 17): `npnflow batches show ID` of a 51,000-line batch (50 lines
printed), `npnflow --help` and `npnflow batches list`, each a fresh process as a person runs
it, on SQLite or PostgreSQL, against a floor measured in the same run.

The database: a fresh migrated one (`bench_database`) holding one appointment batch of
`--lines` transactions (a mix of statuses, reasons and fees, as an upload makes them).

The floor: a fresh process (`python -c`) that imports SQLAlchemy, runs the same 50-line SELECT
`batches show` prints (the batch's lines in its order, LIMIT 50) and prints the rows: the least
any command that shows those lines has to do. Each command and the floor run `--runs` times,
alternating; the medians are compared.

Usage: .venv/bin/python bench/e2e_cli.py [--database-url URL] [--lines 51000] [--runs 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    Measurement,
    add_database_argument,
    backend_of,
    bench_database,
    report,
)

REPO = Path(__file__).resolve().parents[1]
BATCH_ID = "B-BENCH-CLI"
PRINTED = 50
# What the `npnflow` console script does (pyproject.toml [project.scripts]).
NPNFLOW = "import sys; from npnflow.cli import main; sys.argv[0] = 'npnflow'; main()"
FLOOR = """
import sys
import sqlalchemy as sa
engine = sa.create_engine(sys.argv[1], poolclass=sa.pool.NullPool)
with engine.connect() as connection:
    rows = connection.execute(
        sa.text(
            "SELECT {columns} FROM transactions WHERE batch_id = :batch "
            "ORDER BY request_row, state_code, loa_code, transaction_id LIMIT {printed}"
        ),
        {{"batch": sys.argv[2]}},
    ).all()
for row in rows:
    print(" ".join(str(value) for value in row))
"""

LINE_KINDS = [
    ("Ready to Submit", "In Good Standing", None, "10.00"),
    ("Ready to Submit", "In Good Standing", None, "25.00"),
    ("Held (JIT)", "In Good Standing", None, "20.00"),
    ("Not Eligible", "Required License Not Found", None, None),
    ("Not Eligible", "Already Appointed", None, None),
    (
        "Rejected",
        "In Good Standing",
        "Producer does not hold an active license (NIPR 10102)",
        "10.00",
    ),
    ("Accepted", "In Good Standing", None, "10.00"),
]


def load_batch(database: Any, lines: int) -> None:
    import sqlalchemy as sa

    from schemas.tables import TABLES

    now = dt.datetime.now(dt.UTC)
    with database.begin() as connection:
        cocode = connection.execute(
            sa.select(TABLES["companies"].c.cocode).order_by(TABLES["companies"].c.cocode)
        ).scalar()
        connection.execute(
            sa.insert(TABLES["transaction_batches"]),
            [
                dict(
                    batch_id=BATCH_ID,
                    kind="appointment",
                    cocode=cocode,
                    status="Pending Review",
                    approval_version=0,
                    created_at=now,
                )
            ],
        )
        rows = []
        for i in range(lines):
            status, reason, message, fee = LINE_KINDS[i % len(LINE_KINDS)]
            rows.append(
                dict(
                    transaction_id=f"{BATCH_ID}-{i:06d}",
                    batch_id=BATCH_ID,
                    kind="appointment",
                    request_row=i // 3 + 2,
                    npn=f"{10_000_000 + i // 3}",
                    state_code=("TX", "CA", "NY", "FL", "PA")[i % 5],
                    cocode=cocode,
                    loa_category="Life",
                    loa_code=("16", "14", "935")[i % 3],
                    license_number=f"L{i:07d}",
                    is_jit=status == "Held (JIT)",
                    eligibility_reason=reason,
                    status=status,
                    estimated_fee=None if fee is None else Decimal(fee),
                    estimated_nipr_fee=None if fee is None else Decimal("0.75"),
                    nipr_status=None if message is None else "PC",
                    nipr_message=message,
                    idempotency_key=f"{BATCH_ID}:{i:06d}",
                    created_at=now,
                )
            )
        connection.execute(sa.insert(TABLES["transactions"]), rows)


def run_once(command: list[str], environment: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    result = subprocess.run(
        command, capture_output=True, text=True, cwd=REPO, env=environment, timeout=300
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{command[3:]} failed ({result.returncode}): {result.stderr[-2000:]}")
    return seconds, result.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_argument(parser)
    parser.add_argument("--lines", type=int, default=51_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from assets.batches.detail import TRANSACTION_COLUMNS

    floor_code = FLOOR.format(columns=", ".join(TRANSACTION_COLUMNS), printed=PRINTED)
    commands = {
        f"npnflow batches show ID ({PRINTED} of {args.lines:,} lines)": [
            "batches",
            "show",
            BATCH_ID,
            "--limit",
            str(PRINTED),
        ],
        "npnflow --help": ["--help"],
        "npnflow batches list": ["batches", "list"],
    }
    with bench_database(args.database_url) as database:
        load_batch(database, args.lines)
        url = database.url
        backend = backend_of(url)
        environment = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "NPNFLOW_DATABASE_URL": url,
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        floor_command = [sys.executable, "-c", floor_code, url, BATCH_ID]
        times: dict[str, list[float]] = {name: [] for name in commands}
        floor_times: list[float] = []
        outputs: dict[str, str] = {}
        run_once(floor_command, environment)  # warm the file cache and the bytecode
        for arguments in commands.values():
            run_once([sys.executable, "-c", NPNFLOW, *arguments], environment)
        for _ in range(args.runs):
            seconds, floor_output = run_once(floor_command, environment)
            floor_times.append(seconds)
            for name, arguments in commands.items():
                seconds, outputs[name] = run_once(
                    [sys.executable, "-c", NPNFLOW, *arguments], environment
                )
                times[name].append(seconds)
    floor = statistics.median(floor_times)
    show_output = next(iter(outputs.values()))
    printed_lines = sum(1 for line in show_output.splitlines() if f"{BATCH_ID}-" in line)
    print(f"  floor printed {len(floor_output.splitlines())} lines; show printed {printed_lines}")
    measurements = [
        Measurement(
            name,
            statistics.median(times[name]),
            floor,
            details={
                "runs": [round(t, 3) for t in times[name]],
                "floor_runs": [round(t, 3) for t in floor_times],
            },
        )
        for name in commands
    ]
    return report(
        "e2e_cli",
        backend,
        measurements,
        sizes={"lines": args.lines, "printed": PRINTED, "runs": args.runs},
        extra_verdicts={f"show printed {PRINTED} lines": printed_lines == PRINTED},
    )


if __name__ == "__main__":
    raise SystemExit(main())
