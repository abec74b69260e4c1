"""The at-risk digest's rules (assets/compliance/digest.py): which lines are news, and the email
grouped by company and state. Pure: no database, no mailer."""

from __future__ import annotations

import datetime as dt
import email.policy
from email import message_from_bytes

import pytest

from assets.compliance.digest import (
    MAX_LISTED_LINES,
    UNSPECIFIED_REASON,
    AtRiskLine,
    digest_email,
    digest_html,
    digest_subject,
    digest_text,
    plan_digest,
    reason_text,
)

EXPIRED = "license in the state expired"
LINE_GONE = "line no longer active on the license"


def line(npn: str, state: str, cocode: str = "91234", loa: str = "16", **values) -> AtRiskLine:
    defaults = {
        "risk_reason": EXPIRED,
        "at_risk_since": dt.date(2026, 11, 30),
        "producer_name": f"Pat {npn}",
        "company_name": "Harborstone Life" if cocode == "91234" else "Granite Shield",
        "loa_name": "Life",
    }
    return AtRiskLine(npn, state, cocode, loa, **(defaults | values))


def test_only_lines_not_yet_told_are_new_and_told_lines_that_recovered_leave_the_ledger():
    told_then_recovered = line("3", "TX").key
    told = line("1", "CA")
    plan = plan_digest([line("2", "FL"), told, line("2", "FL")], [told.key, told_then_recovered])

    assert [(x.npn, x.state_code) for x in plan.new] == [("2", "FL")]  # listed twice: once
    assert plan.still_at_risk == [told]
    assert plan.recovered == [told_then_recovered]
    assert plan.at_risk == 2


def test_a_line_at_risk_for_another_reason_is_news_and_its_old_reason_recovered():
    before = line("1", "CA", risk_reason=EXPIRED)
    now = line("1", "CA", risk_reason=LINE_GONE)

    plan = plan_digest([now], [before.key])

    assert plan.new == [now]
    assert plan.recovered == [before.key]


def test_nothing_at_risk_and_nothing_told_is_an_empty_plan():
    plan = plan_digest([], [])

    assert (plan.new, plan.still_at_risk, plan.recovered, plan.at_risk) == ([], [], [], 0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, UNSPECIFIED_REASON), ("  ", UNSPECIFIED_REASON), ("a\nb", "a b"), ("ok", "ok")],
)
def test_the_reason_is_one_line_and_never_blank(value, expected):
    assert reason_text(value) == expected


def test_the_text_groups_by_company_then_state_with_producer_line_reason_and_since():
    lines = plan_digest(
        [
            line("20", "TX", "55501", loa="2", loa_name="Property", risk_reason=LINE_GONE),
            line("11", "FL"),
            line("10", "CA", at_risk_since=None, producer_name=""),
            line("12", "CA"),
        ],
        [],
    ).new

    text = digest_text(lines, still_count=3, as_of=dt.date(2026, 12, 7))

    flat = " ".join(text.split())
    assert flat.startswith(
        "4 appointment lines of your companies have become at risk since the last digest "
        "(NIPR data as of 2026-12-07)."
    )
    assert "3 lines told in earlier digests are still at risk" in flat
    assert max(len(row) for row in text.splitlines()) <= 76
    body = text[text.index("Granite Shield") :]
    assert body.splitlines()[:15] == [
        "Granite Shield (CoCode 55501)",
        "  TX",
        "    - Pat 20 (NPN 20), line Property (2)",
        "      line no longer active on the license, since 2026-11-30",
        "",
        "Harborstone Life (CoCode 91234)",
        "  CA",
        "    - NPN 10, line Life (16)",
        "      license in the state expired, since date not given by NIPR",
        "    - Pat 12 (NPN 12), line Life (16)",
        "      license in the state expired, since 2026-11-30",
        "  FL",
        "    - Pat 11 (NPN 11), line Life (16)",
        "      license in the state expired, since 2026-11-30",
        "",
    ]


def test_the_subject_counts_lines_companies_and_states_after_the_prefix():
    lines = [line("1", "CA"), line("2", "TX", "55501")]

    assert digest_subject("[npnflow]", lines) == (
        "[npnflow] 2 appointment lines newly at risk (2 companies, 2 states)"
    )
    assert digest_subject("", lines[:1]) == "1 appointment line newly at risk (1 company, 1 state)"


def test_a_long_digest_lists_the_first_lines_and_points_to_the_report_for_the_rest():
    lines = [line(str(n), "CA") for n in range(MAX_LISTED_LINES + 5)]

    text = digest_text(lines, still_count=0)

    assert text.count("    - ") == MAX_LISTED_LINES
    flat = " ".join(text.split())
    assert "... and 5 more lines, not listed here: see the report rpt_appointments_at_risk" in flat


def test_the_html_escapes_what_nipr_and_the_setup_sent():
    hostile = line("1", "CA", producer_name="<script>x</script>", company_name="A & B")

    page = digest_html([hostile], still_count=0)

    assert "<script>" not in page
    assert "&lt;script&gt;" in page and "A &amp; B (CoCode 91234)" in page


def test_the_email_goes_to_every_recipient_from_the_sender_with_text_and_html():
    message = digest_email(
        recipients=["a@carrier.example", "b@carrier.example"],
        sender="Compliance <desk@carrier.example>",
        subject_prefix="[npnflow]",
        new_lines=[line("1", "CA", producer_name="Zoë Ñúñez")],
        still_count=0,
    )
    parsed = message_from_bytes(
        message.as_bytes(policy=email.policy.SMTP), policy=email.policy.default
    )

    assert [a.addr_spec for a in parsed["To"].addresses] == [
        "a@carrier.example",
        "b@carrier.example",
    ]
    assert str(parsed["From"]) == "Compliance <desk@carrier.example>"
    assert parsed["Subject"] == "[npnflow] 1 appointment line newly at risk (1 company, 1 state)"
    text = parsed.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "    - Zoë Ñúñez (NPN 1), line Life (16)\n" in text
    assert "Zoë Ñúñez" in parsed.get_body(("html",)).get_content()


def test_a_digest_needs_a_recipient():
    with pytest.raises(ValueError, match="at least one recipient"):
        digest_email(
            recipients=[],
            sender=None,
            subject_prefix="",
            new_lines=[line("1", "CA")],
            still_count=0,
        )
