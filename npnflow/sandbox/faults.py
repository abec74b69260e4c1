"""Faults on request: the next N matching requests fail in a chosen way.

Configured through `POST /_sandbox/faults` with JSON
`{"target": "entityinfo|alerts|gateway|any", "kind": "...", "count": N, "delay_seconds": S,
  "after_record": false, "method": null}`:

- `http_500`, `http_503` (with Retry-After: 1): an error status with a short text body;
- `timeout`: wait `delay_seconds`, then close the connection without any reply;
- `slow`: wait `delay_seconds`, then answer normally;
- `malformed_xml`: status 200 and complete framing, but the XML is cut short (not well-formed);
- `truncated`: the headers announce the full Content-Length, half the body is sent, then the
  connection is closed.

`after_record: true` first processes the request (the Gateway records the transactions, Alerts
adds the targets...) and then fails the reply: exactly the lost-reply case an exactly-once
client must survive. Without it a failing request is not processed at all. Read-only requests
(Entity Info, reports, status look-ups) are processed either way when the fault needs a real
body to corrupt. `method` narrows an Alerts fault to one SOAP method (e.g.
"receiveSpecificReport"). Rules are used first-come first-served; `target` "gateway" covers the
real-time endpoints and the status look-up.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

TARGETS = ("entityinfo", "alerts", "gateway", "any")
KINDS = ("http_500", "http_503", "timeout", "slow", "malformed_xml", "truncated")


@dataclass
class FaultRule:
    target: str
    kind: str
    count: int = 1
    delay_seconds: float = 0.0
    after_record: bool = False
    method: str | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultRule:
        if not isinstance(data, dict):
            raise ValueError("a JSON object is expected")
        target = str(data.get("target", "any"))
        kind = str(data.get("kind", ""))
        if target not in TARGETS:
            raise ValueError(f"target must be one of {', '.join(TARGETS)}")
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        count = int(data.get("count", 1))
        delay = float(data.get("delay_seconds", 0.0))
        if count < 1 or delay < 0:
            raise ValueError("count must be at least 1 and delay_seconds not negative")
        method = data.get("method")
        return cls(
            target,
            kind,
            count,
            delay,
            bool(data.get("after_record", False)),
            str(method) if method else None,
        )


class FaultInjector:
    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()

    def add(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(rule) for rule in self._rules]

    def take(self, target: str, method: str | None = None) -> FaultRule | None:
        """Consume one use of the first rule matching this request, if any."""
        with self._lock:
            for rule in self._rules:
                if rule.target not in (target, "any"):
                    continue
                if rule.method and rule.method != method:
                    continue
                rule.count -= 1
                if rule.count <= 0:
                    self._rules.remove(rule)
                return rule
        return None
