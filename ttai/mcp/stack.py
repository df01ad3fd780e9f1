"""Where the TTAI stack is, and bringing up the local one when nothing answers.

`Stack` runs in the background from the moment the server starts; tools ask it
for the ops layer's `Connection` (ttai.ops.connection, on the client it made)
and wait while the stack is being found or started. `initialize` never waits
for it.

What it does, in a loop:
1. Connect to the configured Temporal address. If it answers (`make run`, a
   cluster named by `TEMPORAL_ADDRESS`, or another MCP server's stack), use it
   ("connected") and check its health every `health_interval` seconds. At the
   local default address, only a dev server this user started with this
   state folder is used (ttai.servers.claims): a port on 127.0.0.1 is anyone's
   to take first.
2. If nothing answers and the address is the local default (no
   `TEMPORAL_ADDRESS` / profile), take the stack lock, `<state>/mcp-stack.lock`,
   and bring up the same local stack `make run` does, in a child process:
   `python worker.py --local --no-demo --ready-fd N` (`OwnedStack`).
   This server is then the stack's "owner".
3. If the lock is taken, another MCP server is starting (or stopping) the
   stack: wait, and connect once it answers ("waiting").
4. If the stack goes away (its owner closed), go round again: the first
   server to take the lock brings it up again; the others connect to it.

In this module, in order:
- what the tools see of the stack (`StackView`): its state and status, and a
  wait for its connection; `Stack` drives these states as it finds, starts or
  loses the stack, while tools, resources and the LISTEN bridge only read
  them and wait;
- `Stack`, the loop above;
- the Temporal client this server connects with, and the stack lock: an
  `flock` on `<state>/mcp-stack.lock`, taken by the server that brings the
  local stack up and inherited by its stack process, so it is released only
  when that process has stopped the whole stack (every port free), also when
  the owning server was killed. A second server connects to the owner's stack
  and takes it over when the owner goes away; it never starts a second stack
  on the same ports and state folder;
- the owned stack as a child process (`OwnedStack`): `worker.py --local`
  writes one JSON line to descriptor N once up, or why it failed
  (ttai.main_job). The child runs in its own session, so a host's `killpg` of
  the server does not cut its orderly stop short, with the parent-death
  signal set (`setpriv --pdeathsig TERM`), so it stops even if the server is
  SIGKILLed. It holds the stack lock until it has stopped everything. Its
  stdout and stderr go to `<state>/mcp-stack.log`: never to the protocol, and
  the server's stderr keeps to its own structured records.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from ttai.config import PROJECT_ROOT, Settings
from ttai.ops.connection import Connection
from ttai.servers import StackError, die_with_parent
from ttai.servers.files import ensure_state_dir, opened_dir
from ttai.telemetry.redaction import Redactor

if TYPE_CHECKING:
    from temporalio.client import Client
    from temporalio.runtime import Runtime

logger = logging.getLogger("ttai.mcp.stack")

STABLE_SECONDS = 60  # an owned stack that ran this long is restarted without back-off
LOCK_FILE = "mcp-stack.lock"
STACK_LOG = "mcp-stack.log"
WORKER_SCRIPT = PROJECT_ROOT / "worker.py"

# WAIT_FOR: the MCP server's timeouts are `asyncio.timeout`, never `asyncio.wait_for`:
# on Python 3.11 `wait_for` swallows a cancellation that arrives as its awaitable
# completes (the event set, a notification queued), so a loop around it goes on
# after `Task.cancel()` and the server's close waits for it forever.


# -----------------------------------------------------------------------------
# What the tools see of the stack: its state and status, and a wait for its connection.

StackState = Literal["connecting", "starting", "waiting", "ready", "down", "stopped"]


class StackUnavailable(Exception):
    """The stack is not there and will not be soon: one line for the caller."""


class StackStatus(BaseModel):
    """Where this MCP server's Temporal stack is and who runs it."""

    state: StackState = Field(
        description="connecting: looking for it; starting: this server is bringing up the "
        "local stack; waiting: another server is; ready: usable; down: not reachable "
        "(retried); stopped: the server is closing."
    )
    owner: bool = Field(description="True when this server started the stack and stops it.")
    temporal_address: str
    namespace: str
    task_queue: str
    ui_url: str | None = Field(default=None, description="The Temporal Web UI, when known.")
    detail: str | None = Field(default=None, description="Why it is not ready, when it is not.")
    server_pid: int
    stack_pid: int | None = Field(
        default=None, description="The local stack's process, when this server owns it."
    )


class StackView:
    """The stack's state as tools see it; `Stack` is the one that changes it."""

    def __init__(self, settings: Settings, *, start_timeout: float) -> None:
        self.settings = settings
        self.start_timeout = start_timeout
        self._state: StackState = "connecting"
        self._detail: str | None = None
        self._ui_url: str | None = None
        self._connection: Connection | None = None
        self._child: OwnedStack | None = None
        self._changed = asyncio.Event()  # replaced by a fresh one at every change
        self._kick = asyncio.Event()
        self._failures = 0  # completed attempts that ended "down"
        self._listeners: list[Callable[[StackStatus], Awaitable[None]]] = []

    @property
    def database_url(self) -> str | None:
        """The project's database, for LISTEN: DATABASE_URL, else the local stack's
        private cluster; None when Temporal is a remote cluster and DATABASE_URL is unset."""
        if self.settings.database_url:
            return self.settings.database_url
        if self.settings.use_remote_temporal:
            return None
        from ttai.servers.postgres import database_url

        return database_url(self.settings)

    @property
    def owner(self) -> bool:
        return self._child is not None and self._child.running

    def status(self) -> StackStatus:
        return StackStatus(
            state=self._state,
            owner=self.owner,
            temporal_address=self.settings.temporal_address,
            namespace=self.settings.namespace,
            task_queue=self.settings.task_queue,
            ui_url=self._ui_url,
            detail=self._detail,
            server_pid=os.getpid(),
            stack_pid=self._child.pid if self.owner and self._child else None,
        )

    def on_change(self, listener: Callable[[StackStatus], Awaitable[None]]) -> None:
        self._listeners.append(listener)

    async def connection(
        self,
        *,
        wait_seconds: float | None = None,
        on_wait: Callable[[str], Awaitable[None]] | None = None,
    ) -> Connection:
        """The connection, waiting while the stack is found or started.

        Raises `StackUnavailable` with the reason once an attempt made after
        this call began has failed, or after `wait_seconds` (default: `start_timeout`).
        """
        if self._state == "ready" and self._connection is not None:
            return self._connection
        if self._state == "stopped":
            raise StackUnavailable("the server is shutting down")
        failures_before = self._failures
        self.trouble()  # when down, try again now rather than after the back-off
        limit = self.start_timeout if wait_seconds is None else wait_seconds
        deadline = time.monotonic() + limit
        told: str | None = None
        while True:
            changed = self._changed
            if self._state == "ready" and self._connection is not None:
                return self._connection
            if self._state == "stopped":
                raise StackUnavailable("the server is shutting down")
            if self._state == "down" and self._failures > failures_before:
                raise StackUnavailable(self._detail or "the TTAI stack is not reachable")
            if on_wait is not None and self._state in ("starting", "waiting"):
                message = self._waiting_message()
                if message != told:
                    told = message
                    await on_wait(message)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StackUnavailable(
                    f"the TTAI stack is not ready after {limit:.0f} s "
                    f"({self._state}: {self._detail or 'no detail'})"
                )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):  # see WAIT_FOR above
                    await changed.wait()

    def trouble(self) -> None:
        """Something failed to reach the stack: check it now instead of at the next interval."""
        self._kick.set()

    def _waiting_message(self) -> str:
        if self._state == "starting":
            return "starting the local TTAI stack (PostgreSQL, Temporal, the worker)"
        return "waiting for the local TTAI stack another TTAI MCP server is starting"

    # --- changes, made by Stack --------------------------------------------------------------

    async def _sleep(self, seconds: float) -> None:
        """Sleep, or less when `trouble()` is called."""
        self._kick.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):  # see WAIT_FOR above
                await self._kick.wait()

    async def _ready(self, client: Client) -> None:
        self._connection = Connection(self.settings, client=client)
        await self._set("ready", None)

    async def _down(self, detail: str) -> None:
        self._failures += 1
        await self._set("down", detail)

    async def _set(self, state: StackState, detail: str | None) -> None:
        if self._state == "stopped" and state != "stopped":
            return
        if detail is not None:  # shown to clients (ttai://server, tool errors): as logs are
            detail = Redactor().redact(detail)
        changed = (state, detail) != (self._state, self._detail)
        self._state, self._detail = state, detail
        if changed:
            log = logger.warning if state == "down" else logger.info
            log("stack %s%s", state, f": {detail}" if detail else "")
        self._changed.set()
        self._changed = asyncio.Event()
        if changed:
            status = self.status()
            for listener in self._listeners:
                try:
                    await listener(status)
                except Exception:
                    logger.exception("stack listener failed")


# -----------------------------------------------------------------------------
# The loop: find the stack, or bring up the local one and own it.


class Stack(StackView):
    """Finds the stack, or brings up and owns the local one; see the module docstring."""

    def __init__(
        self,
        settings: Settings,
        *,
        may_start: bool | None = None,
        health_interval: float = 1.0,
        start_timeout: float = 180.0,
        stop_timeout: float = 1.5,
        connect: Callable[[Settings], Awaitable[Client]] | None = None,
        child_command: list[str] | None = None,
    ) -> None:
        super().__init__(settings, start_timeout=start_timeout)
        # Only the local default address may be brought up here.
        self.may_start = not settings.use_remote_temporal if may_start is None else may_start
        self.health_interval = health_interval
        self.stop_timeout = stop_timeout
        self._connect = connect or connect_client
        self._child_command = child_command
        self._task: asyncio.Task[None] | None = None
        self._stopping: asyncio.Task[None] | None = None

    @property
    def log_path(self) -> Path:
        """Where an owned stack's output goes."""
        return stack_log_path(self.settings)

    # --- life cycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="ttai-stack")

    async def stop(self) -> None:
        """Stop looking; stop the stack if this server owns it. Idempotent, cancel-proof."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop())
        await asyncio.shield(self._stopping)

    async def _stop(self) -> None:
        await self._set("stopped", "the server is shutting down")
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._child is not None:
            await self._child.stop()

    # --- the loop -------------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                await self._loop()
            except Exception as err:  # a bug must not end the search for the stack silently
                logger.exception("the stack keeper failed; starting over")
                await self._down(f"internal error: {one_line(err)}")
                await self._sleep(5)

    def _foreign(self) -> str | None:
        """Why the local port is not ours to use (see ttai.servers.claims); None when
        it is, or when the address was given (TEMPORAL_ADDRESS: the user chose it)."""
        if not self.may_start:
            return None
        from ttai.servers.claims import foreign_dev_server

        return foreign_dev_server(self.settings)

    async def _loop(self) -> None:
        backoff = 0.5
        while True:
            foreign = self._foreign()
            if foreign is not None:
                await self._down(foreign)
                await self._sleep(backoff)
                backoff = min(backoff * 2, 10)
                continue
            try:
                client = await self._connect(self.settings)
            except Exception as err:
                reason = one_line(err)
            else:
                backoff = 0.5
                await self._ready(client)
                await self._watch_health(client)
                continue
            if not self.may_start:
                await self._down(
                    f"Temporal at {self.settings.temporal_address} is not reachable ({reason}); "
                    "is the cluster up and TEMPORAL_ADDRESS right?"
                )
                await self._sleep(backoff)
                backoff = min(backoff * 2, 10)
                continue
            try:
                lock = try_lock(self.settings)
            except (StackError, OSError) as err:  # an unusable state folder
                await self._down(f"the local TTAI stack cannot start: {one_line(err)}")
                await self._sleep(backoff)
                backoff = min(backoff * 2, 30)
                continue
            if lock is None:
                await self._set("waiting", "another TTAI MCP server holds the stack lock")
                await self._sleep(0.5)
                continue
            began = time.monotonic()
            try:
                await self._own(lock)
            except (StackError, OSError) as err:
                await self._down(f"the local TTAI stack did not start: {one_line(err)}")
            if time.monotonic() - began > STABLE_SECONDS:
                backoff = 0.5  # it ran a good while: try again at once
            await self._sleep(backoff)
            backoff = min(backoff * 2, 30)

    async def _own(self, lock: int) -> None:
        """Bring up the local stack as a child process; return when it has stopped."""
        await self._set("starting", "bringing up the local stack")
        child = OwnedStack(
            self.settings,
            command=self._child_command,
            start_timeout=self.start_timeout,
            stop_timeout=self.stop_timeout,
        )
        self._child = child
        message = await child.start(lock)
        client = None
        if message.get("ready"):
            self._ui_url = message.get("ui_url")
            try:
                client = await self._connect(self.settings)
            except Exception as err:
                message = {"error": f"its Temporal server does not answer: {one_line(err)}"}
        if client is None:
            code = await child.terminate()
            error = message.get("error") or f"it exited with code {code} (see {self.log_path})"
            await self._down(f"the local TTAI stack did not start: {error}")
            return
        logger.info(
            "local stack ready (pid %s), Web UI %s, its log %s",
            child.pid,
            self._ui_url,
            self.log_path,
        )
        await self._ready(client)
        code = await child.wait()
        await self._down(f"the local TTAI stack stopped (exit code {code}); restarting it")

    async def _watch_health(self, client: Client) -> None:
        """Return once Temporal stops answering (two failed checks in a row)."""
        failed = 0
        while failed < 2:
            await self._sleep(self.health_interval)
            foreign = self._foreign()  # our server gone, someone else's in its place
            if foreign is not None:
                await self._down(foreign)
                return
            try:
                await client.service_client.check_health(timeout=timedelta(seconds=2))
            except Exception as err:
                failed += 1
                logger.info("Temporal health check failed: %s", one_line(err))
            else:
                failed = 0
        await self._down(f"Temporal at {self.settings.temporal_address} stopped answering")


# -----------------------------------------------------------------------------
# The Temporal client, and the stack lock deciding which server brings the stack up.

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


# -----------------------------------------------------------------------------
# The owned stack: `worker.py --local` as this server's child process.


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
            async with asyncio.timeout(self.start_timeout):  # see WAIT_FOR above
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
