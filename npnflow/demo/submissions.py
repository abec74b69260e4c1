"""Steps 6 and 7 of the demo: request files through eligibility, batches, review and approval to
the sandbox's Gateway, for appointments and then for terminations exported from a report.

Both kinds share the same road (a file dropped, batches listed, one shown and approved as
`npnflow batches show/approve` do, `approved_batch_sensor`'s runs sent exactly once, the
outcome printed), so they share these functions; the reports step sits here because the
termination file is exported from a report and the reports are rebuilt with the outcome.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, SupportsFloat

import click

from npnflow.demo.commands import run_command
from npnflow.demo.dagster_runs import add_partitions, drop_file, duplicate_of, run_job
from npnflow.demo.data_folder import DemoRun
from npnflow.demo.samples import sample_appoint_file
from resources import paths

if TYPE_CHECKING:
    import pandas as pd
    from dagster import DagsterInstance, Definitions

    from resources.database import OperationalDatabase

APPROVER = "Demo Analyst"
LICENSING_REPORT = "rpt_producer_licensing_with_carrier_appointments"


def _money(value: SupportsFloat | str | None) -> str:
    return f"${float(value or 0):,.2f}"


def appointments(
    defs: Definitions,
    instance: DagsterInstance,
    database: OperationalDatabase,
    day: dt.date,
    run: DemoRun,
) -> bool:
    """Step 6: an appoint file from drop to NIPR's answers."""
    from assets.batches import approval

    key = run.key("inbox/appoint", f"demo-appointments-{day.isoformat()}.csv")
    # A later run on the same data folder also asks for lines NIPR already shows Appointed.
    content = sample_appoint_file(database, already_appointed=2 if run.continuing else 0)
    # The dry run first: what the drop will do, with nothing written (issue 19).
    from npnflow.check_cli import check

    exports = paths.data_dir() / "exports"
    exports.mkdir(parents=True, exist_ok=True)
    tried = exports / key.rsplit("/", 1)[-1]
    tried.write_bytes(content)
    if run_command(check, "check", ["appoint", str(tried)]) not in (0, 1):
        return False
    click.echo("\n   The same file dropped in the bucket's inbox/: the pipeline's reasons follow.")
    upload_id = drop_file(defs, instance, key, content)
    if upload_id is None:
        return False
    if duplicate_of(upload_id):
        return True
    with database.begin() as connection:
        batches = approval.list_batches(connection, upload_id=upload_id)
        rejected = database.read_table("request_rejections")
    rejected = rejected[rejected.upload_id == upload_id]
    click.echo(
        f"   {len(batches)} batch(es); {len(rejected)} request row(s) created no transaction:"
    )
    for row in rejected.itertuples():
        click.echo(f"     row {row.request_row}: NPN {row.npn} {row.eligibility_reason}")
    _print_batches(batches)
    if not _explain_a_not_eligible_line(database, upload_id):
        return False
    if not _approve_and_submit(defs, instance, database, batches):
        return False
    _print_outcome(database, upload_id)
    return True


# The reasons a license decides, first: the question analysts ask most (issue 19).
_EXPLAINED_FIRST = (
    "Required License Not Active",
    "No Active Resident License",
    "Required License Not Found",
)


def _explain_a_not_eligible_line(database: OperationalDatabase, upload_id: str) -> bool:
    """`npnflow explain` on one Not Eligible line of the upload, and its batch exported for an
    auditor with every line's evidence (`npnflow batches export`)."""
    from npnflow.evidence_cli import batches_export, explain

    lines = database.read_table(
        "transactions", ["transaction_id", "batch_id", "upload_id", "status", "eligibility_reason"]
    )
    lines = lines[(lines.upload_id == upload_id) & (lines.status == "Not Eligible")]
    if lines.empty:
        return True
    rank = lines.eligibility_reason.map(
        lambda reason: _EXPLAINED_FIRST.index(reason) if reason in _EXPLAINED_FIRST else 9
    )
    line = lines.assign(rank=rank).sort_values(["rank", "transaction_id"]).iloc[0]
    click.echo("\n   Why is a line Not Eligible? Every decision keeps the rows that decided it:")
    if run_command(explain, "explain", [str(line.transaction_id)]) != 0:
        return False
    audit = paths.data_dir() / "exports" / f"{line.batch_id}-evidence.xlsx"
    return (
        run_command(batches_export, "batches export", [str(line.batch_id), "-o", str(audit)]) == 0
    )


def _print_batches(batches: pd.DataFrame) -> None:
    for b in batches.itertuples():
        click.echo(
            f"   {b.batch_id}  {b.kind:<11} CoCode {b.cocode}  {b.status:<14} "
            f"{b.transactions} transaction(s): {b.ready_to_submit} ready "
            f"({_money(b.fees_to_send)} state fees, {_money(b.nipr_fees_to_send)} NIPR fees), "
            f"{b.held_jit} held JIT, {b.not_eligible} not eligible"
            + (f"  (approved: {b.approved_by})" if isinstance(b.approved_by, str) else "")
        )


def _approve_and_submit(
    defs: Definitions,
    instance: DagsterInstance,
    database: OperationalDatabase,
    batches: pd.DataFrame,
) -> bool:
    """Show and approve the first batch waiting for review (as `npnflow batches show/approve`
    do), then run what `approved_batch_sensor` requests: one `submit_batch_job` per approved
    batch and approval."""
    from dagster import build_sensor_context

    from assets.batches import approval

    # A batch of only held (JIT) lines has nothing an approval would send.
    pending = batches[(batches.status == "Pending Review") & (batches.ready_to_submit > 0)]
    if len(pending):
        batch_id = pending.iloc[0].batch_id
        with database.begin() as connection:
            detail = approval.batch_detail(connection, batch_id)
        click.echo(f"   npnflow batches show {batch_id}:")
        for row in detail.transactions.head(12).itertuples():
            reason = (
                f" [{row.termination_reason_code}]"
                if isinstance(getattr(row, "termination_reason_code", None), str)
                else ""
            )
            click.echo(
                f"     NPN {row.npn} {row.state_code} LOA "
                f"{row.loa_code if isinstance(row.loa_code, str) else '-':<6} "
                f"{row.status:<16} {row.eligibility_reason}{reason} "
                f"({_money(row.estimated_fee)}"
                # NIPR's own fee only on a line that is sent; never on Held, Recorded, refused.
                + (
                    f" + NIPR {_money(row.estimated_nipr_fee)})"
                    if row.status == "Ready to Submit"
                    else ")"
                )
            )
        click.echo(
            f"     total to send {_money(detail.fees_to_send)} in state fees, "
            f"{_money(detail.nipr_fees_to_send)} in NIPR transaction fees (invoiced by NIPR)"
        )
        with database.begin() as connection:
            result = approval.approve_batch(
                connection, batch_id, approved_by=APPROVER, now=dt.datetime.now(dt.UTC)
            )
        click.echo(
            f"   npnflow batches approve {batch_id} --by '{APPROVER}': version "
            f"{result.approval_version}, {result.transactions_to_send} transaction(s), "
            f"{_money(result.fees_to_send)} in state fees and "
            f"{_money(result.nipr_fees_to_send)} in NIPR fees to send"
        )

    sensor = defs.resolve_sensor_def("approved_batch_sensor")
    with build_sensor_context(
        instance=instance,
        instance_ref=instance.get_ref(),
        resources={"database": database},
        definitions=defs,
    ) as context:
        tick = sensor.evaluate_tick(context)
    requests = add_partitions(instance, tick)
    click.echo(
        f"   approved_batch_sensor: {len(requests)} submission run(s) "
        + ", ".join(str(r.run_key) for r in requests)
    )
    for request in requests:
        if not run_job(
            defs,
            "submit_batch_job",
            instance,
            partition_key=request.partition_key,
            tags=dict(request.tags),
        ).success:
            return False
    if len(pending):
        _print_history(database, str(pending.iloc[0].batch_id))
    return True


def _print_history(database: OperationalDatabase, batch_id: str) -> None:
    """The approved batch's audit trail, as `npnflow batches history` prints it (issue 19)."""
    from assets.batches.events import batch_history

    with database.begin() as connection:
        events = batch_history(connection, batch_id)
    click.echo(f"   npnflow batches history {batch_id}:")
    for e in events:
        click.echo(f"     {e.event:<9} door {e.door:<8} by {e.actor}, version {e.approval_version}")


def _print_outcome(database: OperationalDatabase, upload_id: str) -> None:
    from assets.batches import approval

    with database.begin() as connection:
        batches = approval.list_batches(connection, upload_id=upload_id)
    transactions = database.read_table(
        "transactions",
        [
            "batch_id",
            "upload_id",
            "npn",
            "state_code",
            "loa_code",
            "status",
            "eligibility_reason",
            "nipr_message",
        ],
    )
    transactions = transactions[transactions.upload_id == upload_id]
    click.echo("   after submission:")
    for b in batches.itertuples():
        statuses = transactions[transactions.batch_id == b.batch_id].status.value_counts()
        click.echo(
            f"   {b.batch_id}  CoCode {b.cocode}  {b.status:<14} "
            + ", ".join(f"{count} {status}" for status, count in statuses.items())
        )
    # A registry state's lines (IL): recorded in the carrier's register, never sent, no fee.
    for row in transactions[transactions.status == "Recorded"].head(3).itertuples():
        click.echo(
            f"     NPN {row.npn} {row.state_code} LOA {row.loa_code}: {row.status}, "
            f"{row.eligibility_reason} (not sent to NIPR, no fee)"
        )
    answered = transactions[transactions.nipr_message.notna()]
    for row in answered.head(6).itertuples():
        click.echo(
            f"     NPN {row.npn} {row.state_code} LOA {row.loa_code}: {row.status}, "
            f"NIPR: {row.nipr_message}"
        )


def build_reports(
    defs: Definitions, instance: DagsterInstance, database: OperationalDatabase
) -> bool:
    """`build_reports_job`: dbt build of dbt_reports (models and their tests as asset checks)."""
    from assets.reports.relations import REPORT_MODELS, read_report

    result = run_job(defs, "build_reports_job", instance, quiet_stdout=True)
    if not result.success:
        return False
    checks = result.get_asset_check_evaluations()
    passed = sum(1 for c in checks if c.passed)
    with database.begin() as connection:
        counts = {name: len(read_report(connection, name)) for name in REPORT_MODELS}
    click.echo(
        f"   build_reports_job: {len(counts)} reports, {passed} of {len(checks)} dbt tests "
        "passed (asset checks)"
    )
    for name, rows in counts.items():
        click.echo(f"   {name:<50} {rows:>6,} rows")
    return passed == len(checks)


def _terminate_export(
    database: OperationalDatabase, day: dt.date, run: DemoRun
) -> tuple[str, bytes] | None:
    """What `npnflow export terminate --cocode C --states ...` writes: the company with the
    most Appointed lines, in two states that take terminations through NIPR, and NY when it
    has lines there (NY ends appointments on its own portal: the batch says so).

    Run N of the demo on the same data folder takes one more state through NIPR than run N-1:
    the report still lists the lines NIPR accepted terminations for (until the next sync), so
    the batch shows those refused as repeats, never filed twice, and the new state's lines
    sent."""
    from assets.reports.relations import read_report
    from assets.terminations.export import terminate_csv, terminate_rows_from_report

    with database.begin() as connection:
        report = read_report(connection, LICENSING_REPORT)
    appointed = report[report.appointment_status == "Appointed"]
    if appointed.empty:
        click.secho("   the report has no Appointed line to terminate", fg="red")
        return None
    rules = database.read_table("state_appointment_rules", ["state_code", "terminations_via_nipr"])
    via_nipr = set(rules[rules.terminations_via_nipr.astype(bool)].state_code)
    cocode = appointed.cocode.value_counts().index[0]
    theirs = appointed[appointed.cocode == cocode].state_code.value_counts()
    states = [state for state in theirs.index if state in via_nipr][: 1 + run.number]
    states += [state for state in theirs.index if state not in via_nipr][:1]
    rows = terminate_rows_from_report(report, cocode, states)
    target = paths.data_dir() / "exports" / f"terminate_{cocode}_{day:%Y%m%d}.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    data = terminate_csv(rows)
    target.write_bytes(data)
    click.echo(
        f"   npnflow export terminate --cocode {cocode} --states {','.join(states)} -o {target}"
    )
    click.echo(
        f"   {len(rows)} Appointed line(s) of {rows.iloc[:, 0].nunique()} producer(s) written "
        "into the terminate template (blank reason: each state's default)"
    )
    return target.name, data


def terminations(
    defs: Definitions,
    instance: DagsterInstance,
    database: OperationalDatabase,
    day: dt.date,
    run: DemoRun,
) -> bool:
    """Step 7: reports built, a terminate file exported from the report, dropped, reviewed,
    approved and sent; the reports rebuilt with the outcome."""
    from assets.batches import approval
    from assets.reports.relations import read_report

    if not build_reports(defs, instance, database):
        return False
    exported = _terminate_export(database, day, run)
    if exported is None:
        return False
    name, data = exported
    upload_id = drop_file(defs, instance, run.key("inbox/terminate", name), data)
    if upload_id is None:
        return False
    if duplicate_of(upload_id):
        return True  # no state left to add: the same export again, processed once
    with database.begin() as connection:
        batches = approval.list_batches(connection, upload_id=upload_id)
    transactions = database.read_table("transactions", ["upload_id", "eligibility_reason"])
    reasons = transactions[transactions.upload_id == upload_id].eligibility_reason.value_counts()
    click.echo(
        f"   {len(batches)} batch(es): "
        + ", ".join(f"{count} {reason}" for reason, count in reasons.items())
    )
    uploads = database.read_table("uploads", ["upload_id", "rows_valid"])
    rows = int(uploads[uploads.upload_id == upload_id].rows_valid.fillna(0).sum())
    if rows > int(reasons.sum()):
        # A later demo run exports lines whose termination NIPR already accepted (the report
        # shows them Appointed until the next sync): the engine leaves them out.
        click.echo(
            f"   {rows - int(reasons.sum())} row(s) repeat a termination already filed (NIPR "
            "accepted it, or it is still open): left out, never filed twice"
        )
    if batches.empty:
        return True
    _print_batches(batches)
    if not _approve_and_submit(defs, instance, database, batches):
        return False
    _print_outcome(database, upload_id)

    click.echo("   the reports again, with the terminations:")
    if not build_reports(defs, instance, database):
        return False
    with database.begin() as connection:
        status = read_report(connection, "rpt_batch_status")
        expiring = read_report(connection, "rpt_expiring_licenses")
    for row in status[status.upload_id == upload_id].itertuples():
        click.echo(
            f"   rpt_batch_status {row.batch_id}: {row.status}, {row.accepted} accepted, "
            f"{row.rejected} rejected, {row.not_eligible} not eligible"
        )
    windows = expiring.expiry_window.value_counts()
    click.echo(
        "   rpt_expiring_licenses: "
        + ", ".join(f"{windows.get(w, 0)} within {w}" for w in ("30 days", "60 days", "90 days"))
    )
    return True
