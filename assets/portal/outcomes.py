"""What can still happen to a decided invitation (`invitations.decide_invitations`): the seat
taken by another run meanwhile, and the fate of its email (sent, sent by another run, not sent,
refused, not written, unconfirmed, resent). Each returns the request's new `Decision`, with the
detail an analyst reads: what happened and what to do. Pure: no Dagster, no database, no
network.

Mail servers often repeat the address in their replies; every reply shown here goes through
`without_addresses` first, so metadata and logs carry none.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace

from assets.portal.invitations import (
    ALREADY_INVITED,
    EMAIL_ADDRESS_REFUSED,
    EMAIL_NOT_SENT,
    EMAIL_NOT_WRITTEN,
    EMAIL_REFUSED,
    EMAIL_UNCONFIRMED,
    INVITED,
    NO_PORTAL_SEATS_LEFT,
    Decision,
    Portal,
    no_seats_detail,
)


def lost_seat_race(decision: Decision, portal: Portal) -> Decision:
    """The database had no seat left when this run came to reserve it (another run took it)."""
    who = f"NPN {decision.npn}"
    return replace(
        decision, outcome=NO_PORTAL_SEATS_LEFT, detail=no_seats_detail(who, portal), email=None
    )


def invited_meanwhile(decision: Decision) -> Decision:
    """Another run invited the same producer to the same portal meanwhile."""
    return replace(
        decision,
        outcome=ALREADY_INVITED,
        email=None,
        detail=(
            f"NPN {decision.npn} was invited to {decision.portal_label} by another run meanwhile: "
            "no second email is sent."
        ),
    )


def email_sent(decision: Decision, *, by_this_run: bool) -> Decision:
    if by_this_run:
        return replace(decision, outcome=INVITED, email_sent=True)
    return replace(
        decision,
        outcome=INVITED,
        email_sent=False,
        detail=(
            f"{decision.detail} Its email is sent by another invitation run running at the same "
            "time."
        ),
    )


_ADDRESS_IN_TEXT = re.compile(r"<?[^@\s<>()\[\]:;,\"']+@[^@\s<>()\[\]:;,\"']+>?")


def without_addresses(reason: str) -> str:
    """A mail server's reply as shown to analysts: servers often repeat the address
    (`550 <ann@example.com>: Recipient address rejected`); metadata and logs carry none."""
    return _ADDRESS_IN_TEXT.sub("<address>", reason)


def email_not_sent(decision: Decision, reason: str) -> Decision:
    """The mail server did not take the email (or was not tried after it failed): the
    invitation keeps its seat and the next invitation run sends it."""
    why = without_addresses(reason)
    return replace(
        decision,
        outcome=EMAIL_NOT_SENT,
        email_sent=False,
        detail=(
            f"NPN {decision.npn} is invited to {decision.portal_label} (the seat is kept), but the "
            f"email was not sent: {why}. The next invitation run sends it; nothing else to do once "
            "the mail server works."
        ),
    )


def email_refused(decision: Decision, reason: str) -> Decision:
    """The mail server refused the address for good: the invitation is withdrawn."""
    why = without_addresses(reason)
    return replace(
        decision,
        outcome=EMAIL_ADDRESS_REFUSED,
        email_sent=False,
        detail=(
            f"NPN {decision.npn}: the mail server refused the email address on record ({why}). The "
            f"invitation to {decision.portal_label} was withdrawn and its seat freed: correct the "
            "Agent Email with an agent upload, then invite again."
        ),
    )


def email_message_refused(decision: Decision, reason: str) -> Decision:
    """The mail server refused this email for good (a 5xx answer to the message, not to the
    address): the invitation is withdrawn, the other invitations' emails still go."""
    why = without_addresses(reason)
    return replace(
        decision,
        outcome=EMAIL_REFUSED,
        email_sent=False,
        detail=(
            f"NPN {decision.npn}: the mail server refused the invitation email ({why}). The "
            f"invitation to {decision.portal_label} was withdrawn and its seat freed: ask the mail "
            "server's administrator why it refused it, then invite again."
        ),
    )


def email_not_written(decision: Decision, reason: str, *, withdrawn: bool) -> Decision:
    """The invitation email could not be written (the address on record cannot be put in a
    mail header): nothing was sent. A new or waiting invitation is withdrawn, its seat freed;
    a resend leaves the earlier invitation as it was."""
    why = without_addresses(reason)
    then = (
        f"The invitation to {decision.portal_label} was withdrawn and its seat freed: correct the "
        "Agent Email with an agent upload, then invite again."
        if withdrawn
        else f"Nothing was sent and the earlier invitation to {decision.portal_label} stays as it "
        "was: correct the Agent Email with an agent upload, then invite again with "
        "resend_unconfirmed."
    )
    return replace(
        decision,
        outcome=EMAIL_NOT_WRITTEN,
        email_sent=False,
        detail=f"NPN {decision.npn}: the invitation email could not be written ({why}). {then}",
    )


def withdrawal_reason(outcome: str, reason: str) -> str:
    """Why an earlier run's invitation was withdrawn by this run, and what to do, for the
    run's log."""
    why = without_addresses(reason)
    if outcome == EMAIL_REFUSED:
        return (
            f"the mail server refused the email ({why}); ask the mail server's administrator "
            "why, then invite again"
        )
    if outcome == EMAIL_ADDRESS_REFUSED:
        what = f"the mail server refused the address ({why})"
    else:
        what = f"its email could not be written ({why})"
    return f"{what}; correct the Agent Email with an agent upload, then invite again"


def email_unconfirmed(decision: Decision, reason: str) -> Decision:
    """The email was handed over but no confirmation came: it may have arrived."""
    why = without_addresses(reason)
    return replace(
        decision,
        outcome=EMAIL_UNCONFIRMED,
        email_sent=False,
        detail=(
            f"NPN {decision.npn}: the email inviting them to {decision.portal_label} may or may not "
            f"have been delivered ({why}); it is not sent again by itself. Ask the producer; if it "
            "never came, invite again with resend_unconfirmed."
        ),
    )


def waiting_email_sent(decision: Decision) -> Decision:
    """Already invited by another run (one that stopped before its email, or one going on at
    the same time), whose email this run sent: still that run's invitation."""
    return replace(
        decision,
        outcome=ALREADY_INVITED,
        email_sent=True,
        email=None,
        detail=(
            f"NPN {decision.npn} was already invited to {decision.portal_label} by another run "
            "whose email had not gone out yet (it stopped, or is still running): this run sent it, "
            "once."
        ),
    )


def resent(decision: Decision) -> Decision:
    return replace(
        decision,
        outcome=INVITED,
        detail=(
            f"NPN {decision.npn}: the earlier invitation email to {decision.portal_label} was never "
            "confirmed, so it was sent again with a new link (the earlier link no longer works)."
        ),
    )


def resend_not_now(decision: Decision, unconfirmed_after: dt.timedelta) -> Decision:
    """resend_unconfirmed was asked, but the earlier send may still be under way."""
    minutes = int(unconfirmed_after.total_seconds() // 60)
    return replace(
        decision,
        detail=(
            f"NPN {decision.npn}: not resent now: sending the invitation email to "
            f"{decision.portal_label} started less than {minutes} minutes ago (or another run is "
            "resending it). Try again later if it never arrives."
        ),
    )
