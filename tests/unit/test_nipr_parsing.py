"""The NIPR report parser against every report sample in tests/fixtures/nipr/.

Expected counts and scopes are computed here with lxml XPath over the fixture files,
independently of `assets/nipr/parsing.py`, so a parser bug cannot hide behind its own numbers.
Field values are read off the sample files by hand (see the comments quoting them).
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pandas as pd
import pandas.testing as pdt
import pytest
from lxml import etree

from assets.nipr.parsing import (
    APPOINTMENT_COLUMNS,
    LICENSE_COLUMNS,
    LICENSE_LOA_COLUMNS,
    PRODUCER_COLUMNS,
    SCOPE_COLUMNS,
    ParsedReport,
    parse_pdb_report,
)
from schemas.nipr_frames import validate_parsed_report

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nipr"
NS = {"a": "http://www.acord.org/schema/data/draft/ReusableDataComponents/1"}
FRAMES = ("producers", "licenses", "license_loas", "appointments", "reported_scopes", "errors")

ENTITY_INFO_SAMPLES = (
    "entity_info_individual.xml",
    "entity_info_firm.xml",
    "entity_info_error.xml",
)
ALERTS_SAMPLES = (
    "pdb_alerts_specific_report.xml",
    "pdb_alerts_specific_report.mtom",
    "pdb_alerts_specific_report_with_deletions.xml",
    "pdb_alerts_specific_report_with_deletions.mtom",
)
REPORT_SAMPLES = ENTITY_INFO_SAMPLES + ALERTS_SAMPLES
SAMPLE_SSNS = ("123-45-6789", "123456789")  # ID_SSN in entity_info_individual.xml


def parse(name: str, **kwargs: object) -> ParsedReport:
    return parse_pdb_report(FIXTURES / name, **kwargs)


def xml_twin(name: str) -> Path:
    """The plain XML of a sample (the .mtom samples wrap the .xml of the same name)."""
    return FIXTURES / (name.removesuffix(".mtom").removesuffix(".xml") + ".xml")


# --------------------------------------------------------------------------------------------
# Independent expectations (XPath over the fixture, not the parser)
# --------------------------------------------------------------------------------------------


def expected_counts(name: str) -> dict[str, int]:
    tree = etree.parse(str(xml_twin(name)))
    if tree.getroot().tag == "PDB":
        return {
            "producers": int(tree.xpath("count(/PDB/PRODUCER/INDIVIDUAL | /PDB/PRODUCER/FIRM)")),
            "licenses": int(tree.xpath("count(//LICENSE_INFORMATION/STATE/LICENSE)")),
            "license_loas": int(
                tree.xpath("count(//LICENSE_INFORMATION/STATE/LICENSE/DETAILS/DETAIL)")
            ),
            "appointments": int(tree.xpath("count(//APPOINTMENT_INFORMATION/APPOINTMENT)")),
        }
    npn_ids = tree.xpath(
        "//a:LicensingReport/*[self::a:Person or self::a:Organization]/a:ExternalIdentifier"
        "[a:TypeCode='NAICEntityCode' or a:TypeCode='NAICProducerCode']/a:Id/text()",
        namespaces=NS,
    )
    appointment_rows = 0
    for appointment in tree.xpath("//a:InsuranceAppointment", namespaces=NS):
        if appointment.xpath("a:InsurerReferences/a:OrganizationReferences", namespaces=NS):
            # one row per line of authority; a company-level appointment is one row
            appointment_rows += max(1, len(appointment.xpath("a:LineOfAuthority", namespaces=NS)))
    return {
        "producers": len({i.strip() for i in npn_ids}),
        "licenses": int(tree.xpath("count(//a:InsuranceLicense/a:License)", namespaces=NS)),
        "license_loas": int(
            tree.xpath("count(//a:InsuranceLicense[a:License]/a:LineOfAuthority)", namespaces=NS)
        ),
        "appointments": appointment_rows,
    }


def expected_alerts_scopes(name: str) -> set[tuple[str, str, str]]:
    """(npn, state, category) for LICENSING and APPOINTMENTS, by XPath."""
    tree = etree.parse(str(xml_twin(name)))
    npn_of = {
        party.get("key"): party.xpath("string(a:ExternalIdentifier[1]/a:Id)", namespaces=NS)
        for party in tree.xpath("//a:Person | //a:Organization", namespaces=NS)
    }
    scopes = set()
    for item in tree.xpath("//a:JurisdictionReportItem", namespaces=NS):
        subject = item.xpath(
            "string(../a:PersonReferences/@personReference"
            " | ../a:OrganizationReferences/@organizationReference)",
            namespaces=NS,
        )
        state = item.xpath("string(a:StateOrProvinceCode)", namespaces=NS)
        if item.xpath("a:Licensee/a:InsuranceLicense", namespaces=NS):
            scopes.add((npn_of[subject], state, "LICENSING"))
        if item.xpath("a:Licensee/a:InsuranceAppointment", namespaces=NS):
            scopes.add((npn_of[subject], state, "APPOINTMENTS"))
    return scopes


def row(frame: pd.DataFrame, **key: str) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for column, value in key.items():
        mask &= frame[column] == value
    matches = frame[mask]
    assert len(matches) == 1, f"expected one row for {key}, found {len(matches)}"
    return matches.iloc[0]


# --------------------------------------------------------------------------------------------
# Every sample
# --------------------------------------------------------------------------------------------


def test_every_report_fixture_is_covered() -> None:
    on_disk = {p.name for p in FIXTURES.glob("*.xml")} | {
        p.name for p in FIXTURES.glob("*.mtom") if "report" in p.name
    }
    assert on_disk == set(REPORT_SAMPLES)


@pytest.mark.parametrize("name", REPORT_SAMPLES)
def test_row_counts_match_the_sample(name: str) -> None:
    report = parse(name)
    expected = expected_counts(name)
    actual = {frame: len(getattr(report, frame)) for frame in expected}
    assert actual == expected
    if name != "entity_info_error.xml":
        assert expected["licenses"] > 0 and expected["license_loas"] > 0  # not vacuous


@pytest.mark.parametrize("name", REPORT_SAMPLES)
def test_frames_have_the_table_columns_and_no_ssn(name: str) -> None:
    report = parse(name)
    assert list(report.producers.columns) == list(PRODUCER_COLUMNS)
    assert list(report.licenses.columns) == list(LICENSE_COLUMNS)
    assert list(report.license_loas.columns) == list(LICENSE_LOA_COLUMNS)
    assert list(report.appointments.columns) == list(APPOINTMENT_COLUMNS)
    assert list(report.reported_scopes.columns) == list(SCOPE_COLUMNS)
    for frame_name in FRAMES:
        frame = getattr(report, frame_name)
        assert not [c for c in frame.columns if "ssn" in c.lower()]
        text = frame.astype(str).to_csv(index=False)
        for ssn in SAMPLE_SSNS:
            assert ssn not in text, f"{ssn} leaked into {frame_name}"


def test_the_ssn_sample_really_holds_an_ssn() -> None:
    # Guards the test above: it would pass trivially if the fixture had no SSN.
    assert b"<ID_SSN>123-45-6789</ID_SSN>" in (FIXTURES / "entity_info_individual.xml").read_bytes()


@pytest.mark.parametrize("name", REPORT_SAMPLES)
def test_pandera_contracts_pass(name: str) -> None:
    failures = validate_parsed_report(parse(name))
    assert failures.empty, failures.to_string()


@pytest.mark.parametrize(
    "stem", ["pdb_alerts_specific_report", "pdb_alerts_specific_report_with_deletions"]
)
def test_mtom_and_plain_xml_parse_to_identical_frames(stem: str) -> None:
    plain, wrapped = parse(f"{stem}.xml"), parse(f"{stem}.mtom")
    for frame in FRAMES:
        pdt.assert_frame_equal(getattr(plain, frame), getattr(wrapped, frame))
    assert (plain.report_kind, plain.as_of, plain.firm_npns) == (
        wrapped.report_kind,
        wrapped.as_of,
        wrapped.firm_npns,
    )


class _Dribble:
    """A non-seekable stream that hands out at most 7 bytes per read (think of a socket):
    MIME boundaries and XML then arrive split across reads."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._data.read(7 if size is None or size < 0 else min(size, 7))


@pytest.mark.parametrize(
    "name", ["entity_info_individual.xml", "pdb_alerts_specific_report.xml", *ALERTS_SAMPLES[1::2]]
)
def test_path_bytes_and_file_inputs_give_identical_results(name: str) -> None:
    path = FIXTURES / name
    data = path.read_bytes()
    reference = parse_pdb_report(path)
    with path.open("rb") as handle:
        from_file = parse_pdb_report(handle)
    others = [parse_pdb_report(str(path)), parse_pdb_report(data), from_file]
    others.append(parse_pdb_report(io.BytesIO(data)))
    if name != "pdb_alerts_specific_report_with_deletions.mtom":
        # That sample's boundaries disagree; only a seekable input reveals the closing one.
        others.append(parse_pdb_report(_Dribble(data)))
    for other in others:
        for frame in FRAMES:
            pdt.assert_frame_equal(getattr(reference, frame), getattr(other, frame))


# --------------------------------------------------------------------------------------------
# Entity Info
# --------------------------------------------------------------------------------------------


def test_entity_info_individual_values() -> None:
    report = parse("entity_info_individual.xml")
    assert report.report_kind == "entity_info"
    assert report.report_date is None and report.firm_npns == frozenset()

    producer = row(report.producers, npn="12345678")
    assert (producer.first_name, producer.last_name) == ("Michael", "Johnson")
    assert producer.email == "mjohnson@example.com"  # first BUSINESS_EMAIL (CA)
    assert producer.is_active == True  # noqa: E712 - pd.NA would fail here, as it should

    # <STATE name="NY"><LICENSE><LICENSE_NUM>NY789012</LICENSE_NUM> ... 03/01/2023 ...
    # 03/01/2026 ... <LICENSE_CLASS_CODE>3</...> <RESIDENCY_STATUS>NR</...> <ACTIVE>Yes</...>
    lic = row(report.licenses, npn="12345678", state_code="NY", license_number="NY789012")
    assert lic.license_class_code == "3" and isinstance(lic.license_class_code, str)
    assert lic.license_class == "Insurance Entity"
    assert not lic.is_resident and lic.is_active
    assert lic.issue_date == dt.date(2023, 3, 1)
    assert lic.expiration_date == dt.date(2026, 3, 1)
    assert lic.nipr_updated_at == pd.Timestamp("2025-04-05", tz="UTC")
    assert row(report.licenses, license_number="CA123456").is_resident  # RESIDENCY_STATUS R

    # <LOA>Property</LOA><LOA_CODE>12</LOA_CODE> ... <STATUS>Inactive</STATUS>
    loa = row(report.license_loas, license_number="NY789012", loa_code="12")
    assert loa.loa_name == "Property" and not loa.is_active
    assert loa.issue_date == dt.date(2023, 3, 1)
    assert row(report.license_loas, license_number="NY789012", loa_code="16").is_active

    # <COCODE>98765</COCODE> ... <LOA_CODE>12</LOA_CODE><STATUS>Terminated</STATUS>
    # <TERMINATION_REASON>Agent Request</...><STATUS_REASON_DATE>03/15/2024</...>
    # <APPONT_RENEWAL_DATE>03/15/2026</...>
    terminated = row(report.appointments, state_code="NY", cocode="98765", loa_code="12")
    assert terminated.company_name == "XYZ Insurance Company"
    assert terminated.status == "Terminated"
    assert terminated.termination_reason == "Agent Request"
    assert terminated.status_reason_date == dt.date(2024, 3, 15)
    assert terminated.renewal_date == dt.date(2026, 3, 15)
    assert terminated.effective_date is None  # Entity Info has no appointment date
    appointed = row(report.appointments, state_code="NY", cocode="98765", loa_code="16")
    assert appointed.status == "Appointed"
    assert appointed.effective_date == dt.date(2023, 3, 15)
    assert pd.isna(appointed.termination_reason)  # <TERMINATION_REASON></TERMINATION_REASON>


def test_entity_info_firm_puts_the_company_name_in_last_name() -> None:
    report = parse("entity_info_firm.xml")
    producer = row(report.producers, npn="87654321")
    assert producer.last_name == "Johnson Insurance Agency, LLC"
    assert pd.isna(producer.first_name)
    assert report.firm_npns == frozenset({"87654321"})
    lic = row(report.licenses, license_number="CA987654")
    assert (lic.license_class_code, lic.license_class) == ("4", "Agency")
    assert lic.is_resident and lic.is_active
    loa = row(report.license_loas, license_number="NY654321")
    assert (loa.loa_code, loa.loa_name) == ("50", "Limited Lines")
    appointment = row(report.appointments, state_code="CA", cocode="54321", loa_code="16")
    assert appointment.status == "Terminated"
    assert appointment.termination_reason == "Administrative Action"
    assert appointment.status_reason_date == dt.date(2023, 2, 1)


def test_entity_info_scopes_cover_every_state_block() -> None:
    report = parse("entity_info_individual.xml")
    scopes = set(report.reported_scopes.itertuples(index=False, name=None))
    tree = etree.parse(str(FIXTURES / "entity_info_individual.xml"))
    states = tree.xpath("//LICENSE_INFORMATION/STATE/@name")
    for state in states:
        assert ("12345678", state, "LICENSING") in scopes
        assert ("12345678", state, "APPOINTMENTS") in scopes
    assert {s for s in scopes if s[2] != "DEMOGRAPHICS"} == {
        ("12345678", s, c) for s in states for c in ("LICENSING", "APPOINTMENTS")
    }


def test_entity_info_error_reply_is_an_error_row_not_an_exception() -> None:
    report = parse("entity_info_error.xml", requested_npn="12345678")
    assert report.report_kind == "entity_info"
    assert all(len(getattr(report, f)) == 0 for f in FRAMES if f != "errors")
    assert report.errors.to_dict("records") == [
        {
            "npn": "12345678",
            "code": "NIPR_ERROR",
            "message": "The request parameter id_entity is not a valid number.",
        }
    ]


def test_codes_keep_leading_zeros_and_stay_text() -> None:
    doc = b"""<PDB><TRANSACTION_TYPE><TYPE>INDIVIDUAL</TYPE></TRANSACTION_TYPE><PRODUCER>
      <INDIVIDUAL><ENTITY_BIOGRAPHIC><BIOGRAPHIC><NAME_LAST>Zero</NAME_LAST>
      <NAME_FIRST>Lead</NAME_FIRST><NPN>0012345</NPN></BIOGRAPHIC></ENTITY_BIOGRAPHIC>
      <PRODUCER_LICENSING><LICENSE_INFORMATION><STATE name="TX"><LICENSE>
      <LICENSE_NUM>000123</LICENSE_NUM><LICENSE_CLASS_CODE>03</LICENSE_CLASS_CODE>
      <DATE_ISSUE_LICENSE_ORIG>01/02/2020</DATE_ISSUE_LICENSE_ORIG><RESIDENCY_STATUS>R</RESIDENCY_STATUS>
      <ACTIVE>No</ACTIVE><DETAILS><DETAIL><LOA_CODE>0016</LOA_CODE><STATUS>Active</STATUS></DETAIL>
      </DETAILS></LICENSE><APPOINTMENT_INFORMATION><APPOINTMENT><COCODE>01234</COCODE>
      <LOA_CODE>0016</LOA_CODE><STATUS>Appointed</STATUS></APPOINTMENT></APPOINTMENT_INFORMATION>
      </STATE></LICENSE_INFORMATION></PRODUCER_LICENSING></INDIVIDUAL></PRODUCER></PDB>"""
    report = parse_pdb_report(doc)
    lic = report.licenses.iloc[0]
    # Codes keep their zeros; the NPN is read as NIPR's canonical NPN (schemas/npns.py).
    assert (lic.npn, lic.license_number, lic.license_class_code) == ("12345", "000123", "03")
    assert lic.issue_date == dt.date(2020, 1, 2)
    assert report.license_loas.iloc[0].loa_code == "0016"
    assert report.appointments.iloc[0].cocode == "01234"
    assert report.producers.iloc[0].is_active == False  # noqa: E712 - no active license
    for frame in (report.licenses, report.license_loas, report.appointments):
        assert frame["npn"].dtype == "str"


# --------------------------------------------------------------------------------------------
# PDB Alerts
# --------------------------------------------------------------------------------------------


def test_alerts_values() -> None:
    report = parse("pdb_alerts_specific_report.xml")
    assert report.report_kind == "alerts"
    # <MessageDateTime>2025-03-30T09:46:44.600-05:00</MessageDateTime>
    assert report.as_of == dt.datetime(
        2025, 3, 30, 9, 46, 44, 600000, tzinfo=dt.timezone(dt.timedelta(hours=-5))
    )
    assert report.report_date == dt.date(2025, 3, 30)

    # PersonCA70650253: <TypeCode>Primary</TypeCode> ... Destefanis / Rory; first Business
    # e-mail in the person's records
    person = row(report.producers, npn="22138233")
    assert (person.first_name, person.last_name) == ("Rory", "Destefanis")
    assert person.email == "silvana1.zapoticky@cblmaycfqw.com"
    assert pd.isna(person.is_active)  # an Alerts report cannot say
    # OrgTN71819197: Alias "Nottingham ..." then Primary "Nottinghasmone Football Club"
    firm = row(report.producers, npn="22166967")
    assert firm.last_name == "Nottinghasmone Football Club" and pd.isna(firm.first_name)
    assert report.firm_npns == frozenset({"22166100", "22166967", "22234021"})

    # JurisdictionReportItem NE: <ResidentLicenseIndicator>false</...> <License key="22138233NE">
    # <LicenseNumberId>22138233</...> <EndDate>2025-03-29</EndDate> <StatusCode>Inactive</...>
    # <IssueDate>2023-04-11</IssueDate> <LicenseClassCode>3</...> <AsOfDate>2025-03-28</...>
    lic = row(report.licenses, npn="22138233", state_code="NE")
    assert (lic.license_number, lic.license_class_code) == ("22138233", "3")
    assert not lic.is_resident and not lic.is_active
    assert (lic.issue_date, lic.expiration_date) == (dt.date(2023, 4, 11), dt.date(2025, 3, 29))
    assert lic.nipr_updated_at == pd.Timestamp("2025-03-28", tz="UTC")
    # CA: <StatusCode>Inactive</StatusCode><StatusDescription>Test description</...>
    assert not row(report.licenses, license_number="675353522").is_active
    assert row(report.licenses, license_number="856932547").is_active  # StatusCode Active
    assert row(report.licenses, license_number="12043222").license_class_code == "1929"

    # LOAs take the number of the License in their InsuranceLicense wrapper.
    loas = report.license_loas
    assert set(loas.loc[loas.license_number == "675353522", "loa_code"]) == {
        "11",
        "12",
        "16",
        "935",
    }
    loa = row(loas, license_number="854698745", loa_code="101")
    assert loa.loa_name == "None"  # NIPR's LOA literally named "None": text, not missing
    assert loa.is_active and loa.issue_date == dt.date(2023, 4, 11)
    ah = row(loas, license_number="345127867", loa_code="935")
    assert ah.loa_name == "Accident & Health or Sickness"

    # CA appointment with Allstate (Org...19232): LOAs 11 and 12, Terminated,
    # <StatusReasonDescription> Test Reason Description</...>,
    # <TerminationEffectiveDate>2025-03-29</...>, <AppointmentEffectiveDate>2025-03-30</...>
    appointment = row(report.appointments, npn="22138233", state_code="CA", loa_code="11")
    assert (appointment.cocode, appointment.company_name) == ("19232", "Allstate Ins Co")
    assert appointment.status == "Terminated"
    assert appointment.termination_reason == "Test Reason Description"
    assert appointment.status_reason_date == dt.date(2025, 3, 29)
    assert appointment.effective_date == dt.date(2025, 3, 30)
    assert appointment.renewal_date == dt.date(2025, 4, 30)
    # TN: an appointment whose LineOfAuthority has only a RenewalDate: company-level, loa "".
    company_level = row(report.appointments, npn="22166967", state_code="TN")
    assert company_level.loa_code == ""
    assert company_level.status == "Appointed"
    assert company_level.effective_date == dt.date(2023, 4, 11)
    assert company_level.status_reason_date == dt.date(2023, 4, 11)


@pytest.mark.parametrize("name", ALERTS_SAMPLES)
def test_alerts_scopes_match_the_sample(name: str) -> None:
    report = parse(name)
    scopes = set(report.reported_scopes.itertuples(index=False, name=None))
    assert {s for s in scopes if s[2] != "DEMOGRAPHICS"} == expected_alerts_scopes(name)
    assert not report.reported_scopes.duplicated().any()


def test_deletions_give_scopes_without_rows() -> None:
    before = parse("pdb_alerts_specific_report.xml")
    report = parse("pdb_alerts_specific_report_with_deletions.mtom")
    scopes = set(report.reported_scopes.itertuples(index=False, name=None))
    # CA item of 22138233: <InsuranceLicense><TypeCode>Entity</TypeCode></InsuranceLicense> and
    # <InsuranceAppointment> with empty StateOrProvinceCode / InsurerReferences /
    # LicenseeReferences: everything of both categories deleted there.
    assert ("22138233", "CA", "LICENSING") in scopes
    assert ("22138233", "CA", "APPOINTMENTS") in scopes

    def rows_in(r: ParsedReport, frame: str) -> int:
        f = getattr(r, frame)
        return int(((f.npn == "22138233") & (f.state_code == "CA")).sum())

    for frame in ("licenses", "license_loas", "appointments"):
        assert rows_in(before, frame) > 0  # there was something to delete
        assert rows_in(report, frame) == 0
    # NE was resent whole: a scope with its rows.
    assert ("22138233", "NE", "LICENSING") in scopes
    assert len(report.licenses.query("npn == '22138233' and state_code == 'NE'")) == 1
    # No APPOINTMENTS scope where the report sent no appointments (nothing to replace).
    assert ("22166100", "CA", "APPOINTMENTS") not in scopes
    assert report.errors.empty


def test_report_inline_in_the_soap_body_is_read_too() -> None:
    report_xml = (FIXTURES / "pdb_alerts_specific_report.xml").read_bytes()
    report_xml = report_xml.split(b"?>", 1)[1]  # drop the XML declaration to nest it
    envelope = (
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        b'<receiveSpecificReportResponse xmlns="https://pdb-services.nipr.com/x"><alertsReport>'
        + report_xml
        + b"</alertsReport></receiveSpecificReportResponse></soap:Body></soap:Envelope>"
    )
    mtom = (
        b"--uuid:b1\r\nContent-Type: application/xop+xml; charset=UTF-8\r\n"
        b"Content-ID: <root.message@cxf.apache.org>\r\n\r\n" + envelope + b"\r\n--uuid:b1--\r\n"
    )
    expected = parse("pdb_alerts_specific_report.xml")
    for source in (envelope, mtom):
        got = parse_pdb_report(source)
        for frame in FRAMES:
            pdt.assert_frame_equal(getattr(expected, frame), getattr(got, frame))


def test_unresolvable_insurer_becomes_an_error_row() -> None:
    doc = (FIXTURES / "pdb_alerts_specific_report.xml").read_bytes()
    # Drop the insurer's NAICInsurerCode: its appointments cannot get a CoCode.
    doc = doc.replace(b"<TypeCode>NAICInsurerCode</TypeCode>", b"<TypeCode>Other</TypeCode>")
    report = parse_pdb_report(doc)
    assert report.appointments.empty
    assert list(report.errors["code"]) == ["UNKNOWN_INSURER"]
    assert len(report.licenses) == expected_counts("pdb_alerts_specific_report.xml")["licenses"]
