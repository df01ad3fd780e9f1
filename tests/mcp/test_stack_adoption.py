"""The MCP server adopts a Temporal server on the local port only when it is this
user's own stack, started with its state folder: a port on 127.0.0.1 is anyone's
to take first (issue 22)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.waiting import eventually
from ttai.config import Settings
from ttai.loopback import free_port
from ttai.mcp.stack import Stack
from ttai.servers.claims import foreign_dev_server
from ttai.servers.temporal_server import TemporalDevServer

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="needs another user to listen")
# A listener as another user: the system interpreter (ours may sit under /root).
LISTEN_AS_NOBODY = (
    "import socket, sys, time; s = socket.socket(); "
    "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); print('up', flush=True); time.sleep(600)"
)


class Attempts:
    """A `connect` that would succeed: whatever answers on the port, it accepts."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, settings: Settings) -> Any:
        self.calls += 1
        return object()


@contextlib.asynccontextmanager
async def running(stack: Stack) -> AsyncIterator[Stack]:
    stack.start()
    try:
        yield stack
    finally:
        await stack.stop()


def local_settings(tmp_path: Path, port: int) -> Settings:
    return Settings(
        state_dir=tmp_path / "state", temporal_port=port, temporal_address=f"127.0.0.1:{port}"
    )


async def refusal(tmp_path: Path, port: int) -> str:
    """Why the MCP server's stack refused the server on `port`: it must not even
    try to connect to it."""
    connect = Attempts()
    stack = Stack(local_settings(tmp_path, port), connect=connect, child_command=["false"])
    async with running(stack):
        await eventually(lambda: stack.status().state in ("down", "ready"), what="a verdict")
        assert connect.calls == 0 and stack.status().state == "down"
        detail = stack.status().detail or ""
    assert connect.calls == 0
    return detail


@ROOT_ONLY
async def test_a_server_another_user_put_on_the_port_is_never_adopted(tmp_path: Path) -> None:
    port = free_port()
    squatter = await asyncio.create_subprocess_exec(
        "runuser", "-u", "nobody", "--", "/usr/bin/python3", "-c", LISTEN_AS_NOBODY, str(port),
        stdout=asyncio.subprocess.PIPE, cwd="/", start_new_session=True,
    )  # fmt: skip
    try:
        assert squatter.stdout is not None
        assert await asyncio.wait_for(squatter.stdout.readline(), 30) == b"up\n"
        detail = await refusal(tmp_path, port)
        assert "held by another user" in detail, detail
    finally:
        os.killpg(squatter.pid, signal.SIGKILL)  # runuser and the listener it started
        await squatter.wait()


async def test_a_server_this_user_started_elsewhere_is_not_adopted_unasked(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        detail = await refusal(tmp_path, listener.getsockname()[1])
    assert "not started with this state folder" in detail, detail
    assert "TEMPORAL_ADDRESS" in detail


async def test_the_dev_server_of_this_state_folder_is_ours(tmp_path: Path) -> None:
    settings = local_settings(tmp_path, free_port()).model_copy(update={"ui_port": free_port()})
    server = TemporalDevServer.from_settings(settings)  # what `make run` starts
    assert foreign_dev_server(settings) is None  # nothing listens: the stack may be started
    async with server:
        assert foreign_dev_server(settings) is None
        elsewhere = settings.model_copy(update={"state_dir": tmp_path / "other"})
        assert "not started with this state folder" in (foreign_dev_server(elsewhere) or "")
