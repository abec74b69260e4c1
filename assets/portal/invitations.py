"""Portal invitations (SPEC section 9): which requested producers get an invitation, and which
get which error. Pure: no Dagster, no database, no network. What the invitation email says, and
its token, are in `emails.py`.

A request names a producer (NPN) and a portal (its name, or its id). Checked in this order, the
first that applies is the outcome, said in the words an analyst uses (the seed's errors are
"no associated account", "no associated email", "no portal seats"):

1. `Invalid NPN`: not digits (up to 10), e.g. a typo on the Launchpad.
2. `Portal Not Found`: no portal has that name or id (`config/portals.yaml` lists them).
3. `Listed Twice`: the same producer and portal earlier in the same request; ignored.
4. `Already Registered` / `Already Invited`: the producer has that portal's seat already.
   Nothing is sent: inviting again never sends a second email.
5. `Producer Not Found`: no producer with that NPN (onboard with an agent upload first).
6. `No Associated Agency`: the producer has no agency, or one that is not on record.
7. `No Email On Record`: no email address, or one that is not an address.
8. `Portal Has No Registration Page`: the portal's registration_url is not set up.
9. `No Portal Seats Left`: every seat is taken (invited and registered producers hold one);
   seats go to the requests in the order they come.
10. Otherwise `Invited`: a seat is reserved and one email is sent.

The seats counted here are a plan: the database decides for good when it reserves a seat
(another run may take the last one meanwhile), and the email's delivery can still fail. Those
later outcomes are built beside these rules, in `outcomes.py` (`lost_seat_race`,
`email_not_sent`, ...), so every message an analyst reads comes from the rules' two modules.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# The email's parts have a module of their own; callers that know them as part of the rules
# (`rules.new_token()`, `rules.invitation_email(...)`) still find them here.
from assets.portal.emails import (
    EmailNotWritten as EmailNotWritten,
)
from assets.portal.emails import (
    accept_link as accept_link,
)
from assets.portal.emails import (
    header_text as header_text,
)
from assets.portal.emails import (
    invitation_email as invitation_email,
)
from assets.portal.emails import (
    mail_address,
)
from assets.portal.emails import (
    new_token as new_token,
)
from assets.portal.emails import (
    token_hash as token_hash,
)
from schemas.npns import canonical_npn, npn_problem

# portal_users.status
STATUS_INVITED = "Invited"
STATUS_REGISTERED = "Registered"
#: Offboarded (`assets/offboarding/`): the seat is free again and the invitation's token is
#: void. The row stays, as the record of who had access and until when.
STATUS_REVOKED = "Revoked"
PORTAL_USER_STATUSES = (STATUS_INVITED, STATUS_REGISTERED, STATUS_REVOKED)
#: The statuses that hold a seat.
SEAT_HOLDING_STATUSES = (STATUS_INVITED, STATUS_REGISTERED)

# The outcome of one requested (producer, portal) pair.
INVITED = "Invited"
ALREADY_INVITED = "Already Invited"
ALREADY_REGISTERED = "Already Registered"
LISTED_TWICE = "Listed Twice"
INVALID_NPN = "Invalid NPN"
PORTAL_NOT_FOUND = "Portal Not Found"
PRODUCER_NOT_FOUND = "Producer Not Found"
NO_ASSOCIATED_AGENCY = "No Associated Agency"
NO_EMAIL_ON_RECORD = "No Email On Record"
NO_REGISTRATION_PAGE = "Portal Has No Registration Page"
NO_PORTAL_SEATS_LEFT = "No Portal Seats Left"
# What can still happen to an invitation when its email is sent.
EMAIL_NOT_SENT = "Email Not Sent"
EMAIL_ADDRESS_REFUSED = "Email Address Refused"
EMAIL_REFUSED = "Email Refused"
EMAIL_NOT_WRITTEN = "Email Could Not Be Written"
EMAIL_UNCONFIRMED = "Email Unconfirmed"

#: Every outcome, in the order a summary lists them.
OUTCOMES = (
    INVITED,
    ALREADY_INVITED,
    ALREADY_REGISTERED,
    LISTED_TWICE,
    INVALID_NPN,
    PORTAL_NOT_FOUND,
    PRODUCER_NOT_FOUND,
    NO_ASSOCIATED_AGENCY,
    NO_EMAIL_ON_RECORD,
    NO_REGISTRATION_PAGE,
    NO_PORTAL_SEATS_LEFT,
    EMAIL_NOT_SENT,
    EMAIL_ADDRESS_REFUSED,
    EMAIL_REFUSED,
    EMAIL_NOT_WRITTEN,
    EMAIL_UNCONFIRMED,
)
#: Outcomes that need nobody's attention.
NOT_ERRORS = frozenset({INVITED, ALREADY_INVITED, ALREADY_REGISTERED, LISTED_TWICE})

# The state of an invitation's email (from portal_users' ledger columns).
EMAIL_SENT = "sent"
EMAIL_PENDING = "not sent yet"  # recorded; the next invitation run sends it
EMAIL_SENDING_UNCONFIRMED = "unconfirmed"  # handed to the mailer; no confirmation came

# Deliberately loose: the address was validated when it was uploaded; this only catches a
# value that cannot be an address at all (no @, spaces, no dot in the domain).
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_SSN_SHAPE = re.compile(r"(?<!\d)\d{3}-?\d{2}-?(\d{4})(?!\d)")
PORTALS_FILE_HINT = "config/portals.yaml"


# ============================================================================ inputs
@dataclass(frozen=True)
class InviteRequest:
    """One requested invitation: an NPN and a portal, as typed. `row_number` is the row of an
    upload (None for the CLI and the Launchpad)."""

    npn: str
    portal: str
    row_number: int | None = None


@dataclass(frozen=True)
class Portal:
    portal_id: str
    portal_name: str | None
    seats_total: int
    seats_used: int  # portal_users rows of the portal: invited or registered (not revoked)
    registration_url: str | None

    @property
    def label(self) -> str:
        return self.portal_name or self.portal_id

    @property
    def seats_left(self) -> int:
        return max(0, self.seats_total - self.seats_used)


@dataclass(frozen=True)
class Producer:
    npn: str
    first_name: str | None
    last_name: str | None
    email: str | None
    agency_npn: str | None
    agency_on_record: bool  # agency_npn is in `agencies`

    @property
    def name(self) -> str:
        return producer_name(self.first_name, self.last_name)


def producer_name(first_name: str | None, last_name: str | None) -> str:
    """First and last name as one line: names come from uploads, NIPR and the database, and a
    line break or control character in one must not reach a mail header or a message."""
    return header_text(" ".join(p for p in (first_name, last_name) if p))


@dataclass(frozen=True)
class PortalUser:
    """A producer's seat on a portal (a `portal_users` row)."""

    npn: str
    portal_id: str
    status: str
    invited_at: dt.datetime | None = None
    send_started_at: dt.datetime | None = None
    sent_at: dt.datetime | None = None
    registered_at: dt.datetime | None = None
    invited_by: str | None = None  # NULL on invitations older than migration 0012

    @property
    def email_state(self) -> str:
        if self.sent_at is not None:
            return EMAIL_SENT
        if self.send_started_at is not None:
            return EMAIL_SENDING_UNCONFIRMED
        return EMAIL_PENDING


@dataclass(frozen=True)
class Decision:
    """The outcome of one request. `email` is where an invitation goes (outcome Invited)."""

    request: InviteRequest
    npn: str
    portal_id: str | None
    portal_label: str
    outcome: str
    detail: str
    email: str | None = None
    email_sent: bool = False  # whether this run sent its email

    @property
    def is_error(self) -> bool:
        return self.outcome not in NOT_ERRORS


class InviterMissing(ValueError):
    """An invitation asked for without saying who invites."""


def inviter_name(name: str | None) -> str:
    """Who invites, as recorded on each invitation (`portal_users.invited_by`): the name given,
    spaces trimmed. Never blank: an invitation takes a paid seat and emails a producer, so the
    record says which person asked for it, as an approval does."""
    by = " ".join(str(name or "").split())
    if not by:
        raise InviterMissing(
            "Say who invites (npnflow portal invite --by NAME, or invited_by in the "
            "invite_to_portal_job config): the name is recorded on each invitation."
        )
    return by


# ============================================================================ look-ups
def normalize_npn(text: object) -> str | None:
    """An NPN as NIPR writes it (leading zeros stripped: schemas/npns.py), or None when `text`
    is not one. Every door (CLI, Launchpad, dropped file) reaches the same producer."""
    value = str(text).strip() if text is not None else ""
    return canonical_npn(value) if npn_problem(value) is None else None


def split_npns(values: Iterable[str]) -> list[str]:
    """NPNs as typed on the command line or the Launchpad: separate values, or several in one
    separated by spaces, ',' or ';'. Empty pieces (a trailing comma) are dropped."""
    return [part for value in values for part in re.split(r"[,;\s]+", str(value)) if part]


def _shown_not_npn(text: object) -> str:
    """A value typed as an NPN that is not one, safe to show: anything shaped like an SSN is
    cut to its last four digits (SPEC 13: SSNs never reach logs or metadata)."""
    value = " ".join(str(text if text is not None else "").split())
    return _SSN_SHAPE.sub(r"***-**-\1", value)[:40]


def _invalid_npn_detail(shown: str) -> str:
    if "***-**-" in shown:  # masked by _shown_not_npn
        return f"'{shown}' looks like an SSN, not an NPN: NPNs are digits only, up to 10."
    return f"'{shown}' is not an NPN: digits only, up to 10."


def _portal_key(text: str) -> str:
    return " ".join(text.split()).casefold()


def find_portal(portals: Iterable[Portal], typed: str) -> Portal | None:
    """The portal whose id, else whose name, is `typed` (letter case and spaces ignored)."""
    key = _portal_key(typed)
    portals = list(portals)
    for portal in portals:
        if _portal_key(portal.portal_id) == key:
            return portal
    for portal in portals:
        if portal.portal_name and _portal_key(portal.portal_name) == key:
            return portal
    return None


def is_email_address(value: str | None) -> bool:
    return email_address_problem(value) is None


def email_address_problem(value: str | None) -> str | None:
    """Why an invitation cannot be emailed to `value`, or None when it can."""
    text = str(value or "").strip()
    if not _EMAIL.fullmatch(text):
        return "is not an email address"
    try:
        mail_address(text)
    except EmailNotWritten as problem:
        return f"cannot be used: {problem}"
    return None


# ============================================================================ the rules
def _who(npn: str, producer: Producer | None) -> str:
    name = producer.name if producer else ""
    return f"NPN {npn} ({name})" if name else f"NPN {npn}"


def _day(value: dt.datetime | None) -> str:
    return f" on {value.date().isoformat()}" if value else ""


def _invited(portal: Portal, user: PortalUser) -> str:
    """The words "invited to P on D by N"; "by N" only when it was recorded (migration 0012)."""
    by = f" by {user.invited_by}" if user.invited_by else ""
    return f"invited to {portal.label}{_day(user.invited_at)}{by}"


def _already_invited_detail(who: str, portal: Portal, user: PortalUser) -> str:
    state = user.email_state
    if state == EMAIL_SENT:
        return (
            f"{who} was {_invited(portal, user)} and the email was sent"
            f"{_day(user.sent_at)}: no second email is sent."
        )
    if state == EMAIL_PENDING:
        return (
            f"{who} was {_invited(portal, user)}, but its email was not "
            "sent yet (an earlier run stopped): an invitation run sends it, once."
        )
    return (
        f"{who} was {_invited(portal, user)}; sending its email was "
        f"interrupted{_day(user.send_started_at)} and it is unknown whether it arrived, so it "
        "is not sent again by itself. Ask the producer; if it never came, invite again with "
        "resend_unconfirmed (npnflow portal invite --resend-unconfirmed)."
    )


def _no_portal_detail(typed: str, portals: Sequence[Portal]) -> str:
    if not portals:
        return (
            f"There is no portal named '{typed}': no portal is set up. Add the portals to "
            f"{PORTALS_FILE_HINT} and run load_reference_data_job."
        )
    names = ", ".join(sorted(f"'{p.label}'" for p in portals))
    return f"There is no portal named '{typed}'. The portals are: {names}."


def decide_invitations(
    requests: Iterable[InviteRequest],
    portals: Sequence[Portal],
    producers: Mapping[str, Producer],
    portal_users: Mapping[tuple[str, str], PortalUser],
) -> list[Decision]:
    """One decision per request, in the requests' order (see the module docstring).

    `producers` holds at least the requested NPNs that exist; `portal_users` the seats of the
    requested NPNs, keyed by (npn, portal_id); `portals` every portal with its seats in use.
    """
    seats_left = {portal.portal_id: portal.seats_left for portal in portals}
    first_request: dict[tuple[str, str], InviteRequest] = {}
    decisions: list[Decision] = []
    for request in requests:
        npn = normalize_npn(request.npn)
        portal = find_portal(portals, request.portal) if request.portal else None
        typed_portal = " ".join(str(request.portal or "").split())
        if npn is None:
            shown = _shown_not_npn(request.npn)
            decisions.append(
                Decision(
                    request, shown, None, typed_portal, INVALID_NPN, _invalid_npn_detail(shown)
                )
            )
            continue
        if portal is None:
            decisions.append(
                Decision(
                    request,
                    npn,
                    None,
                    typed_portal,
                    PORTAL_NOT_FOUND,
                    _no_portal_detail(typed_portal, portals),
                )
            )
            continue

        def decided(outcome: str, detail: str, email: str | None = None) -> None:
            decisions.append(
                Decision(request, npn, portal.portal_id, portal.label, outcome, detail, email)  # noqa: B023
            )

        key = (npn, portal.portal_id)
        producer = producers.get(npn)
        who = _who(npn, producer)
        if key in first_request:
            earlier = first_request[key].row_number
            where = f" on row {earlier}" if earlier is not None else " earlier in this request"
            decided(
                LISTED_TWICE, f"{who} is already requested for {portal.label}{where}; invited once."
            )
            continue
        first_request[key] = request
        user = portal_users.get(key)
        # A Revoked seat (offboarded) was given back: inviting again is a new invitation.
        if user is not None and user.status != STATUS_REVOKED:
            if user.status == STATUS_REGISTERED:
                decided(
                    ALREADY_REGISTERED,
                    f"{who} is already registered on {portal.label}"
                    f"{_day(user.registered_at)}: nothing sent.",
                )
            else:
                decided(ALREADY_INVITED, _already_invited_detail(who, portal, user))
            continue
        if producer is None:
            decided(
                PRODUCER_NOT_FOUND,
                f"NPN {npn} is not a producer on record: onboard it with "
                "an agent upload, then invite again.",
            )
            continue
        agency = (producer.agency_npn or "").strip()
        if not agency:
            decided(
                NO_ASSOCIATED_AGENCY,
                f"{who} has no agency on record: fill in the Agency "
                "NPN with an agent upload, then invite again.",
            )
            continue
        if not producer.agency_on_record:
            decided(
                NO_ASSOCIATED_AGENCY,
                f"{who} names agency NPN {agency}, which is not an "
                "agency on record: onboard the producer again with an agent upload that "
                "has the Agency NPN, then invite again.",
            )
            continue
        address = (producer.email or "").strip()
        if not address:
            decided(
                NO_EMAIL_ON_RECORD,
                f"{who} has no email on record: fill in the Agent Email "
                "with an agent upload, then invite again.",
            )
            continue
        problem = email_address_problem(address)
        if problem is not None:
            decided(
                NO_EMAIL_ON_RECORD,
                f"{who}'s email on record {problem}: "
                "correct the Agent Email with an agent upload, then invite again.",
            )
            continue
        if not portal.registration_url:
            decided(
                NO_REGISTRATION_PAGE,
                f"{portal.label} has no registration_url, so an "
                f"invitation would have no link: set it in {PORTALS_FILE_HINT} and run "
                "load_reference_data_job.",
            )
            continue
        if seats_left[portal.portal_id] <= 0:
            decided(NO_PORTAL_SEATS_LEFT, no_seats_detail(who, portal))
            continue
        seats_left[portal.portal_id] -= 1
        decided(INVITED, f"{who} is invited to {portal.label}.", address)
    return decisions


def no_seats_detail(who: str, portal: Portal) -> str:
    return (
        f"{who}: {portal.label} has no seats left (all {portal.seats_total} taken by invited "
        f"or registered producers). Order more seats, raise seats_total in {PORTALS_FILE_HINT} "
        "and run load_reference_data_job, then invite again."
    )


# ============================================================================ summary
def summarize(decisions: Iterable[Decision]) -> dict[str, int]:
    """How many requests had each outcome, in OUTCOMES order, outcomes with none left out."""
    counts = Counter(d.outcome for d in decisions)
    return {outcome: counts[outcome] for outcome in OUTCOMES if counts[outcome]}
