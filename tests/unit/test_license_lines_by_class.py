"""One license number, several classes (issue 14, ADR 0023): parse and apply keep each class's
lines apart.

NIPR files one license number under more than one license class (a VA number carries two), and
its workbook gives the same LOA codes to several classes of a state. Here VA license 123 holds
LOA 14 under class 1 (inactive) and under class 2 (active), in both report shapes, written by
hand after NIPR's element names (tests/fixtures/nipr/ holds NIPR's own samples).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from assets.nipr.current_state import CurrentRows, apply_report
from assets.nipr.parsing import ParsedReport, parse_pdb_report
from schemas.nipr_frames import validate_parsed_report

ACORD = "http://www.acord.org/schema/data/draft/ReusableDataComponents/1"
NPN = "4412"
FETCHED = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def _ei_license(class_code: str, class_name: str, loa_status: str) -> str:
    return (
        "<LICENSE><LICENSE_NUM>123</LICENSE_NUM><DATE_UPDATED>04/01/2025</DATE_UPDATED>"
        "<DATE_ISSUE_LICENSE_ORIG>01/15/2020</DATE_ISSUE_LICENSE_ORIG>"
        "<DATE_EXPIRE_LICENSE>01/31/2028</DATE_EXPIRE_LICENSE>"
        f"<LICENSE_CLASS>{class_name}</LICENSE_CLASS>"
        f"<LICENSE_CLASS_CODE>{class_code}</LICENSE_CLASS_CODE>"
        "<RESIDENCY_STATUS>R</RESIDENCY_STATUS><ACTIVE>Yes</ACTIVE><DETAILS><DETAIL>"
        "<LOA>Accident &amp; Health</LOA><LOA_CODE>14</LOA_CODE>"
        f"<AUTHORITY_ISSUE_DATE>01/15/2020</AUTHORITY_ISSUE_DATE><STATUS>{loa_status}</STATUS>"
        "</DETAIL></DETAILS></LICENSE>"
    )


ENTITY_INFO = (
    "<PDB><TRANSACTION_TYPE><TYPE>INDIVIDUAL</TYPE></TRANSACTION_TYPE><PRODUCER><INDIVIDUAL>"
    f"<ENTITY_BIOGRAPHIC><BIOGRAPHIC><NAME_LAST>Doe</NAME_LAST><NAME_FIRST>Ann</NAME_FIRST>"
    f"<NPN>{NPN}</NPN></BIOGRAPHIC></ENTITY_BIOGRAPHIC>"
    '<PRODUCER_LICENSING><LICENSE_INFORMATION><STATE name="VA">'
    + _ei_license("1", "Class One", "Inactive")
    + _ei_license("2", "Class Two", "Active")
    + "</STATE></LICENSE_INFORMATION></PRODUCER_LICENSING></INDIVIDUAL></PRODUCER></PDB>"
).encode()


def _alerts_license(class_code: str, loa_status: str) -> str:
    return (
        "<InsuranceLicense><ResidentLicenseIndicator>true</ResidentLicenseIndicator>"
        f'<TypeCode>Producer</TypeCode><License key="L{class_code}">'
        "<LicenseNumberId>123</LicenseNumberId><StatusCode>Active</StatusCode>"
        f"<LicenseClassCode>{class_code}</LicenseClassCode></License>"
        "<LineOfAuthority><LineOfAuthorityCode>14</LineOfAuthorityCode>"
        f"<StatusCode>{loa_status}</StatusCode></LineOfAuthority></InsuranceLicense>"
    )


def alerts_report(class_one_loa: str, class_two_loa: str) -> bytes:
    return (
        f'<LicensingReportProcessResult xmlns="{ACORD}"><MessageHeader>'
        "<MessageDateTime>2026-11-20T07:00:00.000-05:00</MessageDateTime></MessageHeader>"
        "<MessageResult><StatusCode>Valid</StatusCode></MessageResult><LicensingReport>"
        '<Person key="PersonPRI1"><ExternalIdentifier><TypeCode>NAICProducerCode</TypeCode>'
        f"<Id>{NPN}</Id></ExternalIdentifier></Person><TypeCode>PDBDetail</TypeCode>"
        '<JurisdictionReport><PersonReferences personReference="PersonPRI1"/>'
        '<JurisdictionReportItem key="1"><StateOrProvinceCode>VA</StateOrProvinceCode>'
        "<Licensee>"
        + _alerts_license("1", class_one_loa)
        + _alerts_license("2", class_two_loa)
        + "</Licensee></JurisdictionReportItem></JurisdictionReport>"
        "</LicensingReport></LicensingReportProcessResult>"
    ).encode()


def lines(frame: pd.DataFrame) -> list[tuple[object, ...]]:
    """(state, number, class, LOA, active) of each line, active as a plain bool."""
    columns = ["state_code", "license_number", "license_class_code", "loa_code"]
    return sorted(
        (*row, bool(active))
        for row, active in zip(
            frame[columns].itertuples(index=False, name=None), frame["is_active"], strict=True
        )
    )


BOTH_CLASSES = [("VA", "123", "1", "14", False), ("VA", "123", "2", "14", True)]


def apply(report: ParsedReport, current: CurrentRows | None = None, as_of=FETCHED):
    return apply_report(
        current or CurrentRows(),
        report,
        data_as_of=as_of,
        tracked_npns=[NPN],
        applied_at=FETCHED,
    )


def test_entity_info_gives_each_line_the_class_of_its_license() -> None:
    report = parse_pdb_report(ENTITY_INFO)

    assert lines(report.license_loas) == BOTH_CLASSES
    assert validate_parsed_report(report).empty  # each line has its license: number and class


def test_an_alerts_line_takes_the_class_of_the_license_in_its_wrapper() -> None:
    report = parse_pdb_report(alerts_report("Inactive", "Active"))

    assert lines(report.license_loas) == BOTH_CLASSES
    assert sorted(report.licenses["license_class_code"]) == ["1", "2"]
    assert validate_parsed_report(report).empty


def test_applying_a_report_keeps_the_inactive_and_the_active_line_of_the_two_classes() -> None:
    for source in (ENTITY_INFO, alerts_report("Inactive", "Active")):
        application = apply(parse_pdb_report(source))

        assert lines(application.result.license_loas) == BOTH_CLASSES
        assert application.counts()["license_loas_inserted"] == 2
        assert application.unusable_rows == 0  # nothing taken for a repeated key


def test_a_later_report_changes_one_class_without_touching_the_other() -> None:
    first = apply(parse_pdb_report(ENTITY_INFO)).result
    # The next day NIPR resends VA: class 1's line became active, class 2's lapsed.
    later = parse_pdb_report(alerts_report("Active", "Inactive"))

    result = apply(later, first, as_of=FETCHED + dt.timedelta(days=1)).result

    assert lines(result.license_loas) == [
        ("VA", "123", "1", "14", True),
        ("VA", "123", "2", "14", False),
    ]


def test_a_line_without_a_license_of_its_class_is_a_contract_failure() -> None:
    report = parse_pdb_report(ENTITY_INFO)
    orphan = report.license_loas.copy()
    orphan.loc[orphan["license_class_code"] == "2", "license_class_code"] = "7"
    broken = ParsedReport(
        report_kind=report.report_kind,
        producers=report.producers,
        licenses=report.licenses,
        license_loas=orphan,
        appointments=report.appointments,
        reported_scopes=report.reported_scopes,
        errors=report.errors,
    )

    failures = validate_parsed_report(broken)

    assert failures[["frame", "check"]].values.tolist() == [["license_loas", "loa_has_license"]]
