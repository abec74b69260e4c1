"""PDB Alerts web service (SOAP 1.1, replies framed as MTOM), over the sandbox's world.

Methods (the SOAP body's first element names the method; the SOAPAction header is only used
when the body is empty, as in NIPR's Postman sample for retrieveAllSubscriptions):
addSubscription, editSubscription, retrieveAllSubscriptions, removeSubscription, addTargets,
removeTargets, removeAllTargets, retrieveTargets, receiveSpecificReport,
receiveSpecificReportForSubscription. Subscriptions and targets live in memory.

Report rules: the report for day D lists the targets that changed on D (the generator's daily
change model), each changed category resent whole for that state, filtered by the
subscriptions' alert types and states. As NIPR documents, the data is the producer's *current*
data (as of the sandbox's today), so reports can be fetched late or out of order.
Dates: D after today, or today before the publish hour -> fault 21 RUN_NOT_FINISHED; a Sunday
-> fault 22 NO_ALERTS_RUN_TODAY; more than 14 days back or not yyyy-mm-dd -> fault 20
INVALID_DATE.

Faults. NIPR's WSDL (pdb-alerts-industry-ws.wsdl) declares the fault detail as the element
`PdbAlertsFaultType` with children `message` (string) and `errorCode` (int); NIPR's document
lists what each code means. The sandbox answers HTTP 500 (as Apache CXF does for any SOAP
fault) with this envelope, framed as MTOM like every reply:

    <soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">
      <soap:Body>
        <soap:Fault>
          <faultcode>soap:Server</faultcode>
          <faultstring>The requested report is not available or complete.</faultstring>
          <detail>
            <ns2:PdbAlertsFaultType xmlns:ns2="https://pdb-services.nipr.com/pdb-alerts-industry-services/industry-ws">
              <ns2:message>The requested report is not available or complete.</ns2:message>
              <ns2:errorCode>21</ns2:errorCode>
            </ns2:PdbAlertsFaultType>
          </detail>
        </soap:Fault>
      </soap:Body>
    </soap:Envelope>

The faultstring carries the message only, as the WSDL gives nothing else, so a client must
read `errorCode` to tell 21 (retry later) from 22 (no run today). With `mtom_faults=False`
a fault is answered as plain text/xml instead; with `inline_reports=True` a report is sent as
base64 text inside `alertsReport` (the WSDL's base64Binary) rather than as an attachment.
Malformed requests get faultcode soap:Client with GenericFault (4). Limits: at most `max_targets` (10,000) targets per
subscription, else GenericFault 4 "Subscription target limit exceeded" and nothing is added.
All inputs invalid -> ValidProducerFault 9 (otherwise invalid ones come back in
invalidInputList, "Entity was not found" / "Invalid format").

An account without subscriptions gets fault 14 SUBSCRIPTION_NONEXISTENT from
retrieveAllSubscriptions (the WSDL's subscriptionList holds at least one subscriptionData).
Reply shapes NIPR does not publish are the sandbox's own: retrieveAllSubscriptions returns one
`subscriptionList` per subscription mirroring `subscriptionInputData` plus `targetCount`;
retrieveTargets returns `targetList/npn`; void methods return `<empty/>` as in NIPR's sample.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from lxml import etree

from npnflow.sandbox import mtom
from npnflow.sandbox.alerts_report import ReportEntry, render_report
from npnflow.sandbox.generator import World
from npnflow.sandbox.records import CATEGORIES
from npnflow.sandbox.xmlutil import child_text, local, parse_untrusted, sub, to_bytes

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
IND_NS = "https://pdb-services.nipr.com/pdb-alerts-industry-services/industry-ws"
ALERT_TYPES = ("LICENSING", "RIRS", "DEMOGRAPHICS", "APPOINTMENTS")
BACKDATE_DAYS = 14
# A response element with its MTOM attachments, (content id, bytes) each.
Attached = tuple[etree._Element, list[tuple[str, bytes]]]

FAULTS: dict[int, tuple[str, str]] = {
    1: ("UserAuthenticationFault", "User failed authentication."),
    4: ("GenericFault", "A fault has occurred"),
    5: ("ReportUnavailableFault", "There are no alerts reports available for this subscriber."),
    7: ("InputFormatFault", "Please populate the input format."),
    8: ("TargetInputFault", "Please provide a list of targets to input."),
    9: ("ValidProducerFault", "None of your input resolved to a valid insurance producer."),
    10: ("InvalidAllStatesFault", "If you want ALL states, please remove all other state entries."),
    11: (
        "InvalidStateEntryFault",
        "One of the state list entries is invalid.  Please remove or correct the invalid entry.",
    ),
    12: (
        "SUBSCRIPTION_NAME_NOT_UNIQUE",
        "A subscription with this name already exists for this subscriber. Please provide a "
        "unique one.",
    ),
    13: ("CATEGORY_REQUIRED", "Please provide at least one Alert Type."),
    14: ("SUBSCRIPTION_NONEXISTENT", "There are no existing subscriptions with this name."),
    15: ("SUBSCRIPTION_NAME_EMPTY", "Please provide a subscription name."),
    16: ("EMAIL_EMPTY", "Please provide an email for your new subscription."),
    17: ("STATELIST_EMPTY", "Please provide at least one state for your new subscription."),
    18: (
        "AFFILIATIONLIST_EMPTY",
        "Please provide at least one affiliation for your new subscription",
    ),
    19: ("STATELIST_INVALID", "The state list contains an invalid entry."),
    20: ("INVALID_DATE", "The date provided was invalid."),
    21: ("RUN_NOT_FINISHED", "The requested report is not available or complete."),
    22: ("NO_ALERTS_RUN_TODAY", "There are no alerts scheduled for the day."),
}

# Methods by lower-cased name (SOAPAction values in NIPR's documentation vary in case).
METHODS = (
    "addSubscription",
    "editSubscription",
    "retrieveAllSubscriptions",
    "removeSubscription",
    "addTargets",
    "removeTargets",
    "removeAllTargets",
    "retrieveTargets",
    "receiveSpecificReport",
    "receiveSpecificReportForSubscription",
)
MUTATING = {
    "addSubscription",
    "editSubscription",
    "removeSubscription",
    "addTargets",
    "removeTargets",
    "removeAllTargets",
}
_BY_LOWER = {m.lower(): m for m in METHODS}


class AlertsFault(Exception):
    def __init__(self, code: int, detail: str | None = None, client: bool = False) -> None:
        name, message = FAULTS[code]
        super().__init__(f"{name}: {detail or message}")
        self.code, self.name, self.message, self.client = code, name, detail or message, client


@dataclass
class Subscription:
    name: str
    email: str
    alert_types: list[str]
    states: list[str] | None  # None: all states
    affiliations: str  # None | All | specific
    targets: dict[str, datetime] = field(default_factory=dict)  # npn -> added at


@dataclass
class SoapReply:
    status: int
    content_type: str
    body: bytes


def method_of(body: bytes, soap_action: str | None) -> str | None:
    """Which method a request calls, without side effects (for fault matching and routing)."""
    try:
        root = parse_untrusted(body) if body.strip() else None
    except Exception:
        root = None
    if root is not None:
        soap_body = next((c for c in root if local(c.tag) == "Body"), None)
        call = next((c for c in soap_body if local(c.tag)), None) if soap_body is not None else None
        if call is not None:
            return _BY_LOWER.get(local(call.tag).lower(), local(call.tag))
    if soap_action:
        return _BY_LOWER.get(soap_action.strip().strip('"').rsplit("/", 1)[-1].lower())
    return None


class AlertsService:
    def __init__(
        self,
        world: World,
        now: Callable[[], datetime],
        publish_hour: int = 10,
        max_targets: int = 10_000,
        mtom_faults: bool = True,
        inline_reports: bool = False,
    ) -> None:
        self.world = world
        self.now = now
        self.publish_hour = publish_hour
        self.max_targets = max_targets
        # NIPR's sample faults come MTOM-framed like every reply; False answers a fault as
        # plain text/xml instead, so a client is tested against both framings.
        self.mtom_faults = mtom_faults
        # NIPR's samples attach the report (xop:Include); the WSDL also allows it inline as
        # base64 text, which True serves (still inside an MTOM reply, as CXF frames every one).
        self.inline_reports = inline_reports
        self.subscriptions: dict[str, Subscription] = {}
        self._lock = threading.RLock()

    def reset(self) -> None:
        with self._lock:
            self.subscriptions.clear()

    # ------------------------------------------------------------------ entry point
    def handle(self, body: bytes, soap_action: str | None) -> SoapReply:
        try:
            try:
                root = parse_untrusted(body) if body.strip() else None
            except Exception as error:
                raise AlertsFault(
                    4, f"The request is not well-formed XML: {error}", client=True
                ) from error
            call = None
            if root is not None:
                if local(root.tag) != "Envelope":
                    raise AlertsFault(4, "Expected a SOAP Envelope", client=True)
                soap_body = next((c for c in root if local(c.tag) == "Body"), None)
                if soap_body is None:
                    raise AlertsFault(4, "The SOAP Envelope has no Body", client=True)
                call = next((c for c in soap_body if local(c.tag)), None)
            method = method_of(body, soap_action)
            if method not in METHODS:
                raise AlertsFault(4, f"Unknown operation: {method or '(none)'}", client=True)
            handler = getattr(self, f"_{method}")
            with self._lock:
                response = handler(call if call is not None else etree.Element("empty"))
            return self._reply(response)
        except AlertsFault as fault:
            return self._fault(fault)

    # ------------------------------------------------------------------ framing
    def _envelope(self) -> tuple[etree._Element, etree._Element]:
        envelope = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap={"soap": SOAP_NS})
        return envelope, sub(envelope, f"{{{SOAP_NS}}}Body")

    def _reply(self, response: etree._Element | Attached) -> SoapReply:
        attachments: list[tuple[str, bytes]] = []
        if isinstance(response, tuple):
            response, attachments = response
        envelope, body = self._envelope()
        body.append(response)
        content_type, data = mtom.build_mtom(to_bytes(envelope, declaration=False), attachments)
        return SoapReply(200, content_type, data)

    def _fault(self, fault: AlertsFault) -> SoapReply:
        envelope, body = self._envelope()
        element = sub(body, f"{{{SOAP_NS}}}Fault")
        sub(element, "faultcode", "soap:Client" if fault.client else "soap:Server")
        sub(element, "faultstring", fault.message)
        # The WSDL's fault element, under a prefix as CXF writes it: clients must not rely on
        # a default namespace or on one prefix.
        detail = etree.SubElement(
            sub(element, "detail"), f"{{{IND_NS}}}PdbAlertsFaultType", nsmap={"ns2": IND_NS}
        )
        sub(detail, f"{{{IND_NS}}}message", fault.message)
        sub(detail, f"{{{IND_NS}}}errorCode", fault.code)
        if not self.mtom_faults:
            return SoapReply(500, "text/xml; charset=UTF-8", to_bytes(envelope))
        content_type, data = mtom.build_mtom(to_bytes(envelope, declaration=False))
        return SoapReply(500, content_type, data)

    @staticmethod
    def _response(name: str) -> etree._Element:
        return etree.Element(f"{{{IND_NS}}}{name}", nsmap={None: IND_NS})

    # ------------------------------------------------------------------ subscriptions
    def _subscription(self, call: etree._Element) -> Subscription:
        name = child_text(call, "subscriptionName")
        if not name:
            raise AlertsFault(15)
        found = self.subscriptions.get(name)
        if found is None:
            raise AlertsFault(14)
        return found

    def _parse_subscription(self, data: etree._Element | None) -> Subscription:
        if data is None:
            raise AlertsFault(4, "subscriptionInputData is required", client=True)
        name = child_text(data, "subscriptionName")
        if not name:
            raise AlertsFault(15)
        email = child_text(data, "email")
        if not email:
            raise AlertsFault(16)
        affiliation = _child(data, "affiliationList")
        if affiliation is None or not len(affiliation):
            raise AlertsFault(18)
        affiliations = (
            "All"
            if child_text(affiliation, "All").lower() == "true"
            else "None"
            if child_text(affiliation, "None").lower() == "true"
            else "specific"
        )
        state_list = _child(data, "stateList")
        if state_list is None or not len(state_list):
            raise AlertsFault(17)
        all_states = child_text(state_list, "allStates").lower() == "true"
        states = [(c.text or "").strip().upper() for c in state_list if local(c.tag) == "stateList"]
        if all_states and states:
            raise AlertsFault(10)
        if not all_states and not states:
            raise AlertsFault(17)
        if any(s not in self.world.states for s in states):
            raise AlertsFault(19)
        type_list = _child(data, "alertTypeList")
        types = [
            (c.text or "").strip().upper()
            for c in (type_list if type_list is not None else [])
            if local(c.tag)
        ]
        if not types:
            raise AlertsFault(13)
        if any(t not in ALERT_TYPES for t in types):
            raise AlertsFault(4, f"Unknown alert type in {types}", client=True)
        return Subscription(name, email, types, None if all_states else states, affiliations)

    def _addSubscription(self, call: etree._Element) -> etree._Element:
        subscription = self._parse_subscription(_child(call, "subscriptionInputData"))
        if subscription.name in self.subscriptions:
            raise AlertsFault(12)
        self.subscriptions[subscription.name] = subscription
        return self._response("empty")

    def _editSubscription(self, call: etree._Element) -> etree._Element:
        existing = self._subscription(call)
        edited = self._parse_subscription(_child(call, "subscriptionInputData"))
        if edited.name != existing.name:
            raise AlertsFault(4, "Subscriptions cannot be renamed", client=True)
        edited.targets = existing.targets
        self.subscriptions[existing.name] = edited
        return self._response("empty")

    def _removeSubscription(self, call: etree._Element) -> etree._Element:
        del self.subscriptions[self._subscription(call).name]
        return self._response("empty")

    def _retrieveAllSubscriptions(self, call: etree._Element) -> etree._Element:
        if not self.subscriptions:
            # NIPR's WSDL lists at least one subscriptionData (minOccurs 1): an account without
            # subscriptions gets a fault, SUBSCRIPTION_NONEXISTENT, not an empty list.
            raise AlertsFault(14)
        response = self._response("retrieveAllSubscriptionsResponse")
        for s in self.subscriptions.values():
            item = sub(response, f"{{{IND_NS}}}subscriptionList")
            sub(item, f"{{{IND_NS}}}subscriptionName", s.name)
            sub(item, f"{{{IND_NS}}}email", s.email)
            affiliations = sub(item, f"{{{IND_NS}}}affiliationList")
            if s.affiliations in ("All", "None"):
                sub(affiliations, f"{{{IND_NS}}}{s.affiliations}", "true")
            states = sub(item, f"{{{IND_NS}}}stateList")
            if s.states is None:
                sub(states, f"{{{IND_NS}}}allStates", "true")
            for state in s.states or []:
                sub(states, f"{{{IND_NS}}}stateList", state)
            types = sub(item, f"{{{IND_NS}}}alertTypeList")
            for t in s.alert_types:
                sub(types, f"{{{IND_NS}}}alertTypeList", t)
            sub(item, f"{{{IND_NS}}}targetCount", len(s.targets))
        return response

    # ------------------------------------------------------------------ targets
    def _target_inputs(self, call: etree._Element) -> tuple[str, list[str]]:
        data = _child(call, "targetInputData")
        if data is None:
            raise AlertsFault(8)
        input_format = child_text(data, "inputFormat").upper()
        if not input_format:
            raise AlertsFault(7)
        targets = _child(data, "targetInputList")
        values: list[str] = []
        for element in targets if targets is not None else []:
            name = local(element.tag)
            if name in ("npnList", "feinList"):
                values.append((element.text or "").strip())
            elif name == "ssnLNameList":
                values.append(child_text(element, "lastname"))
        if not values:
            raise AlertsFault(8)
        return input_format, values

    def _resolve(self, input_format: str, value: str) -> tuple[str | None, str]:
        """NPN for one target input, or (None, reason)."""
        if input_format == "NPN":
            if not value.isdigit() or len(value) > 10:
                return None, "Invalid format"
            return (
                (value, "")
                if self.world.npn_to_index(value) is not None
                else (None, "Entity was not found")
            )
        if input_format == "FEIN":
            index = self.world.fein_to_index(value)
            return (
                (str(self.world.npn[index]), "")
                if index is not None
                else (None, "Entity was not found")
            )
        return None, "Input format not supported by the sandbox"

    def _addTargets(self, call: etree._Element) -> etree._Element:
        subscription = self._subscription(call)
        input_format, values = self._target_inputs(call)
        valid: list[str] = []
        invalid: list[tuple[str, str]] = []
        for value in values:
            npn, reason = self._resolve(input_format, value)
            if npn is None:
                invalid.append((value, reason))
            elif npn not in valid:
                valid.append(npn)
        if not valid:
            raise AlertsFault(9)
        if len(set(subscription.targets) | set(valid)) > self.max_targets:
            raise AlertsFault(
                4,
                f"Subscription target limit exceeded: a subscription holds at "
                f"most {self.max_targets} targets",
            )
        now = self.now()
        for npn in valid:
            subscription.targets.setdefault(npn, now)
        return self._target_results("addTargetsResponse", valid, invalid)

    def _removeTargets(self, call: etree._Element) -> etree._Element:
        subscription = self._subscription(call)
        input_format, values = self._target_inputs(call)
        removed: list[str] = []
        invalid: list[tuple[str, str]] = []
        for value in values:
            npn, reason = self._resolve(input_format, value)
            if npn is None:
                invalid.append((value, reason))
            elif npn in subscription.targets:
                del subscription.targets[npn]
                removed.append(npn)
            else:
                invalid.append((value, "Target is not in the subscription"))
        return self._target_results("removeTargetsResponse", removed, invalid)

    def _removeAllTargets(self, call: etree._Element) -> etree._Element:
        self._subscription(call).targets.clear()
        return self._response("empty")

    def _target_results(
        self, name: str, valid: list[str], invalid: list[tuple[str, str]]
    ) -> etree._Element:
        response = self._response(name)
        data = sub(response, f"{{{IND_NS}}}targetResultsData")
        for npn in valid:
            sub(sub(data, f"{{{IND_NS}}}validTargetList"), f"{{{IND_NS}}}npn", npn)
        for value, reason in invalid:
            entry = sub(data, f"{{{IND_NS}}}invalidInputList")
            sub(entry, f"{{{IND_NS}}}input", value)
            sub(entry, f"{{{IND_NS}}}invalidReason", reason)
        return response

    def _retrieveTargets(self, call: etree._Element) -> etree._Element:
        subscription = self._subscription(call)
        response = self._response("retrieveTargetsResponse")
        for npn in subscription.targets:
            sub(sub(response, f"{{{IND_NS}}}targetList"), f"{{{IND_NS}}}npn", npn)
        return response

    # ------------------------------------------------------------------ reports
    def check_report_date(self, text: str) -> date:
        """The report date, or the fault NIPR gives for it."""
        try:
            day = date.fromisoformat(text.strip()[:10])
        except ValueError as error:
            raise AlertsFault(20) from error
        now = self.now()
        today = now.date()
        if day > today:
            raise AlertsFault(21)
        if day < today - timedelta(days=BACKDATE_DAYS):
            raise AlertsFault(
                20,
                f"The date provided was invalid: reports can be backdated at "
                f"most {BACKDATE_DAYS} days",
            )
        if day.weekday() == 6:
            raise AlertsFault(22)
        if day == today and now.hour < self.publish_hour:
            raise AlertsFault(21)
        return day

    def _receiveSpecificReport(self, call: etree._Element) -> Attached:
        day = self.check_report_date(child_text(call, "reportDate"))
        return self._report("receiveSpecificReportResponse", day, list(self.subscriptions.values()))

    def _receiveSpecificReportForSubscription(self, call: etree._Element) -> Attached:
        day = self.check_report_date(child_text(call, "reportDate"))
        return self._report(
            "receiveSpecificReportForSubscriptionResponse", day, [self._subscription(call)]
        )

    def report_entries(self, day: date, subscriptions: list[Subscription]) -> list[ReportEntry]:
        allowed: dict[str, tuple[set[str], set[str] | None]] = {}
        for s in subscriptions:
            for npn in s.targets:
                categories, states = allowed.get(npn, (set(), set()))
                categories = categories | (set(s.alert_types) & set(CATEGORIES))
                states = None if states is None or s.states is None else states | set(s.states)
                allowed[npn] = (categories, states)
        by_npn: dict[str, dict[str, set[str]]] = {}
        for change in self.world.changes_on(day, allowed):
            categories, states = allowed[change.npn]
            if change.category not in categories or (
                states is not None and change.state not in states
            ):
                continue
            by_npn.setdefault(change.npn, {}).setdefault(change.state, set()).add(change.category)
        current = self.now().date()
        entries = []
        for npn in sorted(by_npn, key=lambda n: self.world.npn_to_index(n) or 0):
            producer = self.world.producer(npn, as_of=max(current, day))
            # Every NPN here comes from the world's own changes: the world knows it.
            assert producer is not None
            entries.append(ReportEntry(producer, by_npn[npn]))
        return entries

    def _report(self, name: str, day: date, subscriptions: list[Subscription]) -> Attached:
        report = render_report(self.report_entries(day, subscriptions), day)
        cid = mtom.attachment_cid(report)
        response = self._response(name)
        outer = sub(response, f"{{{IND_NS}}}alertsReport")
        inner = sub(outer, f"{{{IND_NS}}}alertsReport")
        if self.inline_reports:  # the WSDL's base64Binary without MTOM: the report as text
            inner.text = base64.b64encode(report).decode("ascii")
            return response, []
        include = etree.SubElement(inner, f"{{{mtom.XOP_NS}}}Include", nsmap={"xop": mtom.XOP_NS})
        include.set("href", f"cid:{cid}")
        return response, [(cid, report)]


def _child(element: etree._Element | None, name: str) -> etree._Element | None:
    if element is None:
        return None
    return next((c for c in element if local(c.tag) == name), None)
