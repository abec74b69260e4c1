"""The daily at-risk digest's rules: which lines are news, and what the email says. Pure: no
Dagster, no database, no network (the run is `digest_run.py`, the SQL `notifications_store.py`).

A line is at risk when `appointment_standing` says so (an Appointed line of the customer's
companies whose license in the state, resident license or line no longer holds). The digest
tells each (npn, state, company, line, reason) once:

- `new`: at risk now and not in the ledger of what was told (`at_risk_notified_lines`);
- `still_at_risk`: at risk now and told by an earlier digest: not repeated;
- `recovered`: in the ledger but no longer at risk (renewed, or no longer Appointed): it
  leaves the ledger, so if it lapses again it is news again.

A line whose reason changes (the license was inactive, now it expired) is a new line: the
digest says what the analyst has not been told yet.

The email is plain text (and the same as HTML), grouped by company then state: each line's
producer (name and NPN), line of authority, why it is at risk and since when (NIPR's date).
"""

from __future__ import annotations

import datetime as dt
import email.errors
import email.policy
import html
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from itertools import groupby

from assets.portal.emails import header_text

#: The ledger's key of a line: (npn, state_code, cocode, loa_code, risk_reason).
LineKey = tuple[str, str, str, str, str]

#: `risk_reason` when the standing gives none (the ledger's key needs one).
UNSPECIFIED_REASON = "at risk (no reason recorded)"
#: An email lists at most this many lines; the rest are counted and are in the report
#: `rpt_appointments_at_risk` (a first digest on a large book can hold thousands).
MAX_LISTED_LINES = 1000
AT_RISK_REPORT = "rpt_appointments_at_risk"
# The plain text is wrapped so it reads as it is in any mail program and in the raw .eml.
TEXT_WIDTH = 76


class DigestNotWritten(ValueError):
    """The digest email cannot be written (a header no mail server may get)."""


def reason_text(value: object) -> str:
    """`risk_reason` as the ledger keys it: one line, never blank."""
    text = header_text(str(value)) if value is not None else ""
    return text or UNSPECIFIED_REASON


@dataclass(frozen=True)
class AtRiskLine:
    """One Appointed line at risk, with the names a person reads."""

    npn: str
    state_code: str
    cocode: str
    loa_code: str
    risk_reason: str
    at_risk_since: dt.date | None = None
    producer_name: str = ""
    company_name: str = ""
    loa_name: str = ""

    @property
    def key(self) -> LineKey:
        return (self.npn, self.state_code, self.cocode, self.loa_code, self.risk_reason)

    @property
    def company_label(self) -> str:
        name = header_text(self.company_name)
        return f"{name} (CoCode {self.cocode})" if name else f"CoCode {self.cocode}"

    @property
    def producer_label(self) -> str:
        name = header_text(self.producer_name)
        return f"{name} (NPN {self.npn})" if name else f"NPN {self.npn}"

    @property
    def line_label(self) -> str:
        name = header_text(self.loa_name)
        return f"{name} ({self.loa_code})" if name and name != self.loa_code else self.loa_code

    @property
    def since_label(self) -> str:
        if self.at_risk_since is None:
            return "date not given by NIPR"
        return self.at_risk_since.isoformat()


def _order(line: AtRiskLine) -> tuple[str, ...]:
    return (
        header_text(line.company_name).casefold(),
        line.cocode,
        line.state_code,
        header_text(line.producer_name).casefold(),
        line.npn,
        line.loa_code,
        line.risk_reason,
    )


@dataclass(frozen=True)
class DigestPlan:
    """What a digest run finds: `new` in the email's order; `recovered` are ledger keys."""

    new: list[AtRiskLine]
    still_at_risk: list[AtRiskLine]
    recovered: list[LineKey]

    @property
    def at_risk(self) -> int:
        return len(self.new) + len(self.still_at_risk)


def plan_digest(at_risk: Iterable[AtRiskLine], told: Iterable[LineKey]) -> DigestPlan:
    """Split today's at-risk lines by the ledger of what was told (module docstring)."""
    told_keys = set(told)
    current: dict[LineKey, AtRiskLine] = {}
    for line in at_risk:
        current.setdefault(line.key, line)
    new = sorted((line for key, line in current.items() if key not in told_keys), key=_order)
    still = sorted((line for key, line in current.items() if key in told_keys), key=_order)
    recovered = sorted(told_keys - set(current))
    return DigestPlan(new=new, still_at_risk=still, recovered=recovered)


# ============================================================================ the email
def _plural(count: int, word: str, words: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else (words or word + 's')}"


def digest_subject(prefix: str, new_lines: Sequence[AtRiskLine]) -> str:
    companies = {line.cocode for line in new_lines}
    states = {line.state_code for line in new_lines}
    text = (
        f"{_plural(len(new_lines), 'appointment line')} newly at risk "
        f"({_plural(len(companies), 'company', 'companies')}, {_plural(len(states), 'state')})"
    )
    return header_text(f"{prefix} {text}" if prefix else text)


def _grouped(lines: Sequence[AtRiskLine]) -> list[tuple[str, list[tuple[str, list[AtRiskLine]]]]]:
    """[(company label, [(state, lines)])], in the email's order."""
    grouped = []
    for company, in_company in groupby(lines, key=lambda line: line.company_label):
        by_state = [
            (state, list(in_state))
            for state, in_state in groupby(in_company, key=lambda line: line.state_code)
        ]
        grouped.append((company, by_state))
    return grouped


def _intro(new_count: int, still_count: int, as_of: dt.date | None) -> list[str]:
    when = f" (NIPR data as of {as_of.isoformat()})" if as_of else ""
    lines = [
        f"{_plural(new_count, 'appointment line')} of your companies "
        f"{'has' if new_count == 1 else 'have'} become at risk since the last digest{when}.",
        "Each is still Appointed with NIPR, but the producer's license in the state, resident "
        "license or line of authority no longer holds: the producer may not sell on it. "
        "Renew the license, or terminate the appointment before its renewal is billed.",
    ]
    if still_count:
        lines.append(
            f"{_plural(still_count, 'line')} told in earlier digests "
            f"{'is' if still_count == 1 else 'are'} still at risk (not repeated here; "
            f"every line at risk is in the report {AT_RISK_REPORT})."
        )
    return lines


def _footer(listed: int, total: int) -> list[str]:
    lines = []
    if total > listed:
        lines.append(
            f"... and {total - listed:,} more lines, not listed here: see the report "
            f"{AT_RISK_REPORT}."
        )
    lines.append(
        "Each line is told once: it comes back only after it stops being at risk and lapses "
        "again. Sent by npnflow after the daily NIPR sync (recipients: "
        "config/notifications.yaml)."
    )
    return lines


def digest_text(
    new_lines: Sequence[AtRiskLine], still_count: int, as_of: dt.date | None = None
) -> str:
    """The plain-text body (module docstring)."""
    listed = list(new_lines[:MAX_LISTED_LINES])
    out = []
    for paragraph in _intro(len(new_lines), still_count, as_of):
        out.extend([_wrapped(paragraph), ""])
    for company, states in _grouped(listed):
        out.append(company)
        for state, lines in states:
            out.append(f"  {state}")
            for line in lines:
                out.append(
                    _wrapped(f"{line.producer_label}, line {line.line_label}", "    - ", "      ")
                )
                out.append(
                    _wrapped(f"{line.risk_reason}, since {line.since_label}", " " * 6, " " * 6)
                )
        out.append("")
    out.append("\n\n".join(_wrapped(p) for p in _footer(len(listed), len(new_lines))))
    return "\n".join(out) + "\n"


def _wrapped(text: str, first: str = "", rest: str = "") -> str:
    return textwrap.fill(
        text,
        width=TEXT_WIDTH,
        initial_indent=first,
        subsequent_indent=rest,
        break_long_words=False,
        break_on_hyphens=False,
    )


def digest_html(
    new_lines: Sequence[AtRiskLine], still_count: int, as_of: dt.date | None = None
) -> str:
    """The same as `digest_text`, as HTML tables (one per company), every value escaped."""
    listed = list(new_lines[:MAX_LISTED_LINES])
    esc = html.escape
    parts = [f"<p>{esc(paragraph)}</p>" for paragraph in _intro(len(new_lines), still_count, as_of)]
    header = "".join(
        f'<th align="left">{name}</th>'
        for name in ("State", "Producer", "Line", "Why at risk", "Since")
    )
    for company, states in _grouped(listed):
        rows = "".join(
            "<tr>"
            + "".join(
                f"<td>{esc(value)}</td>"
                for value in (
                    state,
                    line.producer_label,
                    line.line_label,
                    line.risk_reason,
                    line.since_label,
                )
            )
            + "</tr>"
            for state, lines in states
            for line in lines
        )
        parts.append(
            f'<h3>{esc(company)}</h3><table border="1" cellpadding="4" '
            f'cellspacing="0"><tr>{header}</tr>{rows}</table>'
        )
    parts.extend(f"<p>{esc(paragraph)}</p>" for paragraph in _footer(len(listed), len(new_lines)))
    return "<html><body>" + "".join(parts) + "</body></html>\n"


def digest_email(
    *,
    recipients: Sequence[str],
    sender: str | None,
    subject_prefix: str,
    new_lines: Sequence[AtRiskLine],
    still_count: int,
    as_of: dt.date | None = None,
) -> EmailMessage:
    """The digest: plain text with an HTML alternative. `recipients` are checked addresses
    (notifications_config.py); `sender` None leaves From to the mailer. DigestNotWritten when
    the message cannot be written for a mail server."""
    if not recipients:
        raise ValueError("a digest needs at least one recipient")
    message = EmailMessage()
    try:
        message["To"] = ", ".join(recipients)
        if sender:
            message["From"] = sender
        message["Subject"] = digest_subject(subject_prefix, new_lines)
        message.set_content(digest_text(new_lines, still_count, as_of))
        message.add_alternative(digest_html(new_lines, still_count, as_of), subtype="html")
        # Written once here as the mail server gets it, so a message that cannot be encoded
        # is found before the digest is recorded, not halfway through sending.
        message.as_bytes(policy=email.policy.SMTP)
    except (ValueError, TypeError, IndexError, email.errors.MessageError) as error:
        raise DigestNotWritten(f"the at-risk digest could not be written ({error})") from None
    return message
