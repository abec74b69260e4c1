"""A padded NPN in any NIPR reply is read as NIPR's canonical NPN, so it matches our producer."""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

from assets.nipr.parsing import parse_pdb_report
from resources import nipr_soap as soap

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nipr"
IND = "http://pdb.nipr.com/pdbAlerts/individual"


def test_entity_info_with_a_padded_npn_is_our_producer() -> None:
    xml = (FIXTURES / "entity_info_individual.xml").read_bytes()
    padded = xml.replace(b"<NPN>12345678</NPN>", b"<NPN>0012345678</NPN>")
    assert padded != xml
    report = parse_pdb_report(padded, requested_npn="012345678")
    plain = parse_pdb_report(xml, requested_npn="12345678")
    assert report.producers["npn"].tolist() == ["12345678"]
    assert set(report.licenses["npn"]) == set(report.appointments["npn"]) == {"12345678"}
    assert report.licenses.equals(plain.licenses)
    assert report.reported_scopes.equals(plain.reported_scopes)


def test_an_alerts_report_with_padded_npns_keys_every_row_canonically() -> None:
    xml = (FIXTURES / "pdb_alerts_specific_report.xml").read_bytes()
    padded = re.sub(rb"<Id>(\d{8})</Id>", rb"<Id>00\1</Id>", xml)
    assert padded != xml
    report, plain = parse_pdb_report(padded), parse_pdb_report(xml)
    for frame in ("producers", "licenses", "license_loas", "appointments", "reported_scopes"):
        ours, theirs = getattr(report, frame), getattr(plain, frame)
        assert not ours["npn"].astype(str).str.startswith("0").any(), frame
        assert ours.equals(theirs), frame
    assert report.firm_npns == plain.firm_npns


def test_target_lists_read_back_canonical_npns() -> None:
    reply = etree.fromstring(
        f'<addTargetsResponse xmlns="{IND}"><targetResultsData>'
        f"<validTargetList><npn>0012345678</npn></validTargetList>"
        f"<invalidInputList><input>087654321</input><invalidReason>Entity was not found"
        f"</invalidReason></invalidInputList></targetResultsData></addTargetsResponse>"
    )
    assert soap.parse_target_results(reply) == (
        ["12345678"],
        [("87654321", "Entity was not found")],
    )
    listed = etree.fromstring(
        f'<retrieveTargetsResponse xmlns="{IND}"><targetList><npn>007</npn><npn>7</npn>'
        f"</targetList></retrieveTargetsResponse>"
    )
    assert soap.parse_target_npns(listed) == ["7"]
