"""NIPR Gateway XML: requests built from our transactions, replies read into per-key outcomes.

Pure (no I/O, no Dagster). Protocol code, so it lives in resources/ beside the Gateway client
(`resources/nipr_gateway.py`) that sends what it builds. Layout as in DOMAIN.md section 2.2 and the sandbox
(npnflow/sandbox/gateway.py): `<NIPR>` holds up to 100 `<TRANSACTION>`s, each keyed by
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
@dataclass(frozen=True)
class GatewayTransaction:
    """One transaction as the Gateway needs it (a row of `transactions` plus company data)."""

    idempotency_key: str  # CUST_TRANS
    kind: str  # appointment | termination
    npn: str
    state_code: str
    cocode: str
    loa_code: str | None = None
    license_class_code: str | None = None
    effective_date: date | None = None
    estimated_fee: Decimal | float | None = None
    state_company_id: str | None = None
    fein: str | None = None
    termination_reason_code: str | None = None


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


def _fee(value: Decimal | float | None) -> str | None:
    if value is None:
        return None
    return f"{Decimal(str(value)).quantize(Decimal('0.01'))}"


def transaction_element(
    tx: GatewayTransaction, customer: str, cust_batch: str, now: datetime
) -> etree._Element:
    """One TRANSACTION. DATE_EFFECTIVE is the transaction's effective date, else today."""
    element = etree.Element("TRANSACTION")
    day, time = _stamps(now)
    head = _sub(element, "TRANS_HEAD")
    _sub(head, "DATE_STAMP", day)
    _sub(head, "TIME_STAMP", time)
    _sub(head, "STATE_CODE", (tx.state_code or "").upper())
    _sub(head, "TRANSACTION_TYPE", transaction_type(tx.kind))
    _sub(element, "CUSTOMER", customer)
    _sub(element, "CUST_BATCH", cust_batch)
    _sub(element, "CUST_TRANS", tx.idempotency_key)
    applicant = _sub(element, "APPLICANT")
    _sub(applicant, "NPN", tx.npn)
    appointer = _sub(element, "APPOINTER")
    _sub(appointer, "COCODE", tx.cocode)
    if tx.state_company_id:
        _sub(appointer, "STATE_COMPANY_ID", tx.state_company_id)
    if tx.fein:
        _sub(appointer, "TAX_NUM", tx.fein.replace("-", ""))
    license_element = _sub(element, "LICENSE")
    if tx.license_class_code:
        _sub(license_element, "LICENSE_CLASS", tx.license_class_code)
    if tx.loa_code:
        loa = _sub(license_element, "LOA")
        _sub(loa, "LOA_CODE", tx.loa_code)
    effective = tx.effective_date or now.date()
    _sub(license_element, "DATE_EFFECTIVE", effective.strftime("%Y%m%d"))
    fee = _fee(tx.estimated_fee)
    if fee is not None:
        _sub(element, "STATE_FEE", fee)
    if tx.kind == "termination" and tx.termination_reason_code:
        _sub(element, "TERMINATION_REASON", tx.termination_reason_code)
    return element


def _document(root: etree._Element) -> bytes:
    data: bytes = etree.tostring(root, encoding="UTF-8", xml_declaration=True)
    return data


def build_request(
    transactions: Sequence[GatewayTransaction], customer: str, cust_batch: str, now: datetime
) -> bytes:
    """The request document for one Gateway call (at most 100 transactions, one batch)."""
    if not 1 <= len(transactions) <= 100:
        raise ValueError(f"a Gateway request holds 1 to 100 transactions, not {len(transactions)}")
    keys = [t.idempotency_key for t in transactions]
    if len(set(keys)) != len(keys) or not all(keys):
        raise ValueError("every transaction needs its own, non-empty idempotency key")
    root = etree.Element("NIPR")
    for tx in transactions:
        root.append(transaction_element(tx, customer, cust_batch, now))
    return _document(root)


def build_poll(keys: Sequence[TransactionKey], customer: str) -> bytes:
    """NIPR's polling request: TRANSACTIONs with only the key fields (no APPLICANT), which
    return the current response of each key without submitting anything."""
    if not 1 <= len(keys) <= 100:
        raise ValueError(f"a poll holds 1 to 100 keys, not {len(keys)}")
    root = etree.Element("NIPR")
    for cust_batch, cust_trans in keys:
        element = _sub(root, "TRANSACTION")
        _sub(_sub(element, "TRANS_HEAD"), "TRANSACTION_TYPE", "1")
        _sub(element, "CUSTOMER", customer)
        _sub(element, "CUST_BATCH", cust_batch)
        _sub(element, "CUST_TRANS", cust_trans)
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
