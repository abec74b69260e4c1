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


def free_ports(count: int) -> list[int]:
    """`count` different free ports: each held bound until all are chosen, so two servers
    started side by side never get the same one."""
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()
