"""One run of the daily at-risk digest: plan, record, send once, report. No Dagster here, so a
test (or a command) runs it as it is; `digest_asset.py` wires it into the daily sync.

1. In one transaction: give up digests an earlier run recorded but never handed to the mailer
   (it stopped in between; nothing left the machine), and, when the operator asks
   (`retell_unconfirmed`), the unconfirmed ones; take the lines that stopped being at risk
   out of the ledger; split the lines at risk now into new and already told
   (`digest.plan_digest`).
2. Nothing new, or nobody to tell (no `config/notifications.yaml`, or no recipients): nothing
   is sent and nothing recorded, so the first digest after recipients are added tells every
   line at risk.
3. Otherwise the email is written, then recorded with the lines it tells (one transaction: if
   another run recorded one of them meanwhile, the plan is made again), claimed, sent, and
   marked sent.

Exactly once per change, as the portal invitations (assets/portal/service.py):
- the mailer says it certainly did not take the digest (`MailNotSent`): the digest is given up
  and its lines leave the ledger; the next run tells them (if still at risk);
- the outcome is unknown (`MailOutcomeUnknown`, or the mailer failed some other way after the
  message may have left): the digest stays "unconfirmed" and its lines stay told. It is never
  resent by itself. The operator checks whether it arrived; if not, runs the digest with
  `retell_unconfirmed` (docs/notifications.md), which gives it up and tells its lines again.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from assets.compliance import notifications_store as store
from assets.compliance.digest import AtRiskLine, DigestNotWritten, DigestPlan, plan_digest
from assets.compliance.digest import digest_email as write_digest_email
from assets.compliance.notifications_config import NOTIFICATIONS_FILE, DigestSettings
from resources.mailer import MailNotSent, MailOutcomeUnknown

# An unconfirmed or recorded digest younger than this may still be in the hands of another
# run (an SMTP conversation times out well under a minute): it is left alone.
UNCONFIRMED_AFTER = dt.timedelta(minutes=15)
# Runs racing to record the same lines: each loses at most once per winner.
_PLAN_ATTEMPTS = 3

# Why a run sent nothing (DigestRun.outcome).
SENT = "sent"
NO_SETTINGS = "not sent: no config/notifications.yaml"
NO_RECIPIENTS = "not sent: no recipients in config/notifications.yaml"
NOTHING_NEW = "not sent: nothing became at risk since the last digest"
NOT_SENT = "not sent: the mailer did not take it"
UNCONFIRMED = "unconfirmed: handed to the mailer, no confirmation came"
NOT_WRITTEN = "not sent: the email could not be written"
TAKEN_ELSEWHERE = "not sent: another run is sending these lines"

ABANDONED_REASON = (
    "abandoned: recorded but never handed to the mailer (the run stopped); its lines are told "
    "by a later digest"
)
RETOLD_REASON = (
    "unconfirmed, released by the operator (retell_unconfirmed): its lines are told again"
)


class Sender(Protocol):
    """What the run needs of a mailer (resources/mailer.py's `Mailer`)."""

    def send(self, message: EmailMessage) -> str: ...


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class DigestRun:
    """What one run did. `failure`: what went wrong sending, for the operator (None when
    nothing did); `unconfirmed`: digests awaiting the operator's check, this run's included."""

    outcome: str
    plan: DigestPlan
    as_of: dt.date | None = None
    recipients: int = 0
    digest_id: str | None = None
    message_id: str | None = None
    subject: str | None = None
    failure: str | None = None
    abandoned: int = 0  # digests given up: recorded, never handed to the mailer
    retold: int = 0  # unconfirmed digests the operator released
    unconfirmed: list[str] = field(default_factory=list)

    @property
    def sent(self) -> bool:
        return self.outcome == SENT

    @property
    def new_lines(self) -> list[AtRiskLine]:
        return self.plan.new


def _prepare(
    engine: Engine, now: dt.datetime, retell_unconfirmed: bool, unconfirmed_after: dt.timedelta
) -> tuple[DigestPlan, dt.date | None, int, int]:
    """Step 1 (module docstring), one transaction: (plan, as-of, abandoned, retold)."""
    abandoned = retold = 0
    with engine.begin() as connection:
        for digest in store.open_digests(connection):
            last_touched = digest.send_started_at or digest.recorded_at
            if last_touched >= now - unconfirmed_after:
                continue  # perhaps still in another run's hands
            if not digest.unconfirmed:
                store.release_digest(connection, digest.digest_id, ABANDONED_REASON)
                abandoned += 1
            elif retell_unconfirmed:
                store.release_digest(connection, digest.digest_id, RETOLD_REASON)
                retold += 1
        plan = plan_digest(store.read_at_risk_lines(connection), store.read_told(connection))
        store.forget_lines(connection, plan.recovered)
        as_of = store.standing_as_of(connection)
    return plan, as_of, abandoned, retold


def _unconfirmed(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return [d.digest_id for d in store.open_digests(connection) if d.unconfirmed]


def send_at_risk_digest(
    engine: Engine,
    mailer: Sender,
    settings: DigestSettings | None,
    *,
    run_id: str | None = None,
    retell_unconfirmed: bool = False,
    clock: Callable[[], dt.datetime] = utc_now,
    unconfirmed_after: dt.timedelta = UNCONFIRMED_AFTER,
) -> DigestRun:
    """Tell the recipients what became at risk since the last digest (module docstring)."""
    for _attempt in range(_PLAN_ATTEMPTS):
        plan, as_of, abandoned, retold = _prepare(
            engine, clock(), retell_unconfirmed, unconfirmed_after
        )
        run = DigestRun(outcome=NOTHING_NEW, plan=plan, as_of=as_of)
        run.abandoned, run.retold = abandoned, retold
        if settings is None or not settings.recipients or not plan.new:
            if settings is None:
                run.outcome = NO_SETTINGS
            elif not settings.recipients:
                run.outcome = NO_RECIPIENTS
            run.unconfirmed = _unconfirmed(engine)
            return run
        run.recipients = len(settings.recipients)
        try:
            message = write_digest_email(
                recipients=settings.recipients,
                sender=settings.sender,
                subject_prefix=settings.subject_prefix,
                new_lines=plan.new,
                still_count=len(plan.still_at_risk),
                as_of=as_of,
            )
        except DigestNotWritten as error:
            run.outcome, run.failure = NOT_WRITTEN, f"{error}; check {NOTIFICATIONS_FILE}"
            run.unconfirmed = _unconfirmed(engine)
            return run
        run.subject = str(message["Subject"])
        digest_id = uuid.uuid4().hex
        try:
            with engine.begin() as connection:
                store.record_digest(
                    connection,
                    digest_id=digest_id,
                    lines=plan.new,
                    recipients=settings.recipients,
                    subject=run.subject,
                    now=clock(),
                    run_id=run_id,
                )
        except IntegrityError:
            continue  # another run recorded some of these lines meanwhile: plan again
        run.digest_id = digest_id
        _send(engine, mailer, message, run, clock)
        run.unconfirmed = _unconfirmed(engine)
        return run
    run = DigestRun(outcome=TAKEN_ELSEWHERE, plan=plan, as_of=as_of)
    run.unconfirmed = _unconfirmed(engine)
    return run


def _send(
    engine: Engine,
    mailer: Sender,
    message: EmailMessage,
    run: DigestRun,
    clock: Callable[[], dt.datetime],
) -> None:
    """Claim, send, record the recorded digest `run.digest_id`; fills in `run`'s outcome."""
    digest_id = str(run.digest_id)
    with engine.begin() as connection:
        claimed = store.claim_for_sending(connection, digest_id, clock())
    if not claimed:
        run.outcome = TAKEN_ELSEWHERE
        return
    try:
        message_id = mailer.send(message)
    except MailNotSent as error:
        with engine.begin() as connection:
            store.release_digest(connection, digest_id, f"not sent: {error}")
        run.outcome = NOT_SENT
        fix = (
            f" (refused for good: check the recipients in {NOTIFICATIONS_FILE})"
            if error.recipient_refused or error.message_refused
            else ""
        )
        run.failure = f"the at-risk digest was not sent: {error}{fix}"
        return
    except MailOutcomeUnknown as error:
        run.outcome, run.failure = UNCONFIRMED, str(error)
        return
    except Exception as error:
        # Not sorted into "not sent" or "maybe sent": the message may have left, so the
        # digest stays unconfirmed (never resent by itself) and the run says what happened.
        run.outcome = UNCONFIRMED
        run.failure = f"the mailer failed unexpectedly ({type(error).__name__}: {error})"
        return
    with engine.begin() as connection:
        store.mark_sent(connection, digest_id, clock(), message_id)
    run.outcome, run.message_id = SENT, message_id
