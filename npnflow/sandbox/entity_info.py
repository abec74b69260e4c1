"""Entity Info ("PDB detail report") XML, as `entityinfo_xml.cgi` returns it.

The element structure follows NIPR's samples (`tests/fixtures/nipr/entity_info_individual.xml`,
`entity_info_firm.xml`, `entity_info_error.xml`): dates MM/DD/YYYY, Yes/No flags, one
LICENSE_INFORMATION/STATE per jurisdiction holding its LICENSE elements and its
APPOINTMENT_INFORMATION. Optional values are written as empty elements, as NIPR does.

ID_SSN carries the producer's fake SSN (area 9xx, never issued), so clients exercise their
SSN handling without the sandbox ever emitting a real number.
"""

from __future__ import annotations

from collections import defaultdict

from lxml import etree

from npnflow.sandbox.records import Address, Producer
from npnflow.sandbox.xmlutil import mdy, sub, to_bytes


def render_error(description: str) -> bytes:
    root = etree.Element("PDB")
    sub(sub(root, "TRANSACTION_TYPE"), "TYPE", "ERROR")
    sub(sub(root, "ERROR"), "DESCRIPTION", description)
    return to_bytes(root)


def render_entity_info(producer: Producer) -> bytes:
    root = etree.Element("PDB")
    kind = "FIRM" if producer.is_firm else "INDIVIDUAL"
    sub(sub(root, "TRANSACTION_TYPE"), "TYPE", kind)
    entity = sub(sub(root, "PRODUCER"), kind)
    biographic_block = sub(entity, "ENTITY_BIOGRAPHIC")
    _biographic(sub(biographic_block, "BIOGRAPHIC"), producer)
    _addresses(sub(biographic_block, "ADDRESSES"), producer)
    _contacts(sub(biographic_block, "CONTACT_INFOS"), producer)
    _licensing(sub(sub(entity, "PRODUCER_LICENSING"), "LICENSE_INFORMATION"), producer)
    return to_bytes(root)


def _biographic(bio: etree._Element, p: Producer) -> None:
    if p.is_firm:
        sub(bio, "NPN", p.npn)
        sub(bio, "ID_FEIN", f"{p.fein[:2]}-{p.fein[2:]}")
        sub(bio, "NAME_COMPANY", p.firm_name)
        sub(bio, "STATE_CO_ID", p.branch_id(p.resident_state))
        sub(bio, "STATE_DOMICILE", p.resident_state)
        other = sub(sub(bio, "OTHER_NAME"), "STATE", name=p.resident_state)
        sub(other, "NAME", p.firm_name.split(",")[0], type="DBA")
        return
    sub(bio, "ID_SSN", p.fake_ssn)
    sub(bio, "NAME_LAST", p.last_name)
    sub(bio, "NAME_FIRST", p.first_name)
    sub(bio, "NAME_MIDDLE", p.middle_name)
    sub(bio, "NAME_SUFFIX", p.suffix)
    sub(bio, "DATE_BIRTH", mdy(p.birth_date))
    sub(bio, "NPN", p.npn)
    other = sub(sub(bio, "OTHER_NAME"), "STATE", name=p.resident_state)
    sub(other, "NAME", f"{p.first_name} {p.last_name}", type="Primary")


def _address(parent: etree._Element, p: Producer, code: int, kind: str, address: Address) -> None:
    attrib = {"branch_id": p.branch_id(address.state)} if p.is_firm else {}
    element = sub(parent, "ADDRESS", **attrib)
    sub(element, "DATE_UPDATED", mdy(p.demographics.updated_date))
    sub(element, "ADDRESS_TYPE_CODE", code)
    sub(element, "ADDR_TYPE", kind)
    sub(element, "ADDR_LINE_1", address.line_1)
    sub(element, "ADDR_LINE_2", address.line_2)
    sub(element, "ADDR_LINE_3", "")
    sub(element, "NAME_CITY", address.city)
    sub(element, "NAME_STATE", address.state)
    sub(element, "ZIP", address.zip_code)
    sub(element, "COUNTRY", address.country)


def _addresses(addresses: etree._Element, p: Producer) -> None:
    state = sub(addresses, "STATE", name=p.resident_state)
    d = p.demographics
    if not p.is_firm:
        _address(state, p, 1, "Residence", d.residence)
    _address(state, p, 2, "Business", d.business)
    _address(state, p, 3, "Mailing", d.business)


def _contacts(contacts: etree._Element, p: Producer) -> None:
    state = sub(contacts, "STATE", name=p.resident_state)
    attrib = {"branch_id": p.branch_id(p.resident_state)} if p.is_firm else {}
    info = sub(state, "CONTACT_INFO", **attrib)
    d = p.demographics
    updated = mdy(d.updated_date)
    sub(info, "BUSINESS_PHONE", d.business_phone)
    sub(info, "BUSINESS_PHONE_UPDATE_DATE", updated)
    sub(info, "FAX", d.fax)
    sub(info, "FAX_UPDATE_DATE", updated)
    sub(info, "BUSINESS_EMAIL", d.email)
    sub(info, "BUSINESS_EMAIL_UPDATE_DATE", updated)


def _licensing(information: etree._Element, p: Producer) -> None:
    licenses = defaultdict(list)
    appointments = defaultdict(list)
    for lic in p.licenses:
        licenses[lic.state].append(lic)
    for app in p.appointments:
        appointments[app.state].append(app)
    for state_code in p.states():
        if not licenses[state_code] and not appointments[state_code]:
            continue
        state = sub(information, "STATE", name=state_code)
        for lic in licenses[state_code]:
            attrib = {"branch_id": p.branch_id(state_code)} if p.is_firm else {}
            element = sub(state, "LICENSE", **attrib)
            sub(element, "LICENSE_NUM", lic.number)
            sub(element, "DATE_UPDATED", mdy(lic.updated_date))
            sub(element, "DATE_ISSUE_LICENSE_ORIG", mdy(lic.issue_date))
            sub(element, "DATE_EXPIRE_LICENSE", mdy(lic.expiration_date))
            sub(element, "LICENSE_CLASS", lic.class_name)
            sub(element, "LICENSE_CLASS_CODE", lic.class_code)
            sub(element, "RESIDENCY_STATUS", "R" if lic.is_resident else "NR")
            sub(element, "ACTIVE", "Yes" if lic.is_active else "No")
            sub(element, "ADHS", "")
            details = sub(element, "DETAILS")
            for loa in lic.loas:
                detail = sub(details, "DETAIL")
                sub(detail, "LOA", loa.name)
                sub(detail, "LOA_CODE", loa.code)
                sub(detail, "AUTHORITY_ISSUE_DATE", mdy(loa.issue_date))
                sub(detail, "STATUS", "Active" if loa.is_active else "Inactive")
                sub(detail, "STATUS_REASON", loa.status_reason)
                sub(detail, "STATUS_REASON_DATE", mdy(loa.status_reason_date))
                if p.is_firm:
                    sub(detail, "CE_COMPLIANCE", "N/A")
                    sub(detail, "CE_RENEWAL_DATE", "")
                    sub(detail, "CE_CREDITS_NEEDED", 0)
                else:
                    compliant = loa.status_reason != "CE Deficiency"
                    sub(detail, "CE_COMPLIANCE", "Compliant" if compliant else "Non-compliant")
                    sub(detail, "CE_RENEWAL_DATE", mdy(lic.expiration_date))
                    sub(detail, "CE_CREDITS_NEEDED", 24 if lic.is_resident else 0)
        if appointments[state_code]:
            block = sub(state, "APPOINTMENT_INFORMATION")
            for app in appointments[state_code]:
                attrib = {"branch_id": p.branch_id(state_code)} if p.is_firm else {}
                element = sub(block, "APPOINTMENT", **attrib)
                sub(element, "COMPANY_NAME", app.company_name)
                sub(element, "APPOINTER_STATE_CO_ID", f"{state_code}{app.cocode}")
                sub(element, "FEIN", f"{app.fein[:2]}-{app.fein[2:]}")
                sub(element, "COCODE", app.cocode)
                sub(element, "LINE_OF_AUTHORITY", app.loa_name)
                sub(element, "LOA_CODE", app.loa_code)
                sub(element, "STATUS", app.status)
                sub(element, "TERMINATION_REASON", app.termination_reason)
                sub(element, "STATUS_REASON_DATE", mdy(app.status_reason_date))
                sub(element, "APPONT_RENEWAL_DATE", mdy(app.renewal_date))
                sub(element, "COUNTY_CODE", app.county_code)
                sub(element, "Agency_Affiliations", "")
