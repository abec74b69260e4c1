"""NIPR PDB reports (Entity Info and PDB Alerts) parsed into the current-state frames.

`parse_pdb_report(source)` reads either report shape, plain or wrapped in the MTOM reply, and
returns a `ParsedReport`: the rows for the `producers`, `licenses`, `license_loas` and
`appointments` tables (SPEC section 3 column names, no SSN column), plus what an applier needs
to apply them (`reported_scopes`, `report_kind`, `errors`). Pure: no Dagster, no database.

The two shapes (DOMAIN.md 1.2 and 1.3; the fixtures in tests/fixtures/nipr/):

- **Entity Info** (`<PDB>`, the PDB detail report for one NPN). Unqualified upper-case tags,
  dates MM/DD/YYYY, flags "Yes"/"No". `PRODUCER/INDIVIDUAL` (or `FIRM`) holds
  `ENTITY_BIOGRAPHIC` (NPN, names, contact e-mails; also `ID_SSN`, never read) and
  `PRODUCER_LICENSING/LICENSE_INFORMATION/STATE@name`, each state holding its `LICENSE`s (LOAs in
  `DETAILS/DETAIL`) and `APPOINTMENT_INFORMATION/APPOINTMENT`. The error reply is
  `TRANSACTION_TYPE/TYPE = ERROR` with `ERROR/DESCRIPTION`: it becomes an `errors` row, not an
  exception. It is a full picture of the producer.
- **PDB Alerts Specific Report** (`<LicensingReportProcessResult>`, ACORD namespace). Dates
  yyyy-mm-dd. `LicensingReport` first lists keyed `Person`/`Organization` records (the primary
  one, key `PersonPRI...`/`OrgPRI...`, and one per state, key `Person<ST>...`), each carrying
  the NPN as an `ExternalIdentifier` (`NAICProducerCode`, or `NAICEntityCode` as in NIPR's
  samples), and insurer `Organization`s carrying the CoCode (`NAICInsurerCode`). Then one
  `JurisdictionReport` per producer: `PersonReferences`/`OrganizationReferences` name the
  producer's primary record, and each `JurisdictionReportItem` (one state, one branch) holds
  `Licensee/InsuranceLicense` (one `License` plus its `LineOfAuthority`s) and
  `Licensee/InsuranceAppointment` (insurer by `InsurerReferences`, one or more
  `LineOfAuthority`). It is a partial picture: only what changed.

Mapping decisions (the ones a reader would otherwise have to guess):

- Firms: `producers.last_name` holds the company name (`NAME_COMPANY` / `OrganizationName`),
  `first_name` is empty; their NPNs are also listed in `ParsedReport.firm_npns`.
- `producers.is_active` is NIPR's view: in Entity Info, True when at least one license is
  active (False when none is); None for Alerts, whose partial picture cannot say.
  `agency_npn` and `agent_type` are not in either report (they come from our uploads): None.
- An Alerts LOA belongs to the `License` in the same `InsuranceLicense` wrapper (NIPR's
  "wrapper to associate one license with one or more LOAs"): it takes that license's number
  and class; an Entity Info `DETAIL` takes those of its `LICENSE`. NIPR files one license
  number under several classes (a VA number can carry two), so `license_loas` rows are keyed
  by the class too and a line of one class never replaces the same LOA of another (ADR 0023).
- Appointments have one row per line of authority. An appointment without an LOA code (NIPR
  sends company-level appointments that way, e.g. the TN one in the samples) gets `loa_code`
  "" rather than a missing value, because `loa_code` is part of the table's primary key.
- `status_reason_date` is the date of the current status (Entity Info `STATUS_REASON_DATE`;
  Alerts `TerminationEffectiveDate` when terminated, else `AppointmentEffectiveDate`).
  `effective_date` is when the appointment took effect: Alerts `AppointmentEffectiveDate`;
  Entity Info has no such element, so it is `STATUS_REASON_DATE` for an appointed row and
  empty for a terminated one. `renewal_date` is `APPONT_RENEWAL_DATE` (sic) / the LOA's
  `RenewalDate`; `termination_reason` is `TERMINATION_REASON` / `StatusReasonDescription`
  (else `StatusReasonCode`).
- `is_active`: Entity Info `ACTIVE` Yes/No for licenses, `STATUS` for LOAs; Alerts
  `StatusDescription`, or `StatusCode` when the description is not a status word (NIPR's
  samples carry "Test description" there). "N/A" and unknown words give None.
- `is_resident`: `RESIDENCY_STATUS` R/NR, `ResidentLicenseIndicator` true/false.
- `licenses.nipr_updated_at` is the date NIPR last loaded the license (`DATE_UPDATED`,
  `License/AsOfDate`) as a UTC midnight timestamp (the column is a timestamp).
- Codes and license numbers are kept as the text NIPR sent (stripped), never numbers;
  NPNs are text too, read through `schemas/npns.py::canonical_npn` (no leading zeros).
  Dates are `datetime.date` (None when empty); a date we cannot read is None plus an `errors`
  row.

Alerts semantics and `reported_scopes`. NIPR resends a changed category whole for that state
and signals "everything of that category deleted here" with empty tags (an `InsuranceLicense`
with only a `TypeCode`; an `InsuranceAppointment` with empty `StateOrProvinceCode`,
`InsurerReferences`, `LicenseeReferences`). So every `(npn, state_code, category)` the report
covered is a row of `reported_scopes`, whether or not it produced rows: the applier replaces
that producer's rows of that category in that state by the report's rows, and a scope with no
rows deletes them. Categories: LICENSING (licenses and their LOAs), APPOINTMENTS,
DEMOGRAPHICS (a state record of the producer was sent; informational, our tables keep no
per-state demographics). Entity Info is a full picture: every `LICENSE_INFORMATION/STATE` is
a LICENSING and an APPOINTMENTS scope (a state without `APPOINTMENT_INFORMATION` has no
appointments), and an applier should replace everything of the producer (`report_kind`).
Known limit: NIPR scopes Alerts deletions by branch (`JurisdictionReportItem@key`), our tables
have no branch column, so a firm with two branch licenses in one state is replaced state-wide.

Streaming, and why. An Alerts report for a large subscription runs to tens of megabytes and
the daily sync must not need memory in proportion. We use `lxml.etree.iterparse` with a tag
filter, so Python only sees record-level elements (a state item, a Person record), never every
leaf event; each record is read once, child by child (no `find`: ElementPath costs more than
the loop), then cleared, and finished records are deleted from their parent, so the tree never
holds more than one producer's records. iterparse reports "start" events, not "end" ones
(lxml's hook into libxml2 costs the same for either, per element of the file): a record is
handed to its handler once a later element starts outside it, or at the end of the document,
so handlers see complete records in end-tag order all the same (`streaming.stream_records`).
Repeated values (codes, dates, status words) are converted once each through memo dicts; rows
are appended as tuples and moved into one list per column every few thousand rows
(`report.RowBuffer`), and each DataFrame is built once at the end. Python's cyclic garbage
collector is paused during a parse (nothing in it makes cycles; each collection would only
re-walk the rows). Paths are handed to libxml2, which reads the file itself; MTOM parts are
streamed through `resources/nipr_mtom.py`. Nothing reads a whole file into memory (bytes
input is, of course, already there).

The package, one module per concern: `entity_info.py` and `alerts.py` (one per report shape),
`state.py` (what both append to), `collector.py` (both joined, SOAP envelopes, the frames),
`streaming.py` (input, the iterparse loop, freeing), `values.py` (dates, yes/no, codes, status
words), `report.py` (`ParsedReport`, columns, `NiprReportError`). This module is the entry
point, `parse_pdb_report`, and re-exports what callers import from `assets.nipr.parsing`.

`errors` rows (npn, code, message), never exceptions: NIPR_ERROR (Entity Info error reply;
pass `requested_npn` to attribute it), UNSUPPORTED_TRANSACTION, NIPR_MESSAGE_STATUS, BAD_DATE,
NO_NPN, NO_SUBJECT, UNKNOWN_PRODUCER, UNKNOWN_INSURER, LOA_WITHOUT_LICENSE,
APPOINTMENT_WITHOUT_INSURER. Rows that cannot be keyed (no NPN, no CoCode) are left out.

Safety. NIPR reports never carry a DOCTYPE. The parser never loads a DTD, never expands an
entity and never touches the network (`resources/safe_xml.py`'s options), and any document with a DOCTYPE is refused with `NiprReportError`, so
neither "billion laughs" nor an external-entity (`file://`) reference gets anywhere. Malformed
or truncated XML, an unknown root element, a SOAP fault or an MTOM reply missing its report
part also raise `NiprReportError`, with a message meant for the compliance analyst who reads it
in the UI. SSNs: `ID_SSN` (and any tax id) is never read into a row, and messages are scrubbed
of SSN-shaped digit runs.
"""

from __future__ import annotations

import io
import os
import tempfile
from typing import Any

from assets.nipr.parsing.collector import Collector
from assets.nipr.parsing.report import (
    ALERTS,
    APPOINTMENT_COLUMNS,
    APPOINTMENTS,
    DEMOGRAPHICS,
    ENTITY_INFO,
    ERROR_COLUMNS,
    LICENSE_COLUMNS,
    LICENSE_LOA_COLUMNS,
    LICENSING,
    PRODUCER_COLUMNS,
    SCOPE_CATEGORIES,
    SCOPE_COLUMNS,
    NiprReportError,
    ParsedReport,
)
from assets.nipr.parsing.streaming import Prefixed, gc_paused, open_source, read_prefix
from resources.nipr_mtom import (
    MtomError,
    MultipartReader,
    SoapReplyError,
    looks_like_multipart,
    normalize_content_id,
)
from resources.nipr_soap_inline import has_inline_report, split_inline_report

# A report decoded from inline base64 stays in memory up to this size, then goes to disk.
_INLINE_SPOOL_BYTES = 8 * 1024 * 1024

__all__ = [
    "ALERTS",
    "APPOINTMENTS",
    "APPOINTMENT_COLUMNS",
    "DEMOGRAPHICS",
    "ENTITY_INFO",
    "ERROR_COLUMNS",
    "LICENSE_COLUMNS",
    "LICENSE_LOA_COLUMNS",
    "LICENSING",
    "PRODUCER_COLUMNS",
    "SCOPE_CATEGORIES",
    "SCOPE_COLUMNS",
    "NiprReportError",
    "ParsedReport",
    "parse_pdb_report",
]


def parse_pdb_report(source: Any, *, requested_npn: str | None = None) -> ParsedReport:
    """Parse a NIPR Entity Info or PDB Alerts report, plain XML or an MTOM reply.

    `source`: a path (str or os.PathLike), the report's bytes, or a binary file object (read,
    not closed). `requested_npn`: the NPN an Entity Info call asked for, so that NIPR's error
    reply (which does not repeat it) is attributed in `errors`.
    Raises `NiprReportError` when the input is not a report we can read.
    """
    collector = Collector(requested_npn)
    with gc_paused():
        with open_source(source) as stream:
            prefix = read_prefix(stream)
            if not prefix.strip():
                raise NiprReportError("the NIPR report is empty: there is nothing to parse")
            if looks_like_multipart(prefix):
                _parse_mtom(stream, prefix, collector)
            elif has_inline_report(prefix):
                _parse_inline(Prefixed(prefix, stream), collector)
                collector.require_report()
            else:
                if isinstance(source, str | os.PathLike) and isinstance(os.fspath(source), str):
                    collector.run(os.fspath(source), prefix)  # a plain file: libxml2 reads it
                else:
                    collector.run(Prefixed(prefix, stream), prefix)
                collector.require_report()
        return collector.result()


def _parse_inline(envelope: Any, collector: Collector) -> None:
    """A SOAP envelope carrying the report inline as base64 text: the envelope without that text
    goes to the collector (a fault is found there as usual), then the decoded report."""
    with tempfile.SpooledTemporaryFile(max_size=_INLINE_SPOOL_BYTES) as spool:
        try:
            slim, size = split_inline_report(envelope, spool)
        except SoapReplyError as exc:
            raise NiprReportError(f"the SOAP reply's inline report cannot be read: {exc}") from exc
        collector.run(io.BytesIO(slim))
        if size and collector.kind is None and collector.fault is None:
            spool.seek(0)
            collector.saw_envelope = False  # what the envelope said is used up
            collector.run(spool)


def _parse_mtom(stream: Any, prefix: bytes, collector: Collector) -> None:
    try:
        reader = MultipartReader(stream, prefix)
        if reader.next_part() is None:
            raise NiprReportError("the MTOM reply has no parts")
        root = reader.body()
        head = read_prefix(root)
        if has_inline_report(head):
            _parse_inline(Prefixed(head, root), collector)  # the WSDL's base64Binary, inline
            collector.require_report()
            return
        collector.run(Prefixed(head, root), head)  # the SOAP envelope (or the report itself)
        if collector.kind is not None:
            return  # the report was inline in the SOAP body
        if collector.fault is not None or collector.include_href is None:
            collector.require_report()  # raises with what the root part held instead
        href = collector.include_href
        assert href is not None
        wanted = normalize_content_id(href)
        # What the envelope said is used up; the attachment must be the report itself.
        collector.saw_envelope, collector.include_href = False, None
        while (headers := reader.next_part()) is not None:
            if normalize_content_id(headers.get("content-id", "")) == wanted:
                collector.run(reader.body())
                collector.require_report()
                return
        raise NiprReportError(
            f"the MTOM reply is missing its report: no part has the Content-ID {href!r} that "
            "the SOAP envelope's xop:Include points to (the reply may have been cut off)"
        )
    except MtomError as exc:
        raise NiprReportError(f"the MTOM reply is malformed: {exc}") from exc
