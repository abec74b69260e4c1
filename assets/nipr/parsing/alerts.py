"""The PDB Alerts Specific Report (`<LicensingReportProcessResult>`, ACORD namespace, only what
changed): its record handlers.

Dates yyyy-mm-dd. `LicensingReport` first lists keyed `Person`/`Organization` records (the
primary one, key `PersonPRI...`/`OrgPRI...`, and one per state, key `Person<ST>...`), each
carrying the NPN as an `ExternalIdentifier`, and insurer `Organization`s carrying the CoCode.
Then one `JurisdictionReport` per producer, whose `JurisdictionReportItem`s (one state, one
branch) hold `Licensee/InsuranceLicense` and `Licensee/InsuranceAppointment`. Each record is
read once, child by child (no `find`: ElementPath costs more than the loop). One module per
report shape: the Entity Info reader is `entity_info.py`; both append to `ReportState`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from assets.nipr.parsing.report import (
    ACORD_NS,
    ALERTS,
    APPOINTMENTS,
    DEMOGRAPHICS,
    LICENSING,
    ROWS_PER_FLUSH,
)
from assets.nipr.parsing.state import ReportState
from assets.nipr.parsing.streaming import release
from assets.nipr.parsing.values import (
    RESIDENCY,
    STATE_KEY,
    UNDECIDED,
    appointment_status,
    clean,
    flag,
)

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


class AlertsReader(ReportState):
    """Handlers for the PDB Alerts records; `alerts_handlers()` maps tags to them."""

    def alerts_handlers(self) -> dict[Any, Callable[[Any], None]]:
        return {
            _A_REPORT: self._al_report,
            _A + "MessageHeader": self._al_header,
            _A + "MessageResult": self._al_result,
            _A + "Address": self._drop,
            _A_PERSON: self._al_party,
            _A_ORG: self._al_party,
            _A_ITEM: self._al_item,
            _A_JR: self._al_jurisdiction_report,
        }

    def _al_report(self, elem: Any) -> None:
        self._set_kind(ALERTS)
        release(elem)

    def _al_header(self, elem: Any) -> None:
        stamp = clean(elem.findtext(_A + "MessageDateTime"))
        if stamp:
            try:
                self.as_of = dt.datetime.fromisoformat(stamp)
            except ValueError:
                self.errors.append((None, "BAD_DATE", f"MessageDateTime: {stamp!r}"))

    def _al_result(self, elem: Any) -> None:
        status = clean(elem.findtext(_A_STATUS_CODE))
        if status is not None and status not in ("Valid", "Success"):
            self.errors.append((None, "NIPR_MESSAGE_STATUS", f"NIPR marked the report {status!r}"))

    def _al_party(self, elem: Any) -> None:
        """A keyed Person or Organization record under LicensingReport."""
        self._al_party_read(elem)
        release(elem)  # after the read, when no child is referenced any more (see _al_item)
        if len(self.scopes.buffer) >= ROWS_PER_FLUSH:
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
                type_code = clean(f.get(_A_TYPE_CODE))
                if type_code in _NPN_TYPE_CODES:
                    npn = self._npns[f.get(_A_ID)]  # one str per producer, not per record
                elif type_code == _COCODE_TYPE_CODE:
                    cocode = clean(f.get(_A_ID))
            elif tag == _A_ORG_NAME:
                org_names.append(child)
            elif tag == _A_PERSON_NAME:
                person_names.append(child)
        if cocode is not None and npn is None:  # an insurer, referenced by appointments
            name = None
            for org_name in org_names:
                name = clean(_first_texts(org_name).get(_A_FULL_NAME))
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
                rank = _NAME_RANK.get(clean(f.get(_A_TYPE_CODE)) or "", 1)
                name = clean(f.get(_A_FULL_NAME))
                if name and rank < person[3]:
                    person[0], person[1], person[3] = None, name, rank
        else:
            for person_name in person_names:
                rank = _name_rank(person_name)
                if rank >= person[3]:
                    continue  # cannot beat the name already kept: not read
                f = _first_texts(person_name)
                first = clean(f.get(_A_GIVEN_NAME))
                last = clean(f.get(_A_SURNAME))
                if (first or last) and rank < person[3]:
                    person[0], person[1], person[3] = first, last, rank
        if person[4] > 0:  # look for a better e-mail: a Business one ranks first
            for email in elem.iter(_A_EMAIL):
                f = _first_texts(email)
                address = clean(f.get(_A_EMAIL_ADDRESS))
                if not address:
                    continue
                rank = 0 if clean(f.get(_A_TYPE_CODE)) == "Business" else 1
                if rank < person[4]:
                    person[2], person[4] = address, rank
                    if rank == 0:
                        break
        state = STATE_KEY.match(key)
        if state:
            # A state record of the producer: NIPR sent that state's demographics (an empty
            # record means they were deleted).
            self.scopes.append((key, state.group(1), DEMOGRAPHICS))

    def _al_subject_of(self, report: Any) -> str | None:
        """The producer a JurisdictionReport is about: its Person/OrganizationReferences."""
        for child in report:
            tag = child.tag
            if tag == _A_PERSON_REFS:
                return clean(child.get("personReference"))
            if tag == _A_ORG_REFS:
                return clean(child.get("organizationReference"))
            if tag == _A_ITEM:
                break
        return None

    def _al_jurisdiction_report(self, elem: Any) -> None:
        self._subject = None
        release(elem)
        for rows in (self.licenses, self.loas, self.appointments, self.scopes):
            if len(rows.buffer) >= ROWS_PER_FLUSH:
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
                resident = flag(RESIDENCY, child.text)
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
        number = clean(number)
        codes = self._codes
        by_description, by_code = self._active_by_description, self._active_by_code
        active = by_description[description]
        if active is UNDECIDED:
            active = by_code[status]
        class_code = codes[class_code]
        self.licenses.append(
            (
                subject,
                state,
                number,
                class_code,
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
            if active is UNDECIDED:
                active = by_code[status]
            append(
                (
                    subject,
                    state,
                    number,  # the LOA belongs to the License of its InsuranceLicense wrapper:
                    class_code,  # that license's number and class
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
        status = appointment_status(status or description)
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
            return _NAME_RANK.get(clean(child.text) or "", 1)
    return 1
