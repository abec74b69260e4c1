"""A step retried when the database was only briefly unavailable, and only then.

`process_upload_job`'s steps and the submission step are wrapped in
`retry_transient_database_errors`. When one fails on a transient database error (SQLite still
"database is locked" after its busy timeout; PostgreSQL's serialization failure, deadlock, a
server restarting, a connection lost: `resources.database.is_transient_database_error`), it
asks Dagster to run the step again after a backoff (`TRANSIENT_DATABASE_RETRY_POLICY`: about
5, 15, 35 and 75 seconds, give or take 5). Any other error fails the step at once, as before.

Why the whole step and not only the transaction that failed: a retry re-runs the step from its
start, which is safe because every wrapped step is idempotent. Each writes in one database
transaction that either committed or left nothing (a failed one left nothing), and either
replaces what it wrote before (an upload's record, its request rows, its batches while none
was approved or sent) or reads its own ledger first (the invitation emails: a seat already
taken is not taken again, an email already sent is not sent again; the Gateway attempts: a
second try asks NIPR what it already has before sending anything). Retrying single
transactions inside the steps would take cutting every step into replayable pieces, for the
same outcome.

Why not a plain `dg.RetryPolicy` on the assets: Dagster's policy retries every exception, and
a bug, a refused file or a missing table does not fix itself; the step would only fail minutes
later with the same message. So the policy is used for its delays (backoff and jitter) and the
decision to retry is made here.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, cast

import dagster as dg

from resources.database import is_transient_database_error

TRANSIENT_DATABASE_RETRY_POLICY = dg.RetryPolicy(
    max_retries=4, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)

Compute = TypeVar("Compute", bound=Callable[..., Any])


def retry_transient_database_errors(compute: Compute) -> Compute:
    """Wrap an asset's (or op's) compute function: a transient database error becomes a
    `dg.RetryRequested` with the policy's delay; everything else passes through untouched.

    Put it under the Dagster decorator. The signature Dagster reads (context, resources) is the
    wrapped function's (`functools.wraps`), and a generator stays a generator.
    """
    if inspect.isgeneratorfunction(compute):

        @functools.wraps(compute)
        def generator(context: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                yield from compute(context, *args, **kwargs)
            except Exception as error:
                _retry_if_transient(context, error)
                raise

        return cast(Compute, generator)

    @functools.wraps(compute)
    def function(context: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return compute(context, *args, **kwargs)
        except Exception as error:
            _retry_if_transient(context, error)
            raise

    return cast(Compute, function)


def _retry_if_transient(context: Any, error: Exception) -> None:
    if isinstance(error, dg.RetryRequested) or not is_transient_database_error(error):
        return
    policy = TRANSIENT_DATABASE_RETRY_POLICY
    attempt = int(context.retry_number) + 1  # the try that comes next
    if attempt > policy.max_retries:
        return  # the last try failed: the error as it is, not "Exceeded max_retries"
    delay = max(0.0, float(policy.calculate_delay(attempt)))
    context.log.warning(
        f"The database was busy or unreachable ({_first_line(error)}); the step runs again in "
        f"{delay:.0f} s (retry {attempt} of {policy.max_retries})."
    )
    raise dg.RetryRequested(max_retries=policy.max_retries, seconds_to_wait=delay) from error


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__
