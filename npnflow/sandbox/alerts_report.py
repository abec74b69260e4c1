"""The PDB Alerts "Specific Report": `LicensingReportProcessResult` in the ACORD namespace.

Element structure as in `tests/fixtures/nipr/pdb_alerts_specific_report.xml` and NIPR's
documentation (`pdb_alerts_web_service.txt`):

- `LicensingReport` lists the referenced objects first (Address, Person, Organization, each
  with a `key`), then `DocumentId`, `TypeCode` PDBDetail and one `JurisdictionReport` per
  producer, pointing at the producer's primary record (PersonPRI… / OrgPRI…, whose
  ExternalIdentifier NAICProducerCode holds the NPN).
- One `JurisdictionReportItem` per changed state. A changed category is resent whole for that
  state: every license (LICENSING) or every appointment (APPOINTMENTS) the producer holds there.
- When a changed category has nothing left in the state, NIPR's deletion tags are written:
  `<InsuranceLicense><TypeCode>Producer</TypeCode></InsuranceLicense>` for licenses and
  `<InsuranceAppointment>` with empty StateOrProvinceCode, InsurerReferences and
  LicenseeReferences for appointments.
- DEMOGRAPHICS changes resend the state's Person/Organization record (names, phones, emails,
  addresses).

Two deliberate differences from the samples (documented, and listed in the structure test):
an inactive line's status date is `StatusPeriod/EndDate` (NIPR's "Date Tag Information"), and a
firm's `Licensee/LicenseeReferences` holds `OrganizationReferences` (NIPR's tag table).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from lxml import etree

from npnflow.sandbox.records import APPOINTMENTS, LICENSING, Address, Appointment, Producer
from npnflow.sandbox.xmlutil import sub, to_bytes, ymd

ACORD_NS = "http://www.acord.org/schema/data/draft/ReusableDataComponents/1"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = f"{ACORD_NS} http://www-beta.nipr.com/XSD/ACORD/messages/AMLMessages.xsd"
ZERO_ID = "00000000-0000-0000-0000-000000000000"


@dataclass
class ReportEntry:
    """One producer in a report: the producer's current data and what changed where."""

    producer: Producer
    categories_by_state: dict[str, set[str]] = field(default_factory=dict)


def _e(parent: etree._Element, tag: str, text: object = None, **attrib: str) -> etree._Element:
    return sub(parent, f"{{{ACORD_NS}}}{tag}", text, **attrib)


def render_report(entries: list[ReportEntry], report_date: date) -> bytes:
    """The report for `report_date`; deterministic for the same entries."""
    root = etree.Element(
        f"{{{ACORD_NS}}}LicensingReportProcessResult", nsmap={None: ACORD_NS, "xsi": XSI_NS}
    )
    root.set(f"{{{XSI_NS}}}schemaLocation", SCHEMA_LOCATION)
    header = _e(root, "MessageHeader")
    _e(header, "MessageId", ZERO_ID)
    _e(header, "CorrelationId", ZERO_ID)
    # NIPR stamps the generation time; the sandbox stamps the run (07:00 Central on the report
    # date) so that asking for the same day twice gives the same document.
    _e(header, "MessageDateTime", f"{report_date.isoformat()}T07:00:00.000-05:00")
    _e(header, "MessageDocumentCount", len(entries))
    result = _e(root, "MessageResult")
    _e(result, "StatusCode", "Valid")
    document = _e(result, "MessageDocumentResult")
    _e(_e(document, "MessageDocumentReferences"), "DocumentId", ZERO_ID)
    _e(document, "StatusCode", "Success")
    _e(document, "SuccessCode", "Success")
    report = _e(root, "LicensingReport")

    addresses: dict[str, Address] = {}
    people: list[etree._Element] = []
    organizations: list[etree._Element] = []
    insurers: dict[str, etree._Element] = {}
    jurisdiction_reports: list[etree._Element] = []
    holder = etree.Element("holder")  # detached parent for elements placed later in order
    for entry in entries:
        p = entry.producer
        primary = _primary_key(p)
        if p.is_firm:
            org = _e(holder, "Organization", key=primary)
            _external_id(org, "NAICProducerCode", p.npn)
            organizations.append(org)
        else:
            person = _e(holder, "Person", key=primary)
            _external_id(person, "NAICProducerCode", p.npn)
            _e(person, "BirthDate", ymd(p.birth_date))
            people.append(person)
        jr = _e(holder, "JurisdictionReport")
        ref_tag = "OrganizationReferences" if p.is_firm else "PersonReferences"
        ref_attr = "organizationReference" if p.is_firm else "personReference"
        _e(jr, ref_tag, **{ref_attr: primary})
        for state in sorted(entry.categories_by_state):
            categories = entry.categories_by_state[state]
            state_key = _state_key(p, state)
            # The state's demographic record goes with every item (a DEMOGRAPHICS change is
            # exactly a change of it); the items' LicenseeReferences point at it.
            state_record = _state_record(
                holder, p, state, state_key, addresses, resident=state == p.resident_state
            )
            (organizations if p.is_firm else people).append(state_record)
            item = _e(jr, "JurisdictionReportItem", key=p.branch_id(state))
            _e(item, "StateOrProvinceCode", state)
            licensee = _e(item, "Licensee")
            _e(_e(licensee, "LicenseeReferences"), ref_tag, **{ref_attr: state_key})
            if LICENSING in categories:
                _licenses(licensee, p, state)
            if APPOINTMENTS in categories:
                _appointments(licensee, p, state, state_key, ref_tag, ref_attr, insurers)
        jurisdiction_reports.append(jr)

    for key in sorted(addresses):
        _address(report, addresses[key])
    for element in people:
        report.append(element)
    for element in organizations:
        report.append(element)
    for key in sorted(insurers):
        report.append(insurers[key])
    _e(report, "DocumentId", ZERO_ID)
    _e(report, "TypeCode", "PDBDetail")
    for jr in jurisdiction_reports:
        report.append(jr)
    return to_bytes(root, declaration=False)


def _primary_key(p: Producer) -> str:
    return f"{'Org' if p.is_firm else 'Person'}PRI{734_000_000 + p.index}"


def _state_key(p: Producer, state: str) -> str:
    return f"{'Org' if p.is_firm else 'Person'}{state}{p.branch_id(state)}"


def _external_id(parent: etree._Element, type_code: str, value: str) -> None:
    identifier = _e(parent, "ExternalIdentifier")
    _e(identifier, "TypeCode", type_code)
    _e(identifier, "Id", value)


def _address(parent: etree._Element, address: Address) -> None:
    element = _e(parent, "Address", key=address.key)
    _e(element, "LineOne", address.line_1)
    if address.line_2:
        _e(element, "LineTwo", address.line_2)
        _e(element, "LineThree", "")
    _e(element, "CityName", address.city)
    _e(element, "StateOrProvinceCode", address.state)
    _e(element, "PostalCode", address.zip_code)
    _e(element, "CountryCode", address.country)


def _address_ref(
    parent: etree._Element, tag: str, address: Address, as_of: date, addresses: dict[str, Address]
) -> None:
    addresses[address.key] = address
    element = _e(parent, tag)
    _e(element, "AsOfDate", ymd(as_of))
    _e(element, "AddressReferences", addressReference=address.key)


def _phone(parent: etree._Element, type_code: str, number: str) -> None:
    telephone = _e(parent, "Telephone")
    _e(telephone, "TypeCode", type_code)
    digits = "".join(ch for ch in number if ch.isdigit())
    _e(telephone, "PhoneNumber", f"+1-{digits[:3]}-{digits[3:]}")


def _email(parent: etree._Element, type_code: str, address: str) -> None:
    email = _e(parent, "Email")
    _e(email, "TypeCode", type_code)
    _e(email, "EmailAddress", address)


def _state_record(
    holder: etree._Element,
    p: Producer,
    state: str,
    key: str,
    addresses: dict[str, Address],
    resident: bool,
) -> etree._Element:
    """The state's demographic record (Person<ST>… / Org<ST>…) the licensee items refer to."""
    d = p.demographics
    if p.is_firm:
        org = _e(holder, "Organization", key=key)
        _external_id(org, "NAICProducerCode", p.npn)
        _external_id(org, "FEINId", p.fein)
        _external_id(org, "BranchID", p.branch_id(state))
        name = _e(org, "OrganizationName")
        _e(name, "TypeCode", "Primary" if resident else "Alias")
        _e(name, "FullName", p.firm_name)
        comm = _e(org, "OrganizationCommunication")
        _phone(comm, "Wired", d.business_phone)
        _phone(comm, "Fax", d.fax)
        _email(comm, "Business", d.email)
        _address_ref(comm, "MailingAddress", d.business, d.updated_date, addresses)
        _address_ref(comm, "PhysicalAddress", d.business, d.updated_date, addresses)
        _address_ref(comm, "PrincipalAddress", d.business, d.updated_date, addresses)
        return org
    person = _e(holder, "Person", key=key)
    _external_id(person, "NAICProducerCode", p.npn)
    name = _e(person, "PersonName")
    _e(name, "TypeCode", "Primary" if resident else "Alias")
    middle = f" {p.middle_name}" if p.middle_name else ""
    _e(name, "FullName", f"{p.first_name}{middle} {p.last_name}")
    _e(name, "Surname", p.last_name)
    _e(name, "GivenName", p.first_name)
    if resident:
        _e(name, "OtherGivenName", p.first_name)
    if p.middle_name:
        _e(name, "MiddleName", p.middle_name)
    if p.suffix:
        _e(name, "NameSuffix", p.suffix)
    personal = _e(person, "PersonCommunication")
    if resident:
        _phone(personal, "Wired", d.business_phone)
        _email(personal, "Personal", d.email.replace("@", ".home@"))
    _address_ref(personal, "MailingAddress", d.residence, d.updated_date, addresses)
    _address_ref(personal, "ResidentialAddress", d.residence, d.updated_date, addresses)
    business = _e(person, "BusinessCommunication")
    _phone(business, "Wired", d.business_phone)
    _phone(business, "Fax", d.fax)
    _email(business, "Business", d.email)
    _address_ref(business, "MailingAddress", d.business, d.updated_date, addresses)
    _address_ref(business, "PhysicalAddress", d.business, d.updated_date, addresses)
    return person


def _licenses(licensee: etree._Element, p: Producer, state: str) -> None:
    licenses = [lic for lic in p.licenses if lic.state == state]
    if not licenses:  # every license in the state deleted: NIPR's deletion tag
        _e(_e(licensee, "InsuranceLicense"), "TypeCode", "Producer")
        return
    for lic in licenses:
        wrapper = _e(licensee, "InsuranceLicense")
        _e(wrapper, "ResidentLicenseIndicator", "true" if lic.is_resident else "false")
        if lic.is_resident:
            _e(wrapper, "QualifyingInsuranceLicenseIndicator", "true")
        _e(wrapper, "TypeCode", "Producer")
        status = "Active" if lic.is_active else "Inactive"
        element = _e(wrapper, "License", key=f"{lic.number}{state}")
        _e(element, "LicenseNumberId", lic.number)
        period = _e(element, "LicensePeriod")
        _e(period, "StartDate", ymd(max(lic.issue_date, lic.expiration_date - timedelta(days=730))))
        _e(period, "EndDate", ymd(lic.expiration_date))
        _e(element, "StatusCode", status)
        _e(element, "StatusDescription", status)
        _e(element, "IssueDate", ymd(lic.issue_date))
        _e(element, "LicenseClassCode", lic.class_code)
        _e(element, "LicenseClassDescription", lic.class_name)
        _e(element, "StateOrProvinceCode", state)
        _e(element, "StateOrProvinceName", state)
        individual_resident = lic.is_resident and not p.is_firm
        if individual_resident:
            ce = _e(element, "ContinuingEducation")
            _e(ce, "StateOrProvinceCode", state)
            _e(ce, "StatusDescription", "IN COMPLIANCE")
            ce_period = _e(ce, "ContinuingEducationPeriod")
            _e(ce_period, "StartDate", ymd(lic.expiration_date - timedelta(days=730)))
            _e(ce_period, "EndDate", ymd(lic.expiration_date))
            _e(ce_period, "PeriodDuration", "2")
            _e(ce, "ContinuingEducationUnitsRequiredMeasure", "24")
        _e(element, "AsOfDate", ymd(lic.updated_date))
        for loa in lic.loas:
            line = _e(wrapper, "LineOfAuthority")
            _e(line, "IssueDate", ymd(loa.issue_date))
            if loa.is_active and lic.is_active:
                _e(line, "RenewalDate", ymd(lic.expiration_date))
            _e(line, "StateOrProvinceCode", state)
            _e(line, "StateOrProvinceName", state)
            _e(line, "LineOfAuthorityCode", loa.code)
            _e(line, "LineOfAuthorityDescription", loa.name)
            loa_status = "Active" if loa.is_active else "Inactive"
            _e(line, "StatusCode", loa_status)
            _e(line, "StatusDescription", loa_status)
            if loa.status_reason:
                _e(line, "StatusReasonCode", loa.status_reason)
                _e(line, "StatusReasonDescription", loa.status_reason)
            status_period = _e(line, "StatusPeriod")
            # NIPR: the status date is StartDate for an active line, EndDate otherwise.
            _e(
                status_period,
                "StartDate" if loa.is_active else "EndDate",
                ymd(loa.status_reason_date),
            )
            if individual_resident:
                ce = _e(line, "ContinuingEducation")
                _e(ce, "StateOrProvinceCode", state)
                compliant = loa.status_reason != "CE Deficiency"
                _e(ce, "StatusDescription", "IN COMPLIANCE" if compliant else "NOT IN COMPLIANCE")
                _e(ce, "StatusCode", loa_status)
                _e(_e(ce, "ContinuingEducationPeriod"), "EndDate", ymd(lic.expiration_date))
                _e(ce, "ContinuingEducationUnitsRequiredMeasure", "24")
                _e(ce, "ContinuingEducationUnitsRemainingMeasure", "0" if compliant else "12")
                _e(ce, "AsOfDate", ymd(lic.updated_date))


def _insurer_key(app: Appointment) -> str:
    return f"Org{app.fein}{app.cocode}{app.company_name}"


def _appointments(
    licensee: etree._Element,
    p: Producer,
    state: str,
    state_key: str,
    ref_tag: str,
    ref_attr: str,
    insurers: dict[str, etree._Element],
) -> None:
    appointments = [a for a in p.appointments if a.state == state]
    if not appointments:  # every appointment in the state deleted: NIPR's deletion tags
        wrapper = _e(licensee, "InsuranceAppointment")
        _e(wrapper, "StateOrProvinceCode")
        _e(wrapper, "InsurerReferences")
        _e(wrapper, "LicenseeReferences")
        return
    groups = defaultdict(list)
    for a in appointments:
        groups[
            (a.cocode, a.status, a.effective_date, a.termination_date, a.termination_reason)
        ].append(a)
    for (_cocode, status, effective, terminated, reason), lines in groups.items():
        first = lines[0]
        key = _insurer_key(first)
        if key not in insurers:
            insurer = etree.Element(f"{{{ACORD_NS}}}Organization", key=key)
            _external_id(insurer, "NAICInsurerCode", first.cocode)
            _external_id(insurer, "FEINId", first.fein)
            _e(_e(insurer, "OrganizationName"), "FullName", first.company_name)
            insurers[key] = insurer
        wrapper = _e(licensee, "InsuranceAppointment")
        _e(wrapper, "StateOrProvinceCode", state)
        _e(_e(wrapper, "InsurerReferences"), "OrganizationReferences", organizationReference=key)
        _e(_e(wrapper, "LicenseeReferences"), ref_tag, **{ref_attr: state_key})
        _e(wrapper, "StatusCode", status)
        if reason:
            _e(wrapper, "StatusReasonDescription", reason)
        _e(wrapper, "StatusDescription", status)
        if reason:
            _e(wrapper, "StatusReasonCode", reason)
        if terminated:
            _e(wrapper, "TerminationEffectiveDate", ymd(terminated))
        _e(wrapper, "AppointmentEffectiveDate", ymd(effective))
        for a in lines:
            line = _e(wrapper, "LineOfAuthority")
            if a.renewal_date:
                _e(line, "RenewalDate", ymd(a.renewal_date))
            _e(line, "LineOfAuthorityCode", a.loa_code)
            _e(line, "LineOfAuthorityDescription", a.loa_name)
        _e(wrapper, "AsOfDate", ymd(first.status_reason_date))
