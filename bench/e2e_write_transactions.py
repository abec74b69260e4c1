"""End to end: an appoint upload's batch plan (~154,000 transactions) written, against the
floor of writing the same rows.

The plan is built the way the appoint step builds it: bench/eligibility.py's generated world
and requests, `evaluate_appointment_requests`, then `plan_appointment_batches` (all before
the clock starts). The path is `write_batch_plan` in one transaction, committed: the upload's
batches, transactions, their evidence and request rejections.

The floor, measured in the same run: the rows the path wrote, taken out in the driver's own
form and written back into the emptied tables by one `executemany` (SQLite) or `COPY`
(PostgreSQL) per table (bench/bulk_floor.py).

Usage: .venv/bin/python bench/e2e_write_transactions.py [--producers 20000]
       [--requests 108000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import bulk_floor  # noqa: E402
from bench.eligibility import (  # noqa: E402
    AS_OF,
    add_assignments_and_open_transactions,
    build_inputs,
    build_requests,
)
from bench.harness import (  # noqa: E402
    Measurement,
    add_database_argument,
    backend_of,
    bench_database,
    report,
    reset_peak_rss,
    timed,
)

# Parents first (the floor empties them children first); the evidence is written with each
# transaction (issue 19).
TABLES = ("transaction_batches", "transactions", "transaction_evidence", "request_rejections")
UPLOAD_ID = "appoint__bench.csv__000000000000"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--producers", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=108_000)
    parser.add_argument("--seed", type=int, default=7)
    add_database_argument(parser)
    args = parser.parse_args()

    from assets.appointments.eligibility import evaluate_appointment_requests
    from assets.appointments.store import plan_appointment_batches
    from assets.batches.store import write_batch_plan
    from assets.uploads import store as upload_store

    inputs = build_inputs(args.producers, args.seed)
    requests = build_requests(inputs, args.requests, args.seed)
    # One upload row per request (the eligibility benchmark pairs them), so that no two
    # requests plan the same transaction id.
    requests["request_row"] = range(2, len(requests) + 2)
    add_assignments_and_open_transactions(inputs, requests, args.seed)
    evaluated = evaluate_appointment_requests(requests, inputs, AS_OF, threads=2)
    plan = plan_appointment_batches(evaluated, UPLOAD_ID, dt.datetime.now(dt.UTC))
    del inputs, evaluated
    print(
        f"plan: {len(plan.transactions):,} transactions in {len(plan.batches):,} batches, "
        f"{len(plan.rejections):,} rejections"
    )

    with bench_database(args.database_url) as database:
        backend = backend_of(database.url)
        with database.begin() as connection:
            upload_store.save_upload_row(
                connection,
                UPLOAD_ID,
                {
                    "object_key": "inbox/appoint/bench.csv",
                    "content_sha256": "0" * 64,
                    "kind": "appoint",
                    "received_at": dt.datetime.now(dt.UTC),
                    "status": "Processed",
                },
            )

        def write() -> None:
            with database.begin() as connection:
                write_batch_plan(connection, plan)

        reset_peak_rss()
        seconds, _ = timed(write)
        counts = database.count_rows(list(TABLES))
        assert counts["transactions"] == len(plan.transactions), counts

        engine = database.engine
        taken = bulk_floor.snapshot(engine, TABLES)
        bulk_floor.empty(engine, TABLES)
        floor_seconds = bulk_floor.write(engine, taken)
        assert database.count_rows(list(TABLES)) == counts

    return report(
        "e2e_write_transactions",
        backend,
        [Measurement("write_batch_plan", seconds, floor_seconds)],
        sizes={"requests": args.requests, **bulk_floor.rows_in(taken)},
    )


if __name__ == "__main__":
    sys.exit(main())
