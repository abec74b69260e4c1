"""PDB Alerts SOAP requests: the envelopes the NIPR client sends, and their SOAPActions.

Requests follow NIPR's Postman collection (`soapenv`/`ind` prefixes, an empty `soapenv:Header`,
the same element order). NIPR dispatches on the SOAPAction header, one per method.

Separate from the reply side (`resources/nipr_soap_replies.py`) because building what we send
and reading what NIPR answers share nothing but the namespaces. Pure: no Dagster, no HTTP.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from lxml import etree

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
IND_NS = "https://pdb-services.nipr.com/pdb-alerts-industry-services/industry-ws"
REQUEST_CONTENT_TYPE = "text/xml; charset=UTF-8"

ALERT_TYPES = ("LICENSING", "RIRS", "DEMOGRAPHICS", "APPOINTMENTS")


def soap_action(method: str) -> str:
    """The SOAPAction header of a method (NIPR's Postman collection sends it unquoted)."""
    return f"{IND_NS}/{method}"


def _envelope(method: str | None) -> tuple[etree._Element, etree._Element | None]:
    root = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap={"soapenv": SOAP_NS, "ind": IND_NS})
    etree.SubElement(root, f"{{{SOAP_NS}}}Header")
    body = etree.SubElement(root, f"{{{SOAP_NS}}}Body")
    call = etree.SubElement(body, f"{{{IND_NS}}}{method}") if method else None
    return root, call


def _ind(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, f"{{{IND_NS}}}{name}")
    if text is not None:
        element.text = text
    return element


def _serialise(root: etree._Element) -> bytes:
    data: bytes = etree.tostring(root, encoding="UTF-8", xml_declaration=False)
    return data


def add_subscription_envelope(
    name: str,
    email: str,
    alert_types: Sequence[str],
    all_states: bool = True,
    states: Sequence[str] = (),
) -> bytes:
    """`addSubscription`: no company-affiliation filter (`None`), all states or a list."""
    if not name.strip():
        raise ValueError("a subscription needs a name")
    if not email.strip():
        raise ValueError("a subscription needs a contact email")
    types = [t.strip().upper() for t in alert_types]
    if not types:
        raise ValueError("a subscription needs at least one alert type")
    unknown = [t for t in types if t not in ALERT_TYPES]
    if unknown:
        raise ValueError(f"unknown alert types {unknown}; NIPR's are {', '.join(ALERT_TYPES)}")
    if all_states and states:
        raise ValueError("all_states=True takes no state list (NIPR fault 10)")
    if not all_states and not states:
        raise ValueError("all_states=False needs a list of states")
    root, call = _envelope("addSubscription")
    assert call is not None
    data = _ind(call, "subscriptionInputData")
    _ind(data, "subscriptionName", name)
    _ind(data, "email", email)
    _ind(_ind(data, "affiliationList"), "None", "true")
    state_list = _ind(data, "stateList")
    if all_states:
        _ind(state_list, "allStates", "true")
    for state in states:
        _ind(state_list, "stateList", state.strip().upper())
    type_list = _ind(data, "alertTypeList")
    for alert_type in types:
        _ind(type_list, "alertTypeList", alert_type)
    return _serialise(root)


def retrieve_all_subscriptions_envelope() -> bytes:
    """`retrieveAllSubscriptions`: an empty Body, the method named by SOAPAction alone."""
    root, _ = _envelope(None)
    return _serialise(root)


def targets_envelope(method: str, subscription: str, npns: Iterable[str]) -> bytes:
    """`addTargets` / `removeTargets` by NPN."""
    if method not in ("addTargets", "removeTargets"):
        raise ValueError(f"not a target-list method: {method}")
    root, call = _envelope(method)
    assert call is not None
    _ind(call, "subscriptionName", subscription)
    data = _ind(call, "targetInputData")
    _ind(data, "inputFormat", "NPN")
    target_list = _ind(data, "targetInputList")
    for npn in npns:
        _ind(target_list, "npnList", npn)
    return _serialise(root)


def retrieve_targets_envelope(subscription: str) -> bytes:
    root, call = _envelope("retrieveTargets")
    assert call is not None
    _ind(call, "subscriptionName", subscription)
    return _serialise(root)


def report_method(subscription: str | None) -> str:
    return (
        "receiveSpecificReport" if subscription is None else "receiveSpecificReportForSubscription"
    )


def specific_report_envelope(report_date: date, subscription: str | None = None) -> bytes:
    """`receiveSpecificReport(ForSubscription)`: reportDate (yyyy-mm-dd), then the name."""
    root, call = _envelope(report_method(subscription))
    assert call is not None
    _ind(call, "reportDate", report_date.isoformat())
    if subscription is not None:
        _ind(call, "subscriptionName", subscription)
    return _serialise(root)
