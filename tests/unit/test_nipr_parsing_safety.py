"""What the NIPR parser does with hostile, broken or oversized input.

Every refusal is a `NiprReportError` (a ValueError) whose message says what was wrong: a
compliance analyst reads it in the Dagster UI. The memory test measures, it does not time.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import pytest

from assets.nipr.parsing import NiprReportError, parse_pdb_report
from assets.nipr.parsing.values import scrub
from support.waiting import scaled

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nipr"
REPO = Path(__file__).resolve().parents[2]

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE PDB [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<PDB><TRANSACTION_TYPE><TYPE>ERROR</TYPE></TRANSACTION_TYPE>
<ERROR><DESCRIPTION>&lol9;</DESCRIPTION></ERROR></PDB>
"""


def external_entity_doc(secret: Path, padding: bytes = b"") -> bytes:
    return (
        b'<?xml version="1.0"?>'
        + padding
        + b'<!DOCTYPE PDB [<!ENTITY xxe SYSTEM "'
        + secret.as_uri().encode()
        + b'">]><PDB><TRANSACTION_TYPE><TYPE>ERROR</TYPE></TRANSACTION_TYPE>'
        b"<ERROR><DESCRIPTION>&xxe;</DESCRIPTION></ERROR></PDB>"
    )


def refused(source: object) -> str:
    with pytest.raises(NiprReportError) as caught:
        parse_pdb_report(source)
    assert isinstance(caught.value, ValueError)
    return str(caught.value)


# --------------------------------------------------------------------------------------------
# Entities and DTDs
# --------------------------------------------------------------------------------------------


def test_billion_laughs_is_refused_without_expansion() -> None:
    tracemalloc.start()
    try:
        message = refused(BILLION_LAUGHS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "DOCTYPE" in message
    assert "lol" not in message
    assert peak < 5_000_000  # expanded, &lol9; alone would be 3 GB


def test_doctype_behind_a_long_prolog_is_refused_too() -> None:
    # The first line of defence looks for "<!DOCTYPE" in the first 64 KiB; past that, the
    # parser's own record of the DOCTYPE refuses it (entities still unexpanded meanwhile).
    padding = b"<!--" + b"x" * 100_000 + b"-->"
    message = refused(BILLION_LAUGHS.replace(b"<!DOCTYPE", padding + b"<!DOCTYPE", 1))
    assert "DOCTYPE" in message


@pytest.mark.parametrize("padding", [b"", b"<!--" + b"p" * 100_000 + b"-->"])
def test_external_entity_is_not_resolved(tmp_path: Path, padding: bytes) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MARKER")
    message = refused(external_entity_doc(secret, padding))
    assert "DOCTYPE" in message
    assert "TOP-SECRET-MARKER" not in message


def test_external_dtd_is_refused() -> None:
    doc = b'<?xml version="1.0"?><!DOCTYPE PDB SYSTEM "http://nipr.invalid/pdb.dtd"><PDB/>'
    assert "DOCTYPE" in refused(doc)


# --------------------------------------------------------------------------------------------
# Broken input
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["entity_info_individual.xml", "pdb_alerts_specific_report.xml"])
def test_truncated_report(name: str) -> None:
    data = (FIXTURES / name).read_bytes()
    message = refused(data[: len(data) // 2])
    assert "truncated" in message


def test_truncated_mtom_reply() -> None:
    data = (FIXTURES / "pdb_alerts_specific_report.mtom").read_bytes()
    assert "truncated" in refused(data[: len(data) * 2 // 3])


def test_garbage_bytes() -> None:
    message = refused(bytes(range(256)) * 4)
    assert "not well-formed XML" in message


@pytest.mark.parametrize("data", [b"", b"   \r\n\t  "])
def test_empty_input(data: bytes, tmp_path: Path) -> None:
    assert "empty" in refused(data)
    empty_file = tmp_path / "empty.xml"
    empty_file.write_bytes(data)
    assert "empty" in refused(empty_file)


def test_unknown_root_element() -> None:
    message = refused(b"<?xml version='1.0'?><Portfolio><NPN>1</NPN></Portfolio>")
    assert "<Portfolio>" in message
    assert "expected <PDB>" in message


def test_alerts_root_in_the_wrong_namespace() -> None:
    message = refused(b'<LicensingReportProcessResult xmlns="urn:other"/>')
    assert "urn:other" in message


def test_missing_file() -> None:
    assert "cannot open" in refused(Path("/nonexistent/nipr/report.xml"))


def test_text_file_object_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        parse_pdb_report(io.StringIO("<PDB/>"))


# --------------------------------------------------------------------------------------------
# MTOM and SOAP replies
# --------------------------------------------------------------------------------------------


def mtom(*parts: tuple[str, bytes], boundary: str = "uuid:t1") -> bytes:
    out = b""
    for content_id, body in parts:
        out += (
            (
                f"--{boundary}\r\nContent-Type: application/xop+xml; charset=UTF-8\r\n"
                f"Content-Transfer-Encoding: binary\r\nContent-ID: <{content_id}>\r\n\r\n"
            ).encode()
            + body
            + b"\r\n"
        )
    return out + f"--{boundary}--\r\n".encode()


ENVELOPE = (
    b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
    b'<receiveSpecificReportResponse xmlns="https://pdb-services.nipr.com/x"><alertsReport>'
    b'<xop:Include xmlns:xop="http://www.w3.org/2004/08/xop/include" href="cid:report-1@nipr"/>'
    b"</alertsReport></receiveSpecificReportResponse></soap:Body></soap:Envelope>"
)


def test_mtom_without_the_referenced_part() -> None:
    report = (FIXTURES / "pdb_alerts_specific_report.xml").read_bytes()
    # The report travels under another Content-ID than the one xop:Include names.
    message = refused(mtom(("root@cxf", ENVELOPE), ("report-2@nipr", report)))
    assert "missing its report" in message
    assert "cid:report-1@nipr" in message
    # And with no second part at all.
    assert "missing its report" in refused(mtom(("root@cxf", ENVELOPE)))
    # With the right Content-ID, the same reply parses.
    parsed = parse_pdb_report(mtom(("root@cxf", ENVELOPE), ("report-1@nipr", report)))
    assert len(parsed.licenses) == 12


def test_mtom_part_with_a_doctype_is_refused() -> None:
    message = refused(mtom(("root@cxf", ENVELOPE), ("report-1@nipr", BILLION_LAUGHS)))
    assert "DOCTYPE" in message


def test_soap_fault_reply() -> None:
    message = refused(FIXTURES / "pdb_alerts_addNPNErrorResponse.mtom")
    assert "SOAP fault" in message
    assert "Error adding NPNs to subscription" in message


def test_soap_reply_without_a_report() -> None:
    message = refused(FIXTURES / "pdb_alerts_addNPNMixedResponse.mtom")
    assert "no PDB report" in message
    assert "addTargetsResponse" in message


def test_bare_soap_envelope_pointing_to_an_attachment() -> None:
    assert "without its multipart wrapper" in refused(ENVELOPE)


def test_not_a_multipart_body() -> None:
    assert "MTOM" in refused(b"--\r\n\r\n")


# --------------------------------------------------------------------------------------------
# SSNs never reach a message
# --------------------------------------------------------------------------------------------


def test_ssn_shaped_values_are_scrubbed_from_messages() -> None:
    doc = (FIXTURES / "entity_info_individual.xml").read_bytes()
    doc = doc.replace(
        b"<DATE_ISSUE_LICENSE_ORIG>01/15/2023</DATE_ISSUE_LICENSE_ORIG>",
        b"<DATE_ISSUE_LICENSE_ORIG>123-45-6789</DATE_ISSUE_LICENSE_ORIG>",
    )
    report = parse_pdb_report(doc)
    messages = " ".join(report.errors["message"])
    assert "DATE_ISSUE_LICENSE_ORIG" in messages  # the bad date is reported ...
    assert "123-45-6789" not in messages  # ... without the SSN-shaped value


@pytest.mark.parametrize("typed", ["123 45 6789", "123.45.6789", "123-45 6789", "123456789"])
def test_ssns_in_every_shape_are_cut_to_the_last_four_in_messages(typed: str) -> None:
    doc = (FIXTURES / "entity_info_individual.xml").read_bytes()
    doc = doc.replace(
        b"<DATE_ISSUE_LICENSE_ORIG>01/15/2023</DATE_ISSUE_LICENSE_ORIG>",
        f"<DATE_ISSUE_LICENSE_ORIG>{typed}</DATE_ISSUE_LICENSE_ORIG>".encode(),
    )
    messages = " ".join(parse_pdb_report(doc).errors["message"])
    assert "DATE_ISSUE_LICENSE_ORIG" in messages and "***-**-6789" in messages
    assert typed not in messages and "12345" not in messages.replace(" ", "").replace(".", "")


def test_nipr_error_text_is_scrubbed_whatever_separates_the_digits() -> None:
    text = "No match for SSN 123 45 6789 (also 987.65.4321, 111-22 3333); NPN 1234567890 kept"
    assert scrub(text) == (
        "No match for SSN ***-**-6789 (also ***-**-4321, ***-**-3333); NPN 1234567890 kept"
    )


def test_malformed_report_message_does_not_quote_the_ssn() -> None:
    doc = (FIXTURES / "entity_info_individual.xml").read_bytes()
    doc = doc.replace(b"<ID_SSN>123-45-6789</ID_SSN>", b"<ID_SSN>123-45-6789</ID_SNN>")
    message = refused(doc)
    assert "123-45-6789" not in message and "123456789" not in message


# --------------------------------------------------------------------------------------------
# Memory: streaming, measured (not timed)
# --------------------------------------------------------------------------------------------

TARGET_BYTES = 20_000_000


@pytest.fixture(scope="module")
def big_alerts_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~20 MB Alerts report: the sample's JurisdictionReport blocks repeated (written in
    pieces, so the test itself never holds the file in memory)."""
    source = (FIXTURES / "pdb_alerts_specific_report.xml").read_bytes()
    start = source.index(b"<JurisdictionReport>")
    end = source.rindex(b"</JurisdictionReport>") + len(b"</JurisdictionReport>")
    head, block, tail = source[:start], source[start:end], source[end:]
    path = tmp_path_factory.mktemp("nipr") / "big_alerts_report.xml"
    with path.open("wb") as out:
        out.write(head)
        for _ in range((TARGET_BYTES - len(head) - len(tail)) // len(block)):
            out.write(block)
        out.write(tail)
    return path


def test_python_heap_peak_stays_well_below_the_file_size(big_alerts_report: Path) -> None:
    """tracemalloc sees Python objects: the bytes we read and the rows we keep.

    Bound: a third of the file size. The report yields ~20k rows (about 1 per KB of XML),
    which at peak cost ~5 MB (row tuples, then column lists and frames; repeated codes are
    shared), so a third leaves room while anything that holds the document in Python (one
    `read()` of it is already the full file size) fails. The tree itself lives in libxml2,
    outside tracemalloc's view: the next test covers it.
    """
    size = big_alerts_report.stat().st_size
    bound = size // 3
    tracemalloc.start()
    try:
        report = parse_pdb_report(big_alerts_report)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(report.license_loas) > 10_000  # the big file really was parsed
    assert peak < bound, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.1f} MB report"

    # The bound discriminates: reading the file whole already breaks it.
    tracemalloc.start()
    try:
        whole = big_alerts_report.read_bytes()
        _, whole_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del whole
    assert whole_peak > bound


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc/self/status")
def test_process_memory_stays_flat_while_parsing(big_alerts_report: Path) -> None:
    """Peak resident memory, which does include libxml2's tree, measured in a fresh process
    (VmHWM, the resident high-water mark, starts afresh at exec; getrusage's ru_maxrss would
    carry the pytest process's own peak across fork and hide the parse).

    Bound: the growth while parsing stays below the file size. Streaming measured ~10 MB for
    this 20 MB report: the ~20k rows and their frames, allocator slack and libxml2's buffers;
    building the whole tree (`etree.parse`, measured afterwards in the same process) needs
    about five times the file size, which shows the measurement can fail.
    """
    script = textwrap.dedent(
        """
        import json, sys
        from lxml import etree
        from assets.nipr.parsing import parse_pdb_report

        def peak():
            for line in open("/proc/self/status"):
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024

        path = sys.argv[1]
        base = peak()
        report = parse_pdb_report(path)
        streamed = peak() - base
        base = peak()
        tree = etree.parse(path)
        whole = peak() - base
        print(json.dumps({"streamed": streamed, "whole_tree": whole, "rows": len(report.license_loas)}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(big_alerts_report)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=scaled(120),
        check=True,
    )
    figures = json.loads(result.stdout)
    size = big_alerts_report.stat().st_size
    assert figures["rows"] > 10_000
    assert figures["streamed"] < size, figures
    assert figures["whole_tree"] > size, figures
