"""Finding the stack: the Temporal client this server connects with, and the
stack lock that decides which MCP server brings up the local stack.

The lock is an `flock` on `<state>/mcp-stack.lock`, taken by the server that
brings the local stack up and inherited by its stack process
(ttai.mcp.stack_process), so it is released only when that process has stopped
the whole stack (every port free), also when the owning server was killed. A
second server connects to the owner's stack and takes it over when the owner
goes away; it never starts a second stack on the same ports and state folder.
"""

from __future__ import annotations

import fcntl
import logging
import os
from typing import TYPE_CHECKING

from ttai.config import Settings
from ttai.servers.files import ensure_state_dir, opened_dir

if TYPE_CHECKING:
    from temporalio.client import Client
    from temporalio.runtime import Runtime

LOCK_FILE = "mcp-stack.lock"

_runtime: Runtime | None = None


def _client_runtime() -> Runtime:
    """One Temporal runtime for the server's clients, its core's warnings forwarded
    to Python logging (so they are structured records on stderr, like the rest)."""
    global _runtime
    if _runtime is None:
        from temporalio.runtime import (
            LogForwardingConfig,
            LoggingConfig,
            Runtime,
            TelemetryConfig,
            TelemetryFilter,
        )

        forwarding = LogForwardingConfig(logger=logging.getLogger("temporalio.core"))
        filtered = TelemetryFilter(core_level="WARN", other_level="WARN")
        _runtime = Runtime(
            telemetry=TelemetryConfig(logging=LoggingConfig(filter=filtered, forwarding=forwarding))
        )
    return _runtime


async def connect_client(settings: Settings) -> Client:
    """A client on the configured Temporal address (imported late: the handshake comes first)."""
    from ttai.temporal.client import connect

    return await connect(settings, runtime=_client_runtime())


def try_lock(settings: Settings) -> int | None:
    """The stack lock's descriptor if we got it, else None (another server has it)."""
    ensure_state_dir(settings.state_dir)
    with opened_dir(settings.state_dir, follow=True) as state_fd:
        fd = os.open(
            LOCK_FILE,
            os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
            dir_fd=state_fd,
        )
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())  # who took it, for people reading the folder
    return fd


def one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__
