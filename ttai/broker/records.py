"""Broker records an adapter cannot use as sent: repaired or skipped, logged, counted.

A broker now and then sends one odd record: a position whose symbol does not
parse, a transaction without a price, a candle with NaN prices. Failing the
whole call for it would fail every later check for as long as the record
exists, so the adapters read records one at a time: what can be repaired is
repaired (see each adapter's rule), what cannot is skipped. Either way one
warning line names the record (never an account number or a credential) and a
counter goes up:

- `ttai_broker_records_repaired_total{broker, kind}`
- `ttai_broker_records_skipped_total{broker, kind}`

A response in which not one record can be read is not an odd record but a
format the adapter does not know: that is a `BrokerSchemaError`, so an empty
portfolio is never reported (and every position "closed") because of it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TypeVar

from pydantic import ValidationError

from ttai.broker.base import BrokerSchemaError
from ttai.telemetry.metrics import count

logger = logging.getLogger("ttai.broker")

T = TypeVar("T")
R = TypeVar("R")

# What reading one malformed record raises (pydantic's ValidationError is a ValueError).
# Not TypeError or AttributeError: those are bugs in the adapter, not odd data.
RECORD_ERRORS = (ValueError, ArithmeticError, KeyError, IndexError)


def data_problem(
    broker: str, kind: str, detail: str, *, repaired: int = 0, skipped: int = 0
) -> None:
    """Log and count records of `kind` that were repaired or skipped."""
    if repaired:
        count("ttai_broker_records_repaired_total", repaired, broker=broker, kind=kind)
    if skipped:
        count("ttai_broker_records_skipped_total", skipped, broker=broker, kind=kind)
    logger.warning(
        "%s %s records: repaired %d, skipped %d (%s)", broker, kind, repaired, skipped, detail
    )


def reason(exc: BaseException) -> str:
    """Why a record could not be read, without quoting its values."""
    if isinstance(exc, ValidationError):
        fields = sorted({".".join(str(p) for p in e["loc"]) or "(root)" for e in exc.errors()})
        return f"invalid {', '.join(fields[:3])}"
    return type(exc).__name__


def read_each(
    records: Iterable[R],
    read: Callable[[R], T | None],
    *,
    broker: str,
    kind: str,
    name: Callable[[R], str],
) -> list[T]:
    """`read(record)` for every record; None results are left out on purpose,
    records whose reading raises a `RECORD_ERRORS` error are skipped, logged
    (by `name(record)`) and counted. Raises `BrokerSchemaError` when records
    were given and every one failed."""
    out: list[T] = []
    skipped: list[str] = []
    read_any = False  # a record read, even one left out on purpose
    for record in records:
        try:
            value = read(record)
            read_any = True
        except RECORD_ERRORS as exc:
            try:
                label = name(record)
            except Exception:  # only a label for the log line
                label = "?"
            skipped.append(f"{label[:40]}: {reason(exc)}")
            continue
        if value is not None:
            out.append(value)
    if skipped:
        data_problem(broker, kind, "; ".join(skipped[:5]), skipped=len(skipped))
        if not read_any:
            raise BrokerSchemaError(
                f"{broker} sent {len(skipped)} {kind} record(s) and none could be read "
                f"({skipped[0]})"
            )
    return out
