"""The NIPR sandbox (npnflow's stand-in NIPR server) as the tests use it: a generated world
served over HTTP on a free loopback port, once per module, reset between tests, and the
client settings that point at it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import pytest

from npnflow.sandbox.server import NiprSandbox


@contextmanager
def running_sandbox(**world: Any) -> Iterator[NiprSandbox]:
    """A NIPR sandbox over the world `world` describes (seed, producers, companies, today,
    ...: NiprSandbox's arguments), on a port the system picks; stopped on exit."""
    with NiprSandbox(port=0, **world) as sandbox:
        yield sandbox


Scope = Literal["session", "package", "module", "class", "function"]


def sandbox_fixture(*, scope: Scope = "module", **world: Any) -> Any:
    """A fixture serving the sandbox over `world` once per `scope`; assign it to the name the
    tests ask for: `server = sandbox_fixture(seed=21, producers=150, today=TODAY)`."""

    @pytest.fixture(scope=scope)
    def served() -> Iterator[NiprSandbox]:
        with running_sandbox(**world) as sandbox:
            yield sandbox

    return served


def client_settings(sandbox: NiprSandbox) -> dict[str, str]:
    """NiprClient's three service addresses, all on the sandbox, and the sandbox's user."""
    return {
        "pdb_base_url": sandbox.base_url,
        "alerts_base_url": sandbox.base_url,
        "gateway_base_url": sandbox.base_url,
        "username": sandbox.username,
        "password": sandbox.password,
    }
