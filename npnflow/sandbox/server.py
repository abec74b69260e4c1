"""The NIPR sandbox server: NIPR's protocols over a generated world, on loopback.

    with NiprSandbox(seed=7, producers=200) as sandbox:
        requests.get(f"{sandbox.base_url}/pdb-xml-reports/entityinfo_xml.cgi",
                     params={"id_entity": sandbox.world.npns[0]}, auth=sandbox.auth)

NIPR endpoints (HTTP basic auth, `username`/`password`):
- `GET  /pdb-xml-reports/entityinfo_xml.cgi?id_entity=<NPN>`          Entity Info XML
- `POST /pdb-alerts-industry-services/services/industry-ws`          PDB Alerts SOAP (MTOM)
- `POST /gateway-realtime/realtime`                                  Gateway, one-to-many
- `POST /gateway-realtime/niprgw`                                    Gateway, one-to-one
- `GET  /gateway-realtime/status?customer=&cust_batch=[&cust_trans=]` sandbox look-up of
  recorded transactions (one, or the whole CUST_BATCH): the current response XML

Control API (no auth, loopback clients only):
- `GET /_sandbox/health`; `POST /_sandbox/reset` (subscriptions, Gateway log, faults);
- `POST /_sandbox/faults`, `GET /_sandbox/faults`, `DELETE /_sandbox/faults` (see faults.py);
- `GET /_sandbox/gateway/transactions`: every transaction received, in order (with the
  TRANSACTION as received, `request`);
- `GET /_sandbox/npns?kind=individual|firm&limit=N`: NPNs of the world;
- `GET /_sandbox/alerts/subscriptions`: subscriptions and their targets;
- `POST /_sandbox/clock` `{"now": "2025-03-28T11:00:00"}` or `{"today": "2025-03-28"}` or
  `{"now": null}` (follow the wall clock again).

Clock: `today=None` follows the wall clock; a date freezes the clock at noon that day (after the
default 10:00 publish hour); a datetime freezes it at that instant. The world is generated
around the first "today" and does not move when the clock does; the daily change model does.
"""

from __future__ import annotations

import argparse
import base64
import hmac
import ipaddress
import json
import logging
import signal
import threading
import time
from collections.abc import Sequence
from datetime import date, datetime
from datetime import time as dtime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from npnflow.sandbox import alerts as alerts_module
from npnflow.sandbox.alerts import AlertsService
from npnflow.sandbox.entity_info import render_entity_info, render_error
from npnflow.sandbox.faults import FaultInjector, FaultRule
from npnflow.sandbox.gateway import GatewayService
from npnflow.sandbox.generator import World, generate_world
from npnflow.sandbox.world_settings import DEFAULT_PRODUCERS, DEFAULT_SEED

log = logging.getLogger(__name__)

ENTITY_INFO_PATH = "/pdb-xml-reports/entityinfo_xml.cgi"
ALERTS_PATH = "/pdb-alerts-industry-services/services/industry-ws"
GATEWAY_PATH = "/gateway-realtime/realtime"
GATEWAY_ONE_TO_ONE_PATH = "/gateway-realtime/niprgw"
GATEWAY_STATUS_PATH = "/gateway-realtime/status"
MAX_BODY = 32 * 1024 * 1024
XML = "text/xml; charset=UTF-8"


class NiprSandbox:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = DEFAULT_SEED,
        producers: int = DEFAULT_PRODUCERS,
        companies: Any = None,
        today: date | datetime | None = None,
        username: str = "sandbox",
        password: str = "sandbox",
        intermediate_fraction: float = 0.2,
        polls_to_resolve: int = 2,
        publish_hour: int = 10,
        max_targets_per_subscription: int = 10_000,
        mtom_faults: bool = True,
        inline_reports: bool = False,
        world: World | None = None,
        gateway_answers_file: Path | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self._frozen: datetime | None = None
        self.set_clock(today)
        self.world = world or generate_world(
            seed=seed, producers=producers, companies=companies, today=self.now().date()
        )
        self.faults = FaultInjector()
        self.alerts = AlertsService(
            self.world,
            self.now,
            publish_hour=publish_hour,
            max_targets=max_targets_per_subscription,
            mtom_faults=mtom_faults,
            inline_reports=inline_reports,
        )
        self.gateway = GatewayService(
            self.world,
            self.now,
            intermediate_fraction=intermediate_fraction,
            polls_to_resolve=polls_to_resolve,
            answers_file=gateway_answers_file,
        )
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ clock
    def set_clock(self, value: date | datetime | None) -> None:
        if value is None:
            self._frozen = None
        elif isinstance(value, datetime):
            self._frozen = value
        else:
            self._frozen = datetime.combine(value, dtime(12, 0))

    def now(self) -> datetime:
        return self._frozen if self._frozen is not None else datetime.now()

    # ------------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not started")
        return f"http://{self.host}:{self._server.server_address[1]}"

    @property
    def auth(self) -> tuple[str, str]:
        return (self.username, self.password)

    def start(self) -> NiprSandbox:
        if self._server is not None:
            return self
        handler = type("BoundSandboxHandler", (_Handler,), {"sandbox": self})
        self._server = ThreadingHTTPServer((self.host, self.port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="nipr-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> NiprSandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self) -> None:
        self.alerts.reset()
        self.gateway.reset()
        self.faults.clear()

    def gateway_log(self) -> list[dict[str, Any]]:
        return self.gateway.log()

    def add_fault(self, **rule: Any) -> None:
        self.faults.add(FaultRule.from_json(rule))

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "seed": self.world.seed,
            "producers": self.world.size,
            "firms": int(self.world.is_firm.sum()),
            "today": self.now().date().isoformat(),
            "now": self.now().isoformat(timespec="seconds"),
            "world_today": self.world.today.isoformat(),
            "companies": [
                {"cocode": c.cocode, "company_name": c.name, "fein": c.fein}
                for c in self.world.companies
            ],
        }


class _Handler(BaseHTTPRequestHandler):
    sandbox: NiprSandbox
    protocol_version = "HTTP/1.1"
    server_version = "NiprSandbox/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # ------------------------------------------------------------------ plumbing
    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("request body too large")
        return self.rfile.read(length) if length else b""

    def _send(
        self, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, "application/json", json.dumps(payload, indent=1).encode())

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        if not header.lower().startswith("basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        sandbox = self.sandbox
        return hmac.compare_digest(user, sandbox.username) and hmac.compare_digest(
            password, sandbox.password
        )

    def _is_loopback(self) -> bool:
        try:
            return ipaddress.ip_address(self.client_address[0]).is_loopback
        except ValueError:
            return False

    # ------------------------------------------------------------------ routing
    def _dispatch(self, verb: str) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        try:
            body = self._read_body() if verb in ("POST", "DELETE") else b""
        except ValueError as error:
            self._send(413, "text/plain", str(error).encode())
            return
        if url.path.startswith("/_sandbox/"):
            if not self._is_loopback():
                self._json(403, {"error": "the control API answers loopback clients only"})
                return
            self._control(verb, url.path, query, body)
            return
        route = {
            ("GET", ENTITY_INFO_PATH): "entityinfo",
            ("POST", ALERTS_PATH): "alerts",
            ("POST", GATEWAY_PATH): "gateway",
            ("POST", GATEWAY_ONE_TO_ONE_PATH): "gateway",
            ("GET", GATEWAY_STATUS_PATH): "gateway",
        }.get((verb, url.path))
        if route is None:
            self._send(404, "text/plain", f"No such NIPR endpoint: {verb} {url.path}\n".encode())
            return
        if not self._authorized():
            self._send(
                401,
                "text/html",
                b"<html><body>401 Unauthorized</body></html>",
                {"WWW-Authenticate": 'Basic realm="NIPR"'},
            )
            return
        method = None
        if route == "alerts":
            method = alerts_module.method_of(body, self.headers.get("SOAPAction"))
        mutating = (route == "gateway" and verb == "POST") or (
            route == "alerts" and method in alerts_module.MUTATING
        )
        rule = self.sandbox.faults.take(route, method)
        if rule is not None and rule.kind == "slow":
            time.sleep(rule.delay_seconds)
            rule = None
        if rule is not None and not rule.after_record:
            if rule.kind == "timeout":
                self._drop(rule.delay_seconds)
                return
            if rule.kind in ("http_500", "http_503"):
                self._http_error(rule.kind)
                return
            if mutating:  # not processed: corrupt a canned reply instead of a real one
                status, content_type, reply = _canned(route)
                self._faulty(rule.kind, status, content_type, reply)
                return
        status, content_type, reply = self._process(route, verb, url.path, query, body)
        if rule is None:
            self._send(status, content_type, reply)
        elif rule.kind == "timeout":
            self._drop(rule.delay_seconds)
        elif rule.kind in ("http_500", "http_503"):
            self._http_error(rule.kind)
        else:
            self._faulty(rule.kind, status, content_type, reply)

    def _process(
        self, route: str, verb: str, path: str, query: dict[str, str], body: bytes
    ) -> tuple[int, str, bytes]:
        sandbox = self.sandbox
        user = sandbox.username
        if route == "entityinfo":
            npn = query.get("id_entity", "").strip()
            if not npn.isdigit():
                return (
                    200,
                    XML,
                    render_error("The request parameter id_entity is not a valid number."),
                )
            producer = sandbox.world.producer(npn, as_of=sandbox.now().date())
            if producer is None:
                return 200, XML, render_error(f"No entity was found for id_entity {npn}.")
            return 200, XML, render_entity_info(producer)
        if route == "alerts":
            reply = sandbox.alerts.handle(body, self.headers.get("SOAPAction"))
            return reply.status, reply.content_type, reply.body
        if verb == "GET":  # Gateway status look-up
            customer, batch = query.get("customer", ""), query.get("cust_batch", "")
            if not customer or not batch:
                return (
                    400,
                    XML,
                    sandbox.gateway.error_reply(
                        "3002", "customer and cust_batch are required (cust_trans optional)."
                    ),
                )
            status, found = sandbox.gateway.lookup(
                user, customer, batch, query.get("cust_trans") or None
            )
            return status, XML, found
        status, answer = sandbox.gateway.handle(body, user, one_to_many=path == GATEWAY_PATH)
        return status, XML, answer

    # ------------------------------------------------------------------ faults
    def _drop(self, delay: float) -> None:
        time.sleep(delay)
        self.close_connection = True  # no reply at all: the client sees a dead connection

    def _http_error(self, kind: str) -> None:
        if kind == "http_503":
            self._send(
                503,
                "text/html",
                b"<html><body>503 Service Unavailable</body></html>",
                {"Retry-After": "1"},
            )
        else:
            self._send(500, "text/html", b"<html><body>500 Internal Server Error</body></html>")

    def _faulty(self, kind: str, status: int, content_type: str, body: bytes) -> None:
        if kind == "malformed_xml":
            self._send(status, content_type, corrupt_xml(body, content_type))
            return
        # truncated: announce the whole body, send half of it, hang up.
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: max(1, len(body) // 2)])
        self.wfile.flush()
        self.close_connection = True

    # ------------------------------------------------------------------ control API
    def _control(self, verb: str, path: str, query: dict[str, str], body: bytes) -> None:
        sandbox = self.sandbox
        try:
            payload = json.loads(body) if body.strip() else {}
        except json.JSONDecodeError:
            self._json(400, {"error": "the body must be JSON"})
            return
        if (verb, path) == ("GET", "/_sandbox/health"):
            self._json(200, sandbox.health())
        elif (verb, path) == ("POST", "/_sandbox/reset"):
            sandbox.reset()
            self._json(200, {"status": "reset"})
        elif (verb, path) == ("POST", "/_sandbox/faults"):
            try:
                rule = FaultRule.from_json(payload)
            except (ValueError, TypeError) as error:
                self._json(400, {"error": str(error)})
                return
            sandbox.faults.add(rule)
            self._json(201, {"added": rule.__dict__, "pending": sandbox.faults.pending()})
        elif (verb, path) == ("GET", "/_sandbox/faults"):
            self._json(200, sandbox.faults.pending())
        elif (verb, path) == ("DELETE", "/_sandbox/faults"):
            sandbox.faults.clear()
            self._json(200, {"status": "cleared"})
        elif (verb, path) == ("GET", "/_sandbox/gateway/transactions"):
            self._json(200, sandbox.gateway_log())
        elif (verb, path) == ("GET", "/_sandbox/npns"):
            kind = query.get("kind", "")
            npns = (
                sandbox.world.individual_npns()
                if kind == "individual"
                else sandbox.world.firm_npns()
                if kind == "firm"
                else sandbox.world.npns
            )
            limit = int(query.get("limit") or len(npns))
            self._json(200, npns[:limit])
        elif (verb, path) == ("GET", "/_sandbox/alerts/subscriptions"):
            with sandbox.alerts._lock:
                subs = [
                    {
                        "name": s.name,
                        "alert_types": s.alert_types,
                        "states": s.states,
                        "targets": list(s.targets),
                    }
                    for s in sandbox.alerts.subscriptions.values()
                ]
            self._json(200, subs)
        elif (verb, path) == ("POST", "/_sandbox/clock"):
            try:
                if payload.get("today"):
                    sandbox.set_clock(date.fromisoformat(payload["today"]))
                elif payload.get("now"):
                    sandbox.set_clock(datetime.fromisoformat(payload["now"]))
                else:
                    sandbox.set_clock(None)
            except (ValueError, TypeError, AttributeError) as error:
                self._json(400, {"error": str(error)})
                return
            self._json(200, {"now": sandbox.now().isoformat(timespec="seconds")})
        else:
            self._json(404, {"error": f"no control endpoint {verb} {path}"})


def corrupt_xml(body: bytes, content_type: str) -> bytes:
    """Cut the XML short (60%) while keeping the HTTP and multipart framing intact."""
    if content_type.startswith("multipart/") and 'boundary="' in content_type:
        boundary = content_type.split('boundary="', 1)[1].split('"', 1)[0].encode()
        closing = body.rfind(b"\r\n--" + boundary + b"--")
        start = body.rfind(b"\r\n\r\n", 0, closing)
        if closing > 0 and start > 0:
            payload = body[start + 4 : closing]
            return body[: start + 4] + payload[: max(1, len(payload) * 6 // 10)] + body[closing:]
    return body[: max(1, len(body) * 6 // 10)]


def _canned(route: str) -> tuple[int, str, bytes]:
    """A plausible reply for a request the fault stopped before it was processed."""
    if route == "alerts":
        from npnflow.sandbox import mtom

        envelope = (
            b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
            b'<soap:Body><empty xmlns="'
            + alerts_module.IND_NS.encode()
            + b'"/></soap:Body></soap:Envelope>'
        )
        content_type, body = mtom.build_mtom(envelope)
        return 200, content_type, body
    return (
        200,
        XML,
        (
            b'<?xml version="1.0" standalone="yes"?>\n<NIPR><TRANSACTION><CUSTOMER>'
            b"</CUSTOMER></TRANSACTION></NIPR>"
        ),
    )


# ====================================================================== running it
def run_sandbox_from_cli(
    host: str = "127.0.0.1",
    port: int = 8765,
    seed: int = DEFAULT_SEED,
    producers: int = DEFAULT_PRODUCERS,
    sandbox: NiprSandbox | None = None,
) -> None:
    """`npnflow sandbox-nipr`: start, print where and how to connect, block until Ctrl-C.

    `sandbox`, when given (the data folder's world, `world_settings.sandbox_for`), is served
    instead of a world of `seed` and `producers`."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if sandbox is None:
        sandbox = NiprSandbox(host=host, port=port, seed=seed, producers=producers)
    sandbox.start()
    print(f"NIPR sandbox listening on {sandbox.base_url}")
    print(f"  credentials (basic auth): {sandbox.username} / {sandbox.password}")
    print(
        f"  world: {sandbox.world.size} producers, seed {sandbox.world.seed}, today "
        f"{sandbox.now().date().isoformat()}"
    )
    print(f"  Entity Info: {sandbox.base_url}{ENTITY_INFO_PATH}?id_entity={sandbox.world.npns[0]}")
    print(f"  control API: {sandbox.base_url}/_sandbox/health")
    if not loopback:
        print(
            "  WARNING: bound to a non-loopback address; the control API still answers "
            "loopback clients only."
        )
    print("Press Ctrl-C to stop.", flush=True)
    if threading.current_thread() is threading.main_thread():
        # `kill` (SIGTERM) stops it as cleanly as Ctrl-C does.
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
        print("NIPR sandbox stopped.", flush=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


serve_forever = run_sandbox_from_cli


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="npnflow-sandbox-nipr", description="Run the NIPR sandbox on loopback."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--producers", type=int, default=DEFAULT_PRODUCERS)
    args = parser.parse_args(argv)
    run_sandbox_from_cli(args.host, args.port, args.seed, args.producers)


if __name__ == "__main__":
    main()
