"""The NIPR Gateway (appointments and terminations) over HTTP: the same client for NIPR and the
sandbox; only config differs.

Three calls, each one HTTP request:
- `send(transactions, cust_batch=...)`: POST up to 100 transactions to the one-to-many endpoint.
- `poll(keys)`: NIPR's polling (TRANSACTIONs with only the key fields): the current response of
  each key, without submitting anything.
- `lookup_batch(cust_batch)`: the sandbox's status endpoint (every recorded transaction of a
  CUST_BATCH), which unlike a poll does not count as a poll round. Real NIPR has no such
  endpoint; callers fall back to `poll`.

Nothing here retries. A `send` whose reply is lost may have been recorded by NIPR, and only a
look-up can tell; resending blindly is how a customer pays twice. The submission
(assets/submissions/submission.py) owns the look-up-then-resend protocol. Errors:
- `GatewayUnavailable`: HTTP 5xx, timeout, connection error, a reply cut off mid-body;
- `GatewayReplyUnreadable`: a 200 whose body is not a readable NIPR document, or one larger
  than `max_reply_bytes` once decompressed (refused unread);
  both mean "outcome unknown": NIPR may or may not have acted on the request.
- `GatewayAuthFailed`: HTTP 401/403; NIPR refused the credentials and did nothing.
- `GatewayNotConfigured`: ENTITY or PAYMENT is blank; checked before anything is sent.
Every transaction carries the submitter's ENTITY, PAYMENT and AUTHORIZATION from this
resource's configuration (`submitter()`), as NIPR's sample request does.
Credentials are `EnvVar` fields in production and never reach a log line, an error or `repr()`;
NIPR's own text in a reply (each transaction's message, the request's errors) is scrubbed of
them too before anyone stores or shows it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import ClassVar

import dagster as dg
import requests
from pydantic import Field

from resources.nipr_gateway_xml import (
    MAX_PER_REQUEST,
    GatewayReply,
    GatewayTransaction,
    ReplyUnreadable,
    Submitter,
    TransactionKey,
    build_poll,
    build_request,
    parse_reply,
)
from resources.nipr_http import NiprHttpResource, ReplyTooLarge, read_within, safe_url

GATEWAY_PATH = "/gateway-realtime/realtime"
STATUS_PATH = "/gateway-realtime/status"

log = logging.getLogger(__name__)


class GatewayError(RuntimeError):
    """A Gateway call gave no usable answer. The message never carries the credentials."""


class GatewayUnavailable(GatewayError):
    """No complete reply (5xx, timeout, connection error, body cut off): outcome unknown."""


class GatewayReplyUnreadable(GatewayError):
    """A reply came but cannot be read (malformed XML): outcome unknown."""


class GatewayAuthFailed(GatewayError):
    """HTTP 401/403: NIPR refused the credentials; nothing was processed."""


class GatewayNotConfigured(ValueError):
    """A setting NIPR needs on every transaction (ENTITY, PAYMENT) is blank; nothing was sent.
    Not a GatewayError: it is no answer from NIPR but our configuration, checked when a run
    starts (`setup_for_execution`), before the ledger records any attempt."""


class NiprGateway(NiprHttpResource):
    """NIPR's real-time Gateway: submit transactions, poll them, look a batch up."""

    _user_agent: ClassVar[str] = "npnflow-nipr-gateway"

    base_url: str = Field(
        description="Base URL of the Gateway (e.g. https://gateway-realtime.api.nipr.com)."
    )
    customer_id: str = Field(
        default="NPNFLOW", description="NIPR CUSTOMER id sent with every transaction."
    )
    # What only the submitter knows (docs/submission.md, "The Gateway request"). The defaults
    # are the values of NIPR's sample request, for the sandbox; production sets every one from
    # NIPR_GATEWAY_* (pipelines/environments.py, docs/configuration.md).
    entity_id: str = Field(
        default="NPNFLOW", description="NIPR ENTITY id of the submitter, sent as ENTITY."
    )
    payment_account_id: str = Field(
        default="001", description="PAYMENT/ACCOUNT_ID: the NIPR account the fees are billed to."
    )
    payment_type: str = Field(
        default="2", description="PAYMENT/PAYMENT_TYPE: NIPR's code for how the account pays."
    )
    authorizer_first_name: str = Field(
        default="Joe", description="AUTHORIZATION/FIRST_NAME: who authorises the filings."
    )
    authorizer_last_name: str = Field(default="Submitter", description="AUTHORIZATION/LAST_NAME.")
    authorizer_title: str = Field(default="Coordinator", description="AUTHORIZATION/TITLE.")
    authorizer_phone: str = Field(
        default="1234567890", description="AUTHORIZATION/PHONE/PHONE_NUMBER."
    )
    authorizer_address_line_1: str = Field(
        default="100 MAIN", description="AUTHORIZATION/ADDRESS/ADDR_LINE_1."
    )
    authorizer_city: str = Field(default="PORTLAND", description="AUTHORIZATION/ADDRESS/CITY.")
    authorizer_state_code: str = Field(
        default="OR", description="AUTHORIZATION/ADDRESS/STATE_CODE."
    )
    authorizer_zip_code: str = Field(
        default="972041093", description="AUTHORIZATION/ADDRESS/ZIP_CODE."
    )
    timeout_seconds: float = Field(default=60.0, description="Read timeout per socket read.")
    settle_seconds: float = Field(
        default=120.0,
        description=(
            "How long NIPR may still act on a request after we stopped waiting for it (a crash, "
            "a timeout). A look-up that decides whether to resend waits until the last "
            "unanswered call is this old, so a request still in flight cannot be sent twice."
        ),
    )

    # ------------------------------------------------------------------ the submitter
    def submitter(self) -> Submitter:
        """ENTITY, PAYMENT and AUTHORIZATION as configured. Raises GatewayNotConfigured when
        ENTITY or PAYMENT is blank: NIPR refuses a transaction without them, so nothing is sent
        (and nothing paid for) until the setting is filled in."""
        missing = [
            name
            for name, value in (
                ("entity_id (NIPR_GATEWAY_ENTITY_ID)", self.entity_id),
                ("payment_account_id (NIPR_GATEWAY_PAYMENT_ACCOUNT_ID)", self.payment_account_id),
                ("payment_type (NIPR_GATEWAY_PAYMENT_TYPE)", self.payment_type),
            )
            if not (value or "").strip()
        ]
        if missing:
            raise GatewayNotConfigured(
                "the Gateway resource is missing "
                + ", ".join(missing)
                + ": NIPR refuses a transaction without ENTITY and PAYMENT; set them "
                "(docs/configuration.md) and submit the batch again"
            )
        return Submitter(
            entity_id=self.entity_id,
            payment_account_id=self.payment_account_id,
            payment_type=self.payment_type,
            first_name=self.authorizer_first_name,
            last_name=self.authorizer_last_name,
            title=self.authorizer_title,
            phone_number=self.authorizer_phone,
            address_line_1=self.authorizer_address_line_1,
            city=self.authorizer_city,
            state_code=self.authorizer_state_code,
            zip_code=self.authorizer_zip_code,
        )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Fail the run before the ledger records an attempt, with the setting to fill in.
        self.submitter()

    # ------------------------------------------------------------------ plumbing
    def _url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def _call(
        self,
        call: str,
        method: str,
        path: str,
        sent_keys: Sequence[TransactionKey],
        body: bytes | None = None,
        params: dict[str, str] | None = None,
    ) -> GatewayReply:
        url = self._url(path)
        where = safe_url(url)
        try:
            response = self._http().request(
                method,
                url,
                data=body,
                params=params,
                headers={"Content-Type": "text/xml; charset=UTF-8"} if body is not None else None,
                timeout=self._timeout,
                stream=True,
            )
            with response:
                content = read_within(response, self.max_reply_bytes)  # a cut body raises here
        except ReplyTooLarge as error:
            raise GatewayReplyUnreadable(self._scrub(f"{call}: {error}; refused unread")) from None
        except requests.Timeout as error:
            raise GatewayUnavailable(
                self._scrub(
                    f"{call}: no answer from {where} within the timeout ({type(error).__name__})"
                )
            ) from None
        except requests.RequestException as error:
            raise GatewayUnavailable(
                self._scrub(f"{call}: no complete answer from {where} ({type(error).__name__})")
            ) from None
        status = response.status_code
        if status in (401, 403):
            raise GatewayAuthFailed(
                self._scrub(
                    f"{call}: NIPR refused the credentials (HTTP {status} from {where}); check "
                    "the configured Gateway user name and password"
                )
            )
        if status >= 500:
            raise GatewayUnavailable(self._scrub(f"{call}: HTTP {status} from {where}"))
        try:
            reply = parse_reply(content, sent_keys)
        except ReplyUnreadable as error:
            if status == 200:
                raise GatewayReplyUnreadable(self._scrub(f"{call}: {error}")) from None
            # A 4xx that is not a NIPR document (e.g. no such endpoint): no usable answer.
            raise GatewayUnavailable(self._scrub(f"{call}: HTTP {status} from {where}")) from None
        # A 4xx with a NIPR ERROR document (e.g. 3001, request unreadable) is an answer: its
        # errors name no key, so the caller treats every key as unanswered.
        return self._scrubbed(reply)

    def _scrubbed(self, reply: GatewayReply) -> GatewayReply:
        """The reply with NIPR's own text scrubbed of the credentials: each transaction's
        message is stored on it and shown (`npnflow batches show`, the UI), and the request's
        errors become the run's failure."""

        def scrub(text: str | None) -> str | None:
            return None if text is None else self._scrub(text)

        return GatewayReply(
            {
                key: dataclasses.replace(
                    outcome,
                    nipr_status=scrub(outcome.nipr_status),
                    nipr_message=scrub(outcome.nipr_message),
                )
                for key, outcome in reply.outcomes.items()
            },
            tuple(
                dataclasses.replace(error, description=self._scrub(error.description))
                for error in reply.request_errors
            ),
        )

    # ------------------------------------------------------------------ the interface
    def send(
        self,
        transactions: Sequence[GatewayTransaction],
        *,
        cust_batch: str,
        now: datetime | None = None,
    ) -> GatewayReply:
        """Submit up to 100 transactions of one batch. Never retried here (see the module)."""
        if not 1 <= len(transactions) <= MAX_PER_REQUEST:
            raise ValueError(
                f"send takes 1 to {MAX_PER_REQUEST} transactions, not {len(transactions)}"
            )
        body = build_request(
            transactions,
            self.customer_id,
            cust_batch,
            now or datetime.now(UTC),
            self.submitter(),
        )
        keys = [(cust_batch, t.idempotency_key) for t in transactions]
        call = f"Gateway submission of {len(keys)} transaction(s) of batch {cust_batch}"
        return self._call(call, "POST", GATEWAY_PATH, keys, body=body)

    def poll(self, keys: Sequence[TransactionKey]) -> GatewayReply:
        """NIPR-style poll of up to 100 (CUST_BATCH, CUST_TRANS) keys; submits nothing."""
        if not 1 <= len(keys) <= MAX_PER_REQUEST:
            raise ValueError(f"poll takes 1 to {MAX_PER_REQUEST} keys, not {len(keys)}")
        body = build_poll(keys, self.customer_id, self.submitter())
        return self._call(
            f"Gateway poll of {len(keys)} transaction(s)", "POST", GATEWAY_PATH, keys, body=body
        )

    def lookup_batch(self, cust_batch: str) -> GatewayReply:
        """Every transaction NIPR recorded under CUST_BATCH (the sandbox's status endpoint)."""
        return self._call(
            f"Gateway look-up of batch {cust_batch}",
            "GET",
            STATUS_PATH,
            (),
            params={"customer": self.customer_id, "cust_batch": cust_batch},
        )
