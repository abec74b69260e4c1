"""`npnflow demo`: the whole product, end to end, on the embedded default.

It grows with every capability, so a newcomer always sees everything work. Today it:
1. migrates the operational database;
2. starts the NIPR sandbox, whose producers hold appointments with the customer's companies;
3. loads the reference data and the company setup (`load_reference_data_job`);
4. drops a sample agent file (the roster, with producer assignments, a few mistakes and blank
   rows, and an NPN NIPR does not know) into the local bucket's `inbox/agent/`; the real
   `inbox_file_sensor` finds it and `process_upload_job` validates it, writes the error report
   beside it and onboards the valid rows; then `onboarded_producers_sensor` requests
   `sync_new_producers_job`: Entity Info for each new producer, then the PDB Alerts target list;
5. runs the daily sync (`daily_nipr_sync_job`) for the last few NIPR report days and prints
   what changed;
6. drops an appoint file (requests for the onboarded producers, Submit TRUE and FALSE, with
   requests that cannot be eligible) into `inbox/appoint/`: `process_upload_job` checks every
   request's eligibility and groups the transactions into batches; the batches are listed, one
   is shown and approved as `npnflow batches approve` does, and `approved_batch_sensor`'s
   runs (`submit_batch_job`) send the approved batches to the sandbox's Gateway, exactly once;
   the final statuses are printed;
7. builds the reports (`build_reports_job`: dbt build, tests as asset checks), exports a
   terminate file from `rpt_producer_licensing_with_carrier_appointments` as `npnflow export
   terminate` does, drops it into `inbox/terminate/`: the termination batch is reviewed,
   approved and sent like the appointments; the reports are rebuilt and show the outcome;
8. drops a portal_invite file: seats are taken, one email per invitation lands in the local
   outbox (only the token's hash is stored), a full portal and an unknown NPN are reported;
   the same requests again send nothing.
Every step runs the same Dagster job a person launches from the UI, on the persistent local
instance, so `npnflow ui` shows these runs afterwards.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import re
import time
from zoneinfo import ZoneInfo

import click

from npnflow.instance import ensure_dagster_home
from resources import paths

CENTRAL = ZoneInfo("America/Chicago")
# What a person reads is the summary below; each run's full event log is in the UI.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
ROSTER_SIZE = 40
REPORT_DAYS = 3
# An NPN NIPR does not know, so the roster shows the `Not Found` status too.
UNKNOWN_NPN = "99999999"
CURRENT_STATE = ("producers", "licenses", "license_loas", "appointments")


def _heading(text: str) -> None:
    click.echo("")
    click.secho(text, bold=True)


def _recent_report_days(today: dt.date, count: int) -> list[dt.date]:
    """The last `count` NIPR alert days before today (no runs on Sundays); today's report may
    not be published yet, so the demo never asks for it."""
    days, day = [], today - dt.timedelta(days=1)
    while len(days) < count:
        if day.weekday() != 6:
            days.append(day)
        day -= dt.timedelta(days=1)
    return sorted(days)


def _run(defs, job_name: str, instance, *, quiet_stdout: bool = False, **kwargs):
    # dbt writes its whole log to stdout (kept in the run's logs in the UI); the demo prints
    # only the failures, below.
    with contextlib.redirect_stdout(io.StringIO()) if quiet_stdout else contextlib.nullcontext():
        result = defs.resolve_job_def(job_name).execute_in_process(
            instance=instance, raise_on_error=False, run_config=QUIET, **kwargs
        )
    if not result.success:
        for event in result.all_events:
            if event.is_step_failure:
                error = getattr(event.event_specific_data, "error", None)
                click.secho(
                    f"   FAILED {event.step_key}: {error.message if error else event.message}",
                    fg="red",
                )
    return result


def _roster(world, days: list[dt.date]) -> list[str]:
    """Producers who change on the report days, so the daily sync has something to show, and
    some who do not."""
    changing = sorted({c.npn for day in days for c in world.changes_on(day)})
    quiet = [npn for npn in world.individual_npns() if npn not in changing]
    half = ROSTER_SIZE // 2
    return changing[:half] + quiet[: ROSTER_SIZE - min(half, len(changing))]


SAMPLE_HEADER = (
    "Agency NPN,First Name,Last Name,Agent NPN,Agent Email,Agent SSN,LOA Category,States,"
    "Scorecard Type,Agent Type,CoCodes"
)
SAMPLE_AGENCY_NPNS = ("9000001", "9000002")


def _sample_agent_file(world, npns: list[str]) -> bytes:
    """The roster as an analyst fills the agent template: names from NIPR's world, producer
    assignments for some, made-up SSNs (900-series, never issued), a few mistakes and blank
    rows, and an NPN NIPR does not know (`config/samples/agent_onboarding.csv` has the same
    shape with made-up NPNs)."""
    lines = [SAMPLE_HEADER]
    for i, npn in enumerate(npns):
        producer = world.producer(npn)
        first = getattr(producer, "first_name", "") or "Pat"
        last = getattr(producer, "last_name", "") or f"Producer {npn}"
        # Letters only: the validator refuses an apostrophe (O'Brien) in an address.
        email = re.sub(r"[^a-z.]", "", f"{first}.{last}".lower()) + "@example.com"
        ssn = f"900-{10 + i % 80:02d}-{1000 + i:04d}" if i % 2 == 0 else ""
        assignment = ",,,,"
        if i % 4 == 0:
            assignment = "Life;Accident & Health,CA;TX,License & Appointment,Producer,91234"
        elif i % 4 == 1:
            assignment = "Property;Casualty,FL,License,Producer,"
        lines.append(f"{SAMPLE_AGENCY_NPNS[i % 2]},{first},{last},{npn},{email},{ssn},{assignment}")
        if i in (4, 11):
            lines.append(",,,,,,,,,,")  # blank rows: skipped and counted
    lines += [
        f"{SAMPLE_AGENCY_NPNS[0]},Nora,Unknown,{UNKNOWN_NPN},nora.unknown@example.com,,,,,,",
        # Mistakes an analyst makes: rejected with a message each, nothing written for them.
        f"{SAMPLE_AGENCY_NPNS[0]},Typo,Npn,12A45,typo@example.com,,,,,,",
        f"{SAMPLE_AGENCY_NPNS[0]},Bad,Email,99999991,bad.email@example,,,,,,",
        f"{SAMPLE_AGENCY_NPNS[1]},Bad,State,99999992,bad.state@example.com,,Life,CA;XX,License,Producer,",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def _drop_and_process(defs, instance, database, world, npns: list[str], day: dt.date) -> bool:
    """Drop the sample agent file into the local bucket and process it."""
    key = f"inbox/agent/demo-roster-{day.isoformat()}.csv"
    upload_id = _drop_file(defs, instance, key, _sample_agent_file(world, npns))
    if upload_id is None:
        return False
    counts = database.count_rows(["agencies", "producers", "producer_assignments"])
    click.echo(
        "   now " + ", ".join(f"{n:,} {t}" for t, n in counts.items())
        + "; SSNs: last four kept"
        + (", full value encrypted" if os.environ.get("NPNFLOW_SSN_KEY") else
           " (no NPNFLOW_SSN_KEY: full values discarded)")
    )  # fmt: skip
    return True


_INBOX_CURSOR: dict[str, str | None] = {}


def _drop_file(defs, instance, key: str, content: bytes) -> str | None:
    """Drop a file into the local bucket, let the real inbox sensor find it, run
    `process_upload_job` for its partition as the daemon would, print the upload's outcome and
    return its upload id (None when something failed)."""
    from dagster import build_sensor_context

    from resources.database import OperationalDatabase
    from resources.object_store import LocalFolderObjectStore

    database = OperationalDatabase(url=paths.database_url())
    store = LocalFolderObjectStore(root=str(paths.bucket_dir()))
    store.put_bytes(key, content)
    click.echo(f"   dropped {key} in {store.root}")

    sensor = defs.resolve_sensor_def("inbox_file_sensor")
    with build_sensor_context(
        instance=instance,
        instance_ref=instance.get_ref(),
        resources={"object_store": store},
        definitions=defs,
        # As the daemon does: each tick starts where the previous one stopped.
        cursor=_INBOX_CURSOR.get("cursor"),
    ) as context:
        tick = sensor.evaluate_tick(context)
    _INBOX_CURSOR["cursor"] = tick.cursor
    # What the daemon does with the tick: add the partitions, launch the runs.
    for request in tick.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    ours = [r for r in tick.run_requests if r.run_key.startswith(f"{key}:")]
    others = len(tick.run_requests) - len(ours)
    click.echo(
        f"   inbox_file_sensor: {len(tick.run_requests)} new file(s), partition "
        f"{ours[0].partition_key if ours else '-'}"
        + (f" ({others} other dropped file(s) left for the sensor)" if others else "")
    )
    if not ours:
        click.secho("   the sensor did not request the dropped file", fg="red")
        return None
    request = ours[0]
    if not _run(
        defs,
        "process_upload_job",
        instance,
        partition_key=request.partition_key,
        tags=dict(request.tags),
    ).success:
        return None
    upload = database.read_table("uploads").set_index("upload_id").loc[request.partition_key]
    click.echo(
        f"   process_upload_job: {upload.status}; {int(upload.rows_total or 0)} rows: "
        f"{int(upload.rows_valid or 0)} valid, {int(upload.rows_rejected or 0)} rejected, "
        f"{int(upload.rows_blank or 0)} blank"
    )
    if isinstance(upload.error_report_key, str) and upload.error_report_key:
        report = store.get_bytes(upload.error_report_key).decode("utf-8-sig").splitlines()
        click.echo(f"   error report: {paths.bucket_dir() / upload.error_report_key}")
        for line in report[:4]:
            click.echo(f"     {line}")
    return str(request.partition_key)


def _sync_onboarded(defs, instance) -> bool:
    """`onboarded_producers_sensor` asks for the sync of the new producers; run it."""
    from dagster import build_sensor_context

    sensor = defs.resolve_sensor_def("onboarded_producers_sensor")
    with build_sensor_context(instance=instance, definitions=defs) as context:
        tick = sensor.evaluate_tick(context)
    if not tick.run_requests:
        click.echo(f"   onboarded_producers_sensor: {tick.skip_message}; syncing anyway")
        return _run(defs, "sync_new_producers_job", instance).success
    request = tick.run_requests[0]
    click.echo(
        f"   onboarded_producers_sensor requested sync_new_producers_job ({request.run_key})"
    )
    return _run(defs, "sync_new_producers_job", instance, tags=dict(request.tags)).success


APPOINT_HEADER = "NPN,States,CoCode,LOA Category,Agent Type,Submit,Submit Just In Time"
LIFE_HEALTH_COCODE, PC_COCODE, MULTI_LINE_COCODE = "91234", "92345", "93456"
UNKNOWN_COCODE = "99999"
APPROVER = "Demo Analyst"


def _eligible_lines(database):
    """(npn, state, company, category) a producer of ours could be appointed for. The demo asks
    for these so that NIPR has something to accept: every (licensed state, company appointing
    there, company category) of our producers is put to the eligibility engine, and the
    requests with a line Ready to Submit are kept."""
    import pandas as pd

    from assets.appointments.eligibility import evaluate_appointment_requests
    from assets.appointments.store import read_eligibility_inputs
    from schemas import statuses

    licensed = database.read_table("licenses", ["npn", "state_code"]).drop_duplicates()
    settings = database.read_table("company_state_settings", ["cocode", "state_code", "jit"])
    categories = database.read_table("company_loa_categories", ["cocode", "loa_category"])
    candidates = licensed.merge(settings, on="state_code").merge(categories, on="cocode")
    requests = candidates.assign(
        request_row=range(2, len(candidates) + 2),
        agent_type="Producer",
        submit=False,
        submit_just_in_time=False,
    )
    with database.begin() as connection:
        inputs = read_eligibility_inputs(connection, requests["npn"])
    evaluated = evaluate_appointment_requests(requests, inputs)
    ready = evaluated[evaluated["status"].isin([statuses.READY_TO_SUBMIT, statuses.HELD_JIT])]
    chosen = candidates[
        pd.Series(range(2, len(candidates) + 2), index=candidates.index).isin(ready.request_row)
    ]
    return chosen.sort_values(["cocode", "npn", "state_code", "loa_category"]).reset_index(
        drop=True
    )


def _sample_appoint_file(database) -> bytes:
    """Appointment requests as an analyst fills the appoint template: lines our producers
    could be appointed for, some with Submit TRUE (sent without review) and some with FALSE
    (left for review), and requests that cannot be eligible: a P&C company that requires
    producer assignments, a state the company does not appoint in, an unknown CoCode, an NPN
    NIPR does not know."""
    lines = _eligible_lines(database)
    requests = [APPOINT_HEADER]
    chosen = lines[lines.cocode != PC_COCODE]
    auto = chosen.head(4)
    # Non-JIT states, so these wait for review as Ready to Submit rather than held.
    review = chosen[~chosen.jit.astype(bool)].drop(auto.index, errors="ignore").head(4)
    for row in auto.itertuples():
        requests.append(
            f"{row.npn},{row.state_code},{row.cocode},{row.loa_category},Producer,TRUE,TRUE"
        )
    for row in review.itertuples():
        requests.append(
            f"{row.npn},{row.state_code},{row.cocode},{row.loa_category},Producer,FALSE,FALSE"
        )
    producers = database.read_table("producers", ["npn", "sync_status"])
    synced = producers[producers.sync_status == "Success"].npn.sort_values()
    if len(synced):
        npn = synced.iloc[0]
        requests += [
            f"{npn},TX,{PC_COCODE},Property,Producer,FALSE,FALSE",
            f"{npn},AZ,{LIFE_HEALTH_COCODE},Life,Producer,FALSE,FALSE",
            f"{npn},TX,{UNKNOWN_COCODE},Life,Producer,FALSE,FALSE",
        ]
    requests.append(f"{UNKNOWN_NPN},TX,{LIFE_HEALTH_COCODE},Life,Producer,TRUE,TRUE")
    return ("\r\n".join(requests) + "\r\n").encode("utf-8")


def _money(value: object) -> str:
    return f"${float(value or 0):,.2f}"


def _appointments(defs, instance, database, day: dt.date) -> bool:
    """Step 6: an appoint file from drop to NIPR's answers."""
    from assets.batches import approval

    key = f"inbox/appoint/demo-appointments-{day.isoformat()}.csv"
    upload_id = _drop_file(defs, instance, key, _sample_appoint_file(database))
    if upload_id is None:
        return False
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
    if not _approve_and_submit(defs, instance, database, batches):
        return False
    _print_outcome(database, upload_id)
    return True


def _print_batches(batches) -> None:
    for b in batches.itertuples():
        click.echo(
            f"   {b.batch_id}  {b.kind:<11} CoCode {b.cocode}  {b.status:<14} "
            f"{b.transactions} transaction(s): {b.ready_to_submit} ready "
            f"({_money(b.fees_to_send)}), {b.held_jit} held JIT, {b.not_eligible} not eligible"
            + (f"  (approved: {b.approved_by})" if isinstance(b.approved_by, str) else "")
        )


def _approve_and_submit(defs, instance, database, batches) -> bool:
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
                f"({_money(row.estimated_fee)})"
            )
        click.echo(f"     total to send {_money(detail.fees_to_send)}")
        with database.begin() as connection:
            result = approval.approve_batch(
                connection, batch_id, approved_by=APPROVER, now=dt.datetime.now(dt.UTC)
            )
        click.echo(
            f"   npnflow batches approve {batch_id} --by '{APPROVER}': version "
            f"{result.approval_version}, {result.transactions_to_send} transaction(s), "
            f"{_money(result.fees_to_send)} to send"
        )

    sensor = defs.resolve_sensor_def("approved_batch_sensor")
    with build_sensor_context(
        instance=instance,
        instance_ref=instance.get_ref(),
        resources={"database": database},
        definitions=defs,
    ) as context:
        tick = sensor.evaluate_tick(context)
    for request in tick.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    click.echo(
        f"   approved_batch_sensor: {len(tick.run_requests)} submission run(s) "
        + ", ".join(r.run_key for r in tick.run_requests)
    )
    for request in tick.run_requests:
        if not _run(
            defs,
            "submit_batch_job",
            instance,
            partition_key=request.partition_key,
            tags=dict(request.tags),
        ).success:
            return False
    return True


def _print_outcome(database, upload_id: str) -> None:
    from assets.batches import approval

    with database.begin() as connection:
        batches = approval.list_batches(connection, upload_id=upload_id)
    transactions = database.read_table(
        "transactions",
        ["batch_id", "upload_id", "npn", "state_code", "loa_code", "status", "nipr_message"],
    )
    transactions = transactions[transactions.upload_id == upload_id]
    click.echo("   after submission:")
    for b in batches.itertuples():
        statuses = transactions[transactions.batch_id == b.batch_id].status.value_counts()
        click.echo(
            f"   {b.batch_id}  CoCode {b.cocode}  {b.status:<14} "
            + ", ".join(f"{count} {status}" for status, count in statuses.items())
        )
    answered = transactions[transactions.nipr_message.notna()]
    for row in answered.head(6).itertuples():
        click.echo(f"     NPN {row.npn} {row.state_code} LOA {row.loa_code}: {row.status}, "
                   f"NIPR: {row.nipr_message}")  # fmt: skip


LICENSING_REPORT = "rpt_producer_licensing_with_carrier_appointments"


def _build_reports(defs, instance, database) -> bool:
    """`build_reports_job`: dbt build of dbt_reports (models and their tests as asset checks)."""
    from assets.reports.relations import REPORT_MODELS, read_report

    result = _run(defs, "build_reports_job", instance, quiet_stdout=True)
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


def _terminate_export(database, day: dt.date) -> tuple[str, bytes] | None:
    """What `npnflow export terminate --cocode C --states ...` writes: the company with the
    most Appointed lines, in two states that take terminations through NIPR, and NY when it
    has lines there (NY ends appointments on its own portal: the batch says so)."""
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
    states = [state for state in theirs.index if state in via_nipr][:2]
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


def _terminations(defs, instance, database, day: dt.date) -> bool:
    """Step 7: reports built, a terminate file exported from the report, dropped, reviewed,
    approved and sent; the reports rebuilt with the outcome."""
    from assets.batches import approval
    from assets.reports.relations import read_report

    if not _build_reports(defs, instance, database):
        return False
    exported = _terminate_export(database, day)
    if exported is None:
        return False
    name, data = exported
    upload_id = _drop_file(defs, instance, f"inbox/terminate/{name}", data)
    if upload_id is None:
        return False
    with database.begin() as connection:
        batches = approval.list_batches(connection, upload_id=upload_id)
    transactions = database.read_table("transactions", ["upload_id", "eligibility_reason"])
    reasons = transactions[transactions.upload_id == upload_id].eligibility_reason.value_counts()
    click.echo(
        f"   {len(batches)} batch(es): "
        + ", ".join(f"{count} {reason}" for reason, count in reasons.items())
    )
    _print_batches(batches)
    if not _approve_and_submit(defs, instance, database, batches):
        return False
    _print_outcome(database, upload_id)

    click.echo("   the reports again, with the terminations:")
    if not _build_reports(defs, instance, database):
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


HARBORSTONE_PORTAL, GRANITE_PORTAL = "Harborstone Agent Portal", "Granite Shield Producer Portal"
NEVER_ONBOARDED_NPN = "99999998"


def _invitation_outcome(instance) -> dict[str, object]:
    from dagster import AssetKey

    event = instance.get_latest_materialization_event(AssetKey("core_portal__invitations"))
    metadata = event.asset_materialization.metadata if event else {}
    return {name: getattr(value, "value", value) for name, value in metadata.items()}


def _portal_invitations(defs, instance, database) -> bool:
    """Step 8: a portal_invite file dropped: seats taken, one email each into the outbox, the
    errors an analyst acts on; the same requests again send nothing."""
    producers = database.read_table("producers", ["npn", "email", "agency_npn", "sync_status"])
    ready = producers[producers.email.notna() & producers.agency_npn.notna()].npn.sort_values()
    # Granite Shield has 3 seats: the fourth request shows what happens when none is left.
    rows = [f"{npn},{HARBORSTONE_PORTAL}" for npn in ready.head(3)]
    rows += [f"{npn},{GRANITE_PORTAL}" for npn in ready.iloc[3:7]]
    rows.append(f"{NEVER_ONBOARDED_NPN},{HARBORSTONE_PORTAL}")
    key = "inbox/portal_invite/demo-new-hires.csv"
    if _drop_file(defs, instance, key, ("NPN,Portal\r\n" + "\r\n".join(rows)).encode()) is None:
        return False
    outcome = _invitation_outcome(instance)
    counted = ", ".join(
        f"{name.replace('_', ' ')} {value}"
        for name, value in outcome.items()
        if isinstance(value, int) and name not in ("requested",)
    )
    click.echo(f"   core_portal__invitations: {outcome.get('requested', 0)} request(s): {counted}")
    outbox = sorted(paths.outbox_dir().glob("*.eml"), key=lambda f: f.stat().st_mtime)
    if outbox:
        message = outbox[-1].read_text(encoding="utf-8", errors="replace")
        to = next((line for line in message.splitlines() if line.startswith("To:")), "To: ?")
        subject = next((line for line in message.splitlines() if line.startswith("Subject:")), "")
        click.echo(
            f"   {len(outbox)} email(s) in {paths.outbox_dir()}; the newest: {to}; {subject}"
        )
    users = database.read_table("portal_users", ["npn", "portal_id", "invitation_token_hash"])
    if len(users):
        first = users.iloc[0]
        click.echo(
            f"   portal_users keeps only the token's SHA-256 (NPN {first.npn}: "
            f"{str(first.invitation_token_hash)[:12]}...); the link itself is only in the email"
        )
    # The same requests in another order (other bytes, so not skipped as a duplicate file).
    again = "NPN,Portal\r\n" + "\r\n".join(reversed(rows))
    if (
        _drop_file(defs, instance, "inbox/portal_invite/demo-new-hires-again.csv", again.encode())
        is None
    ):
        return False
    repeat = _invitation_outcome(instance)
    click.echo(
        f"   invited again: {repeat.get('emails_sent', 0)} email(s) sent, "
        f"{repeat.get('already_invited', 0)} already invited"
    )
    return True


def run_demo(producers: int = 200) -> int:
    started = time.monotonic()
    # The demo always runs the embedded default: never the production NIPR, whatever is set.
    os.environ["NPNFLOW_ENV"] = "local"
    home = ensure_dagster_home()

    from dagster import DagsterInstance

    from pipelines.definitions import build_definitions
    from resources.database import OperationalDatabase
    from schemas.migrate import current_revision, upgrade

    url = paths.database_url()
    _heading("1. Operational database")
    upgrade(url)
    database = OperationalDatabase(url=url)
    click.echo(f"   {database.display_url} at migration {current_revision(url)}")

    from assets.reference.loading import load_company_config, load_reference_data
    from npnflow.sandbox.server import NiprSandbox

    # NIPR's world holds appointments with the customer's own companies, as it would.
    reference = load_reference_data(paths.reference_dir())
    companies = load_company_config(paths.config_dir(), reference)["companies"]
    with (
        NiprSandbox(port=0, producers=producers, companies=companies) as sandbox,
        DagsterInstance.get() as instance,
    ):
        os.environ["NPNFLOW_NIPR_SANDBOX_URL"] = sandbox.base_url
        defs = build_definitions("local")
        _heading("2. NIPR sandbox")
        click.echo(f"   {sandbox.base_url} knows {producers} generated producers")

        _heading("3. load_reference_data_job: reference tables and company setup")
        if not _run(defs, "load_reference_data_job", instance).success:
            return 1
        from assets.reference.assets import COMPANY_CONFIG_TABLES, REFERENCE_TABLES

        for table, rows in database.count_rows([*REFERENCE_TABLES, *COMPANY_CONFIG_TABLES]).items():
            click.echo(f"   {table:<28} {rows:>7,} rows")
        settings = database.read_table("company_state_settings", ["cocode", "state_code", "jit"])
        for company in companies.itertuples():
            states = settings[settings.cocode == company.cocode]
            jit = sorted(states[states.jit.astype(bool)].state_code)
            click.echo(
                f"   {company.cocode} {company.company_name}: appoints in {', '.join(sorted(states.state_code))}"
                + (f" (JIT in {', '.join(jit)})" if jit else "")
            )

        today = sandbox.now().date()
        days = _recent_report_days(today, REPORT_DAYS)
        roster = _roster(sandbox.world, days)
        _heading(
            f"4. An agent file dropped in the bucket: inbox_file_sensor, process_upload_job, "
            f"then sync_new_producers_job for the {len(roster) + 1} producers"
        )
        if not _drop_and_process(defs, instance, database, sandbox.world, roster, today):
            return 1
        if not _sync_onboarded(defs, instance):
            return 1
        statuses = database.read_table("producers", ["sync_status"]).sync_status.value_counts()
        click.echo(
            "   sync status: "
            + ", ".join(f"{status} {count}" for status, count in statuses.items())
        )
        counts = database.count_rows(CURRENT_STATE)
        click.echo(
            "   " + ", ".join(f"{counts[t]:,} {t}" for t in CURRENT_STATE[1:]) + " from Entity Info"
        )
        targets = database.read_table("nipr_subscriptions", ["subscription_name", "removed_at"])
        active = targets[targets.removed_at.isna() & targets.subscription_name.notna()]
        click.echo(
            f"   {len(active)} producers on the PDB Alerts target list {', '.join(sorted(set(active.subscription_name)))}"
        )

        _heading(f"5. daily_nipr_sync_job: PDB Alerts for {', '.join(d.isoformat() for d in days)}")
        before = database.count_rows(CURRENT_STATE)
        for day in days:
            if not _run(
                defs, "daily_nipr_sync_job", instance, partition_key=day.isoformat()
            ).success:
                return 1
        report_days = database.read_table(
            "nipr_report_days", ["report_date", "status", "producers_reported", "scopes_applied"]
        )
        for row in report_days.sort_values("report_date").itertuples():
            click.echo(
                f"   {row.report_date}: {row.status}, {row.producers_reported or 0} of our producers reported, "
                f"{row.scopes_applied or 0} state categories replaced"
            )
        after = database.count_rows(CURRENT_STATE)
        click.echo(
            "   rows now: "
            + ", ".join(f"{t} {after[t]:,} ({after[t] - before[t]:+,})" for t in CURRENT_STATE[1:])
        )
        if after == before:
            click.echo(
                "   (Alerts resend a changed category whole, with today's data; the initial sync "
                "above fetched today's data already, so the replaced categories match it.)"
            )
        scopes = database.read_table(
            "nipr_scope_reports", ["npn", "state_code", "category", "source", "report_date"]
        )
        changed = scopes[scopes.source == "alerts"].sort_values(
            ["report_date", "npn", "state_code"]
        )
        for row in changed.head(8).itertuples():
            click.echo(
                f"   changed: NPN {row.npn} {row.state_code} {row.category.lower()} (report of {row.report_date})"
            )
        if len(changed) > 8:
            click.echo(f"   ... and {len(changed) - 8} more")

        _heading(
            "6. An appoint file dropped: eligibility, batches, approval, submission to the Gateway"
        )
        if not _appointments(defs, instance, database, today):
            return 1

        _heading(
            "7. Reports (dbt) and a termination round trip: export from the report, drop, "
            "approve, submit"
        )
        if not _terminations(defs, instance, database, today):
            return 1

        _heading("8. A portal_invite file dropped: seats, one email per invitation, errors")
        if not _portal_invitations(defs, instance, database):
            return 1

    _heading("Done")
    click.echo(
        f"   in {time.monotonic() - started:.1f} s. See the runs, assets and checks with `make ui` "
        f"(DAGSTER_HOME={home})."
    )
    click.echo(
        f"   The reports are tables in {database.display_url} (rpt_*): `npnflow reports show "
        "NAME`, the `reports` group in the UI, or any SQL client; docs/reports.md explains them."
    )
    return 0
