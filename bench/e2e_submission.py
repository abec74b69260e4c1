"""Submission benchmark (issue 17): an approved batch of 6,000 lines through the real path
(`submit_batch`, then `poll_batch`) against the NIPR sandbox over HTTP, on SQLite or
PostgreSQL, against a floor measured in the same run.

The batch: lines of a generated sandbox world (producer, state, LOA of a license it holds),
appointed with a company of config/companies.yaml, in a fresh migrated database
(`bench_database`); the sandbox answers some with an intermediate response (Pending State
Review) as NIPR does, which the polls resolve.

The floor: the same Gateway calls (the same chunks of 100, the same endpoint, the same request
documents built by the same functions, replies parsed by the same parser) made with plain
`requests` on the same (main) thread, the in-flight keys polled until final, and the same
answers written with one `executemany` of a prepared UPDATE per chunk; no ledger, no lock. Both
run against a freshly reset sandbox, so NIPR does the same work for each.

Usage: .venv/bin/python bench/e2e_submission.py [--database-url URL] [--lines 6000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    WORLD_DAY,
    Measurement,
    add_database_argument,
    backend_of,
    bench_database,
    report,
    timed,
)

BATCH_ID = "BENCH-SUBMIT"
LINES_PER_PRODUCER = 10  # about 13 license LOAs each in the generated world; some spare


def build_world(lines: int, seed: int) -> Any:
    from assets.reference.loading import load_company_config, load_reference_data
    from npnflow.sandbox.generator import generate_world
    from resources import paths

    reference = load_reference_data(paths.reference_dir())
    companies = load_company_config(paths.config_dir(), reference)["companies"]
    producers = max(50, lines // LINES_PER_PRODUCER)
    return generate_world(seed=seed, producers=producers, companies=companies, today=WORLD_DAY)


def load_batch(database: Any, world: Any, lines: int) -> str:
    """An Approved batch of `lines` Ready to Submit appointment lines, and the producers."""
    import sqlalchemy as sa

    from schemas.tables import TABLES

    frames = world.to_frames()
    loas = frames["license_loas"].drop_duplicates(["npn", "state_code", "loa_code"])
    if len(loas) < lines:
        raise SystemExit(f"the world holds {len(loas)} lines, fewer than {lines}")
    loas = loas.head(lines)
    with database.engine.connect() as connection:
        cocode = (
            connection.execute(
                sa.select(TABLES["companies"].c.cocode).order_by(TABLES["companies"].c.cocode)
            )
            .scalars()
            .first()
        )
    now = dt.datetime.now(dt.UTC)
    producers = frames["producers"]
    producer_rows = [
        {c: (None if v == "" else v) for c, v in row.items() if c in TABLES["producers"].c}
        for row in producers.to_dict("records")
    ]
    rows = [
        dict(
            transaction_id=f"{BATCH_ID}-{i:06d}",
            batch_id=BATCH_ID,
            kind="appointment",
            request_row=i + 2,
            npn=npn,
            state_code=state,
            cocode=cocode,
            loa_code=loa,
            license_class_code=class_code,
            license_number=number,
            status="Ready to Submit",
            effective_date=WORLD_DAY + dt.timedelta(days=7),
            estimated_fee=Decimal("10.00"),
            idempotency_key=f"{BATCH_ID}:{i:06d}",
            created_at=now,
        )
        for i, (npn, state, loa, class_code, number) in enumerate(
            loas[
                ["npn", "state_code", "loa_code", "license_class_code", "license_number"]
            ].itertuples(index=False, name=None)
        )
    ]
    with database.begin() as connection:
        connection.execute(sa.delete(TABLES["producers"]))
        connection.execute(sa.insert(TABLES["producers"]), producer_rows)
        connection.execute(
            sa.insert(TABLES["transaction_batches"]),
            [
                dict(
                    batch_id=BATCH_ID,
                    kind="appointment",
                    cocode=cocode,
                    status="Approved",
                    approval_version=1,
                    approved_by="bench",
                    approved_at=now,
                    created_at=now,
                )
            ],
        )
        connection.execute(sa.insert(TABLES["transactions"]), rows)
    return str(cocode)


def reset_batch(database: Any) -> None:
    """Back to Approved, every line Ready to Submit, no ledger: the next run starts afresh."""
    import sqlalchemy as sa

    from schemas.tables import TABLES

    t = TABLES["transactions"]
    with database.begin() as connection:
        connection.execute(sa.delete(TABLES["submission_attempts"]))
        connection.execute(
            sa.update(t)
            .where(t.c.batch_id == BATCH_ID)
            .values(
                status="Ready to Submit",
                nipr_status=None,
                nipr_message=None,
                nipr_trans=None,
                submitted_at=None,
                completed_at=None,
                submission_chunk=None,
            )
        )
        connection.execute(
            sa.update(TABLES["transaction_batches"])
            .where(TABLES["transaction_batches"].c.batch_id == BATCH_ID)
            .values(status="Approved")
        )


def floor_run(database: Any, gateway: Any) -> dict[str, int]:
    """The same calls with plain `requests`, the answers written by one executemany a chunk."""
    import requests

    from assets.submissions.attempts import SubmissionReport, SubmissionRun
    from assets.submissions.submission import _ready_transactions
    from resources.nipr_gateway import GATEWAY_PATH
    from resources.nipr_gateway_xml import build_poll, build_request, parse_reply
    from schemas.statuses import FINAL_TRANSACTION_STATUSES

    run = SubmissionRun(
        engine=database.engine,
        gateway=gateway,
        batch_id=BATCH_ID,
        approval_version=1,
        now=lambda: dt.datetime.now(dt.UTC),
        log=None,  # type: ignore[arg-type]
        sleep=lambda _: None,
        report=SubmissionReport(BATCH_ID, 1, "submitted"),
    )
    ready = _ready_transactions(run)  # one SELECT of the lines with what the request carries
    session = requests.Session()
    session.auth = (gateway.username, gateway.password)
    url = gateway.base_url.rstrip("/") + GATEWAY_PATH
    submitter = gateway.submitter()
    headers = {"Content-Type": "text/xml; charset=UTF-8"}
    update = (
        "UPDATE transactions SET status = ?, nipr_status = ?, nipr_message = ?, nipr_trans = ?, "
        "submitted_at = ?, completed_at = ? WHERE batch_id = ? AND idempotency_key = ?"
    )
    raw = database.engine.raw_connection()
    paramstyle = database.engine.dialect.paramstyle
    if paramstyle != "qmark":
        update = update.replace("?", "%s")
    calls = 0

    def write(outcomes: Any) -> list[str]:
        now = dt.datetime.now(dt.UTC)
        params = [
            (
                o.status,
                o.nipr_status,
                o.nipr_message,
                o.nipr_trans,
                now,
                now if o.status in FINAL_TRANSACTION_STATUSES else None,
                BATCH_ID,
                o.key[1],
            )
            for o in outcomes
            if o.key[0] == BATCH_ID and o.found
        ]
        cursor = raw.cursor()
        cursor.executemany(update, params)
        raw.commit()
        return [p[-1] for p in params if p[0] not in FINAL_TRANSACTION_STATUSES]

    try:
        pending: dict[str, None] = {}
        for start in range(0, len(ready), 100):
            chunk = ready[start : start + 100]
            body = build_request(
                chunk, gateway.customer_id, BATCH_ID, dt.datetime.now(dt.UTC), submitter
            )
            response = session.post(url, data=body, headers=headers, timeout=60)
            calls += 1
            reply = parse_reply(response.content, [(BATCH_ID, t.idempotency_key) for t in chunk])
            for key in write(reply.outcomes.values()):
                pending[key] = None
            for outcome in reply.outcomes.values():
                if outcome.status in FINAL_TRANSACTION_STATUSES:
                    pending.pop(outcome.key[1], None)
        while pending:
            keys = sorted(pending)
            for start in range(0, len(keys), 100):
                pairs = [(BATCH_ID, k) for k in keys[start : start + 100]]
                body = build_poll(pairs, gateway.customer_id, submitter)
                response = session.post(url, data=body, headers=headers, timeout=60)
                calls += 1
                reply = parse_reply(response.content, pairs)
                write(reply.outcomes.values())
                for outcome in reply.outcomes.values():
                    if outcome.status in FINAL_TRANSACTION_STATUSES:
                        pending.pop(outcome.key[1], None)
    finally:
        raw.close()
        session.close()
    return {"calls": calls}


def real_run(database: Any, gateway: Any) -> dict[str, Any]:
    from assets.submissions.submission import poll_batch, submit_batch

    submitted = submit_batch(database, gateway, BATCH_ID, 1)
    polled = poll_batch(database, gateway, BATCH_ID)
    return {
        "chunks_sent": submitted.chunks_sent,
        "poll_rounds": submitted.poll_rounds + polled.poll_rounds,
        "batch_status": polled.batch_status or submitted.batch_status,
        "status_counts": polled.status_counts or submitted.status_counts,
    }


def counts(database: Any) -> dict[str, int]:
    import sqlalchemy as sa

    from schemas.tables import TABLES

    t = TABLES["transactions"]
    with database.engine.connect() as connection:
        return {
            status: n
            for status, n in connection.execute(
                sa.select(t.c.status, sa.func.count()).group_by(t.c.status).order_by(t.c.status)
            )
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_database_argument(parser)
    parser.add_argument("--lines", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from npnflow.sandbox.server import NiprSandbox
    from resources.nipr_gateway import NiprGateway

    world = build_world(args.lines, args.seed)
    with (
        bench_database(args.database_url) as database,
        NiprSandbox(port=0, world=world, today=WORLD_DAY) as sandbox,
    ):
        load_batch(database, world, args.lines)
        gateway = NiprGateway(
            base_url=sandbox.base_url,
            username=sandbox.username,
            password=sandbox.password,
            settle_seconds=0.0,
        )
        floor_seconds, floor = timed(lambda: floor_run(database, gateway))
        floor_counts = counts(database)
        reset_batch(database)
        sandbox.reset()
        seconds, real = timed(lambda: real_run(database, gateway))
        real_counts = counts(database)
        backend = backend_of(database.url)
    same = floor_counts == real_counts
    print(f"  floor: {floor['calls']} Gateway calls; statuses {floor_counts}")
    print(f"  path:  {real}; statuses {real_counts}")
    print(
        f"  path {args.lines / seconds:,.0f} lines/s, floor {args.lines / floor_seconds:,.0f} lines/s"
    )
    return report(
        "e2e_submission",
        backend,
        [
            Measurement(
                "submit_batch + poll_batch",
                seconds,
                floor_seconds,
                details={
                    "lines_per_second": round(args.lines / seconds, 1),
                    "floor_lines_per_second": round(args.lines / floor_seconds, 1),
                    **real,
                    "floor_calls": floor["calls"],
                },
            )
        ],
        sizes={"lines": args.lines},
        extra_verdicts={
            "same statuses as the floor": same,
            "batch Completed": real["batch_status"] == "Completed",
        },
    )


if __name__ == "__main__":
    raise SystemExit(main())
