"""NIPR over HTTP: the same client for the real endpoints and the sandbox; only config differs.

Credentials are `EnvVar` fields in production and never reach a log line, an error message or
`repr()`. Every call has a connect and a read timeout.

Retry policy (exponential backoff `backoff_seconds * 2**n`, at most `read_retries` retries, on
HTTP 5xx that is not a SOAP fault, connection errors, timeouts and replies cut off mid-body):
- reads: `fetch_entity_info`, `list_subscriptions`, `list_targets`, `fetch_alerts_report(_to)`;
- `add_targets` / `remove_targets`: adding a target that is already there, or removing one that
  is gone, changes nothing at NIPR, so a resend after a lost reply is harmless;
- `add_subscription` is not retried: a resend after a lost reply would fail with
  SUBSCRIPTION_NAME_NOT_UNIQUE; the caller checks `list_subscriptions` instead;
- never retried: SOAP faults (NIPR answered), HTTP 401/403, malformed replies.
Fault 21 (RUN_NOT_FINISHED) raises `ReportNotReady`: the run is not over, the caller asks again
later (a later run), not in a tight loop here. Every reply is read within a size limit counted
after decompression (`max_reply_bytes`; a day's Alerts report, streamed to the bucket,
`max_report_bytes`); a larger one is a call failure, not retried, never a MemoryError. Writes
to the Gateway are `nipr_gateway.py`'s; the errors and the base resource both clients share
are in `nipr_http.py`.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import BinaryIO, ClassVar, TypeVar

import requests
from lxml import etree
from pydantic import Field

from resources import nipr_soap as soap
from resources.nipr_http import (
    NiprAuthFailed,
    NiprCallFailed,
    NiprFault,
    NiprHttpResource,
    ReplyTooLarge,
    ReportNotReady,
    TransientFailure,
    read_within,
    safe_url,
)
from schemas.npns import canonical_npn

# Re-exported: callers import the errors and the base resource from here.
__all__ = [
    "AlertsReportReceipt",
    "AlertsReportReply",
    "InvalidTarget",
    "NiprAuthFailed",
    "NiprCallFailed",
    "NiprClient",
    "NiprFault",
    "NiprHttpResource",
    "ReportNotReady",
    "TargetResult",
    "safe_url",
]

ENTITY_INFO_PATH = "/pdb-xml-reports/entityinfo_xml.cgi"
ALERTS_PATH = "/pdb-alerts-industry-services/services/industry-ws"
GATEWAY_PATH = "/gateway-realtime/realtime"
DEFAULT_ALERT_TYPES = ("LICENSING", "APPOINTMENTS", "DEMOGRAPHICS")
_CHUNK_BYTES = 64 * 1024
_MAX_FAULT_BYTES = 1024 * 1024  # an error reply is a few hundred bytes; don't buffer more
# A day's Alerts report for a large carrier's producers is tens of megabytes; it streams to the
# bucket, so the limit guards the disk against a reply that inflates without end.
MAX_REPORT_BYTES = 1024 * 1024 * 1024

log = logging.getLogger(__name__)
T = TypeVar("T")


# ====================================================================== results
@dataclass(frozen=True)
class InvalidTarget:
    input: str
    reason: str


@dataclass(frozen=True)
class TargetResult:
    """What NIPR made of a target list: the NPNs it took, and the inputs it refused, why."""

    valid: tuple[str, ...]
    invalid: tuple[InvalidTarget, ...]


@dataclass(frozen=True)
class AlertsReportReply:
    """A day's PDB Alerts report. `status` "ready": `content` is the HTTP body exactly as NIPR
    sent it (multipart MTOM; store it verbatim, the parser unwraps it) and `content_type` its
    Content-Type header (the multipart boundary lives there). "no_run_today" (fault 22): no
    report that day, `content` empty; not worth asking again."""

    status: str  # "ready" | "no_run_today"
    content: bytes
    content_type: str
    report_date: date
    subscription: str | None = None


@dataclass(frozen=True)
class AlertsReportReceipt:
    """`fetch_alerts_report_to`: as AlertsReportReply, the body having gone to the sink."""

    status: str  # "ready" | "no_run_today"
    content_type: str
    report_date: date
    subscription: str | None
    bytes_written: int


class NiprClient(NiprHttpResource):
    """NIPR's PDB (Entity Info), PDB Alerts and Gateway endpoints."""

    _user_agent: ClassVar[str] = "npnflow-nipr-client"

    pdb_base_url: str = Field(description="Base URL of pdb-xml-reports (Entity Info).")
    alerts_base_url: str = Field(description="Base URL of the PDB Alerts SOAP service.")
    gateway_base_url: str = Field(description="Base URL of the Gateway real-time service.")
    timeout_seconds: float = Field(
        default=30.0,
        description="Read timeout per socket read (a report is streamed, so not the total).",
    )
    read_retries: int = Field(
        default=3, description="Retries after the first attempt of a retryable call."
    )
    backoff_seconds: float = Field(
        default=0.5, description="First retry delay; doubles for each further retry."
    )
    target_batch_size: int = Field(
        default=1000, description="NPNs per addTargets/removeTargets request."
    )
    max_report_bytes: int = Field(
        default=MAX_REPORT_BYTES,
        description=(
            "The most a day's PDB Alerts report may hold once decompressed; a larger one is "
            "refused and the sink left empty."
        ),
    )

    # ------------------------------------------------------------------ plumbing
    def _fail(self, text: str) -> NiprCallFailed:
        return NiprCallFailed(self._scrub(text))

    def _read(self, call: str, response: requests.Response, url: str) -> bytes:
        """A small call's whole reply, within `max_reply_bytes` (decoded)."""
        with response:
            try:
                return read_within(response, self.max_reply_bytes)
            except ReplyTooLarge as error:
                raise self._fail(f"{call}: {error}, from {safe_url(url)}; refused unread") from None
            except requests.RequestException as error:
                raise self._transport_error(error, url) from None

    def _retrying(self, call: str, attempt: Callable[[], T], retry: bool = True) -> T:
        attempts = 1 + max(0, self.read_retries) if retry else 1
        for number in range(1, attempts + 1):
            try:
                return attempt()
            except TransientFailure as failure:
                if number == attempts:
                    tries = f" after {attempts} attempts" if attempts > 1 else ""
                    raise self._fail(f"{call}: {failure.reason}{tries}") from None
                delay = self.backoff_seconds * 2 ** (number - 1)
                log.warning(
                    "%s: %s; retry %d of %d in %.2fs",
                    call,
                    self._scrub(failure.reason),
                    number,
                    attempts - 1,
                    delay,
                )
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _transport_error(self, error: requests.RequestException, url: str) -> Exception:
        """A requests exception as TransientFailure (worth a retry) or a final NiprCallFailed."""
        where = safe_url(url)
        if isinstance(error, requests.Timeout):
            return TransientFailure(
                f"no answer from {where} within the timeout ({type(error).__name__})"
            )
        if isinstance(error, requests.exceptions.ChunkedEncodingError):
            return TransientFailure(f"the reply from {where} was cut off ({type(error).__name__})")
        if isinstance(error, requests.ConnectionError):
            return TransientFailure(f"no answer from {where} ({type(error).__name__})")
        return self._fail(f"cannot call {where} ({type(error).__name__})")

    def _check_status(self, call: str, response: requests.Response, url: str) -> None:
        """Raise for statuses that are not a reply to read (SOAP faults are read first)."""
        status = response.status_code
        if status in (401, 403):
            raise NiprAuthFailed(
                self._scrub(
                    f"{call}: NIPR refused the credentials (HTTP {status} from {safe_url(url)}); "
                    "check the configured NIPR user name and password"
                )
            )
        if status >= 500:
            raise TransientFailure(f"HTTP {status} from {safe_url(url)}")
        if status != 200:
            raise self._fail(f"{call}: HTTP {status} from {safe_url(url)}")

    def _fault_error(self, call: str, fault: soap.SoapFault) -> NiprFault:
        number = f" {fault.code}" if fault.code is not None else ""
        return NiprFault(
            self._scrub(f"{call}: NIPR fault{number} {fault.name}: {fault.message}"),
            fault.code,
            fault.name,
            self._scrub(fault.message),
        )

    # ------------------------------------------------------------------ Entity Info
    def fetch_entity_info(self, npn: str) -> bytes:
        """The Entity Info (PDB detail report) XML of one producer, as NIPR sent it.

        An NPN NIPR does not know comes back as NIPR's own error document (TRANSACTION_TYPE
        ERROR), HTTP 200, which is returned like any other reply.
        """
        url = self.pdb_base_url.rstrip("/") + ENTITY_INFO_PATH
        call = f"Entity Info for NPN {npn}"

        def attempt() -> bytes:
            try:
                response = self._http().get(
                    url, params={"id_entity": npn}, timeout=self._timeout, stream=True
                )
            except requests.RequestException as error:
                raise self._transport_error(error, url) from None
            with response:
                self._check_status(call, response, url)
                content = self._read(call, response, url)
            try:
                soap.parse_xml(content, "the Entity Info reply")
            except soap.SoapReplyError as error:
                raise self._fail(f"{call}: {error}") from None
            return content

        return self._retrying(call, attempt)

    # ------------------------------------------------------------------ PDB Alerts, small calls
    def _soap(
        self,
        call: str,
        method: str,
        envelope: bytes,
        expected: Sequence[str],
        retry: bool,
        on_fault: Callable[[soap.SoapFault], etree._Element | None] | None = None,
    ) -> etree._Element:
        """POST one SOAP request; the Body's response element, or the right exception."""
        url = self.alerts_base_url.rstrip("/") + ALERTS_PATH
        headers = {
            "Content-Type": soap.REQUEST_CONTENT_TYPE,
            "SOAPAction": soap.soap_action(method),
        }

        def attempt() -> etree._Element:
            try:
                response = self._http().post(
                    url, data=envelope, headers=headers, timeout=self._timeout, stream=True
                )
            except requests.RequestException as error:
                raise self._transport_error(error, url) from None
            # Closed whatever happens, read or not (an HTTP error's body is never read): a
            # streamed response holds its connection until then.
            with response:
                content_type = response.headers.get("Content-Type", "")
                element = None
                if response.status_code in (200, 500) and _looks_like_soap(content_type):
                    content = self._read(call, response, url)
                    try:
                        element = soap.reply_body(content, content_type)
                    except soap.SoapReplyError as error:
                        if response.status_code == 200:
                            raise self._fail(f"{call}: {error}") from None
                        # A 500 whose body is no readable fault: a server error like any other.
                if element is not None:
                    fault = soap.as_fault(element)
                    if fault is not None:
                        handled = on_fault(fault) if on_fault is not None else None
                        if handled is None:
                            raise self._fault_error(call, fault)
                        return handled
                self._check_status(call, response, url)
                if element is None:
                    raise self._fail(
                        f"{call}: the reply is not SOAP (Content-Type {content_type or 'missing'})"
                    )
                try:
                    return soap.expect(element, *expected)
                except soap.SoapReplyError as error:
                    raise self._fail(f"{call}: {error}") from None

        return self._retrying(call, attempt, retry=retry)

    def add_subscription(
        self,
        name: str,
        email: str,
        alert_types: Sequence[str] = DEFAULT_ALERT_TYPES,
        all_states: bool = True,
        states: Sequence[str] = (),
    ) -> None:
        """Create a subscription (no company-affiliation filter). Not retried; an existing name
        raises NiprFault SUBSCRIPTION_NAME_NOT_UNIQUE (12)."""
        envelope = soap.add_subscription_envelope(name, email, alert_types, all_states, states)
        call = f"PDB Alerts addSubscription {name!r}"
        try:
            self._soap(
                call, "addSubscription", envelope, ("empty", "addSubscriptionResponse"), False
            )
        except NiprCallFailed as error:
            if type(error) is NiprCallFailed:  # not a fault, not an auth refusal
                raise self._fail(
                    f"{error} (not retried: the subscription may or may not exist now; "
                    "list_subscriptions tells)"
                ) from None
            raise

    def list_subscriptions(self) -> list[str]:
        """The names of the account's subscriptions."""

        def none_yet(fault: soap.SoapFault) -> etree._Element | None:
            # "There are no existing subscriptions": an empty list, not an error.
            if fault.code == soap.SUBSCRIPTION_NONEXISTENT:
                return etree.Element("retrieveAllSubscriptionsResponse")
            return None

        response = self._soap(
            "PDB Alerts retrieveAllSubscriptions",
            "retrieveAllSubscriptions",
            soap.retrieve_all_subscriptions_envelope(),
            ("retrieveAllSubscriptionsResponse",),
            True,
            on_fault=none_yet,
        )
        return soap.parse_subscription_names(response)

    def list_targets(self, subscription: str) -> list[str]:
        """The NPNs on a subscription's target list."""
        response = self._soap(
            f"PDB Alerts retrieveTargets for subscription {subscription!r}",
            "retrieveTargets",
            soap.retrieve_targets_envelope(subscription),
            ("retrieveTargetsResponse",),
            True,
        )
        return soap.parse_target_npns(response)

    def add_targets(self, subscription: str, npns: Iterable[str]) -> TargetResult:
        """Put NPNs on a subscription's target list, `target_batch_size` per request.

        Retried on 5xx/timeouts: adding a target twice is a no-op at NIPR. If a batch fails,
        the batches before it stay applied; calling again with the same list is safe.
        """
        return self._targets("addTargets", subscription, npns)

    def remove_targets(self, subscription: str, npns: Iterable[str]) -> TargetResult:
        """Take NPNs off a subscription's target list, `target_batch_size` per request.

        Retried on 5xx/timeouts: removing a target twice leaves it removed (a resend after a
        lost reply may report it as not in the subscription, which is the state we wanted).
        """
        return self._targets("removeTargets", subscription, npns)

    def _targets(self, method: str, subscription: str, npns: Iterable[str]) -> TargetResult:
        # As NIPR writes them (schemas/npns.py): NIPR's target list never holds a padded NPN.
        wanted = list(dict.fromkeys(canonical_npn(n) for n in npns))
        invalid = [InvalidTarget("", "Empty NPN")] if "" in wanted else []
        wanted = [n for n in wanted if n]
        size = max(1, self.target_batch_size)
        batches = [wanted[i : i + size] for i in range(0, len(wanted), size)]
        valid: list[str] = []
        for number, batch in enumerate(batches, start=1):
            part = f" (batch {number} of {len(batches)})" if len(batches) > 1 else ""
            call = f"PDB Alerts {method} for subscription {subscription!r}{part}"

            def none_valid(
                fault: soap.SoapFault, batch: list[str] = batch
            ) -> etree._Element | None:
                # ValidProducerFault: no input of this batch resolved to a producer. With
                # batching that is a per-batch result, not a failure of the whole list.
                if fault.code != soap.VALID_PRODUCER_FAULT:
                    return None
                response = etree.Element(f"{method}Response")
                for npn in batch:
                    entry = etree.SubElement(response, "invalidInputList")
                    etree.SubElement(entry, "input").text = npn
                    etree.SubElement(entry, "invalidReason").text = fault.message
                return response

            response = self._soap(
                call,
                method,
                soap.targets_envelope(method, subscription, batch),
                (f"{method}Response",),
                True,
                on_fault=none_valid,
            )
            got_valid, got_invalid = soap.parse_target_results(response)
            valid.extend(got_valid)
            # NIPR's reasons are shown to people: scrubbed like any of its text.
            invalid.extend(
                InvalidTarget(value, self._scrub(reason)) for value, reason in got_invalid
            )
        return TargetResult(tuple(dict.fromkeys(valid)), tuple(invalid))

    # ------------------------------------------------------------------ PDB Alerts reports
    def fetch_alerts_report(
        self, report_date: date, subscription: str | None = None
    ) -> AlertsReportReply:
        """The PDB Alerts specific report of `report_date` (all subscriptions, or one).

        Raises ReportNotReady (fault 21, ask again later), NiprFault (any other fault, e.g. 20
        INVALID_DATE beyond the 14 days NIPR keeps), NiprCallFailed (no usable reply after the
        retries). Fault 22 is not an error: status "no_run_today".
        """
        buffer = io.BytesIO()
        receipt = self.fetch_alerts_report_to(report_date, buffer, subscription)
        return AlertsReportReply(
            receipt.status,
            buffer.getvalue(),
            receipt.content_type,
            receipt.report_date,
            receipt.subscription,
        )

    def fetch_alerts_report_to(
        self, report_date: date, sink: BinaryIO, subscription: str | None = None
    ) -> AlertsReportReceipt:
        """As fetch_alerts_report, streaming the raw body into `sink` chunk by chunk.

        The reply is checked as it streams (framing, envelope, report part well-formed) without
        being held in memory. If the sink is seekable, a failed attempt is rewound and truncated,
        so the sink ends up holding the whole reply or nothing; a sink that cannot be rewound
        is not retried once bytes went into it, and holds a partial body after an error.
        """
        if not isinstance(report_date, date):
            raise TypeError(f"report_date must be a date, not {type(report_date).__name__}")
        method = soap.report_method(subscription)
        call = f"PDB Alerts {method} for {report_date.isoformat()}"
        if subscription is not None:
            call += f", subscription {subscription!r}"
        url = self.alerts_base_url.rstrip("/") + ALERTS_PATH
        headers = {
            "Content-Type": soap.REQUEST_CONTENT_TYPE,
            "SOAPAction": soap.soap_action(method),
        }
        envelope = soap.specific_report_envelope(report_date, subscription)
        seekable = bool(getattr(sink, "seekable", lambda: False)())
        origin = sink.tell() if seekable else 0

        def rewind() -> bool:
            if seekable:
                sink.seek(origin)
                sink.truncate()
            return seekable

        def on_fault(fault: soap.SoapFault) -> AlertsReportReceipt:
            if fault.code == soap.NO_ALERTS_RUN_TODAY:
                return AlertsReportReceipt("no_run_today", "", report_date, subscription, 0)
            if fault.code == soap.RUN_NOT_FINISHED:
                raise ReportNotReady(
                    self._scrub(
                        f"{call}: NIPR fault 21 {fault.name}: {fault.message} (ask again later)"
                    ),
                    report_date,
                )
            raise self._fault_error(call, fault)

        def attempt() -> AlertsReportReceipt:
            try:
                response = self._http().post(
                    url, data=envelope, headers=headers, timeout=self._timeout, stream=True
                )
            except requests.RequestException as error:
                raise self._transport_error(error, url) from None
            with response:
                content_type = response.headers.get("Content-Type", "")
                if response.status_code != 200:
                    return self._report_error_reply(call, response, url, on_fault)
                checker = soap.ReportReplyChecker(content_type, self.max_report_bytes)
                written = 0
                try:
                    for chunk in response.iter_content(_CHUNK_BYTES):
                        if written + len(chunk) > self.max_report_bytes:
                            # Counted decoded (urllib3 inflates a chunk at a time): a reply
                            # that keeps growing is refused, not retried, the sink emptied.
                            rewind()
                            raise self._fail(
                                f"{call}: {ReplyTooLarge(self.max_report_bytes)}, from "
                                f"{safe_url(url)}; refused"
                            )
                        sink.write(chunk)
                        written += len(chunk)
                        checker.feed(chunk)
                    checked = checker.close()
                except requests.RequestException as error:
                    failure = self._transport_error(error, url)
                    if written and not rewind() and isinstance(failure, TransientFailure):
                        raise self._fail(
                            f"{call}: {failure.reason}; not retried, {written} bytes already "
                            "went to a sink that cannot be rewound"
                        ) from None
                    raise failure from None
                except soap.SoapReplyError as error:
                    rewind()
                    raise self._fail(f"{call}: {error}") from None
            if checked.fault is not None:  # a fault with HTTP 200: unusual, handled the same
                rewind()
                return on_fault(checked.fault)
            return AlertsReportReceipt("ready", content_type, report_date, subscription, written)

        return self._retrying(call, attempt)

    def _report_error_reply(
        self,
        call: str,
        response: requests.Response,
        url: str,
        on_fault: Callable[[soap.SoapFault], AlertsReportReceipt],
    ) -> AlertsReportReceipt:
        """A non-200 reply to a report request: a SOAP fault, or an HTTP error."""
        content_type = response.headers.get("Content-Type", "")
        if response.status_code == 500 and _looks_like_soap(content_type):
            body = bytearray()
            try:
                for chunk in response.iter_content(_CHUNK_BYTES):
                    body += chunk
                    if len(body) > _MAX_FAULT_BYTES:
                        break
            except requests.RequestException as error:
                raise self._transport_error(error, url) from None
            try:
                element = soap.reply_body(bytes(body), content_type)
            except soap.SoapReplyError:
                element = None  # no readable fault: a server error like any other
            fault = soap.as_fault(element) if element is not None else None
            if fault is not None:
                return on_fault(fault)
        self._check_status(call, response, url)
        raise AssertionError("unreachable: _check_status raises for any status but 200")


def _looks_like_soap(content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind.startswith("multipart/") or kind.endswith("/xml") or kind.endswith("+xml")
