"""moto's S3 server over HTTP on loopback, for the tests of the S3 object store.

The AWS variables of the shell are removed and the AWS config and credential files pointed at
nothing while it runs, so nothing on the machine (~/.aws) is read: the tests give dummy
credentials through the resources' fields.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from support.ports import free_port


@contextmanager
def moto_s3_server() -> Iterator[str]:
    """moto's ThreadedMotoServer on a free loopback port; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer  # moto is slow to import: only when used

    with pytest.MonkeyPatch.context() as env:
        for name in list(os.environ):
            if name.startswith("AWS_") and name != "AWS_CA_BUNDLE":
                env.delenv(name)
        env.setenv("AWS_CONFIG_FILE", os.devnull)
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        env.setenv("NO_PROXY", "127.0.0.1,localhost")
        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.stop()


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """An S3 endpoint (moto's server) for the module's tests; buckets are the tests' own."""
    with moto_s3_server() as endpoint:
        yield endpoint
