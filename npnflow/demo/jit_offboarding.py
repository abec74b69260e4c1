"""Step 9 of the demo: a just-in-time appointment held, released when business arrives, and
sent; then one producer offboarded (docs/operations.md, "Just-in-time appointments" and
"Offboarding").

- an appoint file without Submit Just In Time holds JIT lines (`Held (JIT)`) of three
  producers (the third stays held, for a person to list and release after the demo);
- `npnflow jit list` shows them with their state's deadline;
- `npnflow jit release --npn ... --business-date ... --by ...` releases the first producer's
  line into a new Approved batch, and `approved_batch_sensor`'s run sends it: Accepted;
- `npnflow offboard NPN --by ...` offboards the second producer: its Appointed lines become a
  termination batch waiting for review, its held line is Cancelled, its portal seat freed.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import click

from npnflow.demo.dagster_runs import drop_file
from npnflow.demo.data_folder import DemoRun
from npnflow.demo.samples import APPOINT_HEADER, PC_COCODE, eligible_lines
from npnflow.demo.submissions import APPROVER, _approve_and_submit

if TYPE_CHECKING:
    import pandas as pd
    from dagster import DagsterInstance, Definitions

    from resources.database import OperationalDatabase


def _held_candidates(database: OperationalDatabase) -> pd.DataFrame:
    """JIT lines never requested yet; producers with a portal seat and Appointed lines with
    the customer's companies first (the one offboarded shows all three)."""
    from assets.portal.invitations import SEAT_HOLDING_STATUSES

    lines = eligible_lines(database)
    lines = lines[lines.jit.astype(bool) & ~lines.recorded & (lines.cocode != PC_COCODE)]
    # A producer an earlier demo run offboarded is not active: not one to appoint again.
    producers = database.read_table("producers", ["npn", "offboarded_at"])
    lines = lines[~lines.npn.isin(producers[producers.offboarded_at.notna()].npn)]
    asked = database.read_table("transactions", ["npn", "state_code", "cocode"])
    asked_keys = set(zip(asked.npn, asked.state_code, asked.cocode, strict=True))
    keys = zip(lines.npn, lines.state_code, lines.cocode, strict=True)
    lines = lines[[key not in asked_keys for key in keys]]
    seats = database.read_table("portal_users", ["npn", "status"])
    seated = set(seats[seats.status.isin(SEAT_HOLDING_STATUSES)].npn)
    appointed = database.read_table("appointments", ["npn", "cocode", "status"])
    companies = set(database.read_table("companies", ["cocode"]).cocode)
    with_lines = set(
        appointed[
            appointed.status.str.lower().eq("appointed") & appointed.cocode.isin(companies)
        ].npn
    )
    rank = lines.npn.map(lambda n: (n in seated) + (n in with_lines))
    return lines.assign(rank=rank).sort_values(["rank", "npn"], ascending=[False, True])


def jit_and_offboarding(
    defs: Definitions,
    instance: DagsterInstance,
    database: OperationalDatabase,
    day: dt.date,
    demo_run: DemoRun,
) -> bool:
    from assets.jit.listing import jit_lines
    from assets.jit.rules import ReleaseRequest, describe_release
    from assets.jit.service import release_held_lines
    from assets.offboarding.rules import OffboardRequest, describe
    from assets.offboarding.service import offboard_producers
    from assets.portal.invitations import SEAT_HOLDING_STATUSES
    from assets.rules.business_day import nipr_business_date

    candidates = _held_candidates(database)
    by_producer = candidates.drop_duplicates("npn")
    if len(by_producer) < 2:
        click.echo("   (no two producers with a JIT line left to hold: step skipped)")
        return True
    leaver, newcomer = by_producer.iloc[0], by_producer.iloc[1]
    # A third producer's line stays held, for `npnflow jit list` / `jit release` afterwards.
    waiting = by_producer.iloc[2:3]
    rows = [
        f"{r.npn},{r.state_code},{r.cocode},{r.loa_category},Producer,FALSE,FALSE,"
        for r in (newcomer, leaver, *(w for _, w in waiting.iterrows()))
    ]
    key = demo_run.key("inbox/appoint", f"demo-jit-{day.isoformat()}.csv")
    content = "\r\n".join([APPOINT_HEADER, *rows]) + "\r\n"
    if drop_file(defs, instance, key, content.encode()) is None:
        return False

    today = nipr_business_date()
    with database.begin() as connection:
        held = jit_lines(connection, today=today)
    click.echo(f"   npnflow jit list: {len(held)} line(s) held for first business")
    for line in held.head(6).itertuples():
        days = line.jit_deadline_days
        span = "-" if days != days or days is None else int(days)
        # A date where the state's clock starts with the contract (the day it was held).
        due = (
            f"{str(line.jit_due_date)[:10]} (held + {span} days)"
            if isinstance(line.jit_due_date, dt.date)
            else f"business date + {span} days"
        )
        click.echo(
            f"     {line.transaction_id} NPN {line.npn} {line.state_code} CoCode {line.cocode} "
            f"{line.loa_category}: {line.status}, due {due}"
        )

    outcome = release_held_lines(
        database,
        [ReleaseRequest(npn=newcomer.npn, state_code=newcomer.state_code, business_date=today)],
        released_by=APPROVER,
    )
    click.echo(
        f"   npnflow jit release --npn {newcomer.npn} --state {newcomer.state_code} "
        f"--business-date {today.isoformat()} --by '{APPROVER}':"
    )
    for text in describe_release(outcome, APPROVER):
        click.echo(f"   {text}")
    with database.begin() as connection:
        from assets.batches import approval

        batches = approval.list_batches(connection)
    if not _approve_and_submit(
        defs, instance, database, batches[batches.batch_id.isin(outcome.batches)]
    ):
        return False
    sent = database.read_table("transactions", ["transaction_id", "status", "nipr_message"])
    for line in outcome.released:
        row = sent[sent.transaction_id == line.transaction_id].iloc[0]
        click.echo(
            f"     {line.transaction_id}: {row.status}, NIPR: {row.nipr_message}; due "
            f"{line.jit_due_date}"
        )

    seats_before = database.read_table("portal_users", ["status"]).status.isin(
        SEAT_HOLDING_STATUSES
    )
    run = offboard_producers(database, [OffboardRequest(npn=leaver.npn)], offboarded_by=APPROVER)
    click.echo(f"   npnflow offboard {leaver.npn} --by '{APPROVER}':")
    for outcome_ in run.outcomes:
        for text in describe(outcome_):
            click.echo(f"   {text}")
    seats_after = database.read_table("portal_users", ["status"]).status.isin(SEAT_HOLDING_STATUSES)
    click.echo(
        f"   portal seats in use: {int(seats_before.sum())} before, {int(seats_after.sum())} "
        "after (a revoked seat is free again)"
    )
    for _, line in waiting.iterrows():
        click.echo(
            f"   Still held for you to try: `npnflow jit list`, then `npnflow jit release --npn "
            f"{line.npn} --business-date {today.isoformat()} --by NAME`"
        )
    return not run.failed
