"""How broker and input errors become Temporal outcomes.

Retrying cannot fix an unknown symbol, bad credentials or bad input, so those
are non-retryable application errors; broker outages are retried with the
delay the broker asked for, when it said one.

A `ValueError` (pydantic's `ValidationError` is one) is the step's input only
when the step's own code raised it. Raised inside a broker adapter it is data
the broker sent: adapters skip an odd record themselves (logged and counted,
see `ttai.broker.records`), and whatever still escapes is a `BrokerSchemaError`,
never `InvalidInput`.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from pydantic import ValidationError
from temporalio.exceptions import ApplicationError

from ttai import telemetry
from ttai.broker import BrokerError, BrokerUnavailable
from ttai.broker.records import reason

logger = logging.getLogger(__name__)

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
        telemetry.count("ttai_broker_errors_total", kind=kind)
        delay = err.retry_after if isinstance(err, BrokerUnavailable) else None
        raise ApplicationError(
            str(err),
            type=kind,
            non_retryable=not err.retryable,
            next_retry_delay=timedelta(seconds=delay) if delay else None,
        ) from err
    except (ValueError, ValidationError) as err:
        if _raised_in_broker(err):
            telemetry.count("ttai_broker_errors_total", kind="BrokerSchemaError")
            message = f"the broker sent data that could not be read ({reason(err)})"
            logger.warning("%s", message)
            raise ApplicationError(message, type="BrokerSchemaError", non_retryable=True) from None
        raise ApplicationError(str(err), type="InvalidInput", non_retryable=True) from err


def _raised_in_broker(err: BaseException) -> bool:
    """Whether `err` was raised while code of a broker adapter (`ttai.broker.*`) ran."""
    return any(
        str(frame.f_globals.get("__name__", "")).startswith("ttai.broker.")
        for frame, _ in traceback.walk_tb(err.__traceback__)
    )
