"""How broker and input errors become Temporal outcomes.

Retrying cannot fix an unknown symbol, bad credentials or bad input, so those
are non-retryable application errors; broker outages are retried with the
delay the broker asked for, when it said one.

The contract that tells a broker's bad data from the step's bad input is the
broker boundary (`ttai.broker.boundary`, applied by `ttai.services.Services`):
a data error escaping a broker call is already a `BrokerSchemaError` when it
gets here, whichever module raised it. So a `BrokerError` is the broker's
outcome, and a `ValueError` (pydantic's `ValidationError` is one) is the
step's own code refusing its input: `InvalidInput`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from temporalio.exceptions import ApplicationError

from ttai.broker.base import BrokerError, BrokerUnavailable
from ttai.telemetry.metrics import count

NON_RETRYABLE_TYPES = [
    "UnknownSymbol",
    "BrokerAuthError",
    "BrokerSchemaError",
    "InvalidInput",
]


@contextmanager
def classified_errors() -> Iterator[None]:
    try:
        yield
    except BrokerError as err:
        kind = type(err).__name__
        count("ttai_broker_errors_total", kind=kind)
        delay = err.retry_after if isinstance(err, BrokerUnavailable) else None
        raise ApplicationError(
            str(err),
            type=kind,
            non_retryable=not err.retryable,
            next_retry_delay=timedelta(seconds=delay) if delay else None,
        ) from err
    except ValueError as err:
        raise ApplicationError(str(err), type="InvalidInput", non_retryable=True) from err
