"""The collector: both report readers joined, iterparse events in, `ParsedReport` out.

`Collector` is the Entity Info reader and the PDB Alerts reader over one `ReportState`, plus
the SOAP envelope handlers (an MTOM root part, or a bare SOAP reply) and what happens after the
parse: `require_report` (a report was found, or why not) and `result` (the frames).
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import compress
from typing import Any

from lxml import etree

from assets.nipr.parsing.alerts import AlertsReader
from assets.nipr.parsing.entity_info import EntityInfoReader
from assets.nipr.parsing.report import (
    ACORD_NS,
    ALERTS,
    APPOINTMENT_COLUMNS,
    ENTITY_INFO,
    ERROR_COLUMNS,
    LICENSE_COLUMNS,
    LICENSE_LOA_COLUMNS,
    PRODUCER_COLUMNS,
    SCOPE_COLUMNS,
    NiprReportError,
    ParsedReport,
    RowBuffer,
    to_frame,
    transpose,
)
from assets.nipr.parsing.streaming import stream_records
from assets.nipr.parsing.values import clean, scrub

_SOAP_NAMESPACES = (
    "http://schemas.xmlsoap.org/soap/envelope/",  # SOAP 1.1, what NIPR's service speaks
    "http://www.w3.org/2003/05/soap-envelope",  # SOAP 1.2
)
_XOP_INCLUDE = "{http://www.w3.org/2004/08/xop/include}Include"


class Collector(EntityInfoReader, AlertsReader):
    def __init__(self, requested_npn: str | None) -> None:
        super().__init__(requested_npn)
        self.root_tag: Any = None
        self.handlers: dict[Any, Callable[[Any], None]] = {
            **self.entity_info_handlers(),
            **self.alerts_handlers(),
            _XOP_INCLUDE: self._soap_include,
        }
        for ns in _SOAP_NAMESPACES:
            self.handlers[f"{{{ns}}}Fault"] = self._soap_fault
            self.handlers[f"{{{ns}}}Envelope"] = self._soap_envelope
        self.tags = list(self.handlers)

    def run(self, source: Any, prefix: bytes | None = None) -> None:
        """Feed one XML document to the handlers (see `streaming.stream_records`)."""
        self.root_tag = stream_records(source, prefix, self.handlers, self.tags)

    # -- SOAP ---------------------------------------------------------------------------------

    def _soap_include(self, elem: Any) -> None:
        if self.include_href is None:
            self.include_href = elem.get("href")

    def _soap_fault(self, elem: Any) -> None:
        parts = [
            clean(elem.findtext("faultcode")),
            clean(elem.findtext("faultstring")),
            clean(
                " ".join(elem.find("detail").itertext())
                if elem.find("detail") is not None
                else None
            ),
        ]
        self.fault = scrub(" - ".join(p for p in parts if p)) or "no fault text"

    def _soap_envelope(self, elem: Any) -> None:
        self.saw_envelope = True
        for body in elem:
            if isinstance(body.tag, str) and body.tag.endswith("}Body"):
                for child in body:
                    if isinstance(child.tag, str):
                        self.soap_body_child = etree.QName(child).localname
                        break

    # -- after the parse ----------------------------------------------------------------------

    def require_report(self) -> None:
        if self.kind is not None:
            return
        if self.fault is not None:
            raise NiprReportError(
                f"NIPR answered with a SOAP fault instead of a report: {self.fault}"
            )
        if self.saw_envelope:
            if self.include_href is not None:
                raise NiprReportError(
                    f"the SOAP reply points to an MTOM attachment ({self.include_href}) but was "
                    "given without its multipart wrapper"
                )
            raise NiprReportError(
                "the SOAP reply holds no PDB report"
                + (f" (its body is <{self.soap_body_child}>)" if self.soap_body_child else "")
            )
        tag = self.root_tag
        if isinstance(tag, str):
            qname = etree.QName(tag)
            where = f" in namespace {qname.namespace}" if qname.namespace else ""
            found = f"<{qname.localname}>{where}"
        else:
            found = "no element"
        raise NiprReportError(
            f"not a NIPR PDB report: the root element is {found}; expected <PDB> (Entity Info) "
            f"or <LicensingReportProcessResult> in namespace {ACORD_NS} (PDB Alerts)"
        )

    def result(self) -> ParsedReport:
        """Build the frames. Each frame's column lists are handed over and freed as soon as the
        frame exists, so the rows are never held twice over (columns and frames at once)."""
        kind = self.kind
        assert kind is not None
        rows, self.licenses = self.licenses, RowBuffer(len(LICENSE_COLUMNS))
        columns = self._columns(rows.take(), LICENSE_COLUMNS)
        active_npns = set(compress(columns["npn"], columns["is_active"]))
        licenses = to_frame(columns, LICENSE_COLUMNS)
        rows, self.loas = self.loas, RowBuffer(len(LICENSE_LOA_COLUMNS))
        columns = self._columns(rows.take(), LICENSE_LOA_COLUMNS)
        license_loas = to_frame(columns, LICENSE_LOA_COLUMNS)
        rows, self.appointments = self.appointments, RowBuffer(len(APPOINTMENT_COLUMNS))
        columns = self._columns(rows.take(), APPOINTMENT_COLUMNS)
        if kind == ALERTS:
            self._resolve_insurers(columns)
        appointments = to_frame(columns, APPOINTMENT_COLUMNS)
        del columns
        # Deduplicated, then sorted on all three columns by pandas: rows that tie are equal,
        # so the order the set hands them over in does not show.
        rows, self.scopes = self.scopes, RowBuffer(len(SCOPE_COLUMNS))
        unique = transpose(list(set(zip(*rows.take(), strict=True))), SCOPE_COLUMNS)
        del rows
        scopes = to_frame(
            self._columns(list(unique.values()), SCOPE_COLUMNS), SCOPE_COLUMNS
        ).sort_values(list(SCOPE_COLUMNS), ignore_index=True)
        producers = to_frame(self._producer_columns(kind, active_npns), PRODUCER_COLUMNS)
        as_of = self.as_of
        return ParsedReport(
            report_kind=kind,
            producers=producers,
            licenses=licenses,
            license_loas=license_loas,
            appointments=appointments,
            reported_scopes=scopes,
            errors=to_frame(transpose(self.errors, ERROR_COLUMNS), ERROR_COLUMNS),
            report_date=as_of.date() if as_of is not None else None,
            as_of=as_of,
            firm_npns=frozenset(self.firm_npns),
        )

    def _columns(self, lists: list[list[Any]], names: tuple[str, ...]) -> dict[str, list[Any]]:
        """Column lists -> {name: list}, the subject in the first column resolved to its NPN.

        Rows whose subject has no NPN in the report are dropped and reported in `errors`.
        """
        npn_of = self.subject_npn
        columns = dict(zip(names, lists, strict=True))
        subjects = columns["npn"]
        unknown = set(subjects).difference(npn_of)
        if unknown:
            for subject in sorted(map(str, unknown)):
                self.errors.append(
                    (
                        None,
                        "UNKNOWN_PRODUCER",
                        f"rows for {subject!r}, which has no NPN in the report",
                    )
                )
            keep = [subject in npn_of for subject in subjects]
            for name in names:
                columns[name] = list(compress(columns[name], keep))
            subjects = columns["npn"]
        columns["npn"] = list(map(npn_of.__getitem__, subjects))
        return columns

    def _resolve_insurers(self, appointments: dict[str, list[Any]]) -> None:
        """Alerts: the insurer key in `cocode` becomes the CoCode and company name."""
        cocode_of = {}
        name_of = {}
        for key, (cocode, name) in self.insurers.items():
            if cocode is not None:
                cocode_of[key], name_of[key] = cocode, name
        keys = appointments["cocode"]
        unknown = set(keys).difference(cocode_of)
        for key in sorted(unknown):
            self.errors.append(
                (None, "UNKNOWN_INSURER", f"appointment insurer {key!r} has no NAICInsurerCode")
            )
        if unknown:
            keep = [key in cocode_of for key in keys]
            for name in appointments:
                appointments[name] = list(compress(appointments[name], keep))
            keys = appointments["cocode"]
        appointments["company_name"] = list(map(name_of.__getitem__, keys))
        appointments["cocode"] = list(map(cocode_of.__getitem__, keys))

    def _producer_columns(self, kind: str, active_npns: set[str]) -> dict[str, list[Any]]:
        # Entity Info is the producer's full picture: active means "holds an active license".
        # An Alerts report only carries what changed, so it cannot say (None).
        full_picture = kind == ENTITY_INFO
        rows = [
            (npn, first, last, email, None, None, (npn in active_npns) if full_picture else None)
            for npn, (first, last, email, _name_rank, _mail_rank) in self.people.items()
        ]
        return transpose(rows, PRODUCER_COLUMNS)
