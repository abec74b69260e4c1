"""NIPR Gateway XML: requests built from our transactions, replies read into per-key outcomes.

Pure (no I/O, no Dagster). Protocol code, so it lives in resources/ beside the Gateway client
(`resources/nipr_gateway.py`) that sends what it builds. Layout as in NIPR's own sample request
(the Postman collection's Gateway / Real Time items, kept as
tests/fixtures/nipr/gateway/realtime_request.xml; docs/submission.md lists each element and
where its value comes from) and DOMAIN.md section 2.2: `<NIPR>` holds up to 100 `<TRANSACTION>`s, each keyed by
CUSTOMER + CUST_BATCH (our batch_id) + CUST_TRANS (the transaction's idempotency key). The key is
what makes a resend recognisable, so it must be the same every time a transaction goes out.

Reading replies (untrusted input: no DTD, no entities, no network):
- a TRANSACTION with LICENSE/RESPONSE: final. Any APPROVED N -> Rejected with NIPR's COMMENTS
  and COMMENT_CODE; all Y -> Accepted. NIPR adds a second RESPONSE 10007 "Passed business rule
  processing" to approvals; the other one is the answer we keep.
- a TRANSACTION with LICENSE/INT_RESPONSE (10003): Pending State Review.
- a TRANSACTION with neither: NIPR has it (NIPR_TRANS) and has not answered: Submitted.
- ERROR elements are siblings of the TRANSACTIONs, not children. They are tied to a key through
  the "Cust Batch: X; Cust Trans Y" text NIPR (and the sandbox) put in the DESCRIPTION. 3999 and
  20001 = duplicate: NIPR already has it (Submitted, to be polled); 3004 = a poll for a key NIPR
  does not have; any other ERROR naming a key = NIPR refused that transaction (Error, final).
  An ERROR naming no key concerns the whole request: the caller treats every key without an
  answer as "outcome unknown".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from lxml import etree

from resources.safe_xml import has_doctype, safe_parser
from schemas.statuses import (
    ACCEPTED,
    ERROR,
    PENDING_STATE_REVIEW,
    REJECTED,
    SUBMITTED,
)

# Sandbox conventions (NIPR's layout document is not public): see npnflow/sandbox/gateway.py.
MAX_PER_REQUEST = 100  # NIPR: a Gateway request (or poll) holds at most 100 transactions
TRANSACTION_TYPES = {"appointment": "1", "termination": "2"}
DUPLICATE_CODES = frozenset({"3999", "20001"})
NOT_FOUND_CODE = "3004"
INTERMEDIATE_CODE = "10003"
BUSINESS_RULES_CODE = "10007"

TransactionKey = tuple[str, str]  # (CUST_BATCH, CUST_TRANS)

_PARSER = safe_parser(remove_comments=True, remove_pis=True)
# Fallback when the key is not one we sent: "Cust Batch: B; Cust Trans T" then ". ", ")" or end.
_KEY_TEXT = re.compile(
    r"Cust Batch:\s*(?P<batch>[^;]+?);\s*Cust Trans\s+(?P<trans>[^\s)]+?)\.?(?=[\s)]|$)"
)

_NIPR_TRANS_TEXT = re.compile(r"Gateway transaction id:\s*(\d+)")


class ReplyUnreadable(ValueError):
    """The reply is not a NIPR document we can read (not XML, a DOCTYPE, wrong root)."""


# ====================================================================== requests
# Codes NIPR's sample request carries (ADDRESS_CODE 2, COUNTRY_CODE 1, PHONE_CODE 2, NAME_CODE
# 1), taken as they are: NIPR's code lists are not public, and every NIPR sample (the request
# and the three saved replies) uses these values for a submitter's business address and phone.
NAME_CODE = "1"
ADDRESS_CODE = "2"
COUNTRY_CODE = "1"
PHONE_CODE = "2"
INDIVIDUAL, FIRM = "I", "F"  # APPLICANT/TYPE and NAME/TYPE, as in NIPR's samples
AGENT_TYPE_AGENCY = "Agency"  # transactions.agent_type of a firm applicant (schemas/uploads.py)


@dataclass(frozen=True)
class Submitter:
    """Who submits and pays: what only the customer knows, configured on the Gateway resource
    (resources/nipr_gateway.py). ENTITY is the id NIPR gave the submitting entity, PAYMENT the
    account NIPR bills (ACCOUNT_ID, PAYMENT_TYPE), AUTHORIZATION the person who authorises the
    filing. An empty value is left out of the request."""

    entity_id: str
    payment_account_id: str
    payment_type: str
    first_name: str = ""
    last_name: str = ""
    title: str = ""
    phone_number: str = ""
    address_line_1: str = ""
    city: str = ""
    state_code: str = ""
    zip_code: str = ""


@dataclass(frozen=True)
class GatewayTransaction:
    """One transaction as the Gateway needs it (a row of `transactions` plus producer and
    company data)."""

    idempotency_key: str  # CUST_TRANS
    kind: str  # appointment | termination
    npn: str
    state_code: str
    cocode: str
    loa_code: str | None = None
    license_class_code: str | None = None
    effective_date: date | None = None
    estimated_fee: Decimal | float | None = None  # STATE_FEE
    state_company_id: str | None = None
    fein: str | None = None
    termination_reason_code: str | None = None
    license_number: str | None = None  # the applicant's license in the state (LICENSE_ID)
    agent_type: str | None = None  # Producer (an individual) or Agency (a firm)
    first_name: str | None = None  # the applicant's; a firm has none
    last_name: str | None = None  # the applicant's, or the firm's name
    company_name: str | None = None  # the appointing company's
    nipr_fee: Decimal | float | None = None  # TRANS_FEE: NIPR's own transaction fee


def transaction_type(kind: str) -> str:
    try:
        return TRANSACTION_TYPES[kind]
    except KeyError:
        raise ValueError(
            f"unknown transaction kind {kind!r}; expected appointment or termination"
        ) from None


def _sub(parent: etree._Element, tag: str, text: object = None) -> etree._Element:
    element = etree.SubElement(parent, tag)
    if text is not None:
        element.text = str(text)
    return element


def _stamps(now: datetime) -> tuple[str, str]:
    return now.strftime("%Y%m%d"), now.strftime("%H%M%S") + f"{now.microsecond // 1000:03d}"


def _fee(value: Decimal | float | None) -> str:
    """A fee as NIPR's sample writes it ("25.00"); "0.00" when we hold none, as NIPR's sample
    sends TRANS_FEE (NIPR answers with the fee it charges)."""
    if value is None:
        return "0.00"
    return f"{Decimal(str(value)).quantize(Decimal('0.01'))}"


def _filled(value: str | None) -> str:
    return (value or "").strip()


def _name(parent: etree._Element, last: str, first: str, kind: str) -> None:
    name = _sub(parent, "NAME")
    _sub(name, "FIRM_OR_LAST_NAME", last)
    if first:
        _sub(name, "FIRST_NAME", first)
    _sub(name, "NAME_CODE", NAME_CODE)
    _sub(name, "TYPE", kind)


def _applicant(parent: etree._Element, tx: GatewayTransaction) -> None:
    """NPN identifies the applicant. TAX_NUM is left out: an individual's is the SSN, which
    npnflow keeps only encrypted and deliberately cannot read back (resources/ssn.py); a
    firm's FEIN is not held (the `agencies` table has none)."""
    kind = FIRM if tx.agent_type == AGENT_TYPE_AGENCY else INDIVIDUAL
    applicant = _sub(parent, "APPLICANT")
    if _filled(tx.license_number):
        key = _sub(applicant, "LICENSE_KEY")
        if _filled(tx.license_class_code):
            _sub(key, "LICENSE_CLASS", _filled(tx.license_class_code))
        _sub(key, "LICENSE_ID", _filled(tx.license_number))
    last = _filled(tx.last_name)
    if last:
        _name(applicant, last, _filled(tx.first_name) if kind == INDIVIDUAL else "", kind)
    if _filled(tx.npn):
        _sub(applicant, "NPN", _filled(tx.npn))
    _sub(applicant, "TYPE", kind)


def _appointer(parent: etree._Element, tx: GatewayTransaction) -> None:
    """The company. Its LICENSE_KEY (the company's license id in the state, which NIPR's sample
    carries beside STATE_COMPANY_ID) is left out: no table of ours holds it."""
    appointer = _sub(parent, "APPOINTER")
    _sub(appointer, "COCODE", tx.cocode)
    if _filled(tx.company_name):
        _name(appointer, _filled(tx.company_name), "", FIRM)
    if _filled(tx.state_company_id):
        _sub(appointer, "STATE_COMPANY_ID", _filled(tx.state_company_id))
    if _filled(tx.fein):
        _sub(appointer, "TAX_NUM", _filled(tx.fein).replace("-", ""))
    _sub(appointer, "TYPE", FIRM)


def _authorization(parent: etree._Element, submitter: Submitter) -> None:
    who = submitter
    if not any(
        map(
            _filled,
            (
                who.first_name,
                who.last_name,
                who.title,
                who.phone_number,
                who.address_line_1,
                who.city,
                who.state_code,
                who.zip_code,
            ),
        )
    ):
        return
    authorization = _sub(parent, "AUTHORIZATION")
    if any(map(_filled, (who.address_line_1, who.city, who.state_code, who.zip_code))):
        address = _sub(authorization, "ADDRESS")
        _sub(address, "ADDRESS_CODE", ADDRESS_CODE)
        for tag, value in (
            ("ADDR_LINE_1", who.address_line_1),
            ("CITY", who.city),
            ("COUNTRY_CODE", COUNTRY_CODE),
            ("STATE_CODE", _filled(who.state_code).upper()),
            ("ZIP_CODE", who.zip_code),
        ):
            if _filled(value):
                _sub(address, tag, _filled(value))
    if _filled(who.first_name):
        _sub(authorization, "FIRST_NAME", _filled(who.first_name))
    if _filled(who.last_name):
        _sub(authorization, "LAST_NAME", _filled(who.last_name))
    if _filled(who.phone_number):
        phone = _sub(authorization, "PHONE")
        _sub(phone, "PHONE_CODE", PHONE_CODE)
        _sub(phone, "PHONE_NUMBER", _filled(who.phone_number))
    if _filled(who.title):
        _sub(authorization, "TITLE", _filled(who.title))


def transaction_element(
    tx: GatewayTransaction,
    customer: str,
    cust_batch: str,
    now: datetime,
    submitter: Submitter | None = None,
) -> etree._Element:
    """One TRANSACTION. DATE_EFFECTIVE is the transaction's effective date, else today.

    Children at every level come in the order of NIPR's sample request, which is alphabetical
    (APPLICANT, APPOINTER, AUTHORIZATION, CUSTOMER, CUST_BATCH, CUST_TRANS, ENTITY, LICENSE,
    PAYMENT, STATE_FEE, TRANS_FEE, TRANS_HEAD). Elements the sample does not carry (APPLICANT/
    NPN, LICENSE/LOA, TERMINATION_REASON) go where that alphabetical order puts them, so the
    whole document keeps the sample's order. Without a submitter, ENTITY, PAYMENT and
    AUTHORIZATION are left out (NIPR, and the sandbox, refuse such a transaction).
    """
    element = etree.Element("TRANSACTION")
    _applicant(element, tx)
    _appointer(element, tx)
    if submitter is not None:
        _authorization(element, submitter)
    _sub(element, "CUSTOMER", customer)
    _sub(element, "CUST_BATCH", cust_batch)
    _sub(element, "CUST_TRANS", tx.idempotency_key)
    if submitter is not None and _filled(submitter.entity_id):
        _sub(element, "ENTITY", _filled(submitter.entity_id))
    license_element = _sub(element, "LICENSE")
    effective = tx.effective_date or now.date()
    _sub(license_element, "DATE_EFFECTIVE", effective.strftime("%Y%m%d"))
    if _filled(tx.license_class_code):
        _sub(license_element, "LICENSE_CLASS", _filled(tx.license_class_code))
    if _filled(tx.loa_code):
        loa = _sub(license_element, "LOA")
        _sub(loa, "LOA_CODE", _filled(tx.loa_code))
    if submitter is not None:
        _payment(element, submitter)
    _sub(element, "STATE_FEE", _fee(tx.estimated_fee))
    if tx.kind == "termination" and tx.termination_reason_code:
        _sub(element, "TERMINATION_REASON", tx.termination_reason_code)
    _sub(element, "TRANS_FEE", _fee(tx.nipr_fee))
    day, time = _stamps(now)
    head = _sub(element, "TRANS_HEAD")
    _sub(head, "DATE_STAMP", day)
    _sub(head, "STATE_CODE", (tx.state_code or "").upper())
    _sub(head, "TIME_STAMP", time)
    _sub(head, "TRANSACTION_TYPE", transaction_type(tx.kind))
    return element


def _payment(parent: etree._Element, submitter: Submitter) -> None:
    if not (_filled(submitter.payment_account_id) or _filled(submitter.payment_type)):
        return
    payment = _sub(parent, "PAYMENT")
    if _filled(submitter.payment_account_id):
        _sub(payment, "ACCOUNT_ID", _filled(submitter.payment_account_id))
    if _filled(submitter.payment_type):
        _sub(payment, "PAYMENT_TYPE", _filled(submitter.payment_type))


def _document(root: etree._Element) -> bytes:
    data: bytes = etree.tostring(root, encoding="UTF-8", xml_declaration=True)
    return data


def build_request(
    transactions: Sequence[GatewayTransaction],
    customer: str,
    cust_batch: str,
    now: datetime,
    submitter: Submitter | None = None,
) -> bytes:
    """The request document for one Gateway call (at most 100 transactions, one batch)."""
    if not 1 <= len(transactions) <= 100:
        raise ValueError(f"a Gateway request holds 1 to 100 transactions, not {len(transactions)}")
    keys = [t.idempotency_key for t in transactions]
    if len(set(keys)) != len(keys) or not all(keys):
        raise ValueError("every transaction needs its own, non-empty idempotency key")
    root = etree.Element("NIPR")
    for tx in transactions:
        root.append(transaction_element(tx, customer, cust_batch, now, submitter))
    return _document(root)


def build_poll(
    keys: Sequence[TransactionKey], customer: str, submitter: Submitter | None = None
) -> bytes:
    """NIPR's polling request: TRANSACTIONs with only the key fields (no APPLICANT), which
    return the current response of each key without submitting anything. NIPR's "minimum
    required to poll" sample also carries PAYMENT and a full TRANS_HEAD; we send PAYMENT (when
    configured) and TRANSACTION_TYPE, in the sample's order: a key alone names no state."""
    if not 1 <= len(keys) <= 100:
        raise ValueError(f"a poll holds 1 to 100 keys, not {len(keys)}")
    root = etree.Element("NIPR")
    for cust_batch, cust_trans in keys:
        element = _sub(root, "TRANSACTION")
        _sub(element, "CUSTOMER", customer)
        _sub(element, "CUST_BATCH", cust_batch)
        _sub(element, "CUST_TRANS", cust_trans)
        if submitter is not None:
            _payment(element, submitter)
        _sub(_sub(element, "TRANS_HEAD"), "TRANSACTION_TYPE", "1")
    return _document(root)


# ====================================================================== replies
@dataclass(frozen=True)
class GatewayError:
    code: str
    description: str


@dataclass(frozen=True)
class Outcome:
    """What NIPR said about one key. `status` uses our vocabulary; None = NIPR does not have
    it (3004 on a poll). `final` = Accepted, Rejected or Error."""

    key: TransactionKey
    status: str | None
    nipr_status: str | None = None
    nipr_message: str | None = None
    nipr_trans: str | None = None

    @property
    def found(self) -> bool:
        return self.status is not None

    @property
    def final(self) -> bool:
        return self.status in (ACCEPTED, REJECTED, ERROR)


# Which of two answers about the same key wins (a one-to-many reply may carry both an echo and
# an ERROR): the most informative one.
_RANK = {ACCEPTED: 5, REJECTED: 5, ERROR: 4, PENDING_STATE_REVIEW: 3, SUBMITTED: 2, None: 1}


@dataclass(frozen=True)
class GatewayReply:
    outcomes: Mapping[TransactionKey, Outcome] = field(default_factory=dict)
    # ERRORs that name no key: they concern the whole request.
    request_errors: tuple[GatewayError, ...] = ()

    def missing(self, keys: Iterable[TransactionKey]) -> list[TransactionKey]:
        """The keys this reply says nothing about: their outcome is unknown."""
        return [k for k in keys if k not in self.outcomes]

    def describe_request_errors(self) -> str:
        return "; ".join(f"ERROR {e.code}: {e.description}" for e in self.request_errors)


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(element: etree._Element | None, name: str) -> etree._Element | None:
    if element is None:
        return None
    return next((c for c in element if _local(c.tag) == name), None)


def _children(element: etree._Element | None, name: str) -> list[etree._Element]:
    return [] if element is None else [c for c in element if _local(c.tag) == name]


def _text(element: etree._Element | None, *path: str) -> str:
    current = element
    for name in path:
        current = _child(current, name)
    return "" if current is None else (current.text or "").strip()


def parse_document(body: bytes) -> etree._Element:
    """The NIPR root of a reply, parsed safely; ReplyUnreadable for anything else."""
    if not body or not body.strip():
        raise ReplyUnreadable("the reply is empty")
    if has_doctype(body):
        raise ReplyUnreadable("the reply declares a DOCTYPE; refused unread")
    try:
        root = etree.fromstring(body, parser=_PARSER)
    except etree.XMLSyntaxError as error:
        raise ReplyUnreadable(f"the reply is not well-formed XML ({error})") from None
    if _local(root.tag) != "NIPR":
        raise ReplyUnreadable(f"the reply's root element is {_local(root.tag)!r}, not NIPR")
    return root


def _message(comments: str, code: str) -> str:
    if comments and code:
        return f"{comments} (NIPR {code})"
    return comments or (f"NIPR {code}" if code else "")


def transaction_outcome(element: etree._Element) -> Outcome:
    """The outcome carried by one TRANSACTION element of a reply."""
    key = (_text(element, "CUST_BATCH"), _text(element, "CUST_TRANS"))
    nipr_trans = _text(element, "NIPR_TRANS") or None
    trans_status, valid = _text(element, "TRANS_STATUS"), _text(element, "VALID")
    nipr_status = "/".join(p for p in (trans_status, valid) if p) or None
    license_element = _child(element, "LICENSE")
    responses = _children(license_element, "RESPONSE")
    if responses:
        refused = [r for r in responses if _text(r, "APPROVED").upper() == "N"]
        if refused:
            answer, status = refused[0], REJECTED
        elif all(_text(r, "APPROVED").upper() == "Y" for r in responses):
            # Keep the state's answer, not the 10007 "Passed business rule processing" one.
            answer = next(
                (
                    r
                    for r in responses
                    if _text(r, "RESP_MESSAGE", "COMMENT_CODE") != BUSINESS_RULES_CODE
                ),
                responses[0],
            )
            status = ACCEPTED
        else:
            # A final response that is neither Y nor N: NIPR has it, we cannot call it; poll on.
            answer, status = responses[0], SUBMITTED
        message = _message(
            _text(answer, "RESP_MESSAGE", "COMMENTS"), _text(answer, "RESP_MESSAGE", "COMMENT_CODE")
        )
        return Outcome(key, status, nipr_status, message or None, nipr_trans)
    intermediate = _child(license_element, "INT_RESPONSE")
    if intermediate is not None:
        message = _message(
            _text(intermediate, "RESP_MESSAGE", "COMMENTS"),
            _text(intermediate, "RESP_MESSAGE", "COMMENT_CODE") or INTERMEDIATE_CODE,
        )
        return Outcome(key, PENDING_STATE_REVIEW, nipr_status, message, nipr_trans)
    return Outcome(key, SUBMITTED, nipr_status, None, nipr_trans)


def error_key(description: str, sent_keys: Iterable[TransactionKey] = ()) -> TransactionKey | None:
    """The key an ERROR's description names, or None.

    Keys we sent are matched literally (with a boundary, so T1 never matches T10's text): an
    idempotency key may hold characters a pattern would trip over. Otherwise the text's own
    "Cust Batch: X; Cust Trans Y" is read.
    """
    best: TransactionKey | None = None
    for cust_batch, cust_trans in sent_keys:
        needle = f"Cust Batch: {cust_batch}; Cust Trans {cust_trans}"
        start = description.find(needle)
        while start >= 0:
            end = start + len(needle)
            rest = description[end:]
            if not rest or rest[0] in " \t\r\n.);,":
                if best is None or len(cust_batch) + len(cust_trans) > len(best[0]) + len(best[1]):
                    best = (cust_batch, cust_trans)
                break
            start = description.find(needle, start + 1)
    if best is not None:
        return best
    match = _KEY_TEXT.search(description)
    if match:
        return (match["batch"].strip(), match["trans"].strip())
    return None


def _better(current: Outcome | None, new: Outcome) -> Outcome:
    if current is None or _RANK[new.status] > _RANK[current.status]:
        return new
    return current


def parse_reply(body: bytes, sent_keys: Iterable[TransactionKey] = ()) -> GatewayReply:
    """Read a Gateway reply (send, poll or look-up) into outcomes per (CUST_BATCH, CUST_TRANS).

    Raises ReplyUnreadable when the body is not a readable NIPR document.
    """
    root = parse_document(body)
    sent = list(sent_keys)
    outcomes: dict[TransactionKey, Outcome] = {}
    request_errors: list[GatewayError] = []
    for element in root:
        name = _local(element.tag)
        if name == "TRANSACTION":
            outcome = transaction_outcome(element)
            if not outcome.key[1]:
                continue  # no CUST_TRANS: nothing of ours (the sandbox's canned fault reply)
            outcomes[outcome.key] = _better(outcomes.get(outcome.key), outcome)
        elif name == "ERROR":
            error = GatewayError(_text(element, "ERROR_CODE"), _text(element, "DESCRIPTION"))
            key = error_key(error.description, sent)
            if key is None:
                request_errors.append(error)
                continue
            if error.code in DUPLICATE_CODES:
                found = _NIPR_TRANS_TEXT.search(error.description)
                outcome = Outcome(
                    key,
                    SUBMITTED,
                    f"ERROR {error.code}",
                    error.description,
                    found.group(1) if found else None,
                )
            elif error.code == NOT_FOUND_CODE:
                outcome = Outcome(key, None, f"ERROR {error.code}", error.description)
            else:
                outcome = Outcome(key, ERROR, f"ERROR {error.code}", error.description)
            previous = outcomes.get(key)
            if (
                previous is not None
                and previous.status == SUBMITTED
                and outcome.status == SUBMITTED
            ):
                # 3999 then 20001 for the same duplicate: keep 3999's text, which has NIPR_TRANS.
                continue
            outcomes[key] = _better(previous, outcome)
    return GatewayReply(outcomes, tuple(request_errors))
