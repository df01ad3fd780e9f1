"""The local stack as this MCP server's child process, when it owns it.

`python worker.py --local --no-demo --ready-fd N`: PostgreSQL, the Temporal dev
server, the worker, the monitors and the schedules (no demo), which writes one
JSON line to descriptor N once up, or why it failed (ttai.main_job).

The child runs in its own session, so a host's `killpg` of the server does
not cut its orderly stop short, with the parent-death signal set (`setpriv
--pdeathsig TERM`), so it stops even if the server is SIGKILLed. It inherits
the stack lock (ttai.mcp.stack_lock) and holds it until it has stopped
everything. Its stdout and stderr go to `<state>/mcp-stack.log`: never to the
protocol, and the server's stderr keeps to its own structured records.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from ttai.config import PROJECT_ROOT, Settings
from ttai.servers import die_with_parent
from ttai.servers.files import opened_dir

logger = logging.getLogger("ttai.mcp.stack")

STACK_LOG = "mcp-stack.log"
WORKER_SCRIPT = PROJECT_ROOT / "worker.py"


class OwnedStack:
    """One run of the local stack as a child process: started, awaited, stopped."""

    def __init__(
        self,
        settings: Settings,
        *,
        command: list[str] | None = None,
        start_timeout: float,
        stop_timeout: float,
    ) -> None:
        self.settings = settings
        self.command = command or [sys.executable, str(WORKER_SCRIPT), "--local", "--no-demo"]
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._process: asyncio.subprocess.Process | None = None

    @property
    def log_path(self) -> Path:
        return stack_log_path(self.settings)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def start(self, lock: int) -> dict[str, Any]:
        """Spawn it, handing it the stack lock (closed here); its ready message,
        `{"ready": true, "ui_url": ...}` or `{"error": ...}`, within `start_timeout`."""
        read_fd, write_fd = os.pipe()
        try:
            try:
                self._process = await self._spawn(lock, write_fd)
            finally:
                os.close(write_fd)
                os.close(lock)  # the child holds the lock from now on, until it has stopped
        except BaseException:
            os.close(read_fd)
            raise
        logger.info("starting the local stack (pid %s)", self._process.pid)
        try:
            async with asyncio.timeout(self.start_timeout):  # see WAIT_FOR in ttai.mcp.stack_state
                return await _read_line(read_fd)
        except TimeoutError:
            return {"error": f"not ready after {self.start_timeout:.0f} s"}

    async def wait(self) -> int:
        """Until it exits; its exit code."""
        assert self._process is not None
        return await self._process.wait()

    async def terminate(self) -> int:
        """SIGTERM it (if still running) and wait for it to exit; its exit code."""
        self._signal_stop()
        return await self.wait()

    async def stop(self) -> None:
        """SIGTERM it and wait up to `stop_timeout`; it finishes stopping on its own after."""
        if not self.running:
            return
        logger.info("stopping the local stack (pid %s)", self.pid)
        self._signal_stop()
        try:
            async with asyncio.timeout(self.stop_timeout):
                code = await self.wait()
            logger.info("local stack stopped (exit code %s)", code)
        except TimeoutError:
            # It goes on stopping on its own (own session, not killed with us);
            # its lock stays held until every port is free.
            logger.info("the local stack is still stopping (pid %s)", self.pid)

    def _signal_stop(self) -> None:
        if self.running:
            assert self._process is not None
            with contextlib.suppress(ProcessLookupError):
                self._process.send_signal(signal.SIGTERM)

    async def _spawn(self, lock: int, ready_fd: int) -> asyncio.subprocess.Process:
        log_fd = _open_stack_log(self.settings)
        try:
            return await asyncio.create_subprocess_exec(
                *die_with_parent(),
                *self.command,
                "--ready-fd",
                str(ready_fd),
                stdin=asyncio.subprocess.DEVNULL,
                # Never the protocol's stdout; and not our stderr either, which
                # carries only this server's structured records (the worker's
                # Temporal core writes its own format there).
                stdout=log_fd,
                stderr=log_fd,
                pass_fds=(ready_fd, lock),
                # Own session: a host's killpg of this server does not cut the
                # stack's orderly stop short; the parent-death signal stops it
                # if this server is killed.
                start_new_session=True,
                cwd=str(PROJECT_ROOT),
            )
        finally:
            os.close(log_fd)


def stack_log_path(settings: Settings) -> Path:
    """Where an owned stack's output goes."""
    return settings.state_dir / STACK_LOG


def _open_stack_log(settings: Settings) -> int:
    with opened_dir(settings.state_dir, follow=True) as state_fd:
        return os.open(
            STACK_LOG,
            os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
            dir_fd=state_fd,
        )


async def _read_line(fd: int) -> dict[str, Any]:
    """The child's one JSON line on the ready pipe ({} if it closed the pipe without one)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    pipe = os.fdopen(fd, "rb", buffering=0)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    try:
        line = await reader.readline()
    finally:
        transport.close()
    try:
        message = json.loads(line) if line.strip() else {}
    except ValueError:
        return {"error": f"unreadable ready message {line[:80]!r}"}
    return message if isinstance(message, dict) else {}
