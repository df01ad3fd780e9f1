"""TTAI's MCP server: the trading assistant's tools for an AI host, over Temporal.

    python mcp_server.py                  # stdio (what an MCP host launches)
    python mcp_server.py --http 8765      # streamable HTTP on 127.0.0.1:8765/mcp
    python mcp_server.py --http 0.0.0.0:8765   # any host: a bearer token (ttai/mcp/http.py)

It is a Temporal client like starter.py: every tool starts, queries, signals or
updates workflows (stored data is read and written through short command
workflows) through the same layer of operations, ttai/ops. The tools, resources
and prompts are declared in ttai/mcp/tools; this file assembles the server and
runs a transport. When nothing answers at the local Temporal address it brings
up the local stack itself (as `make run` does, without the demo) and stops it
when the host closes the connection; see ttai/mcp/stack.py.

stdout carries the protocol and nothing else; logs go to stderr, one
structured line each, secrets redacted.
"""

from __future__ import annotations

if __name__ == "__main__":
    # Before any other import: nothing but the protocol may reach stdout.
    from ttai.mcp.stdio import guard_stdout

    guard_stdout()

import argparse
import importlib
import logging
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, NoReturn

import anyio

from ttai.config import Settings
from ttai.mcp import logs
from ttai.mcp.app import App
from ttai.mcp.errors import explain
from ttai.mcp.server import TtaiServer
from ttai.mcp.stack import Stack
from ttai.mcp.stdio import guard_stdout, release_stdout

logger = logging.getLogger("ttai.mcp")

VERSION = "0.1.0"
SIGNAL_GRACE_SECONDS = 1.5  # the SDK's stdio client SIGKILLs 2 s after its SIGTERM

INSTRUCTIONS = """\
TTAI is an options-trading assistant (cash-secured puts) on a tastytrade account, \
read-only towards the broker: it analyses and screens symbols, watches alerts and \
positions, and writes reports. Long work runs as Temporal workflows: tools wait for \
results by default, or return a task ID to poll with get_task. The first call may \
take a few seconds while the local stack starts."""


# --- assembly ------------------------------------------------------------------------------


def build_server(
    settings: Settings | None = None,
    *,
    make_stack: Callable[[Settings], Stack] | None = None,
    boot_after_handshake: bool = True,
) -> TtaiServer:
    """The server; `make_stack` lets tests point it at their own Temporal and database.

    `boot_after_handshake=False` (HTTP) looks for the stack as soon as the server starts.
    """
    settings = settings or Settings.from_env()

    @asynccontextmanager
    async def lifespan(server: TtaiServer) -> AsyncIterator[App]:
        app = App(server, (make_stack or Stack)(settings))
        server.apps.append(app)
        await app.start(after_handshake=boot_after_handshake)
        try:
            yield app
        finally:
            server.apps.remove(app)
            await app.stop()

    def explain_error(err: BaseException) -> str | None:
        def kick() -> None:
            for app in server.apps:
                app.stack.trouble()

        return explain(err, kick)

    async def handshake_gate(ctx: Any, call_next: Any) -> Any:
        ctx.lifespan_context.message_arriving(ctx.method)
        return await call_next(ctx)

    def declarations(server: TtaiServer) -> None:
        importlib.import_module("ttai.mcp.tools").declare(server)

    server = TtaiServer(
        "ttai",
        version=VERSION,
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        explain=explain_error,
        declarations=declarations,
        middleware=[handshake_gate],
    )
    return server


# --- running ------------------------------------------------------------------------------------


async def serve_stdio(server: TtaiServer) -> None:
    """stdio until the host closes stdin; SIGTERM/SIGINT/SIGHUP stop the stack first."""
    async with anyio.create_task_group() as tasks:

        async def on_signal() -> None:
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as sigs:
                async for signum in sigs:
                    logger.info("signal %s: stopping", signal.Signals(signum).name)
                    with anyio.move_on_after(SIGNAL_GRACE_SECONDS, shield=True):
                        for app in list(server.apps):
                            await app.stop()
                    _leave(lambda: 0)  # stopped on request, as the worker does

        tasks.start_soon(on_signal)
        release_stdout()
        try:
            # Returns when the host closes stdin; the lifespan (stack stop) has run.
            await server.run_stdio_async()
        finally:
            guard_stdout()
        tasks.cancel_scope.cancel()


def _leave(entry: Callable[[], int]) -> NoReturn:
    """Run `entry` and leave through the project's one exit path
    (`ttai.telemetry.logs.run_main`: what an exception means, held log records
    written, exit handlers run, no interpreter finalisation for the Temporal
    runtime to abort in, sdk-python#300).
    Telemetry is imported only here, after the work: it costs more than the
    handshake may take."""
    failure: BaseException | None = None
    code = 1
    try:
        code = entry()
    except BaseException as err:
        failure = err
    logs.configure()
    from ttai.telemetry.logs import run_main

    def outcome() -> int:
        if failure is not None:
            raise failure
        return code

    run_main(outcome)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mcp_server.py", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--http",
        metavar="[HOST:]PORT",
        help="serve streamable HTTP at /mcp instead of stdio (loopback unless HOST is given); "
        "requests need 'Authorization: Bearer' with TTAI_MCP_TOKEN, else the token generated "
        "into the state folder's mcp-token",
    )
    args = parser.parse_args(argv)
    logs.hold_logs()
    try:
        settings = Settings.from_env()
    except ValueError as err:  # a bad setting in the environment
        logger.error("cannot start: %s", " ".join(str(err).split()))
        return 2
    if args.http is None:
        anyio.run(serve_stdio, build_server(settings))
        return 0
    from ttai.mcp.http import HttpConfigError, http_security, parse_address, serve_http
    from ttai.servers import StackError
    from ttai.servers.files import ensure_state_dir

    try:
        host, port = parse_address(args.http)
        ensure_state_dir(settings.state_dir)
        security = http_security(host, port, settings.state_dir)
    except (HttpConfigError, StackError) as err:
        logger.error("%s", err)
        return 2
    server = build_server(settings, boot_after_handshake=False)
    server.declare_now()  # no handshake to protect: the tools are there before any client
    if security.token_file is not None:
        logger.info("clients send 'Authorization: Bearer <the token in %s>'", security.token_file)
    logger.info("serving streamable HTTP on http://%s:%s/mcp", host, port)
    anyio.run(serve_http, server, host, port, security)
    return 0


if __name__ == "__main__":
    _leave(main)
