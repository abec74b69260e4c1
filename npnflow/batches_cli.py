"""`npnflow batches`: review transaction batches, then approve, reject or retry them (SPEC
section 8).

- `list`: the batches, newest first, with their counts and fees;
- `show ID`: one batch's transactions, reasons and fees, before approval;
- `approve ID --by NAME`, `reject ID --by NAME`, `retry ID --by NAME`: the actions of
  `assets/batches/approval.py`, each in one database transaction (a retry also under the
  batch's submission lock, so it is refused while a run is sending the batch); a refusal
  prints why and exits with status 1.

Its own module because it is the largest command group; registered on `npnflow` by
`npnflow/cli.py`. Imports of the product happen inside the commands, so `npnflow --help`
stays instant.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
from collections.abc import Callable, Iterator
from decimal import Decimal
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, TypeVar

import click

from resources import paths

# Plain string constants (no I/O, no Dagster): the commands' choices come from them.
from schemas import statuses

if TYPE_CHECKING:
    from dagster import AssetObservation, DagsterInstance
    from sqlalchemy.engine import Connection

    from resources.database import OperationalDatabase

T = TypeVar("T")


@click.group(help="Review transaction batches and approve, reject or retry them.")
def batches() -> None:
    pass


def _on_the_database(work: Callable[[OperationalDatabase], T]) -> T:
    """Run `work(database)`, which opens its own transaction; a refusal exits 1.

    The database must be at the code's migration: a batch command on an older schema could
    write half a change, so it stops first and names `npnflow db upgrade`.
    """
    from assets.batches.approval import BatchActionRefused, BatchNotFound
    from resources.database import DatabaseNotMigrated, OperationalDatabase

    database = OperationalDatabase(url=paths.database_url())
    try:
        database.ensure_migrated()
        return work(database)
    except DatabaseNotMigrated as error:
        click.echo(str(error), err=True)
        sys.exit(1)
    except (BatchNotFound, BatchActionRefused) as refusal:
        click.echo(str(refusal), err=True)
        sys.exit(1)
    finally:
        database.engine.dispose()


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"


def _cell(value: object) -> object:
    """Table cells: `-` for missing values (never `nan`), yes/no for flags; a deliberate blank
    (`""`, e.g. no fee for a line never sent) stays blank."""
    from npnflow.display import shown

    return value if isinstance(value, str) else shown(value)


def _fee_cell(value: Decimal | float | int | None) -> str:
    from assets.batches.detail import format_money
    from npnflow.display import is_missing

    return "" if is_missing(value) else format_money(value)  # blank: no fee estimated


def _nipr_fee_cell(value: Decimal | float | int | None, status: str | None) -> str:
    """NIPR's fee of a line (or of a status's lines): blank where nothing is sent (Not
    Eligible, Recorded, Held (JIT), Cancelled), so no NIPR fee is ever shown for them."""
    from assets.batches.detail import NIPR_FEE_STATUSES

    return _fee_cell(value) if status in NIPR_FEE_STATUSES else ""


def _jit_cell(line: dict[str, object], today: dt.date) -> object:
    """A JIT line's hold, deadline and `Late JIT Filing` flag (submitted after its due date,
    or still unsent past it); blank for a line that is not JIT."""
    due = line.get("jit_due_date")
    if _cell(due) in ("", "-"):
        return line.get("is_jit")
    # Only for a line with a deadline: the JIT rules import pandas.
    from assets.jit.listing import late_jit_filing
    from assets.jit.rules import LATE_JIT_FILING

    text = f"due {str(due)[:10]}"
    return f"{text}, {LATE_JIT_FILING}" if late_jit_filing(line, today) else text


def _echo_table(rows: list[list[object]], headers: list[str]) -> None:
    # No types-tabulate installed; mypy flags only the first importer (so: unused-ignore too).
    from tabulate import tabulate  # type: ignore[import-untyped, unused-ignore]

    click.echo(
        tabulate(
            [[_cell(v) for v in row] for row in rows],
            headers=headers,
            tablefmt="simple",
            disable_numparse=True,
        )
    )


def _sensor_hint(batch_id: str) -> str:
    from assets.keys import APPROVED_BATCH_SENSOR_NAME, TAG_BATCH_ID

    return (
        f"The {APPROVED_BATCH_SENSOR_NAME} will submit it; follow it in the Dagster UI "
        f"(Runs, tag {TAG_BATCH_ID}={batch_id})."
    )


#: `batches list` fits a terminal this wide unless `--wide` asks for every column.
LIST_WIDTH = 120


def _upload_name(object_key: object, upload_id: object) -> str:
    """The dropped file's name (without the bucket's `inbox/<kind>/`), else the upload id."""
    from npnflow.display import is_missing, shown

    if not is_missing(object_key) and str(object_key).strip():
        return str(object_key).rsplit("/", 1)[-1]
    return shown(upload_id, "no upload")


def _company(name: object, cocode: object) -> str:
    from npnflow.display import is_missing, shown

    # The CoCode first: it is what the other commands take, and it survives shortening.
    return shown(cocode) if is_missing(name) else f"{shown(cocode)} {shown(name)}"


@batches.command("list", help="The batches, newest first, with their counts and fees.")
@click.option(
    "--status",
    type=click.Choice(statuses.BATCH_STATUSES, case_sensitive=False),
    default=None,
    help="Only batches with this status.",
)
@click.option("--kind", type=click.Choice(statuses.TRANSACTION_KINDS), default=None)
@click.option(
    "--upload",
    "upload_id",
    default=None,
    help="Only the batches of this upload: its id, its bucket key or its file name (every "
    "upload of that name).",
)
@click.option(
    "--wide",
    is_flag=True,
    default=False,
    help="Every column: upload id, approval version, lines, NIPR and held fees, approval and "
    "creation times (wider than 120 columns).",
)
def batches_list(status: str | None, kind: str | None, upload_id: str | None, wide: bool) -> None:
    from assets.batches.detail import format_money, format_timestamp, list_batch_rows
    from assets.batches.outcomes import describe_counts, status_counts
    from npnflow.display import fit_rows, shown
    from npnflow.read_only import reading

    # The upload look-up reads with pandera's schemas: imported only when --upload asks for it.
    not_found: tuple[type[Exception], ...] = ()
    if upload_id:
        from assets.uploads.lookup import UploadNotFound, find_upload

        not_found = (UploadNotFound,)

    def listed(connection: Connection) -> list[dict[str, Any]]:
        if not upload_id:
            return list_batch_rows(connection, status=status, kind=kind)
        # The upload as `npnflow uploads show` names it (id, key or file name); a name dropped
        # several times means the batches of each of its uploads (the newest may be a
        # Duplicate, which made none), newest first, those without a time last.
        match = find_upload(connection, upload_id)
        found = [
            row
            for upload in (match.upload, *match.others)
            for row in list_batch_rows(
                connection, status=status, kind=kind, upload_id=upload["upload_id"]
            )
        ]
        dated = [row for row in found if row["created_at"] is not None]
        undated = [row for row in found if row["created_at"] is None]
        return sorted(dated, key=lambda row: row["created_at"], reverse=True) + undated

    def read(connection: Connection) -> tuple[list[dict[str, Any]], dict[str, dict[str, int]]]:
        found = listed(connection)
        return found, status_counts(connection, [row["batch_id"] for row in found])

    try:
        found, counts = reading(read)
    except not_found as missing:
        click.echo(str(missing), err=True)
        sys.exit(1)
    if not found:
        filters = [
            f"{name} {value}"
            for name, value in (("status", status), ("kind", kind), ("upload", upload_id))
            if value
        ]
        click.echo("No batches" + (f" with {', '.join(filters)}." if filters else " yet."))
        return
    batches_found = [SimpleNamespace(**row) for row in found]
    if wide:
        rows = [
            [
                b.batch_id,
                b.kind,
                _company(b.company_name, b.cocode),
                _upload_name(b.upload_object_key, b.upload_id),
                shown(b.upload_id),
                b.status,
                shown(b.approval_version),
                shown(b.transactions),
                describe_counts(counts.get(b.batch_id, {})),
                format_money(b.fees_to_send),
                format_money(b.nipr_fees_to_send),
                format_money(b.fees_held),
                (
                    f"{shown(b.approved_by)} {format_timestamp(b.approved_at)}"
                    if shown(b.approved_by, "") != ""
                    else "-"
                ),
                format_timestamp(b.created_at),
            ]
            for b in batches_found
        ]
        headers = [
            "batch",
            "kind",
            "company",
            "file",
            "upload",
            "status",
            "version",
            "total",
            "lines",
            "to send",
            "nipr fees",
            "held fees",
            "approved",
            "created",
        ]
    else:
        # Ids whole (they are copied into `batches show`); the company's name and the file's
        # name give way first when the table would be wider than a terminal.
        headers = ["batch", "kind", "company", "file", "status", "lines", "to send"]
        rows = fit_rows(
            [
                [
                    b.batch_id,
                    b.kind,
                    _company(b.company_name, b.cocode),
                    _upload_name(b.upload_object_key, b.upload_id),
                    b.status,
                    describe_counts(counts.get(b.batch_id, {})),
                    format_money(b.fees_to_send),
                ]
                for b in batches_found
            ],
            headers,
            LIST_WIDTH,
            shrinkable=[(2, len("12345 Acme")), (3, 12)],
            keep_end=[3],
        )
    _echo_table(rows, headers)
    click.echo(
        f"{_plural(len(found), 'batch', 'batches')}. `npnflow batches show ID` lists a batch's "
        "lines" + ("" if wide else "; --wide shows every column") + "."
    )


@batches.command("show", help="A batch's transactions, reasons and fees, before approval.")
@click.argument("batch_id")
@click.option("--all", "show_all", is_flag=True, help="Every transaction, however many.")
@click.option(
    "--limit",
    default=50,
    show_default=True,
    type=click.IntRange(min=1),
    help="How many transactions to print.",
)
@click.option(
    "--offset",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="How many transactions to skip before printing (with --limit: the next page).",
)
@click.option("--evidence", is_flag=True, help="Each line's decision explained, with its evidence.")
def batches_show(batch_id: str, show_all: bool, limit: int, offset: int, evidence: bool) -> None:
    from assets.batches.detail import NIPR_FEES, batch_page, format_money, format_timestamp
    from assets.batches.outcomes import NIPR_REASON_STATUSES, line_reason
    from assets.rules.business_day import nipr_business_date
    from npnflow.display import is_missing, page_note, shown
    from npnflow.read_only import reading

    # Only the lines printed are read (LIMIT/OFFSET); the counts and fees are the database's.
    detail = reading(
        lambda connection: batch_page(
            connection, batch_id, limit=None if show_all else limit, offset=offset
        )
    )
    b = detail.batch
    upload = shown(b["upload_object_key"], "") or shown(b["upload_id"], "no upload")
    click.echo(
        f"Batch {b['batch_id']} ({b['kind']}): {shown(b['company_name'], 'unknown company')} "
        f"({shown(b['cocode'])}), from {upload} (upload {shown(b['upload_id'])})"
    )
    click.echo(
        f"Status: {b['status']}, approval version {b['approval_version']}, submit immediately "
        f"{'yes' if b['submit_immediately'] else 'no'}, created {format_timestamp(b['created_at'])}"
    )
    if not is_missing(b["approved_by"]):
        click.echo(f"Approved by {b['approved_by']} at {format_timestamp(b['approved_at'])}")
    if not is_missing(b["rejected_by"]):
        click.echo(f"Rejected by {b['rejected_by']} at {format_timestamp(b['rejected_at'])}")

    # A line NIPR Rejected (or answered with an Error) reads with NIPR's message as its reason:
    # its eligibility reason (In Good Standing) is why it was sent, not why it failed.
    click.echo("\nTransactions by status and reason:")
    _echo_table(
        [
            [
                c.status,
                c.reason,
                c.transactions,
                _fee_cell(c.estimated_fees),
                _nipr_fee_cell(c.estimated_nipr_fees, c.status),
            ]
            for c in (SimpleNamespace(**r) for r in detail.reasons)
        ],
        ["status", "reason", "transactions", "estimated fees", "nipr fees"],
    )

    listed, total = detail.lines, detail.lines_total
    click.echo(f"\nTransactions ({total}){page_note(total, len(listed), offset)}:")
    # A termination has no category, license or JIT hold; it has a reason code and a date.
    termination = b["kind"] == "termination"
    today = nipr_business_date()
    rows = []
    for t in listed:
        line = (
            [t.loa_code, t.termination_reason_code, t.effective_date]
            if termination
            else [t.loa_category, t.loa_code, t.license_number, _jit_cell(t._asdict(), today)]
        )
        reason = line_reason(t.status, t.eligibility_reason, t.nipr_message)
        # NIPR's message is already the reason of a Rejected or Error line: said once.
        answer = (t.nipr_status, *(() if t.status in NIPR_REASON_STATUSES else (t.nipr_message,)))
        nipr = ": ".join(str(v) for v in answer if not is_missing(v) and str(v).strip())
        rows.append(
            [
                t.request_row,
                t.transaction_id,
                t.npn,
                t.state_code,
                *line,
                t.status,
                shown(reason),
                shown(t.eligibility_reason),
                _fee_cell(t.estimated_fee),
                _nipr_fee_cell(t.estimated_nipr_fee, t.status),
                nipr,
            ]
        )
    line_headers = (
        ["loa", "reason code", "effective"]
        if termination
        else ["category", "loa", "license", "jit"]
    )
    _echo_table(
        rows,
        [
            "row",
            "transaction",
            "npn",
            "state",
            *line_headers,
            "status",
            "reason",
            "eligibility",
            "fee",
            "nipr fee",
            "nipr",
        ],
    )

    shown_rejections, rejected = detail.rejections, detail.rejections_total
    if len(shown_rejections):
        click.echo(
            f"\nRequest rows of this upload for CoCode {b['cocode']} that created no "
            f"transaction ({rejected}"
            + (
                f", {offset + 1} to {offset + len(shown_rejections)}"
                if offset
                else (
                    f", the first {len(shown_rejections)}"
                    if len(shown_rejections) < rejected
                    else ""
                )
            )
            + "):"
        )
        _echo_table(
            [
                [r.request_row, r.npn, r.state_code, r.loa_category, r.eligibility_reason, r.status]
                for r in shown_rejections
            ],
            ["row", "npn", "state", "category", "reason", "status"],
        )

    ready, held = detail.count(statuses.READY_TO_SUBMIT), detail.count(statuses.HELD_JIT)
    nipr_fees = detail.fees(statuses.READY_TO_SUBMIT, NIPR_FEES)
    # Before approval this is the bill to approve; afterwards, what the run has yet to send.
    to_send = (
        "To send on approval"
        if b["status"] == statuses.BATCH_PENDING_REVIEW
        else "Ready to Submit, not sent yet"
    )
    click.echo(
        f"\n{to_send}: {format_money(detail.fees(statuses.READY_TO_SUBMIT))} "
        f"({_plural(ready, 'transaction')} Ready to Submit). "
        f"Held (JIT): {format_money(detail.fees(statuses.HELD_JIT))} "
        f"({_plural(held, 'transaction')}), not sent by approval."
    )
    # NIPR bills its own fee apart from the state fees (DOMAIN 2.4): shown beside, not added in.
    click.echo(
        f"NIPR transaction fees: {format_money(nipr_fees)} on the "
        f"{_plural(ready, 'transaction')} Ready to Submit, invoiced by NIPR apart from the "
        "state fees (none for Held (JIT), Recorded or Not Eligible lines)."
    )
    if evidence:
        echo_batch_evidence(batch_id, None if show_all else limit, offset)
    if b["status"] == statuses.BATCH_PENDING_REVIEW:
        click.echo(
            f"Approve: npnflow batches approve {b['batch_id']} --by NAME   "
            f"Reject: npnflow batches reject {b['batch_id']} --by NAME"
        )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


#: The Dagster UI as `npnflow ui` (`make ui`) serves it by default.
LOCAL_UI_URL = "http://127.0.0.1:3000"


class _PageRecorder:
    """Records the batch's page after an approve, reject or retry on the local Dagster
    instance (DAGSTER_HOME, the one `npnflow ui` uses), as a runless observation, and says
    where the UI shows it.

    The change is committed before the page is recorded, so a page that cannot be recorded
    (the instance unreadable) never undoes it: the command says so and carries on.
    """

    def __init__(self, instance: DagsterInstance) -> None:
        from assets.batches.observation import record_outside_a_run

        self._report = record_outside_a_run(instance)
        self.recorded: list[AssetObservation] = []

    def __call__(self, observation: AssetObservation) -> None:
        try:
            self._report(observation)
        except Exception as error:  # the batch changed; only its page is behind
            click.echo(
                f"Warning: the batch's page in the Dagster UI was not updated ({error}); "
                "the change itself is saved. `npnflow batches show` reads the database.",
                err=True,
            )
        else:
            self.recorded.append(observation)

    def echo_links(self) -> None:
        from assets.batches.observation import batch_page_path

        for observation in self.recorded:
            click.echo(f"Its upload's batches page: {LOCAL_UI_URL}{batch_page_path(observation)}")


@contextlib.contextmanager
def _batch_page_recorder() -> Iterator[_PageRecorder]:
    from dagster import DagsterInstance

    from npnflow.instance import ensure_dagster_home

    ensure_dagster_home()
    with DagsterInstance.get() as instance:
        yield _PageRecorder(instance)


@batches.command("approve", help="Approve a Pending Review batch; the sensor then submits it.")
@click.argument("batch_id")
@click.option("--by", "by", required=True, help="Who approves (recorded).")
def batches_approve(batch_id: str, by: str) -> None:
    from assets.batches.approval import approve_in_transaction, format_money, format_timestamp

    with _batch_page_recorder() as record:
        result = _on_the_database(
            lambda database: approve_in_transaction(
                database, batch_id, approved_by=by, now=_now(), record=record
            )
        )
    held = (
        f" {_plural(result.transactions_held, 'transaction')} Held (JIT) "
        f"({format_money(result.fees_held)}) "
        f"{'stays' if result.transactions_held == 1 else 'stay'} held, not sent."
        if result.transactions_held
        else ""
    )
    click.echo(
        f"Approved {result.batch_id} (version {result.approval_version}) by {result.by} at "
        f"{format_timestamp(result.at)}: {_plural(result.transactions_to_send, 'transaction')}, "
        f"{format_money(result.fees_to_send)} to send.{held} {_sensor_hint(result.batch_id)}"
    )
    record.echo_links()


@batches.command("reject", help="Reject a Pending Review batch and cancel its open transactions.")
@click.argument("batch_id")
@click.option("--by", "by", required=True, help="Who rejects (recorded).")
def batches_reject(batch_id: str, by: str) -> None:
    from assets.batches.approval import format_money, format_timestamp, reject_in_transaction

    with _batch_page_recorder() as record:
        result = _on_the_database(
            lambda database: reject_in_transaction(
                database, batch_id, rejected_by=by, now=_now(), record=record
            )
        )
    click.echo(
        f"Rejected {result.batch_id} by {result.rejected_by} at "
        f"{format_timestamp(result.rejected_at)}: "
        f"{_plural(result.transactions_cancelled, 'open transaction')} cancelled "
        f"({format_money(result.fees_not_sent)} not sent); "
        f"{result.transactions_not_eligible} Not Eligible kept for audit. Nothing of this batch "
        "will be submitted; the cancelled lines can be requested again with a new upload."
    )
    record.echo_links()


@batches.command(
    "retry",
    help="Start a new submission run of an approved batch whose run failed (e.g. NIPR was down).",
)
@click.argument("batch_id")
@click.option("--by", "by", required=True, help="Who asks for the retry.")
def batches_retry(batch_id: str, by: str) -> None:
    from assets.batches.approval import format_money, format_timestamp, retry_in_transaction

    # Under the batch's submission lock: refused while a run is still sending the batch.
    with _batch_page_recorder() as record:
        result = _on_the_database(
            lambda database: retry_in_transaction(
                database, batch_id, requested_by=by, now=_now(), record=record
            )
        )
    click.echo(
        f"Retry of {result.batch_id} (version {result.approval_version}) requested by "
        f"{result.by} at {format_timestamp(result.at)}: "
        f"{_plural(result.transactions_to_send, 'transaction')} Ready to Submit "
        f"({format_money(result.fees_to_send)}) and {result.transactions_in_flight} awaiting "
        "NIPR's answer. The new run first asks NIPR what it already has, so nothing is sent "
        f"twice; the approval stays {result.approved_by}'s of "
        f"{format_timestamp(result.approved_at)}. {_sensor_hint(result.batch_id)}"
    )
    record.echo_links()


from npnflow.batch_history_cli import batches_history  # noqa: E402  (batches_cli.py is full)
from npnflow.evidence_cli import batches_export, echo_batch_evidence  # noqa: E402

batches.add_command(batches_history)
batches.add_command(batches_export)
