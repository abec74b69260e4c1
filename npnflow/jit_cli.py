"""`npnflow jit list|release|cancel`: just-in-time appointments (docs/operations.md).

- `jit list [--overdue] [--cocode C] [--state S]`: held and released lines, with the state's
  deadline, the due date and `Late JIT Filing`;
- `jit release --by NAME` with `--transaction ID...`, or `--npn N [--state S] [--cocode C]
  [--loa-category K]`, or `--file F` (a `jit_release` file: NPN, State, CoCode, LOA Category,
  Business Date), optionally `--business-date D`: re-checks the held lines as of today and
  moves the still-eligible ones into a new Approved batch (`assets/jit/service.py`);
- `jit cancel ... --by NAME`: the held lines become `Cancelled`.

Registered on `npnflow` by `npnflow/cli.py`; product imports happen inside the commands, so
`npnflow --help` stays instant.
"""

from __future__ import annotations

import csv
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from npnflow.arguments import NPN, read_npn
from resources import paths

if TYPE_CHECKING:
    from assets.jit.rules import ReleaseRequest

DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y")


def _date(value: str | None, where: str) -> dt.date | None:
    if value is None or not value.strip():
        return None
    for layout in DATE_FORMATS:
        try:
            return dt.datetime.strptime(value.strip(), layout).date()
        except ValueError:
            continue
    raise click.BadParameter(
        f"{value!r} is not a date: write YYYY-MM-DD or MM/DD/YYYY.", param_hint=where
    )


@click.group(help="Just-in-time appointments: list, release and cancel held lines.")
def jit() -> None:
    pass


def _selection(fn: Callable[..., None]) -> Callable[..., None]:
    """The options naming held lines, shared by `release` and `cancel`."""
    for option in reversed(
        (
            click.option("--by", "by", required=True, help="Who decides (recorded)."),
            click.option(
                "--transaction",
                "transaction_ids",
                multiple=True,
                help="A held line's transaction id (repeat for several).",
            ),
            click.option(
                "--npn", type=NPN, default=None, help="Every held line of this producer ..."
            ),
            click.option("--state", "state_code", default=None, help="... in this state"),
            click.option("--cocode", default=None, help="... with this company"),
            click.option("--loa-category", default=None, help="... of this LOA category"),
            click.option(
                "--file",
                "file",
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                default=None,
                help="A CSV with NPN, State, CoCode, LOA Category, Business Date columns.",
            ),
        )
    ):
        fn = option(fn)
    return fn


def _requests(
    transaction_ids: tuple[str, ...],
    npn: str | None,
    state_code: str | None,
    cocode: str | None,
    loa_category: str | None,
    file: Path | None,
    business_date: dt.date | None,
) -> list[ReleaseRequest]:
    from assets.jit.rules import ReleaseRequest

    ways = sum(bool(x) for x in (transaction_ids, npn, file))
    if ways != 1:
        raise click.UsageError(
            "Name the held lines one way: --transaction ID..., or --npn N [--state S] "
            "[--cocode C] [--loa-category K], or --file F."
        )
    if transaction_ids:
        ids = tuple(i.strip() for value in transaction_ids for i in value.split(",") if i.strip())
        return [ReleaseRequest(transaction_ids=ids, business_date=business_date)]
    if npn:  # read as NIPR writes it by the NPN type (npnflow/arguments.py)
        return [
            ReleaseRequest(
                npn=npn,
                state_code=state_code,
                cocode=cocode,
                loa_category=loa_category,
                business_date=business_date,
            )
        ]
    assert file is not None
    return _file_requests(file, business_date)


def _file_requests(file: Path, business_date: dt.date | None) -> list[ReleaseRequest]:
    from assets.jit.rules import ReleaseRequest

    with file.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    requests = []
    for number, row in enumerate(rows, start=2):
        cells = {
            (k or "").strip().rstrip("*").strip().lower(): (v or "").strip() for k, v in row.items()
        }
        typed = cells.get("npn") or cells.get("agent npn") or ""
        npn = read_npn(typed, where=f"row {number}: ", hint="--file")  # as NIPR writes it
        requests.append(
            ReleaseRequest(
                npn=npn,
                state_code=cells.get("state") or None,
                cocode=cells.get("cocode") or None,
                loa_category=cells.get("loa category") or None,
                business_date=_date(cells.get("business date"), f"--file row {number}")
                or business_date,
                row_number=number,
            )
        )
    if not requests:
        raise click.BadParameter("the file has no rows.", param_hint="--file")
    return requests


@jit.command(
    "release", help="Release held JIT lines: re-checked today, sent in a new Approved batch."
)
@_selection
@click.option(
    "--business-date",
    default=None,
    help="When the first business arrived, YYYY-MM-DD (default: today): the effective date "
    "where the state takes one, and the start of the state's JIT deadline.",
)
def jit_release(
    by: str,
    transaction_ids: tuple[str, ...],
    npn: str | None,
    state_code: str | None,
    cocode: str | None,
    loa_category: str | None,
    file: Path | None,
    business_date: str | None,
) -> None:
    from assets.jit.rules import JitRefused, describe_release
    from assets.jit.service import release_held_lines
    from resources.database import DatabaseNotMigrated, OperationalDatabase

    requests = _requests(
        transaction_ids,
        npn,
        state_code,
        cocode,
        loa_category,
        file,
        _date(business_date, "--business-date"),
    )
    database = OperationalDatabase(url=paths.database_url())
    try:
        database.ensure_migrated()
        outcome = release_held_lines(database, requests, released_by=by)
    except (DatabaseNotMigrated, JitRefused) as refusal:
        click.echo(str(refusal), err=True)
        sys.exit(1)
    finally:
        database.engine.dispose()
    click.echo("\n".join(describe_release(outcome, by.strip())))
    if not outcome.released and not outcome.not_eligible:
        sys.exit(1)


@jit.command("cancel", help="Cancel held JIT lines (Cancelled, never sent).")
@_selection
def jit_cancel(
    by: str,
    transaction_ids: tuple[str, ...],
    npn: str | None,
    state_code: str | None,
    cocode: str | None,
    loa_category: str | None,
    file: Path | None,
) -> None:
    from assets.jit.rules import JitRefused, describe_cancel
    from assets.jit.service import cancel_held_lines
    from resources.database import DatabaseNotMigrated, OperationalDatabase

    requests = _requests(transaction_ids, npn, state_code, cocode, loa_category, file, None)
    database = OperationalDatabase(url=paths.database_url())
    try:
        database.ensure_migrated()
        cancelled, unmatched = cancel_held_lines(database, requests, cancelled_by=by)
    except (DatabaseNotMigrated, JitRefused) as refusal:
        click.echo(str(refusal), err=True)
        sys.exit(1)
    finally:
        database.engine.dispose()
    click.echo("\n".join(describe_cancel(cancelled, unmatched)))
    if not cancelled:
        sys.exit(1)


@jit.command("list", help="Held and released JIT lines with their due dates.")
@click.option("--overdue", is_flag=True, default=False, help="Only lines flagged Late JIT Filing.")
@click.option("--cocode", default=None, help="Only this company's lines.")
@click.option("--state", "state_code", default=None, help="Only this state's lines.")
def jit_list(overdue: bool, cocode: str | None, state_code: str | None) -> None:
    from tabulate import tabulate  # type: ignore[import-untyped, unused-ignore]

    from assets.jit.listing import jit_lines
    from assets.jit.rules import LATE_JIT_FILING
    from assets.rules.business_day import nipr_business_date
    from npnflow.display import is_missing, shown
    from resources.database import DatabaseNotMigrated, OperationalDatabase

    database = OperationalDatabase(url=paths.database_url())
    try:
        database.ensure_migrated()
        with database.begin() as connection:
            frame = jit_lines(
                connection,
                today=nipr_business_date(),
                overdue=overdue,
                cocode=cocode,
                state_code=state_code,
            )
    except DatabaseNotMigrated as refusal:
        click.echo(str(refusal), err=True)
        sys.exit(1)
    finally:
        database.engine.dispose()
    if frame.empty:
        click.echo("No JIT lines" + (" overdue." if overdue else " held or released."))
        return

    def cell(value: object) -> str:
        # `-` for a missing value (never nan/NaT); a date or timestamp as its day.
        return shown(value)[:10] if isinstance(value, dt.date) else shown(value)

    rows = []
    for line in frame.to_dict("records"):
        days = line["jit_deadline_days"]
        due = cell(line["jit_due_date"])
        if not is_missing(line["jit_due_date"]) and line["status"] == "Held (JIT)":
            # The state's clock started at contract execution, the day the line was held.
            due = f"{due} (held + {shown(days)} days)" if not is_missing(days) else due
        elif line["status"] == "Held (JIT)" and not is_missing(days):
            due = f"business date + {shown(days)} days"
        rows.append(
            [
                cell(line["transaction_id"]),
                cell(line["npn"]),
                cell(line["state_code"]),
                cell(line["cocode"]),
                cell(
                    line["loa_code"] if is_missing(line["loa_category"]) else line["loa_category"]
                ),
                cell(line["status"]),
                cell(line["jit_business_date"]),
                due,
                LATE_JIT_FILING if line["late"] else "",
                cell(line["batch_id"]),
            ]
        )
    click.echo(
        tabulate(
            rows,
            headers=[
                "transaction",
                "NPN",
                "state",
                "CoCode",
                "LOA",
                "status",
                "business date",
                "due",
                "flag",
                "batch",
            ],
            tablefmt="simple",
            disable_numparse=True,
        )
    )
    held = int(frame["status"].eq("Held (JIT)").sum())
    click.echo(
        f"\n{len(frame)} line(s): {held} held, {len(frame) - held} released; "
        f"{int(frame['late'].sum())} {LATE_JIT_FILING}."
    )
