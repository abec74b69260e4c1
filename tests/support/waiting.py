"""Waiting for something another process does, with a deadline that scales with the machine.

The end-to-end tests wait on subprocesses (the Dagster daemon, the webserver, `npnflow demo`).
On a loaded machine everything is slower, and a fixed deadline turns slowness into a failure.
So each deadline is written as the time it takes on an idle machine, multiplied by
`NPNFLOW_TEST_TIME_SCALE` (default 3). A test still fails when the thing never happens, and
then it says what it waited for and what it last saw.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

TIME_SCALE_VARIABLE = "NPNFLOW_TEST_TIME_SCALE"
DEFAULT_TIME_SCALE = 3.0

T = TypeVar("T")


def time_scale() -> float:
    """`NPNFLOW_TEST_TIME_SCALE` (a positive number), or 3."""
    raw = os.environ.get(TIME_SCALE_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_TIME_SCALE
    try:
        scale = float(raw)
    except ValueError:
        raise ValueError(f"{TIME_SCALE_VARIABLE}={raw!r} is not a number") from None
    if scale <= 0:
        raise ValueError(f"{TIME_SCALE_VARIABLE}={raw!r} must be positive")
    return scale


def scaled(seconds: float) -> float:
    """`seconds` (as long as it takes on an idle machine) times the scale factor."""
    return seconds * time_scale()


def wait_until(
    predicate: Callable[[], T],
    what: str,
    deadline: float,
    *,
    interval: float = 1.0,
    check: Callable[[], None] | None = None,
    ignore: tuple[type[BaseException], ...] = (),
    describe: Callable[[], str] | None = None,
) -> T:
    """Poll `predicate` until it returns something truthy, and return that.

    `deadline` is in idle-machine seconds, scaled by `time_scale()`. `check` runs before each
    poll (e.g. "the subprocess is still alive") and may raise to stop waiting at once. An
    exception of a type in `ignore` counts as "not yet" (e.g. a server still starting). On
    timeout an AssertionError names `what`, the deadline, and what the last poll saw (its value
    or its exception), plus `describe()` when given.
    """
    limit = scaled(deadline)
    started = time.monotonic()
    last: str = "nothing (never polled)"
    while True:
        if check is not None:
            check()
        try:
            value = predicate()
        except ignore as error:
            last = f"{type(error).__name__}: {error}"
        else:
            if value:
                return value
            last = repr(value)
        elapsed = time.monotonic() - started
        if elapsed > limit:
            message = (
                f"timed out after {elapsed:.0f} s ({deadline:g} s x {TIME_SCALE_VARIABLE}="
                f"{time_scale():g}) waiting for {what}; last seen: {last}"
            )
            if describe is not None:
                message += "\n" + describe()
            raise AssertionError(message)
        time.sleep(interval)
