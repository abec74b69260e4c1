"""Entity Info replies read into plain row lists, and many of them made into one report.

Why not `parse_pdb_report` per reply: reading an Entity Info reply's XML takes about a
millisecond, but making its six pandas frames takes fifteen, whatever the reply's size; at
the initial sync's scale that was most of the time. Here each reply is read by the same
readers (`parsing.Collector`) into column lists (in the fetching thread), and a batch's
frames are made once, from all its replies' lists (`batch_report`), with the same dtypes
(`parsing.report.to_frame`).

`classify_reply` decides a reply's sync status from its lists by the rules of
`roster.classify_entity_info` (tests hold the two equal on every reply of a generated world
and on NIPR's error, firm and wrong-producer replies).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import compress
from typing import Any

from assets.nipr.parsing import (
    APPOINTMENT_COLUMNS,
    ENTITY_INFO,
    ERROR_COLUMNS,
    LICENSE_COLUMNS,
    LICENSE_LOA_COLUMNS,
    PRODUCER_COLUMNS,
    SCOPE_COLUMNS,
    NiprReportError,
    ParsedReport,
    parse_pdb_report,
)
from assets.nipr.parsing.collector import Collector
from assets.nipr.parsing.report import RowBuffer, to_frame, transpose
from assets.nipr.parsing.streaming import Prefixed, gc_paused, open_source, read_prefix
from assets.nipr.roster import SyncOutcome, classify_reply_values
from resources.nipr_mtom import looks_like_multipart
from resources.nipr_soap_inline import has_inline_report

__all__ = [
    "EntityInfoRows",
    "batch_report",
    "classify_reply",
    "read_entity_info",
    "rows_of_report",
]

# The frames a batch report is made of, and their columns.
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "producers": PRODUCER_COLUMNS,
    "licenses": LICENSE_COLUMNS,
    "license_loas": LICENSE_LOA_COLUMNS,
    "appointments": APPOINTMENT_COLUMNS,
    "reported_scopes": SCOPE_COLUMNS,
}


@dataclass
class EntityInfoRows:
    """One Entity Info reply as column lists: {frame: {column: values}} (TABLE_COLUMNS),
    its `errors` rows (npn, code, message) and the firms it describes."""

    npn: str  # the producer asked for
    kind: str
    columns: dict[str, dict[str, list[Any]]]
    errors: list[tuple[Any, ...]] = field(default_factory=list)
    firm_npns: frozenset[str] = frozenset()


def read_entity_info(content: bytes, npn: str) -> EntityInfoRows:
    """Read one Entity Info reply (plain XML, as NIPR's PDB service sends it) into lists.

    Raises `NiprReportError` as `parse_pdb_report` would. A reply in any other wrapping
    (MTOM, inline base64) goes through `parse_pdb_report`, and its frames become lists.
    """
    collector = Collector(npn)
    with gc_paused(), open_source(content) as stream:
        prefix = read_prefix(stream)
        if not prefix.strip() or looks_like_multipart(prefix) or has_inline_report(prefix):
            return rows_of_report(parse_pdb_report(content, requested_npn=npn), npn)
        collector.run(Prefixed(prefix, stream), prefix)
        collector.require_report()
        return _rows_of_collector(collector, npn)


def _rows_of_collector(collector: Collector, npn: str) -> EntityInfoRows:
    """`Collector.result` up to, not including, the frames."""
    kind = collector.kind
    assert kind is not None
    columns: dict[str, dict[str, list[Any]]] = {}
    for name, buffer in (
        ("licenses", collector.licenses),
        ("license_loas", collector.loas),
        ("appointments", collector.appointments),
    ):
        columns[name] = collector._columns(buffer.take(), TABLE_COLUMNS[name])
    collector.licenses = RowBuffer(len(LICENSE_COLUMNS))
    collector.loas = RowBuffer(len(LICENSE_LOA_COLUMNS))
    collector.appointments = RowBuffer(len(APPOINTMENT_COLUMNS))
    licenses = columns["licenses"]
    active_npns = set(compress(licenses["npn"], licenses["is_active"]))
    unique = transpose(list(set(zip(*collector.scopes.take(), strict=True))), SCOPE_COLUMNS)
    columns["reported_scopes"] = collector._columns(list(unique.values()), SCOPE_COLUMNS)
    columns["producers"] = collector._producer_columns(kind, active_npns)
    return EntityInfoRows(
        npn=npn,
        kind=kind,
        columns=columns,
        errors=list(collector.errors),
        firm_npns=frozenset(collector.firm_npns),
    )


def rows_of_report(report: ParsedReport, npn: str) -> EntityInfoRows:
    columns = {
        name: {column: getattr(report, name)[column].astype(object).tolist() for column in names}
        for name, names in TABLE_COLUMNS.items()
    }
    return EntityInfoRows(
        npn=npn,
        kind=report.report_kind,
        columns=columns,
        errors=list(report.errors[list(ERROR_COLUMNS)].itertuples(index=False, name=None)),
        firm_npns=report.firm_npns,
    )


def classify_reply(reply: EntityInfoRows) -> SyncOutcome:
    """The sync status of an Entity Info reply read into lists: `roster.classify_entity_info`'s
    rules, through the one implementation they share (`roster.classify_reply_values`)."""
    return classify_reply_values(
        reply.npn,
        ((code, message) for _, code, message in reply.errors),
        reply.columns["producers"]["npn"],
        reply.columns["licenses"]["npn"],
    )


def batch_report(replies: Sequence[EntityInfoRows]) -> ParsedReport:
    """Many producers' Entity Info replies as one report, each reply's rows limited to its
    own producer (the rows of other NPNs are exactly what applying the reply alone, tracking
    only its producer, ignores). Frames are made once, with `parse_pdb_report`'s dtypes."""
    if any(reply.kind != ENTITY_INFO for reply in replies):
        raise NiprReportError("only Entity Info replies can be applied as a batch")
    frames = {}
    for name, names in TABLE_COLUMNS.items():
        merged: dict[str, list[Any]] = {column: [] for column in names}
        for reply in replies:
            columns = reply.columns[name]
            keep = [npn == reply.npn for npn in columns["npn"]]
            for column in names:
                values = columns[column]
                merged[column].extend(values if all(keep) else compress(values, keep))
        frames[name] = to_frame(merged, names)
    scopes = frames["reported_scopes"].sort_values(list(SCOPE_COLUMNS), ignore_index=True)
    errors = [row for reply in replies for row in reply.errors]
    return ParsedReport(
        report_kind=ENTITY_INFO,
        producers=frames["producers"],
        licenses=frames["licenses"],
        license_loas=frames["license_loas"],
        appointments=frames["appointments"],
        reported_scopes=scopes,
        errors=to_frame(transpose(errors, ERROR_COLUMNS), ERROR_COLUMNS),
        firm_npns=frozenset(n for reply in replies for n in reply.firm_npns if n == reply.npn),
    )
