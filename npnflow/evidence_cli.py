"""Every decision explained (issue 19): `npnflow explain`, `batches show --evidence`, `batches
export`.

- `npnflow explain TRANSACTION_ID`: the decision as a short paragraph in the seed's words
  (`assets/batches/explain.py`), then the evidence table: every row the engine read;
- `npnflow batches show ID --evidence`: after the batch's table, each printed line's paragraph
  and the evidence it names (`echo_line_evidence`, called by `batches_cli.py`);
- `npnflow batches export ID -o FILE.xlsx|.csv`: every line of the batch with its reason,
  fees, explanation and evidence, for an auditor; every cell neutralised
  (`assets/batches/spreadsheet.py`).

Read through the pandas-free path (`npnflow/read_only.py`). Its own module: `batches_cli.py`
is full; `export` is added to the `batches` group there.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from assets.batches.evidence_store import ExplainedLine


def _explain_text(item: ExplainedLine) -> str:
    from assets.batches.explain import explain_decision

    return explain_decision(item.line, item.evidence)


@click.command(
    "explain",
    help="Why a transaction got its reason: the decision in a short paragraph, then the "
    "evidence (the license, line, rules, appointment and NIPR data the engine read).",
)
@click.argument("transaction_id")
def explain(transaction_id: str) -> None:
    import textwrap

    from assets.batches.evidence_store import transaction_with_evidence
    from assets.batches.explain import evidence_rows
    from npnflow.read_only import reading

    transaction_id = transaction_id.strip()
    item = reading(lambda connection: transaction_with_evidence(connection, transaction_id))
    if item is None:
        click.echo(
            f"No transaction {transaction_id}. `npnflow batches show BATCH_ID` lists a batch's "
            "transactions with their ids.",
            err=True,
        )
        sys.exit(1)
    click.echo(textwrap.fill(_explain_text(item), width=100))
    if item.evidence is None:
        return
    click.echo("\nEvidence (what the engine read when it decided):")
    rows = evidence_rows(item.evidence)
    width = max(len(label) for label, _value in rows)
    for label, value in rows:
        click.echo(f"  {label:<{width}}  {value}")


def echo_line_evidence(items: list[ExplainedLine]) -> None:
    """For `batches show --evidence`: per line, its paragraph and the evidence it has."""
    import textwrap

    from assets.batches.explain import evidence_rows

    click.echo(f"\nEvidence of the {len(items)} line(s) above:")
    for item in items:
        click.echo("")
        click.echo(textwrap.fill(_explain_text(item), width=100, subsequent_indent="  "))
        if item.evidence is None:
            continue
        known = [f"{label}: {value}" for label, value in evidence_rows(item.evidence)]
        known = [text for text in known if not text.endswith(": -")]
        click.echo(
            textwrap.fill("; ".join(known), width=100, initial_indent="  ", subsequent_indent="  ")
        )


@click.command(
    "export",
    help="Write every line of a batch with its reason, fees, explanation and evidence, for an "
    "auditor (.xlsx or .csv; cells neutralised).",
)
@click.argument("batch_id")
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file to write: FILE.xlsx or FILE.csv.",
)
def batches_export(batch_id: str, output: Path) -> None:
    from assets.batches.evidence_export import export_rows
    from assets.batches.evidence_store import batch_lines_with_evidence
    from assets.batches.spreadsheet import safe_csv, safe_xlsx
    from npnflow.read_only import reading

    suffix = output.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        click.echo(f"{output}: the export is written as .xlsx or .csv.", err=True)
        sys.exit(2)
    batch_id = batch_id.strip()
    items = reading(lambda connection: list(batch_lines_with_evidence(connection, batch_id)))
    if not items:
        click.echo(
            f"No transactions in batch {batch_id}: `npnflow batches list` shows the batches.",
            err=True,
        )
        sys.exit(1)
    headers, rows = export_rows(items)
    content = safe_xlsx(batch_id, headers, rows) if suffix == ".xlsx" else safe_csv(headers, rows)
    output.write_bytes(content)
    with_evidence = sum(1 for item in items if item.evidence is not None)
    click.echo(
        f"Wrote {output}: {len(items)} line(s) of batch {batch_id}, {with_evidence} with evidence."
    )


def echo_batch_evidence(batch_id: str, limit: int | None, offset: int) -> None:
    """`batches show --evidence`: the evidence of the lines the table printed (same page)."""
    from assets.batches.evidence_store import batch_lines_with_evidence
    from npnflow.read_only import reading

    items = reading(
        lambda connection: list(
            batch_lines_with_evidence(connection, batch_id, limit=limit, offset=offset)
        )
    )
    echo_line_evidence(items)
