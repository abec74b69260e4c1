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
  "wrapper to associate one license with one or more LOAs"): it takes that license's number.
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
- Codes, NPNs and license numbers are kept as the text NIPR sent (stripped), never numbers.
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
so handlers see complete records in end-tag order all the same (`_Collector.run`). Repeated
values (codes, dates, status words) are converted once each through memo dicts; rows are
appended as tuples and moved into one list per column every few thousand rows (`_Rows`), and
each DataFrame is built once at the end. Python's cyclic garbage collector is paused during a
parse (nothing in it makes cycles; each collection would only re-walk the rows). Paths are
handed to libxml2, which reads the file itself; MTOM parts are streamed through `resources/nipr_mtom.py`.
Nothing reads a whole file into memory (bytes input is, of course, already there).

`errors` rows (npn, code, message), never exceptions: NIPR_ERROR (Entity Info error reply;
pass `requested_npn` to attribute it), UNSUPPORTED_TRANSACTION, NIPR_MESSAGE_STATUS, BAD_DATE,
NO_NPN, NO_SUBJECT, UNKNOWN_PRODUCER, UNKNOWN_INSURER, LOA_WITHOUT_LICENSE,
APPOINTMENT_WITHOUT_INSURER. Rows that cannot be keyed (no NPN, no CoCode) are left out.

Safety. NIPR reports never carry a DOCTYPE. The parser never loads a DTD, never expands an
entity and never touches the network (`resolve_entities=False, load_dtd=False,
no_network=True`), and any document with a DOCTYPE is refused with `NiprReportError`, so
neither "billion laughs" nor an external-entity (`file://`) reference gets anywhere. Malformed
or truncated XML, an unknown root element, a SOAP fault or an MTOM reply missing its report
part also raise `NiprReportError`, with a message meant for the compliance analyst who reads it
in the UI. SSNs: `ID_SSN` (and any tax id) is never read into a row, and messages are scrubbed
of SSN-shaped digit runs.
"""

from __future__ import annotations

import datetime as dt
import gc
import io
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import compress
from typing import Any, BinaryIO

import pandas as pd
from lxml import etree

from resources.nipr_mtom import MtomError, MultipartReader, looks_like_multipart, normalize_content_id
from resources.safe_xml import safe_iterparse

__all__ = [
    "APPOINTMENT_COLUMNS",
    "ERROR_COLUMNS",
    "LICENSE_COLUMNS",
    "LICENSE_LOA_COLUMNS",
    "PRODUCER_COLUMNS",
    "SCOPE_CATEGORIES",
    "SCOPE_COLUMNS",
    "NiprReportError",
    "ParsedReport",
    "parse_pdb_report",
]

PRODUCER_COLUMNS = (
    "npn",
    "first_name",
    "last_name",
    "email",
    "agency_npn",
    "agent_type",
    "is_active",
)
LICENSE_COLUMNS = (
    "npn",
    "state_code",
    "license_number",
    "license_class_code",
    "license_class",
    "is_resident",
    "is_active",
    "issue_date",
    "expiration_date",
    "nipr_updated_at",
)
LICENSE_LOA_COLUMNS = (
    "npn",
    "state_code",
    "license_number",
    "loa_code",
    "loa_name",
    "is_active",
    "issue_date",
)
APPOINTMENT_COLUMNS = (
    "npn",
    "state_code",
    "cocode",
    "loa_code",
    "company_name",
    "status",
    "effective_date",
    "termination_reason",
    "status_reason_date",
    "renewal_date",
)
SCOPE_COLUMNS = ("npn", "state_code", "category")
ERROR_COLUMNS = ("npn", "code", "message")

LICENSING = "LICENSING"
APPOINTMENTS = "APPOINTMENTS"
DEMOGRAPHICS = "DEMOGRAPHICS"
SCOPE_CATEGORIES = (LICENSING, APPOINTMENTS, DEMOGRAPHICS)

ENTITY_INFO = "entity_info"
ALERTS = "alerts"

ACORD_NS = "http://www.acord.org/schema/data/draft/ReusableDataComponents/1"
_SOAP_NAMESPACES = (
    "http://schemas.xmlsoap.org/soap/envelope/",  # SOAP 1.1, what NIPR's service speaks
    "http://www.w3.org/2003/05/soap-envelope",  # SOAP 1.2
)
_XOP_INCLUDE = "{http://www.w3.org/2004/08/xop/include}Include"

_PEEK_BYTES = 64 * 1024  # enough to see an XML prolog (and so a DOCTYPE) or an MTOM boundary


class NiprReportError(ValueError):
    """The input is not a NIPR report we can read; the message says what is wrong."""


@dataclass(frozen=True, eq=False)
class ParsedReport:
    """One parsed NIPR report. Frames have the SPEC section 3 columns (see the *_COLUMNS)."""

    report_kind: str  # "entity_info" (full picture per producer) | "alerts" (changed scopes)
    producers: pd.DataFrame
    licenses: pd.DataFrame
    license_loas: pd.DataFrame
    appointments: pd.DataFrame
    # (npn, state_code, category): what the report covered, rows or not (see module doc).
    reported_scopes: pd.DataFrame
    # (npn, code, message): NIPR's error replies and rows we could not use. Never raised.
    errors: pd.DataFrame
    report_date: dt.date | None = None  # Alerts: the day of MessageDateTime; Entity Info: None
    as_of: dt.datetime | None = None  # Alerts: MessageDateTime (when NIPR built the report)
    firm_npns: frozenset[str] = frozenset()  # producers that are firms (name in last_name)

    def row_counts(self) -> dict[str, int]:
        """Rows per frame, for logs and asset metadata."""
        return {
            "producers": len(self.producers),
            "licenses": len(self.licenses),
            "license_loas": len(self.license_loas),
            "appointments": len(self.appointments),
            "reported_scopes": len(self.reported_scopes),
            "errors": len(self.errors),
        }


# --------------------------------------------------------------------------------------------
# Small value helpers: called for every field of every record, so kept minimal.
# --------------------------------------------------------------------------------------------


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    text = text.strip()
    return text or None


_YES_NO = {"yes": True, "y": True, "no": False, "n": False, "true": True, "false": False}
_RESIDENCY = {"r": True, "nr": False, "true": True, "false": False}
_INACTIVE_WORDS = frozenset(
    {
        "inactive",
        "canceled",
        "cancelled",
        "expired",
        "terminated",
        "suspended",
        "revoked",
        "surrendered",
        "lapsed",
        "deceased",
        "denied",
        "withdrawn",
    }
)
_STATUS_FAST = {"Active": True, "Inactive": False}
_STATUS_CANON = {"appointed": "Appointed", "terminated": "Terminated"}


def _flag(table: dict[str, bool], text: str | None) -> bool | None:
    if text is None:
        return None
    return table.get(text.strip().lower())


def _status_active(description: str | None, code: str | None = None) -> bool | None:
    """Active/inactive from the first of description, code that is a status word, else None."""
    fast = _STATUS_FAST.get(description)  # the common, exactly spelled case: one dict lookup
    if fast is not None:
        return fast
    for text in (description, code):
        if text is None:
            continue
        word = text.strip().lower()
        if word == "active":
            return True
        if word in _INACTIVE_WORDS:
            return False
    return None


def _appointment_status(text: str | None) -> str | None:
    text = _clean(text)
    if text is None:
        return None
    return _STATUS_CANON.get(text.lower(), text)


_SSN_SHAPED = re.compile(r"(?<!\d)(?:\d{3}-\d{2}-\d{4}|\d{9})(?!\d)")


def _scrub(message: str) -> str:
    """Remove SSN-shaped digit runs from a message that may quote the input."""
    return _SSN_SHAPED.sub("[redacted]", message)


_UNDECIDED = object()  # a description that is no status word: the code decides


def _status_of_description(description: str) -> Any:
    """`_status_active` split for memoizing: True/False when the description decides."""
    active = _status_active(description)
    if active is None:
        return _UNDECIDED
    return active


def _status_of_code(code: str) -> bool | None:
    return _status_active(None, code)


class _Memo(dict):
    """A dict that fills itself: `memo[key]` is `compute(key)`, computed once per distinct key
    (`__missing__`), so a repeated key costs a dict lookup and no Python call. None -> None."""

    __slots__ = ("_compute",)

    def __init__(self, compute: Any) -> None:
        super().__init__({None: None})
        self._compute = compute

    def __missing__(self, key: Any) -> Any:
        value = self[key] = self._compute(key)
        return value


_STATE_KEY = re.compile(r"^(?:Person|Org)([A-Z]{2})\d")


# --------------------------------------------------------------------------------------------
# Streams
# --------------------------------------------------------------------------------------------


class _Prefixed:
    """A stream whose first bytes were already read (to sniff the format): replays them."""

    def __init__(self, prefix: bytes, raw: Any) -> None:
        self._prefix = prefix
        self._raw = raw

    def read(self, size: int = -1) -> bytes:
        if self._prefix:
            out = self._prefix if size is None or size < 0 else self._prefix[:size]
            self._prefix = self._prefix[len(out) :]
            return out
        return self._raw.read(size)


@contextmanager
def _open_source(source: Any) -> Iterator[BinaryIO]:
    if isinstance(source, bytes | bytearray | memoryview):
        yield io.BytesIO(bytes(source))
    elif isinstance(source, str | os.PathLike):
        try:
            handle = open(source, "rb")  # noqa: SIM115 - closed below, after the parse
        except OSError as exc:
            raise NiprReportError(
                f"cannot open the NIPR report file {os.fspath(source)!r}: {exc.strerror}"
            ) from exc
        with handle:
            yield handle
    elif hasattr(source, "read"):
        yield source
    else:
        raise TypeError(
            "parse_pdb_report expects a path, bytes or a binary file object, "
            f"not {type(source).__name__}"
        )


def _read_prefix(stream: Any) -> bytes:
    prefix = stream.read(_PEEK_BYTES)
    if isinstance(prefix, str):
        raise TypeError("parse_pdb_report needs a binary file object (open it with 'rb')")
    return prefix or b""


def _refuse_doctype_in(prefix: bytes) -> None:
    # A DOCTYPE can only come before the root element, i.e. in the first bytes. NIPR never
    # sends one; refusing it outright rules out entity expansion and external entities.
    if b"<!DOCTYPE" in prefix or b"<!ENTITY" in prefix:
        raise NiprReportError(
            "the NIPR report carries a DOCTYPE declaration (entity definitions); NIPR reports "
            "never do, so it is refused without expanding or fetching anything"
        )


# --------------------------------------------------------------------------------------------
# The collector: iterparse events in, row tuples out
# --------------------------------------------------------------------------------------------

_A = f"{{{ACORD_NS}}}"
_A_REPORT = _A + "LicensingReportProcessResult"
_A_JR = _A + "JurisdictionReport"
_A_ITEM = _A + "JurisdictionReportItem"
_A_STATE = _A + "StateOrProvinceCode"
_A_LICENSEE = _A + "Licensee"
_A_INS_LICENSE = _A + "InsuranceLicense"
_A_INS_APPT = _A + "InsuranceAppointment"
_A_LICENSE = _A + "License"
_A_LOA = _A + "LineOfAuthority"
_A_RESIDENT = _A + "ResidentLicenseIndicator"
_A_INSURER_REFS = _A + "InsurerReferences"
_A_ORG_REFS = _A + "OrganizationReferences"
_A_PERSON_REFS = _A + "PersonReferences"
_A_EXT_ID = _A + "ExternalIdentifier"
_A_TYPE_CODE = _A + "TypeCode"
_A_ID = _A + "Id"
_A_PERSON = _A + "Person"
_A_ORG = _A + "Organization"
_A_PERSON_NAME = _A + "PersonName"
_A_ORG_NAME = _A + "OrganizationName"
_A_FULL_NAME = _A + "FullName"
_A_EMAIL = _A + "Email"
_A_EMAIL_ADDRESS = _A + "EmailAddress"
_A_GIVEN_NAME = _A + "GivenName"
_A_SURNAME = _A + "Surname"
_A_LICENSE_PERIOD = _A + "LicensePeriod"
_A_END_DATE = _A + "EndDate"
# Field tags, compared with each child's tag in one pass over a record (cheaper than find()).
_A_NUMBER = _A + "LicenseNumberId"
_A_STATUS_CODE = _A + "StatusCode"
_A_STATUS_DESC = _A + "StatusDescription"
_A_ISSUE_DATE = _A + "IssueDate"
_A_CLASS_CODE = _A + "LicenseClassCode"
_A_CLASS_DESC = _A + "LicenseClassDescription"
_A_AS_OF = _A + "AsOfDate"
_A_LOA_CODE = _A + "LineOfAuthorityCode"
_A_LOA_DESC = _A + "LineOfAuthorityDescription"
_A_RENEWAL = _A + "RenewalDate"
_A_REASON_DESC = _A + "StatusReasonDescription"
_A_REASON_CODE = _A + "StatusReasonCode"
_A_APPT_EFFECTIVE = _A + "AppointmentEffectiveDate"
_A_TERM_EFFECTIVE = _A + "TerminationEffectiveDate"

# ExternalIdentifier type codes that carry a producer's NPN. NIPR's documentation says
# NAICProducerCode; the reports in its samples say NAICEntityCode.
_NPN_TYPE_CODES = frozenset({"NAICProducerCode", "NAICEntityCode"})
_COCODE_TYPE_CODE = "NAICInsurerCode"
_NAME_RANK = {"Primary": 0}  # any other (or no) name type ranks 1: first one seen wins


class _Collector:
    def __init__(self, requested_npn: str | None) -> None:
        self.requested_npn = requested_npn
        self.kind: str | None = None
        # Rows (see _Rows); the first field is a "subject" resolved to an NPN at the end
        # (Entity Info: the producer's ordinal in the document; Alerts: the producer's record
        # key), because a report may reference a record defined further down.
        self.licenses = _Rows(len(LICENSE_COLUMNS))
        self.loas = _Rows(len(LICENSE_LOA_COLUMNS))
        self.appointments = _Rows(len(APPOINTMENT_COLUMNS))
        self.scopes = _Rows(len(SCOPE_COLUMNS))
        self.errors: list[tuple[str | None, str, str]] = []
        self.subject_npn: dict[Any, str] = {}
        self.people: dict[str, list[Any]] = {}  # npn -> [first, last, email, name_rank, mail_rank]
        self.firm_npns: set[str] = set()
        self.insurers: dict[str, tuple[str | None, str | None]] = {}  # org key -> cocode, name
        self.as_of: dt.datetime | None = None
        self._dates: dict[str, dt.date | None] = {}
        self._pool = {}.setdefault  # interning of repeated text, see _code
        # The Alerts hot path converts values through memo dicts, raw text -> value: a value
        # seen before costs a dict lookup, not a Python call (see _Memo).
        self._codes = _Memo(self._code)
        # _status_active(description, code) is by_description[description], or else (when
        # that is _UNDECIDED) by_code[code].
        self._active_by_description = _Memo(_status_of_description)
        self._active_by_description[None] = _UNDECIDED
        self._active_by_code = _Memo(_status_of_code)
        self._license_issued = self._date_memo("License IssueDate")
        self._license_expires = self._date_memo("LicensePeriod EndDate")
        self._license_as_of = self._date_memo("License AsOfDate")
        self._loa_issued = self._date_memo("LineOfAuthority IssueDate")
        self._appointment_effective = self._date_memo("AppointmentEffectiveDate")
        self._appointment_terminated = self._date_memo("TerminationEffectiveDate")
        self._appointment_renewal = self._date_memo("Appointment RenewalDate")
        self._token = 0  # Entity Info: ordinal of the producer being read
        self._subject: str | None = None  # Alerts: the current JurisdictionReport's subject
        self.transaction_type: str | None = None
        # SOAP envelope (MTOM root part, or a bare SOAP reply)
        self.include_href: str | None = None
        self.fault: str | None = None
        self.soap_body_child: str | None = None
        self.saw_envelope = False
        self.handlers = {
            # Entity Info
            "PDB": self._ei_pdb,
            "TYPE": self._ei_type,
            "ERROR": self._ei_error,
            "ENTITY_BIOGRAPHIC": self._ei_biographic,
            "LICENSE": self._ei_license,
            "APPOINTMENT": self._ei_appointment,
            "STATE": self._ei_state_block,
            "INDIVIDUAL": self._ei_producer_end,
            "FIRM": self._ei_producer_end,
            # PDB Alerts
            _A_REPORT: self._al_report,
            _A + "MessageHeader": self._al_header,
            _A + "MessageResult": self._al_result,
            _A + "Address": self._drop,
            _A_PERSON: self._al_party,
            _A_ORG: self._al_party,
            _A_ITEM: self._al_item,
            _A_JR: self._al_jurisdiction_report,
            # SOAP
            _XOP_INCLUDE: self._soap_include,
        }
        for ns in _SOAP_NAMESPACES:
            self.handlers[f"{{{ns}}}Fault"] = self._soap_fault
            self.handlers[f"{{{ns}}}Envelope"] = self._soap_envelope
        self.tags = list(self.handlers)

    # -- driving iterparse --------------------------------------------------------------------

    def run(self, source: Any, prefix: bytes | None = None) -> None:
        """Feed one XML document to the handlers: a stream, or a file name whose first bytes
        (`prefix`) were already checked (libxml2 then reads the file itself, faster)."""
        if prefix is None:
            prefix = _read_prefix(source)
            source = _Prefixed(prefix, source)
        _refuse_doctype_in(prefix)
        if not isinstance(source, str):
            source = _Counting(source)  # to tell a truncated report from a corrupted one
        # "start" events, not "end" ones: lxml hooks a Python-aware callback into libxml2 for
        # every element of each event kind asked for, and the end hook costs as much as the
        # start one. An element has ended once a later element starts that is not inside it,
        # so the handlers still see each record complete, in the same (end) order: see below.
        # Safety (resources/safe_xml.py): never expand entities, never load a DTD, never
        # touch the network.
        context = safe_iterparse(
            source,
            events=("start",),
            tag=self.tags,
            remove_comments=True,
            remove_pis=True,
            remove_blank_text=True,
        )
        handlers = self.handlers
        checked = False
        # The started elements not handled yet, outermost first. Each is an ancestor of the
        # next, so when an element starts, the pending ones that are not its ancestors have
        # ended, innermost first: they are handled then, in the order their end tags came.
        pending: list[Any] = []
        parent: Any = None
        ancestors: list[Any] = []  # the parent of the last element started, and its ancestors
        try:
            for _event, elem in context:
                if not checked:
                    _refuse_doctype(elem)
                    checked = True
                if pending:
                    if elem.getparent() is not parent:  # else a sibling: same ancestors
                        parent = elem.getparent()
                        ancestors = [parent, *parent.iterancestors()] if parent is not None else []
                    while pending and pending[-1] not in ancestors:
                        ended = pending.pop()
                        handlers[ended.tag](ended)
                pending.append(elem)
        except etree.XMLSyntaxError as exc:
            shape = source.shape() if isinstance(source, _Counting) else _file_shape(source)
            raise NiprReportError(_syntax_message(exc, shape)) from None
        while pending:  # the document is complete: everything still pending has ended
            ended = pending.pop()
            handlers[ended.tag](ended)
        root = context.root
        if root is not None and not checked:
            _refuse_doctype(root)
        self.root_tag = root.tag if root is not None else None

    def _code(self, text: str | None) -> str | None:
        """`_clean` for values that repeat (codes, names, states): one shared str object per
        distinct value, so row memory does not grow with repeated text."""
        if text is None:
            return None
        text = text.strip()
        return self._pool(text, text) if text else None

    def _drop(self, elem: Any) -> None:
        _release(elem)

    def _date_memo(self, what: str) -> _Memo:
        """`_date(text, what)` as a memo dict. Backed by `_date`'s own cache, so that a bad
        date is still reported once per distinct value, whichever field it is seen in first."""
        return _Memo(lambda text: self._date(text, what))

    def _date(self, text: str | None, what: str) -> dt.date | None:
        if text is None:
            return None
        try:
            return self._dates[text]
        except KeyError:
            pass
        value = text.strip()
        parsed: dt.date | None = None
        if value:
            try:
                if len(value) == 10 and value[4] == "-":  # Alerts: yyyy-mm-dd
                    parsed = dt.date(int(value[:4]), int(value[5:7]), int(value[8:]))
                elif len(value) == 10 and value[2] == "/":  # Entity Info: MM/DD/YYYY
                    parsed = dt.date(int(value[6:]), int(value[:2]), int(value[3:5]))
                else:
                    raise ValueError(value)
            except ValueError:
                # Reported once per distinct value (then cached as None like any other).
                self.errors.append((None, "BAD_DATE", _scrub(f"{what}: {value!r} is not a date")))
                parsed = None
        self._dates[text] = parsed
        return parsed

    def _set_kind(self, kind: str) -> None:
        if self.kind is not None and self.kind != kind:
            raise NiprReportError("the document holds both an Entity Info and an Alerts report")
        self.kind = kind

    # -- Entity Info --------------------------------------------------------------------------

    def _ei_pdb(self, elem: Any) -> None:
        self._set_kind(ENTITY_INFO)
        kind = self.transaction_type
        if kind not in (None, "INDIVIDUAL", "FIRM", "ERROR"):
            self.errors.append(
                (
                    self.requested_npn,
                    "UNSUPPORTED_TRANSACTION",
                    f"Entity Info transaction type {kind!r} is not a producer report",
                )
            )
        _release(elem)

    def _ei_type(self, elem: Any) -> None:
        parent = elem.getparent()
        if parent is not None and parent.tag == "TRANSACTION_TYPE":
            self.transaction_type = (_clean(elem.text) or "").upper() or None

    def _ei_error(self, elem: Any) -> None:
        if elem.getparent() is None or elem.getparent().tag != "PDB":
            return
        description = _clean(elem.findtext("DESCRIPTION")) or "NIPR returned an error"
        self.errors.append((self.requested_npn, "NIPR_ERROR", _scrub(description)))

    def _ei_biographic(self, elem: Any) -> None:
        bio = elem.find("BIOGRAPHIC")
        fields = {c.tag: c.text for c in bio} if bio is not None else {}
        npn = _clean(fields.get("NPN"))
        parent = elem.getparent()
        company = _clean(fields.get("NAME_COMPANY"))
        is_firm = (parent is not None and parent.tag == "FIRM") or company is not None
        email = None
        for node in elem.iterfind("CONTACT_INFOS/STATE/CONTACT_INFO/BUSINESS_EMAIL"):
            email = _clean(node.text)
            if email:
                break
        if npn is None:
            self.errors.append(
                (self.requested_npn, "NO_NPN", "Entity Info producer without an NPN")
            )
        else:
            self.subject_npn[self._token] = npn
            if is_firm:
                self.firm_npns.add(npn)
                self.people[npn] = [None, company, email, 0, 0]
            else:
                first, last = _clean(fields.get("NAME_FIRST")), _clean(fields.get("NAME_LAST"))
                self.people[npn] = [first, last, email, 0, 0]
            for path in ("ADDRESSES/STATE", "CONTACT_INFOS/STATE"):
                for block in elem.iterfind(path):
                    state = _clean(block.get("name"))
                    if state:
                        self.scopes.append((self._token, state, DEMOGRAPHICS))
        # Clearing drops ID_SSN with everything else: it never leaves this element.
        elem.clear(keep_tail=True)

    def _ei_state_of(self, elem: Any) -> str | None:
        node = elem.getparent()
        while node is not None and node.tag != "STATE":
            node = node.getparent()
        return self._code(node.get("name")) if node is not None else None

    def _ei_license(self, elem: Any) -> None:
        f = {c.tag: c.text for c in elem}
        token, state = self._token, self._ei_state_of(elem)
        number = _clean(f.get("LICENSE_NUM"))
        self.licenses.append(
            (
                token,
                state,
                number,
                self._code(f.get("LICENSE_CLASS_CODE")),
                self._code(f.get("LICENSE_CLASS")),
                _flag(_RESIDENCY, f.get("RESIDENCY_STATUS")),
                _flag(_YES_NO, f.get("ACTIVE")),
                self._date(f.get("DATE_ISSUE_LICENSE_ORIG"), "DATE_ISSUE_LICENSE_ORIG"),
                self._date(f.get("DATE_EXPIRE_LICENSE"), "DATE_EXPIRE_LICENSE"),
                self._date(f.get("DATE_UPDATED"), "DATE_UPDATED"),
            )
        )
        details = elem.find("DETAILS")
        if details is not None:
            for detail in details.iterchildren("DETAIL"):
                g = {c.tag: c.text for c in detail}
                self.loas.append(
                    (
                        token,
                        state,
                        number,
                        self._code(g.get("LOA_CODE")),
                        self._code(g.get("LOA")),
                        _status_active(g.get("STATUS")),
                        self._date(g.get("AUTHORITY_ISSUE_DATE"), "AUTHORITY_ISSUE_DATE"),
                    )
                )
        elem.clear(keep_tail=True)

    def _ei_appointment(self, elem: Any) -> None:
        f = {c.tag: c.text for c in elem}
        status = _appointment_status(f.get("STATUS"))
        status_date = self._date(f.get("STATUS_REASON_DATE"), "STATUS_REASON_DATE")
        self.appointments.append(
            (
                self._token,
                self._ei_state_of(elem),
                self._code(f.get("COCODE")),
                self._code(f.get("LOA_CODE")) or "",
                self._code(f.get("COMPANY_NAME")),
                status,
                status_date if status == "Appointed" else None,
                self._code(f.get("TERMINATION_REASON")),
                status_date,
                self._date(f.get("APPONT_RENEWAL_DATE"), "APPONT_RENEWAL_DATE"),
            )
        )
        elem.clear(keep_tail=True)

    def _ei_state_block(self, elem: Any) -> None:
        parent = elem.getparent()
        if parent is None or parent.tag != "LICENSE_INFORMATION":
            return  # address / contact / other-name blocks are read with ENTITY_BIOGRAPHIC
        state = self._code(elem.get("name"))
        self.scopes.append((self._token, state, LICENSING))
        self.scopes.append((self._token, state, APPOINTMENTS))
        _release(elem)

    def _ei_producer_end(self, elem: Any) -> None:
        parent = elem.getparent()
        if parent is None or parent.tag != "PRODUCER":
            return
        self._token += 1
        _release(elem)

    # -- PDB Alerts ---------------------------------------------------------------------------

    def _al_report(self, elem: Any) -> None:
        self._set_kind(ALERTS)
        _release(elem)

    def _al_header(self, elem: Any) -> None:
        stamp = _clean(elem.findtext(_A + "MessageDateTime"))
        if stamp:
            try:
                self.as_of = dt.datetime.fromisoformat(stamp)
            except ValueError:
                self.errors.append((None, "BAD_DATE", f"MessageDateTime: {stamp!r}"))

    def _al_result(self, elem: Any) -> None:
        status = _clean(elem.findtext(_A_STATUS_CODE))
        if status is not None and status not in ("Valid", "Success"):
            self.errors.append((None, "NIPR_MESSAGE_STATUS", f"NIPR marked the report {status!r}"))

    def _al_party(self, elem: Any) -> None:
        """A keyed Person or Organization record under LicensingReport."""
        self._al_party_read(elem)
        _release(elem)  # after the read, when no child is referenced any more (see _al_item)
        if len(self.scopes.buffer) >= _ROWS_PER_FLUSH:
            self.scopes.flush()

    def _al_party_read(self, elem: Any) -> None:
        # One pass over the record's children (no findtext: ElementPath costs more than the
        # loop); the names and e-mails are only read when they could improve what is known.
        key = elem.get("key")
        npn = cocode = None
        org_names = []
        person_names = []
        for child in elem:
            tag = child.tag
            if tag == _A_EXT_ID:
                f = _first_texts(child)
                type_code = _clean(f.get(_A_TYPE_CODE))
                if type_code in _NPN_TYPE_CODES:
                    npn = self._codes[f.get(_A_ID)]  # one str per producer, not per record
                elif type_code == _COCODE_TYPE_CODE:
                    cocode = _clean(f.get(_A_ID))
            elif tag == _A_ORG_NAME:
                org_names.append(child)
            elif tag == _A_PERSON_NAME:
                person_names.append(child)
        if cocode is not None and npn is None:  # an insurer, referenced by appointments
            name = None
            for org_name in org_names:
                name = _clean(_first_texts(org_name).get(_A_FULL_NAME))
                if name:
                    break
            if key:
                self.insurers[key] = (cocode, name)
            return
        if npn is None or not key:
            return
        self.subject_npn[key] = npn
        person = self.people.get(npn)
        if person is None:
            person = self.people[npn] = [None, None, None, 9, 9]
        if elem.tag == _A_ORG:
            self.firm_npns.add(npn)
            for org_name in org_names:
                f = _first_texts(org_name)
                rank = _NAME_RANK.get(_clean(f.get(_A_TYPE_CODE)) or "", 1)
                name = _clean(f.get(_A_FULL_NAME))
                if name and rank < person[3]:
                    person[0], person[1], person[3] = None, name, rank
        else:
            for person_name in person_names:
                rank = _name_rank(person_name)
                if rank >= person[3]:
                    continue  # cannot beat the name already kept: not read
                f = _first_texts(person_name)
                first = _clean(f.get(_A_GIVEN_NAME))
                last = _clean(f.get(_A_SURNAME))
                if (first or last) and rank < person[3]:
                    person[0], person[1], person[3] = first, last, rank
        if person[4] > 0:  # look for a better e-mail: a Business one ranks first
            for email in elem.iter(_A_EMAIL):
                f = _first_texts(email)
                address = _clean(f.get(_A_EMAIL_ADDRESS))
                if not address:
                    continue
                rank = 0 if _clean(f.get(_A_TYPE_CODE)) == "Business" else 1
                if rank < person[4]:
                    person[2], person[4] = address, rank
                    if rank == 0:
                        break
        state = _STATE_KEY.match(key)
        if state:
            # A state record of the producer: NIPR sent that state's demographics (an empty
            # record means they were deleted).
            self.scopes.append((key, state.group(1), DEMOGRAPHICS))

    def _al_subject_of(self, report: Any) -> str | None:
        """The producer a JurisdictionReport is about: its Person/OrganizationReferences."""
        for child in report:
            tag = child.tag
            if tag == _A_PERSON_REFS:
                return _clean(child.get("personReference"))
            if tag == _A_ORG_REFS:
                return _clean(child.get("organizationReference"))
            if tag == _A_ITEM:
                break
        return None

    def _al_jurisdiction_report(self, elem: Any) -> None:
        self._subject = None
        _release(elem)
        for rows in (self.licenses, self.loas, self.appointments, self.scopes):
            if len(rows.buffer) >= _ROWS_PER_FLUSH:
                rows.flush()

    def _al_item(self, elem: Any) -> None:
        self._al_item_rows(elem)
        # Clear only: the references naming the subject sit before the items and must stay
        # until the JurisdictionReport ends (which then frees everything of it). Cleared once
        # the reading is done: a child still referenced from Python would make lxml move its
        # subtree into a document of its own instead of just freeing it.
        elem.clear(keep_tail=True)

    def _al_item_rows(self, elem: Any) -> None:
        subject = self._subject
        if subject is None:
            parent = elem.getparent()
            subject = self._subject = self._al_subject_of(parent) if parent is not None else None
        state = licensee = None
        for child in elem:
            tag = child.tag
            if tag == _A_STATE:
                state = self._codes[child.text]
            elif tag == _A_LICENSEE:
                licensee = child
        if subject is None:
            self.errors.append(
                (None, "NO_SUBJECT", f"{state or 'a'} JurisdictionReportItem names no producer")
            )
        elif licensee is not None:
            saw_licensing = saw_appointments = False
            for child in licensee:
                tag = child.tag
                if tag == _A_INS_LICENSE:
                    saw_licensing = True
                    self._al_license(child, subject, state)
                elif tag == _A_INS_APPT:
                    saw_appointments = True
                    self._al_appointment(child, subject, state)
            # The whole category is resent for the state: a scope with no rows is a deletion.
            if saw_licensing:
                self.scopes.append((subject, state, LICENSING))
            if saw_appointments:
                self.scopes.append((subject, state, APPOINTMENTS))

    def _al_license(self, wrapper: Any, subject: str, state: str | None) -> None:
        # Hot path (one call per license, one loop turn per LOA). Each child is visited once
        # and its text read only if it is a field we keep (the last child of a tag wins, like
        # a {tag: text} dict would); no find() (ElementPath costs more than the loop). Values
        # go through memo dicts: a value seen before costs a dict lookup, not a Python call.
        resident = None
        license_elem = None
        loas = []
        for child in wrapper:
            tag = child.tag
            if tag == _A_LOA:
                loas.append(child)
            elif tag == _A_LICENSE:
                license_elem = child
            elif tag == _A_RESIDENT:
                resident = _flag(_RESIDENCY, child.text)
        if license_elem is None:
            # <InsuranceLicense><TypeCode>Producer</TypeCode></InsuranceLicense>: all licenses
            # of this state (branch) were deleted. The LICENSING scope alone says so.
            if loas:
                self.errors.append(
                    (None, "LOA_WITHOUT_LICENSE", f"{state}: lines of authority without a license")
                )
            return
        number = class_code = class_name = description = status = issued = as_of = None
        period = None
        for child in license_elem:
            tag = child.tag
            if tag == _A_NUMBER:
                number = child.text
            elif tag == _A_STATUS_DESC:
                description = child.text
            elif tag == _A_STATUS_CODE:
                status = child.text
            elif tag == _A_ISSUE_DATE:
                issued = child.text
            elif tag == _A_CLASS_CODE:
                class_code = child.text
            elif tag == _A_CLASS_DESC:
                class_name = child.text
            elif tag == _A_AS_OF:
                as_of = child.text
            elif tag == _A_LICENSE_PERIOD:
                period = child
        expires = _end_date(license_elem, period) if period is not None else None
        number = _clean(number)
        codes = self._codes
        by_description, by_code = self._active_by_description, self._active_by_code
        active = by_description[description]
        if active is _UNDECIDED:
            active = by_code[status]
        self.licenses.append(
            (
                subject,
                state,
                number,
                codes[class_code],
                codes[class_name],
                resident,
                active,
                self._license_issued[issued],
                self._license_expires[expires],
                self._license_as_of[as_of],
            )
        )
        append = self.loas.append
        loa_issued = self._loa_issued
        for loa in loas:
            issued = loa_code = loa_name = description = status = None
            for child in loa:
                tag = child.tag
                if tag == _A_LOA_CODE:
                    loa_code = child.text
                elif tag == _A_LOA_DESC:
                    loa_name = child.text
                elif tag == _A_STATUS_DESC:
                    description = child.text
                elif tag == _A_STATUS_CODE:
                    status = child.text
                elif tag == _A_ISSUE_DATE:
                    issued = child.text
            active = by_description[description]
            if active is _UNDECIDED:
                active = by_code[status]
            append(
                (
                    subject,
                    state,
                    number,  # the LOA belongs to the License of its InsuranceLicense wrapper
                    codes[loa_code],
                    codes[loa_name],
                    active,
                    loa_issued[issued],
                )
            )

    def _al_appointment(self, appointment: Any, subject: str, state: str | None) -> None:
        loas = []
        insurer = None
        status = description = effective = terminated = reason = reason_code = None
        for child in appointment:
            tag = child.tag
            if tag == _A_LOA:
                loas.append(child)
            elif tag == _A_INSURER_REFS:
                insurer = None
                for ref in child:  # the first OrganizationReferences
                    if ref.tag == _A_ORG_REFS:
                        insurer = self._codes[ref.get("organizationReference")]
                        break
            elif tag == _A_STATUS_CODE:
                status = child.text
            elif tag == _A_STATUS_DESC:
                description = child.text
            elif tag == _A_APPT_EFFECTIVE:
                effective = child.text
            elif tag == _A_TERM_EFFECTIVE:
                terminated = child.text
            elif tag == _A_REASON_DESC:
                reason = child.text
            elif tag == _A_REASON_CODE:
                reason_code = child.text
        status = _appointment_status(status or description)
        if insurer is None:
            if status is not None or loas:
                self.errors.append(
                    (None, "APPOINTMENT_WITHOUT_INSURER", f"{state}: appointment names no insurer")
                )
            # Otherwise the empty-tags marker: all appointments of this state were deleted.
            return
        codes = self._codes
        effective = self._appointment_effective[effective]
        terminated = self._appointment_terminated[terminated]
        status_date = terminated if status == "Terminated" else effective
        reason = codes[reason] or codes[reason_code]
        # cocode and company_name are filled from the insurer record at the end.
        append = self.appointments.append
        if not loas:
            append(
                (subject, state, insurer, "", None, status, effective, reason, status_date, None)
            )
            return
        renewals = self._appointment_renewal
        for loa in loas:
            loa_code = renewal = None
            for child in loa:
                tag = child.tag
                if tag == _A_LOA_CODE:
                    loa_code = child.text
                elif tag == _A_RENEWAL:
                    renewal = child.text
            append(
                (
                    subject,
                    state,
                    insurer,
                    codes[loa_code] or "",
                    None,
                    status,
                    effective,
                    reason,
                    status_date,
                    renewals[renewal],
                )
            )

    # -- SOAP ---------------------------------------------------------------------------------

    def _soap_include(self, elem: Any) -> None:
        if self.include_href is None:
            self.include_href = elem.get("href")

    def _soap_fault(self, elem: Any) -> None:
        parts = [
            _clean(elem.findtext("faultcode")),
            _clean(elem.findtext("faultstring")),
            _clean(
                " ".join(elem.find("detail").itertext())
                if elem.find("detail") is not None
                else None
            ),
        ]
        self.fault = _scrub(" - ".join(p for p in parts if p)) or "no fault text"

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
        rows, self.licenses = self.licenses, _Rows(len(LICENSE_COLUMNS))
        columns = self._columns(rows.take(), LICENSE_COLUMNS)
        active_npns = set(compress(columns["npn"], columns["is_active"]))
        licenses = _frame(columns, LICENSE_COLUMNS)
        rows, self.loas = self.loas, _Rows(len(LICENSE_LOA_COLUMNS))
        columns = self._columns(rows.take(), LICENSE_LOA_COLUMNS)
        license_loas = _frame(columns, LICENSE_LOA_COLUMNS)
        rows, self.appointments = self.appointments, _Rows(len(APPOINTMENT_COLUMNS))
        columns = self._columns(rows.take(), APPOINTMENT_COLUMNS)
        if kind == ALERTS:
            self._resolve_insurers(columns)
        appointments = _frame(columns, APPOINTMENT_COLUMNS)
        del columns
        # Deduplicated, then sorted on all three columns by pandas: rows that tie are equal,
        # so the order the set hands them over in does not show.
        rows, self.scopes = self.scopes, _Rows(len(SCOPE_COLUMNS))
        unique = _transpose(list(set(zip(*rows.take(), strict=True))), SCOPE_COLUMNS)
        del rows
        scopes = _frame(
            self._columns(list(unique.values()), SCOPE_COLUMNS), SCOPE_COLUMNS
        ).sort_values(list(SCOPE_COLUMNS), ignore_index=True)
        producers = _frame(self._producer_columns(kind, active_npns), PRODUCER_COLUMNS)
        as_of = self.as_of
        return ParsedReport(
            report_kind=kind,
            producers=producers,
            licenses=licenses,
            license_loas=license_loas,
            appointments=appointments,
            reported_scopes=scopes,
            errors=_frame(_transpose(self.errors, ERROR_COLUMNS), ERROR_COLUMNS),
            report_date=as_of.date() if as_of is not None else None,
            as_of=as_of,
            firm_npns=frozenset(self.firm_npns),
        )

    def _columns(self, lists: list[list[Any]], names: tuple[str, ...]) -> dict[str, list]:
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

    def _resolve_insurers(self, appointments: dict[str, list]) -> None:
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

    def _producer_columns(self, kind: str, active_npns: set[str]) -> dict[str, list]:
        # Entity Info is the producer's full picture: active means "holds an active license".
        # An Alerts report only carries what changed, so it cannot say (None).
        full_picture = kind == ENTITY_INFO
        rows = [
            (npn, first, last, email, None, None, (npn in active_npns) if full_picture else None)
            for npn, (first, last, email, _name_rank, _mail_rank) in self.people.items()
        ]
        return _transpose(rows, PRODUCER_COLUMNS)


_ROWS_PER_FLUSH = 4096


class _Rows:
    """The rows of one frame. The hot path appends each row as a tuple (one cheap call); every
    few thousand rows the tuples are moved into one list per column, since a tuple costs about
    twice the pointers to its values: memory then grows by 8 bytes a value, not ~16."""

    __slots__ = ("append", "buffer", "columns")

    def __init__(self, width: int) -> None:
        self.buffer: list[tuple[Any, ...]] = []
        self.append = self.buffer.append
        self.columns: tuple[list[Any], ...] = tuple([] for _ in range(width))

    def flush(self) -> None:
        if self.buffer:
            for column, values in zip(self.columns, zip(*self.buffer, strict=True), strict=True):
                column.extend(values)
            self.buffer.clear()

    def take(self) -> list[list[Any]]:
        """All the rows as column lists (the buffer is emptied)."""
        self.flush()
        return list(self.columns)


def _transpose(rows: list[tuple[Any, ...]], names: tuple[str, ...]) -> dict[str, list]:
    """Row tuples -> {column name: list of values} (one C-level pass per column)."""
    if not rows:
        return {name: [] for name in names}
    return {name: list(values) for name, values in zip(names, zip(*rows, strict=True), strict=True)}


# --------------------------------------------------------------------------------------------
# Frame typing: one place decides each column's dtype
# --------------------------------------------------------------------------------------------

_BOOL_COLUMNS = frozenset({"is_active", "is_resident"})
_DATE_COLUMNS = frozenset(
    {"issue_date", "expiration_date", "effective_date", "status_reason_date", "renewal_date"}
)
_TIMESTAMP_COLUMNS = frozenset({"nipr_updated_at"})


def _frame(columns: dict[str, list], names: tuple[str, ...]) -> pd.DataFrame:
    """Column lists -> DataFrame with fixed dtypes: text as pandas strings (codes stay text),
    flags as nullable booleans, dates as `datetime.date` objects (None when empty)."""
    data = {}
    for name in names:
        values = columns[name]
        if name in _BOOL_COLUMNS:
            data[name] = pd.array(values, dtype="boolean")
        elif name in _DATE_COLUMNS:
            data[name] = pd.Series(values, dtype=object)
        elif name in _TIMESTAMP_COLUMNS:
            stamps = pd.to_datetime(pd.Series(values, dtype=object), utc=True)
            data[name] = stamps.astype("datetime64[us, UTC]")
        else:
            data[name] = pd.Series(values, dtype="str")
    return pd.DataFrame(data, columns=list(names))


def _refuse_doctype(elem: Any) -> None:
    info = elem.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise NiprReportError(
            "the NIPR report carries a DOCTYPE declaration; NIPR reports never do, so it is "
            "refused without expanding or fetching anything"
        )


def _end_date(license_elem: Any, period: Any) -> str | None:
    """The text of a License's last LicensePeriod/EndDate (`period`: its last LicensePeriod)."""
    found, text = False, None
    for child in period:
        if child.tag == _A_END_DATE:
            found, text = True, child.text
    if not found:  # the last period has no end date: an earlier one may (never seen)
        for other in license_elem.iterchildren(_A_LICENSE_PERIOD):
            for end in other.iterchildren(_A_END_DATE):
                text = end.text
    return text


def _first_texts(elem: Any) -> dict[Any, str | None]:
    """{tag: text} of an element's children, the first child of a tag winning (as findtext)."""
    return {child.tag: child.text for child in reversed(elem)}


def _name_rank(name: Any) -> int:
    """The rank of a PersonName/OrganizationName by its first TypeCode (see _NAME_RANK)."""
    for child in name:
        if child.tag == _A_TYPE_CODE:
            return _NAME_RANK.get(_clean(child.text) or "", 1)
    return 1


def _release(elem: Any) -> None:
    """Free a finished element and everything before it at its level (constant memory)."""
    elem.clear(keep_tail=True)
    parent = elem.getparent()
    if parent is not None:
        while elem.getprevious() is not None:
            del parent[0]


def _syntax_message(exc: etree.XMLSyntaxError, shape: tuple[int, int] | None) -> str:
    message = exc.msg or str(exc)
    if "no element found" in message or "Document is empty" in message:
        return "the NIPR report is empty: there is no XML in it"
    if "Premature end of data" in message or _at_end(exc, shape):
        hint = "the report is truncated (it ends in the middle of the XML)"
    else:
        hint = "the report is not well-formed XML"
    where = f" at line {exc.lineno}" if exc.lineno else ""
    return _scrub(f"{hint}{where}: {message}")


def _at_end(exc: etree.XMLSyntaxError, shape: tuple[int, int] | None) -> bool:
    """Did libxml2 stop at the very end of the input (so the input was cut short)?"""
    if shape is None or not exc.position:
        return False
    lines, last_line_length = shape
    line, column = exc.position
    return line == lines and column >= last_line_length  # libxml2 columns start at 1


class _Counting:
    """Passes reads through, keeping the input's line count and last line's length."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self._lines = 1
        self._last = 0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        if data:
            newlines = data.count(b"\n")
            if newlines:
                self._lines += newlines
                self._last = len(data) - data.rfind(b"\n") - 1
            else:
                self._last += len(data)
        return data

    def shape(self) -> tuple[int, int]:
        return self._lines, self._last


def _file_shape(path: str) -> tuple[int, int] | None:
    """`_Counting.shape` for a file libxml2 read by itself (only on the error path)."""
    counter = _Counting(None)
    try:
        with open(path, "rb") as handle:
            counter._raw = handle
            while counter.read(1 << 20):
                pass
    except OSError:
        return None
    return counter.shape()


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def parse_pdb_report(source: Any, *, requested_npn: str | None = None) -> ParsedReport:
    """Parse a NIPR Entity Info or PDB Alerts report, plain XML or an MTOM reply.

    `source`: a path (str or os.PathLike), the report's bytes, or a binary file object (read,
    not closed). `requested_npn`: the NPN an Entity Info call asked for, so that NIPR's error
    reply (which does not repeat it) is attributed in `errors`.
    Raises `NiprReportError` when the input is not a report we can read.
    """
    collector = _Collector(requested_npn)
    with _gc_paused():
        with _open_source(source) as stream:
            prefix = _read_prefix(stream)
            if not prefix.strip():
                raise NiprReportError("the NIPR report is empty: there is nothing to parse")
            if looks_like_multipart(prefix):
                _parse_mtom(stream, prefix, collector)
            else:
                if isinstance(source, str | os.PathLike) and isinstance(os.fspath(source), str):
                    collector.run(os.fspath(source), prefix)  # a plain file: libxml2 reads it
                else:
                    collector.run(_Prefixed(prefix, stream), prefix)
                collector.require_report()
        return collector.result()


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the parse. The parse allocates hundreds of
    thousands of objects that all live to its end (rows, codes, dates) and makes no reference
    cycles worth collecting; each automatic collection would only walk them again (and the
    whole interpreter heap, pandas included, now and then): some 5% of the parse time."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _parse_mtom(stream: Any, prefix: bytes, collector: _Collector) -> None:
    try:
        reader = MultipartReader(stream, prefix)
        if reader.next_part() is None:
            raise NiprReportError("the MTOM reply has no parts")
        collector.run(reader.body())  # the root part: the SOAP envelope (or the report itself)
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
