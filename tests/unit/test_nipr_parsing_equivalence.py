"""The NIPR parser on generated PDB Alerts reports of several shapes, and on small hand-written
reports that pin the field rules its fast path must keep.

The fast path (assets/nipr/parsing.py) reads each record once, child by child, and hands it
to its handler only when a later element starts; these tests hold it to what the rules say,
whatever the report's size, shape or the way its bytes arrive:

- generated reports (the NIPR sandbox, as in bench/nipr_parse.py): row counts and scopes
  computed here with XPath, independently of the parser, and identical frames whichever way
  the bytes arrive (path, bytes, 7-byte reads, an MTOM reply);
- hand-written reports: the last child of a tag wins in a License or a line of authority, the
  first in an ExternalIdentifier, a License's expiry comes from its last LicensePeriod that has
  an EndDate, a status description decides before the status code, a bad date is reported
  once, names and e-mails are ranked across a producer's records, records nested in records;
- Python's garbage collector is paused during a parse and always restored.
"""

from __future__ import annotations

import datetime as dt
import gc
import io
from functools import cache
from pathlib import Path

import pandas as pd
import pandas.testing as pdt
import pytest
from lxml import etree

from assets.nipr.parsing import NiprReportError, ParsedReport, parse_pdb_report
from npnflow.sandbox.alerts_report import ReportEntry, render_report
from npnflow.sandbox.generator import generate_world

ACORD = "http://www.acord.org/schema/data/draft/ReusableDataComponents/1"
NS = {"a": ACORD}
FRAMES = ("producers", "licenses", "license_loas", "appointments", "reported_scopes", "errors")
REPORT_DAY = dt.date(2026, 11, 20)

# (producers, seed, categories resent per state): every category, one at a time, none but
# demographics, and a bigger report with everything.
SHAPES = {
    "all": (40, 3, {"LICENSING", "APPOINTMENTS", "DEMOGRAPHICS"}),
    "licensing": (25, 5, {"LICENSING"}),
    "appointments": (25, 7, {"APPOINTMENTS"}),
    "demographics": (25, 11, {"DEMOGRAPHICS"}),
    "big": (150, 13, {"LICENSING", "APPOINTMENTS", "DEMOGRAPHICS"}),
}


@cache
def generated(shape: str) -> bytes:
    producers, seed, categories = SHAPES[shape]
    world = generate_world(seed=seed, producers=producers, companies=None, today=REPORT_DAY)
    entries = []
    for npn in world.npns:
        producer = world.producer(npn)
        states = {license.state for license in producer.licenses}
        entries.append(ReportEntry(producer, {state: set(categories) for state in states}))
    return render_report(entries, REPORT_DAY)


def assert_same(expected: ParsedReport, actual: ParsedReport) -> None:
    for frame in FRAMES:
        pdt.assert_frame_equal(getattr(expected, frame), getattr(actual, frame), check_exact=True)
    assert (expected.report_kind, expected.as_of, expected.firm_npns) == (
        actual.report_kind,
        actual.as_of,
        actual.firm_npns,
    )


class _Dribble:
    """A stream handing out at most `size` bytes per read, so that records (and the events
    that announce them) fall on every possible side of a read boundary."""

    def __init__(self, data: bytes, size: int) -> None:
        self._data = io.BytesIO(data)
        self._size = size

    def read(self, size: int = -1) -> bytes:
        return self._data.read(self._size if size is None or size < 0 else min(size, self._size))


def mtom(report: bytes, boundary: str = "uuid:eq-1") -> bytes:
    envelope = (
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        b'<receiveSpecificReportResponse xmlns="https://pdb-services.nipr.com/x"><alertsReport>'
        b'<xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:rep@nipr"/>'
        b"</alertsReport></receiveSpecificReportResponse></soap:Body></soap:Envelope>"
    )
    out = b""
    for content_id, body in (("root@cxf", envelope), ("rep@nipr", report)):
        out += (
            (
                f"--{boundary}\r\nContent-Type: application/xop+xml; charset=UTF-8\r\n"
                f"Content-Transfer-Encoding: binary\r\nContent-ID: <{content_id}>\r\n\r\n"
            ).encode()
            + body
            + b"\r\n"
        )
    return out + f"--{boundary}--\r\n".encode()


# --------------------------------------------------------------------------------------------
# Generated reports: independent expectations
# --------------------------------------------------------------------------------------------


def expected_rows(data: bytes) -> dict[str, object]:
    """Row counts and LICENSING/APPOINTMENTS scopes by XPath over the whole tree."""
    tree = etree.fromstring(data)
    npn_of = {}
    for party in tree.xpath("//a:Person | //a:Organization", namespaces=NS):
        ids = party.xpath(
            "a:ExternalIdentifier[a:TypeCode='NAICProducerCode' or a:TypeCode='NAICEntityCode']"
            "/a:Id/text()",
            namespaces=NS,
        )
        if ids:
            npn_of[party.get("key")] = ids[-1].strip()
    appointments = 0
    for appointment in tree.xpath("//a:InsuranceAppointment", namespaces=NS):
        if appointment.xpath("a:InsurerReferences/a:OrganizationReferences", namespaces=NS):
            appointments += max(1, len(appointment.xpath("a:LineOfAuthority", namespaces=NS)))
    scopes = set()
    for item in tree.xpath("//a:JurisdictionReportItem", namespaces=NS):
        subject = item.xpath(
            "string(../a:PersonReferences/@personReference"
            " | ../a:OrganizationReferences/@organizationReference)",
            namespaces=NS,
        )
        state = item.xpath("string(a:StateOrProvinceCode)", namespaces=NS)
        for category, path in (
            ("LICENSING", "a:Licensee/a:InsuranceLicense"),
            ("APPOINTMENTS", "a:Licensee/a:InsuranceAppointment"),
        ):
            if item.xpath(path, namespaces=NS):
                scopes.add((npn_of[subject], state, category))
    demographics = {
        (npn_of[key], key[len("Person") : len("Person") + 2], "DEMOGRAPHICS")
        for key in npn_of
        if key.startswith("Person") and not key.startswith("PersonPRI")
    } | {
        (npn_of[key], key[len("Org") : len("Org") + 2], "DEMOGRAPHICS")
        for key in npn_of
        if key.startswith("Org") and not key.startswith("OrgPRI")
    }
    return {
        "producers": len(set(npn_of.values())),
        "licenses": int(tree.xpath("count(//a:InsuranceLicense/a:License)", namespaces=NS)),
        "license_loas": int(
            tree.xpath("count(//a:InsuranceLicense[a:License]/a:LineOfAuthority)", namespaces=NS)
        ),
        "appointments": appointments,
        "scopes": scopes | demographics,
    }


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_generated_report_rows_match_an_independent_count(shape: str) -> None:
    data = generated(shape)
    report = parse_pdb_report(data)
    expected = expected_rows(data)
    for frame in ("producers", "licenses", "license_loas", "appointments"):
        assert len(getattr(report, frame)) == expected[frame], frame
    scopes = set(report.reported_scopes.itertuples(index=False, name=None))
    assert scopes == expected["scopes"]
    assert len(report.reported_scopes) == len(scopes)
    assert report.errors.empty, report.errors.to_string()
    if shape in ("all", "big"):
        assert min(expected[f] for f in ("licenses", "license_loas", "appointments")) > 0
        assert report.firm_npns  # the generator makes a few firms: Organization records


def test_generated_report_values_match_the_xml() -> None:
    """A few rows read back against their elements (codes stay text, dates are dates)."""
    data = generated("all")
    tree = etree.fromstring(data)
    report = parse_pdb_report(data)
    licenses = report.licenses.set_index(["state_code", "license_number"])
    for license_elem in tree.xpath("//a:InsuranceLicense/a:License", namespaces=NS)[:25]:
        state = license_elem.xpath("string(../../../a:StateOrProvinceCode)", namespaces=NS)
        number = license_elem.xpath("string(a:LicenseNumberId)", namespaces=NS)
        row = licenses.loc[(state, number)]
        row = row.iloc[0] if isinstance(row, pd.DataFrame) else row
        assert row.license_class_code == license_elem.xpath(
            "string(a:LicenseClassCode)", namespaces=NS
        )
        assert row.issue_date == dt.date.fromisoformat(
            license_elem.xpath("string(a:IssueDate)", namespaces=NS)
        )
        assert row.expiration_date == dt.date.fromisoformat(
            license_elem.xpath("string(a:LicensePeriod/a:EndDate)", namespaces=NS)
        )
        assert row.is_active == (
            license_elem.xpath("string(a:StatusDescription)", namespaces=NS) == "Active"
        )


# --------------------------------------------------------------------------------------------
# Generated reports: the same frames however the bytes arrive
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_generated_report_parses_the_same_from_a_path_bytes_and_streams(
    shape: str, tmp_path: Path
) -> None:
    data = generated(shape)
    path = tmp_path / "report.xml"
    path.write_bytes(data)
    reference = parse_pdb_report(path)
    sizes = (7, 4093) if shape != "big" else (4093, 65536)
    others = [parse_pdb_report(data), parse_pdb_report(io.BytesIO(data))]
    others += [parse_pdb_report(_Dribble(data, size)) for size in sizes]
    for other in others:
        assert_same(reference, other)


@pytest.mark.parametrize("shape", ["all", "appointments"])
def test_generated_report_in_an_mtom_reply_parses_the_same(shape: str) -> None:
    data = generated(shape)
    reference = parse_pdb_report(data)
    assert_same(reference, parse_pdb_report(mtom(data)))
    assert_same(reference, parse_pdb_report(_Dribble(mtom(data), 1021)))


def test_pretty_printed_report_parses_the_same() -> None:
    data = generated("all")
    pretty = etree.tostring(etree.fromstring(data), pretty_print=True, xml_declaration=True)
    assert_same(parse_pdb_report(data), parse_pdb_report(pretty))


# --------------------------------------------------------------------------------------------
# Hand-written reports: the field rules
# --------------------------------------------------------------------------------------------


def alerts(parties: str, reports: str) -> bytes:
    return (
        f'<LicensingReportProcessResult xmlns="{ACORD}"><MessageHeader>'
        "<MessageDateTime>2026-11-20T07:00:00.000-05:00</MessageDateTime></MessageHeader>"
        "<MessageResult><StatusCode>Valid</StatusCode></MessageResult>"
        f"<LicensingReport>{parties}<TypeCode>PDBDetail</TypeCode>{reports}</LicensingReport>"
        "</LicensingReportProcessResult>"
    ).encode()


def producer(key: str, npn: str, body: str = "", tag: str = "Person") -> str:
    return (
        f'<{tag} key="{key}"><ExternalIdentifier><TypeCode>NAICProducerCode</TypeCode>'
        f"<Id>{npn}</Id></ExternalIdentifier>{body}</{tag}>"
    )


INSURER = (
    '<Organization key="Org9"><ExternalIdentifier><TypeCode>NAICInsurerCode</TypeCode>'
    "<Id>99104</Id></ExternalIdentifier><OrganizationName><FullName>Keystone Life</FullName>"
    "</OrganizationName></Organization>"
)

LICENSE_ITEM = """
<JurisdictionReport><PersonReferences personReference="PersonPRI1"/>
<JurisdictionReportItem key="1"><StateOrProvinceCode>TX</StateOrProvinceCode><Licensee>
 <InsuranceLicense><ResidentLicenseIndicator>true</ResidentLicenseIndicator>
  <TypeCode>Producer</TypeCode>
  <License key="L1"><LicenseNumberId> 123 </LicenseNumberId>
   <LicensePeriod><StartDate>2020-01-01</StartDate><EndDate>2027-01-31</EndDate></LicensePeriod>
   <LicensePeriod><StartDate>2027-02-01</StartDate></LicensePeriod>
   <StatusCode>Inactive</StatusCode><StatusCode>Active</StatusCode>
   <StatusDescription>Test description</StatusDescription>
   <IssueDate>2019-05-06</IssueDate><LicenseClassCode>3</LicenseClassCode>
   <LicenseClassCode>03</LicenseClassCode>
   <LicenseClassDescription>Insurance Producer</LicenseClassDescription>
   <AsOfDate>2026-10-01</AsOfDate>
  </License>
  <LineOfAuthority><IssueDate>2019-05-06</IssueDate><LineOfAuthorityCode>16</LineOfAuthorityCode>
   <LineOfAuthorityDescription>Life</LineOfAuthorityDescription><StatusCode>Active</StatusCode>
   <StatusDescription>Inactive</StatusDescription></LineOfAuthority>
  <LineOfAuthority><IssueDate>2019-13-45</IssueDate><LineOfAuthorityCode>935</LineOfAuthorityCode>
   <StatusCode>Expired</StatusCode></LineOfAuthority>
 </InsuranceLicense>
 <InsuranceAppointment><StateOrProvinceCode>TX</StateOrProvinceCode>
  <InsurerReferences><OrganizationReferences organizationReference="Org9"/></InsurerReferences>
  <StatusCode>Terminated</StatusCode><StatusReasonCode>VOL</StatusReasonCode>
  <AppointmentEffectiveDate>2019-13-45</AppointmentEffectiveDate>
  <TerminationEffectiveDate>2025-06-30</TerminationEffectiveDate>
  <LineOfAuthority><LineOfAuthorityCode>16</LineOfAuthorityCode>
   <RenewalDate>2027-01-31</RenewalDate></LineOfAuthority>
  <LineOfAuthority><RenewalDate>2027-01-31</RenewalDate></LineOfAuthority>
 </InsuranceAppointment>
</Licensee></JurisdictionReportItem></JurisdictionReport>
"""


def test_license_and_line_of_authority_field_rules() -> None:
    report = parse_pdb_report(alerts(producer("PersonPRI1", "111") + INSURER, LICENSE_ITEM))

    [license_row] = report.licenses.to_dict("records")
    assert license_row["license_number"] == "123"  # stripped
    assert license_row["license_class_code"] == "03"  # the last LicenseClassCode
    assert license_row["is_resident"] is True
    # "Test description" is no status word: the last StatusCode (Active) decides.
    assert license_row["is_active"] is True
    assert license_row["issue_date"] == dt.date(2019, 5, 6)
    # The last LicensePeriod has no EndDate: the earlier one's stands.
    assert license_row["expiration_date"] == dt.date(2027, 1, 31)
    assert license_row["nipr_updated_at"] == pd.Timestamp("2026-10-01", tz="UTC")

    loas = report.license_loas.sort_values("loa_code").to_dict("records")
    assert [(r["loa_code"], r["is_active"]) for r in loas] == [
        ("16", False),  # the description (Inactive) decides before the code
        ("935", False),  # no description: the code (Expired) decides
    ]
    assert loas[0]["loa_name"] == "Life" and pd.isna(loas[1]["loa_name"])
    assert [r["license_number"] for r in loas] == ["123", "123"]
    assert [r["issue_date"] for r in loas] == [dt.date(2019, 5, 6), None]

    appointments = report.appointments.sort_values("loa_code").to_dict("records")
    assert [(r["loa_code"], r["cocode"], r["company_name"]) for r in appointments] == [
        ("", "99104", "Keystone Life"),
        ("16", "99104", "Keystone Life"),
    ]
    for r in appointments:
        assert r["status"] == "Terminated" and r["termination_reason"] == "VOL"
        assert r["effective_date"] is None  # the bad date
        assert r["status_reason_date"] == dt.date(2025, 6, 30)
        assert r["renewal_date"] == dt.date(2027, 1, 31)

    # The same bad date in two fields is one error, named after the field it came first in.
    assert report.errors[["code", "message"]].values.tolist() == [
        ["BAD_DATE", "LineOfAuthority IssueDate: '2019-13-45' is not a date"]
    ]
    assert set(report.reported_scopes.itertuples(index=False, name=None)) == {
        ("111", "TX", "LICENSING"),
        ("111", "TX", "APPOINTMENTS"),
    }


def test_names_and_emails_are_ranked_across_a_producers_records() -> None:
    parties = (
        '<Person key="PersonPRI1"><ExternalIdentifier><TypeCode>NAICProducerCode</TypeCode>'
        "<TypeCode>FEINId</TypeCode><Id> 111 </Id><Id>999</Id></ExternalIdentifier></Person>"
        + producer(
            "PersonTX1",
            "111",
            "<PersonName><TypeCode>Alias</TypeCode><GivenName>Al</GivenName>"
            "<Surname>Ias</Surname></PersonName><BusinessCommunication><Email>"
            "<TypeCode>Personal</TypeCode><EmailAddress>home@example.com</EmailAddress>"
            "</Email></BusinessCommunication>",
        )
        + producer(
            "PersonCA1",
            "111",
            "<PersonName><TypeCode>Primary</TypeCode><GivenName>Pat</GivenName>"
            "<Surname>Primary</Surname></PersonName><BusinessCommunication><Email>"
            "<TypeCode>Business</TypeCode><EmailAddress>work@example.com</EmailAddress>"
            "</Email></BusinessCommunication>",
        )
        + producer(
            "PersonNV1",
            "111",
            "<PersonName><TypeCode>Alias</TypeCode><GivenName>Late</GivenName></PersonName>",
        )
        + producer(
            "OrgPRI2",
            "222",
            "<OrganizationName><TypeCode>DBA</TypeCode><FullName>Trade Name</FullName>"
            "</OrganizationName><OrganizationName><TypeCode>Primary</TypeCode>"
            "<FullName>Acme Agency LLC</FullName></OrganizationName>",
            tag="Organization",
        )
    )
    report = parse_pdb_report(alerts(parties, ""))
    producers = report.producers.set_index("npn")
    assert producers.loc["111", ["first_name", "last_name", "email"]].tolist() == [
        "Pat",
        "Primary",
        "work@example.com",
    ]
    assert pd.isna(producers.loc["222", "first_name"])
    assert producers.loc["222", "last_name"] == "Acme Agency LLC"  # the Primary name
    assert report.firm_npns == frozenset({"222"})
    assert set(report.reported_scopes.itertuples(index=False, name=None)) == {
        ("111", "TX", "DEMOGRAPHICS"),
        ("111", "CA", "DEMOGRAPHICS"),
        ("111", "NV", "DEMOGRAPHICS"),
    }


def test_records_may_come_after_the_reports_that_reference_them() -> None:
    forward = alerts("", LICENSE_ITEM + producer("PersonPRI1", "111") + INSURER)
    backward = alerts(producer("PersonPRI1", "111") + INSURER, LICENSE_ITEM)
    assert_same(parse_pdb_report(backward), parse_pdb_report(forward))


def test_records_nested_in_records_are_each_read_once_innermost_first() -> None:
    # Not NIPR's layout, but well-formed: each record is still read once, complete, the inner
    # one first (as its end tag comes first).
    inner_person = producer("PersonAZ1", "111")
    nested = LICENSE_ITEM.replace(
        '<JurisdictionReportItem key="1">', f'<JurisdictionReportItem key="1">{inner_person}'
    ).replace("</JurisdictionReport>", f"{INSURER}</JurisdictionReport>")
    report = parse_pdb_report(alerts(producer("PersonPRI1", "111"), nested))
    assert len(report.licenses) == 1 and len(report.license_loas) == 2
    assert report.appointments["cocode"].tolist() == ["99104", "99104"]
    assert ("111", "AZ", "DEMOGRAPHICS") in set(
        report.reported_scopes.itertuples(index=False, name=None)
    )


def test_unknown_subjects_and_insurers_are_errors_not_rows() -> None:
    # No PersonPRI1 record (the rows have no NPN), then no insurer record.
    report = parse_pdb_report(alerts("", LICENSE_ITEM))
    assert report.licenses.empty and report.license_loas.empty and report.appointments.empty
    assert "UNKNOWN_PRODUCER" in report.errors["code"].tolist()
    report = parse_pdb_report(alerts(producer("PersonPRI1", "111"), LICENSE_ITEM))
    assert report.appointments.empty and len(report.licenses) == 1
    assert "UNKNOWN_INSURER" in report.errors["code"].tolist()


# --------------------------------------------------------------------------------------------
# The garbage collector
# --------------------------------------------------------------------------------------------


def test_the_garbage_collector_is_restored_after_a_parse_or_a_failure() -> None:
    assert gc.isenabled()
    parse_pdb_report(generated("licensing"))
    assert gc.isenabled()
    with pytest.raises(NiprReportError):
        parse_pdb_report(generated("licensing")[:-100])
    assert gc.isenabled()
    gc.disable()
    try:
        parse_pdb_report(generated("licensing"))
        assert not gc.isenabled()  # a caller's choice is left alone
    finally:
        gc.enable()
