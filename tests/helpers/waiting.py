"""Waiting for what happens elsewhere (another process, a server, visibility).

A test waits for the thing it needs, never for a fixed time: `eventually` polls
a check until it holds. Its `within` only bounds a hang; it is not what a test
tests, so it is generous.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T] | T],
    *,
    what: str,
    until: Callable[[T], object] = bool,
    within: float = 120,
    every: float = 0.2,
    retrying: type[Exception] | tuple[type[Exception], ...] = (),
) -> T:
    """Call `check` (plain or async) every `every` seconds until `until` holds for
    its value (by default: until the value is truthy), and return that value.

    `retrying` names the exceptions that mean "not yet" (a server coming back, a
    worker not polling yet); any other exception fails the test at once. After
    `within` seconds the test fails, naming `what` and the last value or
    exception seen.
    """
    deadline = time.monotonic() + within
    while True:
        try:
            value = check()
            if inspect.isawaitable(value):
                value = await value
        except retrying as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            if until(value):
                return value
            last = value if isinstance(value, str) else repr(value)  # text as it was shown
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {within:g} s waiting for {what}; last seen: {last}"
            )
        await asyncio.sleep(every)
