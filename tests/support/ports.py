"""Free TCP ports on loopback, for the servers the tests start (and for a port nothing answers)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nothing listens on right now: bound, read, released. A server started on it a
    moment later almost always gets it; servers that can bind port 0 themselves should."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
