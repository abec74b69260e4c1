"""What a parse has gathered so far, shared by the readers of both report shapes.

`ReportState` holds the row buffers, the producers and insurers seen, the errors, and the
memoised value conversions (codes, dates, status words). The Entity Info reader
(`entity_info.py`) and the PDB Alerts reader (`alerts.py`) each extend it with their record
handlers, and `collector.py` joins them; keeping the state apart lets each reader be read
alone, knowing what it may append to.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from assets.nipr.parsing.report import (
    APPOINTMENT_COLUMNS,
    LICENSE_COLUMNS,
    LICENSE_LOA_COLUMNS,
    SCOPE_COLUMNS,
    NiprReportError,
    RowBuffer,
)
from assets.nipr.parsing.streaming import release
from assets.nipr.parsing.values import (
    UNDECIDED,
    Memo,
    parse_date,
    scrub,
    status_of_code,
    status_of_description,
)
from schemas.npns import canonical_npn


class ReportState:
    def __init__(self, requested_npn: str | None) -> None:
        # NPNs as NIPR writes them (schemas/npns.py): a padded NPN in a reply, or asked for,
        # is the producer we hold under its canonical NPN.
        self.requested_npn = None if requested_npn is None else canonical_npn(requested_npn)
        self.kind: str | None = None
        # Rows (see RowBuffer); the first field is a "subject" resolved to an NPN at the end
        # (Entity Info: the producer's ordinal in the document; Alerts: the producer's record
        # key), because a report may reference a record defined further down.
        self.licenses = RowBuffer(len(LICENSE_COLUMNS))
        self.loas = RowBuffer(len(LICENSE_LOA_COLUMNS))
        self.appointments = RowBuffer(len(APPOINTMENT_COLUMNS))
        self.scopes = RowBuffer(len(SCOPE_COLUMNS))
        self.errors: list[tuple[str | None, str, str]] = []
        self.subject_npn: dict[Any, str] = {}
        self.people: dict[str, list[Any]] = {}  # npn -> [first, last, email, name_rank, mail_rank]
        self.firm_npns: set[str] = set()
        self.insurers: dict[str, tuple[str | None, str | None]] = {}  # org key -> cocode, name
        self.as_of: dt.datetime | None = None
        self._dates: dict[str, dt.date | None] = {}
        pool: dict[str, str] = {}
        self._pool = pool.setdefault  # interning of repeated text, see _code
        # The Alerts hot path converts values through memo dicts, raw text -> value: a value
        # seen before costs a dict lookup, not a Python call (see Memo).
        self._codes = Memo(self._code)
        self._npns = Memo(self._npn)
        # status_active(description, code) is by_description[description], or else (when
        # that is UNDECIDED) by_code[code].
        self._active_by_description = Memo(status_of_description)
        self._active_by_description[None] = UNDECIDED
        self._active_by_code = Memo(status_of_code)
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

    def _code(self, text: str | None) -> str | None:
        """`clean` for values that repeat (codes, names, states): one shared str object per
        distinct value, so row memory does not grow with repeated text."""
        if text is None:
            return None
        text = text.strip()
        return self._pool(text, text) if text else None

    def _npn(self, text: str | None) -> str | None:
        """`_code` for an NPN: leading zeros stripped, so it matches the producer we hold."""
        value = self._code(text)
        return None if value is None else self._pool(canonical_npn(value), canonical_npn(value))

    def _drop(self, elem: Any) -> None:
        release(elem)

    def _date_memo(self, what: str) -> Memo:
        """`_date(text, what)` as a memo dict. Backed by `_date`'s own cache, so that a bad
        date is still reported once per distinct value, whichever field it is seen in first."""
        return Memo(lambda text: self._date(text, what))

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
                parsed = parse_date(value)
            except ValueError:
                # Reported once per distinct value (then cached as None like any other).
                self.errors.append((None, "BAD_DATE", scrub(f"{what}: {value!r} is not a date")))
                parsed = None
        self._dates[text] = parsed
        return parsed

    def _set_kind(self, kind: str) -> None:
        if self.kind is not None and self.kind != kind:
            raise NiprReportError("the document holds both an Entity Info and an Alerts report")
        self.kind = kind
