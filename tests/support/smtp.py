"""An SMTP server on loopback (aiosmtpd's Controller) around a test's handler, and a handler
that records what it took and refuses what a test asks it to."""

from __future__ import annotations

import email.policy
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from typing import Any

from support.ports import free_port


@contextmanager
def smtp_server(handler: Any, **smtp_settings: Any) -> Iterator[int]:
    """aiosmtpd serving `handler` on a free loopback port (yielded), stopped on exit.
    `smtp_settings` go to the server (e.g. `auth_required=True, authenticator=...`)."""
    from aiosmtpd.controller import Controller

    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **smtp_settings)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@dataclass
class Received:
    """One message the server took: the envelope, the raw bytes and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage

    @property
    def body(self) -> str:
        return self.message.get_content()

    @property
    def token(self) -> str:
        (token,) = re.findall(r"[?&]token=([A-Za-z0-9_-]+)", self.body)
        return token


@dataclass
class RecordingHandler:
    """What the server took. `refuse`: addresses refused at RCPT (550, a permanent refusal, the
    address repeated as Postfix does); `refuse_data`: recipients whose message is refused after
    its content (554, as a content filter does)."""

    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    refuse_data: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.refuse_data & set(envelope.rcpt_tos):
            return "554 5.7.1 Message rejected by the content filter"
        message = message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, message)
            )
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if r.rcpt_tos == [address]]
