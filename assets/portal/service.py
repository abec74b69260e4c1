"""One invitation run: decide, reserve seats, send one email per invitation, report.

The same steps whoever asks (a `portal_invite` upload's asset, `invite_to_portal_job` from the
Launchpad, `npnflow portal invite`); no Dagster here, so the CLI runs it as it is.

1. Read the portals, the requested producers and their seats; `invitations.decide_invitations`
   says who is invited and who gets which error.
2. For each invitation, in its own short transaction: reserve the seat and record the
   invitation (status Invited, the token's SHA-256, email not sent yet). The database has the
   last word: a seat another run took meanwhile turns the outcome into No Portal Seats Left.
3. Send the emails: claim the invitation (only one run can), send, record the mail server's
   acceptance. Then the invitations earlier runs recorded but never sent (they stopped, or the
   mail server was down): each gets a new token (the earlier one was never emailed, and its
   raw value is gone) and its one email.

Exactly one email per invitation:
- recorded before sending, so a crash before the send leaves a "not sent yet" invitation that
  the next run sends; a crash between the claim and the acceptance leaves it "unconfirmed",
  never resent by itself (it may have arrived), only with `resend_unconfirmed` for the
  requested producers, after `UNCONFIRMED_AFTER` (so not while another run may be sending it);
- inviting an already invited producer sends nothing.
- When the mail server fails, sending stops: the invitation keeps its seat and the next run
  sends it; an address the server refuses for good withdraws the invitation and frees the seat.
- One producer's email that cannot be written (an address no header can carry) or that the
  server refuses for good (5xx to the message) withdraws that invitation, frees its seat and
  says why on its request; the other producers' emails still go out in the same run. The
  email is written before the invitation is claimed for sending, so a message that cannot be
  written never leaves a claimed ("unconfirmed") seat behind.

The raw token lives only in this process, on its way into the email; it is never logged,
stored or returned.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol

import pandas as pd
from sqlalchemy.engine import Engine

from assets.portal import emails, outcomes, store
from assets.portal import invitations as rules
from assets.portal.invitations import Decision, InviteRequest, Portal
from resources.mailer import MailNotSent, MailOutcomeUnknown

# An unconfirmed send younger than this may still be in progress in another run (an SMTP
# conversation times out after well under a minute): it is not resent.
UNCONFIRMED_AFTER = dt.timedelta(minutes=15)


class Sender(Protocol):
    """What the run needs of a mailer (resources/mailer.py's `Mailer`)."""

    def send(self, message: EmailMessage) -> str: ...


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class InvitationRun:
    """What one run did. `decisions`: one per request, final. `earlier_sent`: invitations of
    earlier runs (not requested now) whose email this run sent; `earlier_withdrawn`: those
    withdrawn because their email was refused or could not be written; `earlier_not_sent`:
    those still waiting when sending stopped. `stopped`: why sending stopped early (the mail
    server failed), else None. `portals`: every portal's seats after the run."""

    decisions: list[Decision]
    earlier_sent: list[tuple[str, str]] = field(default_factory=list)  # (npn, portal_id)
    # (npn, portal_id, why it was withdrawn: `outcomes.withdrawal_reason`)
    earlier_withdrawn: list[tuple[str, str, str]] = field(default_factory=list)
    earlier_not_sent: int = 0
    stopped: str | None = None
    portals: list[Portal] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return rules.summarize(self.decisions)

    @property
    def emails_sent(self) -> int:
        return sum(d.email_sent for d in self.decisions) + len(self.earlier_sent)

    @property
    def errors(self) -> list[Decision]:
        return [d for d in self.decisions if d.is_error]

    def portals_requested(self) -> list[Portal]:
        requested = {d.portal_id for d in self.decisions if d.portal_id}
        return [p for p in self.portals if p.portal_id in requested]

    def outcomes_frame(self) -> pd.DataFrame:
        """One row per request: row (uploads only), npn, portal, outcome, email sent, detail.
        No email addresses, no token."""
        frame = pd.DataFrame(
            [
                {
                    "row": d.request.row_number,
                    "npn": d.npn,
                    "portal": d.portal_label,
                    "outcome": d.outcome,
                    "email_sent": "yes" if d.email_sent else "no",
                    "detail": d.detail,
                }
                for d in self.decisions
            ],
            columns=["row", "npn", "portal", "outcome", "email_sent", "detail"],
        )
        # Requests typed on the Launchpad or the command line have no row to show.
        return frame if frame["row"].notna().any() else frame.drop(columns="row")

    def seats_frame(self, portals: Iterable[Portal] | None = None) -> pd.DataFrame:
        shown = list(self.portals if portals is None else portals)
        return pd.DataFrame(
            [
                {
                    "portal_id": p.portal_id,
                    "portal": p.label,
                    "seats_total": p.seats_total,
                    "seats_used": p.seats_used,
                    "seats_left": p.seats_left,
                }
                for p in shown
            ],
            columns=["portal_id", "portal", "seats_total", "seats_used", "seats_left"],
        )


@dataclass(frozen=True)
class _Outgoing:
    """An invitation about to be emailed; `token` is the one the email will carry."""

    npn: str
    portal: Portal
    email: str
    producer_name: str
    seen_hash: str | None  # the hash in the row now (what the claim expects)
    token: str
    resend: bool = False  # an unconfirmed send, resent on request


# What _send says happened: the email sent by this run, or by another one (`_ELSEWHERE`), or
# the outcome that goes on the request. `_NOT_WRITTEN_KEPT`: a resend that could not be written,
# the earlier invitation left as it was.
_SENT, _ELSEWHERE, _NOT_WRITTEN_KEPT = "sent", "elsewhere", "not written, kept"
_NOT_SENT, _UNKNOWN = rules.EMAIL_NOT_SENT, rules.EMAIL_UNCONFIRMED
_WITHDRAWN = (rules.EMAIL_ADDRESS_REFUSED, rules.EMAIL_REFUSED, rules.EMAIL_NOT_WRITTEN)
# After these, sending stops: the mail server (or the mailer) is in trouble, and the next
# message would most likely meet the same; the next run sends what waits.
_STOPS_SENDING = (_NOT_SENT, _UNKNOWN)


def _send(
    engine: Engine,
    mailer: Sender,
    outgoing: _Outgoing,
    clock: Callable[[], dt.datetime],
    unconfirmed_after: dt.timedelta,
) -> tuple[str, str]:
    """Write, claim, send, record one invitation email: (what happened, the reason if any)."""
    new_hash = emails.token_hash(outgoing.token)
    key = {"npn": outgoing.npn, "portal_id": outgoing.portal.portal_id}
    try:
        message = emails.invitation_email(
            to=outgoing.email,
            producer_name=outgoing.producer_name,
            npn=outgoing.npn,
            portal_label=outgoing.portal.label,
            registration_url=str(outgoing.portal.registration_url),
            token=outgoing.token,
        )
    except emails.EmailNotWritten as error:
        # Nothing claimed, nothing sent. Writing it again would fail the same way, so the
        # invitation goes and its seat is free; a resend keeps the earlier invitation (its
        # email may have arrived).
        if outgoing.resend:
            return _NOT_WRITTEN_KEPT, str(error)
        with engine.begin() as connection:
            store.withdraw_unsent_invitation(connection, **key, seen_hash=outgoing.seen_hash)
        return rules.EMAIL_NOT_WRITTEN, str(error)
    now = clock()
    with engine.begin() as connection:
        if outgoing.resend:
            claimed = store.claim_unconfirmed_for_resending(
                connection,
                **key,
                started_before=now - unconfirmed_after,
                new_hash=new_hash,
                email=outgoing.email,
                now=now,
            )
        else:
            claimed = store.claim_for_sending(
                connection, **key, seen_hash=outgoing.seen_hash, new_hash=new_hash, now=now
            )
    if not claimed:
        return _ELSEWHERE, ""
    try:
        message_id = mailer.send(message)
    except MailNotSent as error:
        with engine.begin() as connection:
            if error.recipient_refused or error.message_refused:
                store.withdraw_invitation(connection, **key, sent_hash=new_hash)
                refused = (
                    rules.EMAIL_ADDRESS_REFUSED if error.recipient_refused else rules.EMAIL_REFUSED
                )
                return refused, str(error)
            store.release_claim(connection, **key, sent_hash=new_hash)
        return _NOT_SENT, str(error)
    except MailOutcomeUnknown as error:
        return _UNKNOWN, str(error)  # the claim stays: unconfirmed, never resent by itself
    except Exception as error:
        # A failure the mailer did not sort into "not sent" or "maybe sent": the message may
        # have left, so the claim stays (unconfirmed, never resent by itself) and the request
        # says what happened instead of the run dying with the seat claimed and nothing said.
        return _UNKNOWN, f"the mailer failed unexpectedly ({type(error).__name__}: {error})"
    with engine.begin() as connection:
        store.mark_sent(connection, **key, sent_hash=new_hash, now=clock(), message_id=message_id)
    return _SENT, ""


def invite_to_portals(
    engine: Engine,
    mailer: Sender,
    requests: Iterable[InviteRequest],
    *,
    source: str,
    invited_by: str,
    resend_unconfirmed: bool = False,
    clock: Callable[[], dt.datetime] = utc_now,
    unconfirmed_after: dt.timedelta = UNCONFIRMED_AFTER,
) -> InvitationRun:
    """Invite the requested producers (module docstring). `source` (the door: `upload <id>`,
    `run <id>`, `npnflow portal invite`) and `invited_by` (the person, or `upload <object
    key>`) are recorded with each new invitation; a blank `invited_by` raises
    `invitations.InviterMissing` before anything is read or written."""
    invited_by = rules.inviter_name(invited_by)
    requests = list(requests)
    npns = {n for n in (rules.normalize_npn(r.npn) for r in requests) if n is not None}
    with engine.connect() as connection:
        portals = store.read_portals(connection)
        producers = store.read_producers(connection, npns)
        users = store.read_portal_users(connection, npns)
    decisions = rules.decide_invitations(requests, portals, producers, users)
    by_id = {p.portal_id: p for p in portals}

    # 2. Seats, one short transaction each: the database decides.
    outgoing: dict[int, _Outgoing] = {}
    for index, decision in enumerate(decisions):
        portal = by_id.get(decision.portal_id or "")
        if portal is None:
            continue
        if decision.outcome == rules.INVITED:
            token = emails.new_token()
            hashed = emails.token_hash(token)
            with engine.begin() as connection:
                taken = store.reserve_seat(
                    connection,
                    portal_id=portal.portal_id,
                    npn=decision.npn,
                    email=str(decision.email),
                    invitation_token_hash=hashed,
                    now=clock(),
                    source=source,
                    invited_by=invited_by,
                )
            if taken == store.RESERVED:
                outgoing[index] = _Outgoing(
                    decision.npn,
                    portal,
                    str(decision.email),
                    producers[decision.npn].name,
                    hashed,
                    token,
                )
            elif taken == store.ALREADY_HAS_SEAT:
                decisions[index] = outcomes.invited_meanwhile(decision)
            else:
                decisions[index] = outcomes.lost_seat_race(decision, portal)
        elif resend_unconfirmed and decision.outcome == rules.ALREADY_INVITED:
            user = users.get((decision.npn, portal.portal_id))
            producer = producers.get(decision.npn)
            if (
                user is not None
                and user.email_state == rules.EMAIL_SENDING_UNCONFIRMED
                and producer is not None
                and rules.is_email_address(producer.email)
                and portal.registration_url
            ):
                outgoing[index] = _Outgoing(
                    decision.npn,
                    portal,
                    str(producer.email).strip(),
                    producer.name,
                    None,
                    emails.new_token(),
                    resend=True,
                )

    # 3. This run's emails, then those earlier runs left unsent.
    run = InvitationRun(decisions)
    for index, item in outgoing.items():
        decision = decisions[index]
        if run.stopped is not None:
            decisions[index] = outcomes.email_not_sent(
                decision, f"sending stopped after the mail server failed ({run.stopped})"
            )
            continue
        happened, reason = _send(engine, mailer, item, clock, unconfirmed_after)
        if happened == _SENT:
            sent = outcomes.email_sent(decision, by_this_run=True)
            decisions[index] = outcomes.resent(sent) if item.resend else sent
        elif happened == _ELSEWHERE:
            decisions[index] = (
                outcomes.resend_not_now(decision, unconfirmed_after)
                if item.resend
                else outcomes.email_sent(decision, by_this_run=False)
            )
        else:
            decisions[index] = _not_emailed(decision, happened, reason)
            if happened in _STOPS_SENDING:
                run.stopped = reason

    if run.stopped is None:
        _send_earlier(engine, mailer, run, clock, unconfirmed_after, by_id)
    with engine.connect() as connection:
        if run.stopped is not None:
            requested = {(d.npn, d.portal_id) for d in decisions}
            run.earlier_not_sent = sum(
                (u.npn, u.portal_id) not in requested for u in store.unsent_invitations(connection)
            )
        run.portals = store.read_portals(connection)
    return run


def _not_emailed(decision: Decision, happened: str, reason: str) -> Decision:
    """A request's decision once its email did not go (`happened` from `_send`)."""
    if happened == rules.EMAIL_ADDRESS_REFUSED:
        return outcomes.email_refused(decision, reason)
    if happened == rules.EMAIL_REFUSED:
        return outcomes.email_message_refused(decision, reason)
    if happened in (rules.EMAIL_NOT_WRITTEN, _NOT_WRITTEN_KEPT):
        return outcomes.email_not_written(
            decision, reason, withdrawn=happened == rules.EMAIL_NOT_WRITTEN
        )
    if happened == _NOT_SENT:
        return outcomes.email_not_sent(decision, reason)
    return outcomes.email_unconfirmed(decision, reason)


def _send_earlier(
    engine: Engine,
    mailer: Sender,
    run: InvitationRun,
    clock: Callable[[], dt.datetime],
    unconfirmed_after: dt.timedelta,
    portals: dict[str, Portal],
) -> None:
    """The invitations earlier runs recorded and never sent (the outbox of invitations). One
    requested again in this run is reported on its request; the others in `run.earlier_*`.

    A run going on at the same time may have recorded one a moment ago and be about to send
    it: whichever claims it first sends it, the other leaves it. Either way the invitation is
    the recording run's: a request of this run for it stays Already Invited, emailed now."""
    with engine.connect() as connection:
        waiting = store.unsent_invitations(connection)
    requested: dict[tuple[str, str | None], int] = {}
    for position, earlier in enumerate(run.decisions):
        requested.setdefault((earlier.npn, earlier.portal_id), position)
    for unsent in waiting:
        portal = portals.get(unsent.portal_id)
        if portal is None or not portal.registration_url or not unsent.email:
            continue  # nothing to send with; `npnflow portal seats` counts it as not sent
        item = _Outgoing(
            unsent.npn,
            portal,
            unsent.email,
            unsent.producer_name,
            unsent.invitation_token_hash,
            emails.new_token(),
        )
        happened, reason = _send(engine, mailer, item, clock, unconfirmed_after)
        # Requested again in this run: reported on that request's decision (at `index`).
        index = requested.get((unsent.npn, unsent.portal_id))
        if happened == _SENT:
            if index is None:
                run.earlier_sent.append((unsent.npn, unsent.portal_id))
            else:
                run.decisions[index] = outcomes.waiting_email_sent(run.decisions[index])
        elif happened != _ELSEWHERE:
            if index is not None:
                run.decisions[index] = _not_emailed(run.decisions[index], happened, reason)
            elif happened in _WITHDRAWN:
                why = outcomes.withdrawal_reason(happened, reason)
                run.earlier_withdrawn.append((unsent.npn, unsent.portal_id, why))
            if happened in _STOPS_SENDING:
                run.stopped = reason  # the rest wait for the next run (counted by the caller)
                return
