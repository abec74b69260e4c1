"""An SMTP server on loopback (aiosmtpd's Controller) around a test's handler."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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
