"""The broker boundary: what may leave a `Broker` call.

A broker method reads data the broker sent. When that reading fails with a
`ValueError` (pydantic's `ValidationError` is one) or an `ArithmeticError`,
whichever module raised it (the adapter, `ttai.models`, `ttai.domain`, the SDK,
numpy), the broker sent something the adapter cannot read: the boundary turns
it into a `BrokerSchemaError` with a one-line reason, so the step fails once,
non-retryable, as a broker problem and never as the step's `InvalidInput`.

Adapters still skip one odd record themselves (`ttai.broker.records`); this is
the net under whatever escapes. Broker errors pass unchanged. Other exceptions
(`TypeError`, `AttributeError`, ...) are bugs and pass unchanged too.

`Services` puts every broker behind `guarded()`, so activities see only broker
errors from broker calls, and `activities/errors.py` can tell a broker's data
problem from the step's own bad input without looking at where it was raised.

A quote stream (`QuoteStreaming.stream_quotes`) is behind the boundary as a whole:
opening it, changing its symbols and every quote it yields.
"""

from __future__ import annotations

import functools
import inspect
import logging
import traceback
from collections.abc import AsyncIterator, Callable, Collection, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Any, cast

from pydantic import ValidationError

from ttai.broker.base import Broker, BrokerSchemaError, QuoteStream
from ttai.broker.records import reason
from ttai.models.market import Tick

logger = logging.getLogger("ttai.broker")

# What reading data raises; pydantic's ValidationError, json's JSONDecodeError and
# decimal's InvalidOperation are among them.
DATA_ERRORS = (ValueError, ArithmeticError)


class GuardedBroker:
    """Proxy running each coroutine method of `broker` behind the boundary."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker

    @property
    def name(self) -> str:
        return self._broker.name

    def __repr__(self) -> str:
        return f"guarded({self._broker!r})"

    def __getattr__(self, attribute: str) -> Any:
        target = getattr(self._broker, attribute)
        if attribute == "stream_quotes" and target is not None:  # None: it does not stream
            return self._guarded_stream(target)
        if not inspect.iscoroutinefunction(target):
            return target

        @functools.wraps(target)
        async def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return await target(*args, **kwargs)
            except DATA_ERRORS as exc:
                raise schema_error(self._broker.name, attribute, exc) from None

        return call

    def _guarded_stream(
        self, open_stream: Callable[[Collection[str]], AbstractAsyncContextManager[QuoteStream]]
    ) -> Callable[[Collection[str]], AbstractAsyncContextManager[QuoteStream]]:
        name = self._broker.name

        @asynccontextmanager
        async def stream_quotes(symbols: Collection[str]) -> AsyncIterator[QuoteStream]:
            # Opening and closing pass the boundary; what the caller's block raises
            # is the caller's own and passes unchanged.
            manager = open_stream(symbols)
            with _reading(name, "stream_quotes"):
                stream = await manager.__aenter__()
            try:
                yield GuardedStream(stream, name)
            except BaseException as exc:
                if not await manager.__aexit__(type(exc), exc, exc.__traceback__):
                    raise
            else:
                with _reading(name, "stream_quotes"):
                    await manager.__aexit__(None, None, None)

        return stream_quotes


class GuardedStream:
    """A `QuoteStream` whose symbol changes and quotes pass the boundary."""

    def __init__(self, stream: QuoteStream, broker: str) -> None:
        self._stream = stream
        self._broker = broker

    async def set_symbols(self, symbols: Collection[str]) -> None:
        with _reading(self._broker, "stream_quotes"):
            await self._stream.set_symbols(symbols)

    async def __aiter__(self) -> AsyncIterator[Tick]:
        with _reading(self._broker, "stream_quotes"):
            async for quote in self._stream:
                yield quote


@contextmanager
def _reading(broker: str, method: str) -> Iterator[None]:
    try:
        yield
    except DATA_ERRORS as exc:
        raise schema_error(broker, method, exc) from None


def schema_error(broker: str, method: str, exc: BaseException) -> BrokerSchemaError:
    """The `BrokerSchemaError` for a data error that escaped `broker.method`, logged.

    The message names fields, the exception type and the function that raised it,
    never values (an account number, a price): the original exception is dropped
    (`from None`) so none of it reaches a Temporal failure.
    """
    message = (
        f"{broker} sent data that could not be read in {method} ({reason(exc)}{_raised_in(exc)})"
    )
    logger.warning("%s", message)
    return BrokerSchemaError(message)


def _raised_in(exc: BaseException) -> str:
    """Where it was raised, for whoever debugs it: the model that refused a value, or
    the innermost Python function (`<module>.<function>`)."""
    if isinstance(exc, ValidationError):
        return f" in {exc.title}"
    frames = [frame for frame, _ in traceback.walk_tb(exc.__traceback__)]
    if not frames:
        return ""
    module = frames[-1].f_globals.get("__name__", "?")
    return f" in {module}.{frames[-1].f_code.co_name}"


def guarded(broker: Broker) -> Broker:
    """`broker` behind the boundary (a broker already behind it is returned as is)."""
    if isinstance(broker, GuardedBroker):
        return broker
    return cast(Broker, GuardedBroker(broker))
