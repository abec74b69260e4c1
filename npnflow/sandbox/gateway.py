"""NIPR Gateway real-time service: appointments and terminations, recorded and answered.

Request: `<NIPR>` with up to 100 `<TRANSACTION>` elements laid out as in NIPR's Postman sample
(TRANS_HEAD/STATE_CODE and TRANSACTION_TYPE, CUSTOMER + CUST_BATCH + CUST_TRANS as the
submitter's transaction key, APPLICANT named by NPN or by LICENSE_KEY, APPOINTER/COCODE,
LICENSE/LOA/LOA_CODE, LICENSE/DATE_EFFECTIVE yyyymmdd, ENTITY, PAYMENT, STATE_FEE, TRANS_FEE).
A submitted transaction missing any of what every NIPR sample request carries is refused with
ERROR 3002 naming its key (`missing_elements`), as NIPR would refuse it; the order of elements
is not checked (NIPR reads its XML by element name). An applicant without an NPN (NIPR's sample
names a firm by LICENSE_KEY and TAX_NUM) is looked up by TAX_NUM among the world's firms.

NIPR's transaction layout is not public, so these are **sandbox conventions**:

- TRANSACTION_TYPE 1 = appointment (as in NIPR's sample, which appoints for an LOA),
  2 = termination. A termination may name a reason in TERMINATION_REASON (anywhere under the
  TRANSACTION); it is recorded, not checked. Any other type is refused (ERROR 3003).
- Replies echo each transaction with NIPR's additions, children in alphabetical order as NIPR's
  replies have them: NIPR_TRANS (NIPR's id), ASSUMED_STATE_FEE, TRANS_STATUS, VALID, and under
  LICENSE either
  * INT_RESPONSE (COMMENT_CODE 10003 "Transaction has been sent to state for review",
    TRANS_STATUS SR) while the state reviews it, or
  * the final RESPONSE: approved = APPROVED Y, COMMENT_CODE 0 plus a second RESPONSE
    10007 "Passed business rule processing.", TRANS_STATUS PC, VALID P; refused = APPROVED N
    with one of the comment codes below, TRANS_STATUS PC, VALID F.
- Refusals (decided from the sandbox world as of today): 10101 producer not found;
  10102 no active license in the state; 10103 resident license not active (for a
  non-resident license); 10104 the license lacks an active line for that LOA_CODE;
  10105 already appointed with that company for that line; 10106 (termination) no such
  active appointment.
- ERROR replies (`<NIPR><ERROR><ERROR_CODE/><DESCRIPTION/><DATE_STAMP/><TIME_STAMP/>`):
  3999 + 20001 duplicate (as NIPR), 3000 more than 100 transactions (nothing recorded),
  3001 unreadable XML / DOCTYPE (HTTP 400), 3002 a required element is missing (the sandbox's
  own choice of code: "Transaction N (Cust Batch: X; Cust Trans Y): missing A, B."),
  3003 unsupported TRANSACTION_TYPE, 3004 polled transaction not found. Only new, complete
  transactions are recorded; a duplicate only bumps the original's `times_received`.

Intermediate responses: a deterministic share (`intermediate_fraction`, by a hash of the
transaction key) is first answered with INT_RESPONSE; it resolves after `polls_to_resolve`
further requests by the same user (any POST counts as one poll round). The one-to-many
endpoint (`/realtime`) appends resolved-but-undelivered final responses for earlier
transactions of the customers in the request (all of the user's customers for an empty
`<NIPR/>` poll) and delivers each once; the one-to-one endpoint (`/niprgw`) never does. A
TRANSACTION without the filing (none of APPLICANT, APPOINTER, LICENSE, ENTITY, AUTHORIZATION:
NIPR's "Polling" sample carries only the key, PAYMENT and TRANS_HEAD) is a poll for that key and
returns its current response. `lookup()` (the sandbox's status endpoint) returns the current
response of recorded transactions without counting as a poll, so a client that crashed can ask
what NIPR already has.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from lxml import etree

from npnflow.sandbox import gateway_answers
from npnflow.sandbox.generator import World
from npnflow.sandbox.records import Producer
from npnflow.sandbox.xmlutil import (
    UnsafeXmlError,
    child_text,
    local,
    parse_untrusted,
    sub,
    to_bytes,
)

MAX_TRANSACTIONS = 100
# The sandbox's own code for a transaction that lacks a required element (NIPR's layout
# document is not public; NIPR's published samples show only 3999, 20001 and 10003/10007).
MISSING_CODE = "3002"
# Elements every NIPR sample request carries under TRANSACTION, besides TRANS_HEAD and
# APPLICANT (checked apart: APPLICANT is named by NPN or by its LICENSE_KEY); each must be
# present and not empty (docs/submission.md, "The Gateway request").
REQUIRED_PATHS = (
    "CUSTOMER",
    "CUST_BATCH",
    "CUST_TRANS",
    "APPOINTER/COCODE",
    "ENTITY",
    "LICENSE/DATE_EFFECTIVE",
    "PAYMENT/ACCOUNT_ID",
    "PAYMENT/PAYMENT_TYPE",
    "STATE_FEE",
    "TRANS_FEE",
)
# Elements of a filing: a TRANSACTION with none of them is a poll for its key.
FILING_ELEMENTS = frozenset({"APPLICANT", "APPOINTER", "LICENSE", "ENTITY", "AUTHORIZATION"})
KINDS = {"1": "appointment", "2": "termination"}
INTERMEDIATE_COMMENT = "Transaction has been sent to state for review"
FIRST_NIPR_TRANS = 98_200_000


@dataclass
class GatewayTransaction:
    seq: int
    username: str
    customer: str
    cust_batch: str
    cust_trans: str
    transaction_type: str
    kind: str
    npn: str
    state: str
    cocode: str
    loa_codes: list[str]
    effective_date: str
    termination_reason: str
    received_at: datetime
    nipr_trans: int
    request: etree._Element
    approved: bool
    comment_code: str
    comments: str
    intermediate: bool
    times_received: int = 1
    polls: int = 0
    resolved_at: datetime | None = None
    delivered: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.customer, self.cust_batch, self.cust_trans)

    @property
    def pending(self) -> bool:
        return self.intermediate and self.resolved_at is None

    @property
    def status(self) -> str:
        if self.pending:
            return "pending_state_review"
        return "approved" if self.approved else "rejected"

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "customer": self.customer,
            "cust_batch": self.cust_batch,
            "cust_trans": self.cust_trans,
            "npn": self.npn,
            "state": self.state,
            "cocode": self.cocode,
            "loa_code": self.loa_codes[0] if self.loa_codes else "",
            "loa_codes": list(self.loa_codes),
            "kind": self.kind,
            "transaction_type": self.transaction_type,
            "effective_date": self.effective_date,
            "termination_reason": self.termination_reason,
            "received_at": self.received_at.isoformat(),
            "times_received": self.times_received,
            "nipr_trans": self.nipr_trans,
            "status": self.status,
            "intermediate": self.intermediate,
            "polls": self.polls,
            "final_delivered": self.delivered,
            "comment_code": self.comment_code if not self.pending else "10003",
            "comments": self.comments if not self.pending else INTERMEDIATE_COMMENT,
            # The TRANSACTION as received, so a test can check what a client sent.
            "request": to_bytes(self.request, declaration=False).decode("utf-8"),
        }


def decide(
    producer: Producer | None, kind: str, state: str, cocode: str, loa_codes: list[str], today: date
) -> tuple[bool, str, str]:
    """NIPR's answer for one transaction: (approved, comment code, comment)."""
    if producer is None:
        return False, "10101", "Producer was not found in the PDB."
    if kind == "termination":
        appointed = [
            a
            for a in producer.appointments
            if a.state == state
            and a.cocode == cocode
            and a.is_appointed
            and (not loa_codes or str(a.loa_code) in loa_codes)
        ]
        if not appointed:
            return (
                False,
                "10106",
                (f"No active appointment with company {cocode} in {state} to terminate."),
            )
        return True, "0", "Sandbox auto response. Termination approved."
    licenses = [
        lic
        for lic in producer.licenses
        if lic.state == state and lic.is_active and lic.expiration_date >= today
    ]
    if not licenses:
        return False, "10102", f"Producer does not hold an active license in {state}."
    if not any(lic.is_resident for lic in licenses):
        resident = [
            lic
            for lic in producer.licenses
            if lic.is_resident and lic.is_active and lic.expiration_date >= today
        ]
        if not resident:
            return False, "10103", "Producer's resident license is not active."
    for code in loa_codes:
        if not any(loa.is_active and str(loa.code) == code for lic in licenses for loa in lic.loas):
            return (
                False,
                "10104",
                (
                    f"Producer's {state} license does not include an active "
                    f"line of authority {code}."
                ),
            )
        if any(
            a.state == state and a.cocode == cocode and str(a.loa_code) == code and a.is_appointed
            for a in producer.appointments
        ):
            return (
                False,
                "10105",
                (
                    f"Producer is already appointed by company {cocode} for "
                    f"line of authority {code} in {state}."
                ),
            )
    return True, "0", "Sandbox auto response. Approved."


class GatewayService:
    def __init__(
        self,
        world: World,
        now: Callable[[], datetime],
        intermediate_fraction: float = 0.2,
        polls_to_resolve: int = 2,
        answers_file: Path | None = None,
    ) -> None:
        self.world = world
        self.now = now
        self.intermediate_fraction = intermediate_fraction
        self.polls_to_resolve = polls_to_resolve
        self._lock = threading.RLock()
        # What an earlier sandbox of the data folder's world accepted (gateway_answers.py).
        self.answers_file = answers_file
        self._earlier_answers = gateway_answers.read_answers(answers_file)
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.transactions: list[GatewayTransaction] = []
            self.by_key: dict[tuple[str, str, str], GatewayTransaction] = {}

    def log(self) -> list[dict[str, Any]]:
        with self._lock:
            return [t.as_dict() for t in self.transactions]

    # ------------------------------------------------------------------ replies
    def _stamp(self) -> tuple[str, str]:
        now = self.now()
        return now.strftime("%Y%m%d"), now.strftime("%H%M%S") + f"{now.microsecond // 1000:03d}"

    def _error(self, parent: etree._Element, code: str, description: str) -> None:
        day, time = self._stamp()
        error = sub(parent, "ERROR")
        sub(error, "ERROR_CODE", code)
        sub(error, "DESCRIPTION", description)
        sub(error, "DATE_STAMP", day)
        sub(error, "TIME_STAMP", time)

    def error_reply(self, code: str, description: str) -> bytes:
        root = etree.Element("NIPR")
        self._error(root, code, description)
        return _document(root)

    def _response_element(self, t: GatewayTransaction) -> etree._Element:
        tx = copy.deepcopy(t.request)
        license_element = next((c for c in tx if local(c.tag) == "LICENSE"), None)
        if license_element is None:
            license_element = sub(tx, "LICENSE")
        day = t.received_at.strftime("%Y%m%d")
        time = t.received_at.strftime("%H%M%S") + f"{t.received_at.microsecond // 1000:03d}"
        if t.pending:
            response = sub(license_element, "INT_RESPONSE")
            sub(response, "DATE_STAMP", day)
            message = sub(response, "RESP_MESSAGE")
            sub(message, "ACTION_REQD", "N")
            sub(message, "COMMENTS", INTERMEDIATE_COMMENT)
            sub(message, "COMMENT_CODE", "10003")
            sub(response, "TIME_STAMP", time)
            trans_status, valid = "SR", "P"
        else:
            resolved = t.resolved_at or t.received_at
            final_day = resolved.strftime("%Y%m%d")
            final_time = resolved.strftime("%H%M%S") + f"{resolved.microsecond // 1000:03d}"
            response = sub(license_element, "RESPONSE")
            sub(response, "APPROVED", "Y" if t.approved else "N")
            if t.approved and t.effective_date:
                sub(response, "DATE_EFFECTIVE", t.effective_date)
            sub(response, "DATE_STAMP", final_day)
            message = sub(response, "RESP_MESSAGE")
            sub(message, "COMMENTS", t.comments)
            sub(message, "COMMENT_CODE", t.comment_code)
            sub(response, "TIME_STAMP", final_time)
            if t.approved:
                rules = sub(license_element, "RESPONSE")
                sub(rules, "APPROVED", "Y")
                sub(rules, "DATE_STAMP", day)
                message = sub(rules, "RESP_MESSAGE")
                sub(message, "COMMENTS", "Passed business rule processing.")
                sub(message, "COMMENT_CODE", "10007")
                sub(rules, "TIME_STAMP", time)
            trans_status, valid = "PC", "P" if t.approved else "F"
        if next((c for c in tx if local(c.tag) == "ASSUMED_STATE_FEE"), None) is None:
            sub(tx, "ASSUMED_STATE_FEE", child_text(tx, "STATE_FEE") or "0.00")
        sub(tx, "NIPR_TRANS", t.nipr_trans)
        sub(tx, "TRANS_STATUS", trans_status)
        sub(tx, "VALID", valid)
        _sort_children(license_element)
        _sort_children(tx)
        return tx

    # ------------------------------------------------------------------ requests
    def handle(self, body: bytes, username: str, one_to_many: bool = True) -> tuple[int, bytes]:
        try:
            root = parse_untrusted(body) if body.strip() else etree.Element("NIPR")
        except UnsafeXmlError as error:
            return 400, self.error_reply("3001", f"Request refused: {error}.")
        except etree.XMLSyntaxError as error:
            return 400, self.error_reply("3001", f"Request is not well-formed XML: {error}.")
        if local(root.tag) != "NIPR":
            return 400, self.error_reply("3001", "Request root element must be NIPR.")
        transactions = [c for c in root if local(c.tag) == "TRANSACTION"]
        if len(transactions) > MAX_TRANSACTIONS:
            return 200, self.error_reply(
                "3000",
                f"Request refused: {len(transactions)} transactions in one request; at "
                f"most {MAX_TRANSACTIONS} are accepted. No transaction was processed.",
            )
        with self._lock:
            self._poll_round(username)
            reply = etree.Element("NIPR")
            in_reply: set[int] = set()
            customers: set[str] = set()
            for position, tx in enumerate(transactions, start=1):
                self._one(tx, position, username, reply, in_reply, customers)
            if one_to_many:
                for t in self.transactions:
                    if (
                        t.username == username
                        and not t.pending
                        and not t.delivered
                        and t.seq not in in_reply
                        and (not transactions or t.customer in customers)
                    ):
                        reply.append(self._response_element(t))
                        t.delivered = True
            return 200, _document(reply)

    def _poll_round(self, username: str) -> None:
        now = self.now()
        for t in self.transactions:
            if t.username == username and t.pending:
                t.polls += 1
                if t.polls >= self.polls_to_resolve:
                    t.resolved_at = now

    def _one(
        self,
        tx: etree._Element,
        position: int,
        username: str,
        reply: etree._Element,
        in_reply: set[int],
        customers: set[str],
    ) -> None:
        customer = child_text(tx, "CUSTOMER")
        batch = child_text(tx, "CUST_BATCH")
        trans = child_text(tx, "CUST_TRANS")
        if not (customer and batch and trans):
            absent = [
                name
                for name, value in (
                    ("CUSTOMER", customer),
                    ("CUST_BATCH", batch),
                    ("CUST_TRANS", trans),
                )
                if not value
            ]
            self._error(
                reply,
                MISSING_CODE,
                f"Transaction {position}: CUSTOMER, CUST_BATCH and "
                f"CUST_TRANS are required; missing {', '.join(absent)}. "
                f"Transaction not recorded.",
            )
            return
        customers.add(customer)
        key = (customer, batch, trans)
        existing = self.by_key.get(key)
        # A poll carries the key without the filing itself (NIPR's "minimum required to poll"
        # sample: keys, PAYMENT, TRANS_HEAD); anything with an applicant, company or license is
        # a submission and must be complete.
        is_poll = not any(local(c.tag) in FILING_ELEMENTS for c in tx)
        if is_poll:
            if existing is None or existing.username != username:
                self._error(
                    reply,
                    "3004",
                    f"No transaction found for Customer id: {customer}; "
                    f"Cust Batch: {batch}; Cust Trans {trans}.",
                )
                return
            reply.append(self._response_element(existing))
            in_reply.add(existing.seq)
            if not existing.pending:
                existing.delivered = True
            return
        if existing is not None:
            existing.times_received += 1
            self._error(
                reply,
                "3999",
                (
                    f"Duplicate transaction : Transaction already exists.\n"
                    f"\tGateway transaction id: {existing.nipr_trans}\n"
                    f"\tCustomer id: {customer}\n"
                    f"\tCustomer transaction key - Cust Batch: {batch}; Cust Trans {trans}\n"
                    f"\tLine number of transaction in XML: {tx.sourceline or position}\n"
                    f"\tOrdinal position of transaction in XML: {position}."
                ),
            )
            self._error(
                reply,
                "20001",
                f"Transaction not received by NIPR : Cust Batch: {batch}; Cust Trans {trans}.",
            )
            return
        state = child_text(tx, "TRANS_HEAD", "STATE_CODE").upper()
        transaction_type = child_text(tx, "TRANS_HEAD", "TRANSACTION_TYPE")
        cocode = child_text(tx, "APPOINTER", "COCODE")
        missing = missing_elements(tx)
        if missing:
            self._error(
                reply,
                MISSING_CODE,
                f"Transaction {position} (Cust Batch: {batch}; Cust Trans "
                f"{trans}): missing {', '.join(missing)}. Transaction not "
                f"recorded.",
            )
            return
        npn = self._applicant_npn(tx)
        kind = KINDS.get(transaction_type)
        if kind is None:
            self._error(
                reply,
                "3003",
                f"Transaction {position} (Cust Batch: {batch}; Cust Trans "
                f"{trans}): unsupported TRANSACTION_TYPE "
                f"{transaction_type}; the sandbox accepts 1 (appointment) "
                f"and 2 (termination). Transaction not recorded.",
            )
            return
        license_element = next((c for c in tx if local(c.tag) == "LICENSE"), None)
        loa_codes = [
            child_text(loa, "LOA_CODE")
            for loa in (license_element if license_element is not None else [])
            if local(loa.tag) == "LOA" and child_text(loa, "LOA_CODE")
        ]
        reason = next(
            (e.text.strip() for e in tx.iter() if local(e.tag) == "TERMINATION_REASON" and e.text),
            "",
        )
        now = self.now()
        producer = self.world.producer(npn, as_of=now.date())
        approved, code, comments = decide(producer, kind, state, cocode, loa_codes, now.date())
        line = (npn, state, cocode)
        # NIPR knows what it accepted; the generated world never learns it (gateway_answers).
        if kind == "termination" and not approved and self._appointed(line, loa_codes):
            approved, code, comments = True, "0", "Sandbox auto response. Termination approved."
        digest = hashlib.sha256("\x1f".join(key).encode()).digest()
        intermediate = int.from_bytes(digest[:8], "big") / 2**64 < self.intermediate_fraction
        record = GatewayTransaction(
            seq=len(self.transactions) + 1,
            username=username,
            customer=customer,
            cust_batch=batch,
            cust_trans=trans,
            transaction_type=transaction_type,
            kind=kind,
            npn=npn,
            state=state,
            cocode=cocode,
            loa_codes=loa_codes,
            effective_date=child_text(tx, "LICENSE", "DATE_EFFECTIVE"),
            termination_reason=reason,
            received_at=now,
            nipr_trans=FIRST_NIPR_TRANS + len(self.transactions) + 1,
            request=copy.deepcopy(tx),
            approved=approved,
            comment_code=code,
            comments=comments,
            intermediate=intermediate,
            delivered=not intermediate,
        )
        self.transactions.append(record)
        self.by_key[key] = record
        if self.answers_file is not None and approved:
            gateway_answers.remember_answer(self.answers_file, kind, line, loa_codes, now)
        reply.append(self._response_element(record))
        in_reply.add(record.seq)

    def _appointed(self, line: tuple[str, str, str], loa_codes: list[str]) -> bool:
        """Whether the line's latest approved answer (here, or an earlier sandbox's) appoints."""
        answers = [*self._earlier_answers] + [
            (t.kind, (t.npn, t.state, t.cocode), set(t.loa_codes))
            for t in self.transactions
            if t.approved and not t.pending
        ]
        return gateway_answers.last_answer_is_appointment(answers, line, loa_codes)

    def _applicant_npn(self, tx: etree._Element) -> str:
        """The applicant's NPN; a firm named only by its TAX_NUM (FEIN) is found by it, as in
        NIPR's sample request. '' when neither names a producer of the world (answered 10101)."""
        npn = child_text(tx, "APPLICANT", "NPN")
        if npn:
            return npn
        tax_num = child_text(tx, "APPLICANT", "TAX_NUM")
        index = self.world.fein_to_index(tax_num) if tax_num else None
        return str(self.world.npn[index]) if index is not None else ""

    # ------------------------------------------------------------------ look-up
    def lookup(
        self, username: str, customer: str, cust_batch: str, cust_trans: str | None = None
    ) -> tuple[int, bytes]:
        """Current responses of recorded transactions (one, or a whole CUST_BATCH)."""
        with self._lock:
            found = [
                t
                for t in self.transactions
                if t.username == username
                and t.customer == customer
                and t.cust_batch == cust_batch
                and (cust_trans is None or t.cust_trans == cust_trans)
            ]
            if cust_trans is not None and not found:
                return 404, self.error_reply(
                    "3004",
                    f"No transaction found for Customer id: {customer}; Cust Batch: "
                    f"{cust_batch}; Cust Trans {cust_trans}.",
                )
            root = etree.Element("NIPR")
            for t in found:
                root.append(self._response_element(t))
            return 200, _document(root)


def missing_elements(tx: etree._Element) -> list[str]:
    """What a submitted TRANSACTION lacks of what every one of NIPR's sample requests carries
    (the Postman collection's Gateway / Real Time items), as paths; [] when complete. Presence
    only: NIPR's layout is XML read by element name, so the order of elements is not checked
    (our client keeps the sample's order; tests/unit/test_gateway_request.py holds it to it)."""
    missing = []
    if next((c for c in tx if local(c.tag) == "TRANS_HEAD"), None) is None:
        missing.append("TRANS_HEAD")
    else:
        missing += [
            f"TRANS_HEAD/{name}"
            for name in ("STATE_CODE", "TRANSACTION_TYPE")
            if not child_text(tx, "TRANS_HEAD", name)
        ]
    applicant = next((c for c in tx if local(c.tag) == "APPLICANT"), None)
    if applicant is None:
        missing.append("APPLICANT")
    elif not (child_text(applicant, "NPN") or child_text(applicant, "LICENSE_KEY", "LICENSE_ID")):
        missing.append("APPLICANT/NPN or APPLICANT/LICENSE_KEY")
    for path in REQUIRED_PATHS:
        if not child_text(tx, *path.split("/")):
            missing.append(path)
    return missing


def _sort_children(element: etree._Element) -> None:
    """NIPR's replies list children alphabetically (JAXB default); keep that order."""
    children = sorted(list(element), key=lambda c: local(c.tag))
    for child in list(element):
        element.remove(child)
    for child in children:
        element.append(child)
    for child in children:
        child.tail = None


def _document(root: etree._Element) -> bytes:
    return b'<?xml version="1.0" standalone="yes"?>\n' + to_bytes(root, declaration=False)
