"""MCP server benchmark: added latency, RSS, and launch -> first answered `initialize`.

    .venv/bin/python bench/mcp.py                  # 40 calls per path, 5 launches per case
    .venv/bin/python bench/mcp.py --calls 100 --launches 10

Starts its own stack on free ports in a temporary folder (a private
PostgreSQL and a Temporal dev server persisted in SQLite, as `make run`) and
one worker process (`python worker.py`) on it. Measured, in one run:

1. `analyze_symbol` (wait=true) over stdio through `python mcp_server.py`
   (the SDK's stdio client, handshake-era protocol, as a host) against the
   same AnalysisWorkflow started and awaited directly with the Temporal
   client, interleaved call by call: p50/p95 of each and the added p50.
   Target: <= 20 ms added p50.
2. The server's RSS when it only connects (TEMPORAL_ADDRESS set), after the
   calls. Target: <= 120 MB.
3. Launch -> first answered `initialize` (raw JSON-RPC over the pipes), when
   a stack is up and when the server must start one (a fresh state folder,
   nothing on its ports). Target: <= 1 s in both. For the second case also
   launch -> first tool call answered (the stack is up).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psutil

# This file is bench/mcp.py: its folder on sys.path would shadow the `mcp` package.
sys.path.remove(str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mcp import Client, StdioServerParameters

from bench._stack import bench_stack
from tests.helpers.mcp import INITIALIZE
from ttai.config import PROJECT_ROOT
from ttai.loopback import ensure_port_free, free_port
from ttai.models.analysis import AnalysisInput, AnalysisResult

SYMBOLS = ["AAPL", "MSFT", "KO", "JPM", "SPY", "QQQ", "XOM", "PFE"]


def base_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TEMPORAL_", "DATABASE_URL", "TT_", "TTAI_", "PG"))
    } | {"TTAI_LOG_LEVEL": "WARNING"}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ms(value: float) -> str:
    return f"{value * 1000:.1f} ms"


async def latency(env: dict[str, str], temporal: Any, task_queue: str, calls: int) -> int:
    params = StdioServerParameters(
        command=sys.executable, args=["mcp_server.py"], env=env, cwd=str(PROJECT_ROOT)
    )
    via_mcp: list[float] = []
    direct: list[float] = []
    async with Client(params, mode="legacy", read_timeout_seconds=300) as client:
        for i in range(3):  # warm both paths (and the worker) up
            await client.call_tool("analyze_symbol", {"symbol": SYMBOLS[i]})
            await temporal.execute_workflow(
                "AnalysisWorkflow",
                AnalysisInput(symbol=SYMBOLS[i]),
                id=f"bench-warm-{uuid.uuid4().hex[:8]}",
                task_queue=task_queue,
                result_type=AnalysisResult,
            )
        for i in range(calls):
            symbol = SYMBOLS[i % len(SYMBOLS)]
            start = time.perf_counter()
            result = await client.call_tool("analyze_symbol", {"symbol": symbol})
            via_mcp.append(time.perf_counter() - start)
            assert not result.is_error, result.content
            start = time.perf_counter()
            await temporal.execute_workflow(
                "AnalysisWorkflow",
                AnalysisInput(symbol=symbol),
                id=f"bench-direct-{symbol}-{uuid.uuid4().hex[:8]}",
                task_queue=task_queue,
                result_type=AnalysisResult,
            )
            direct.append(time.perf_counter() - start)
        status = json.loads(
            (await client.read_resource("ttai://server")).contents[0].text  # type: ignore[union-attr]
        )
        process = psutil.Process(status["server_pid"])
        rss = process.memory_info().rss
        uss_kb = process.memory_full_info().uss // 1024  # unique set: this process only
    print(f"\n## analyze_symbol (wait=true), {calls} calls per path, interleaved")
    print("| path | p50 | p95 | mean |")
    print("|---|---|---|---|")
    for name, values in (("Temporal client, direct", direct), ("MCP over stdio", via_mcp)):
        print(
            f"| {name} | {ms(pct(values, 0.5))} | {ms(pct(values, 0.95))} | "
            f"{ms(statistics.fmean(values))} |"
        )
    added = pct(via_mcp, 0.5) - pct(direct, 0.5)
    print(f"\nadded p50: {ms(added)} (target <= 20 ms)")
    print(f"\n## RSS of the server when it only connects, after {calls + 3} calls")
    print(f"RSS {rss / 2**20:.1f} MiB, USS {uss_kb / 1024:.1f} MiB (target <= 120 MB)")
    return rss


async def first_initialize(env: dict[str, str], *, then_call: bool = False) -> dict[str, float]:
    """Launch -> initialize answered (and -> first tool call answered); then close."""
    start = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "mcp_server.py", cwd=PROJECT_ROOT, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(json.dumps(INITIALIZE).encode() + b"\n")
    await process.stdin.drain()
    answer = json.loads(await process.stdout.readline())
    times = {"initialize": time.perf_counter() - start}
    assert answer["id"] == 1 and "result" in answer, answer
    process.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
    if then_call:
        call = {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "analyze_symbol", "arguments": {"symbol": "KO", "wait": False}},
        }
        process.stdin.write(json.dumps(call).encode() + b"\n")
        await process.stdin.drain()
        while True:
            message = json.loads(await process.stdout.readline())
            if message.get("id") == 2:
                assert not message["result"].get("isError"), message
                break
        times["first call"] = time.perf_counter() - start
    process.stdin.close()
    await asyncio.wait_for(process.wait(), 60)
    return times


async def wait_free(ports: list[int], state: Path) -> None:
    """Until the stack a launch started has stopped (its lock released, ports free)."""
    import fcntl

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            for port in ports:
                ensure_port_free(port, "bench")
            lock = state / "mcp-stack.lock"
            if lock.exists():
                fd = os.open(lock, os.O_RDONLY)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                finally:
                    os.close(fd)
            return
        except Exception:
            await asyncio.sleep(0.2)
    raise RuntimeError("the embedded stack did not stop")


async def launches(connect_env: dict[str, str], count: int) -> None:
    print(f"\n## launch -> first answered initialize, {count} launches per case")
    print("| case | min | median | max |")
    print("|---|---|---|---|")
    connected = [(await first_initialize(connect_env))["initialize"] for _ in range(count)]
    print(
        f"| a stack is up (only connects) | {ms(min(connected))} | "
        f"{ms(statistics.median(connected))} | {ms(max(connected))} |"
    )
    with tempfile.TemporaryDirectory(prefix="ttai-bench-mcp-") as tmp:
        env = base_env() | {"TTAI_STATE_DIR": str(Path(tmp) / "state")}
        ports = {name: free_port() for name in ("TEMPORAL", "UI", "POSTGRES")}
        env |= {f"TTAI_{name}_PORT": str(port) for name, port in ports.items()}
        starting: list[float] = []
        ready: list[float] = []
        for i in range(count):
            times = await first_initialize(env, then_call=i < 3)
            starting.append(times["initialize"])
            if "first call" in times:
                ready.append(times["first call"])
            await wait_free(list(ports.values()), Path(env["TTAI_STATE_DIR"]))
    print(
        f"| nothing is up (starts the stack) | {ms(min(starting))} | "
        f"{ms(statistics.median(starting))} | {ms(max(starting))} |"
    )
    print(
        f"\nnothing up: launch -> first tool call answered (stack started), "
        f"{len(ready)} runs: median {statistics.median(ready):.2f} s "
        f"(first run {ready[0]:.2f} s includes initdb)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--launches", type=int, default=5)
    args = parser.parse_args()
    print(f"# bench/mcp.py  ({time.strftime('%Y-%m-%d %H:%M')}, load {os.getloadavg()[0]:.2f})")
    task_queue = f"bench-mcp-{uuid.uuid4().hex[:6]}"
    async with bench_stack() as (dsn, temporal):
        env = base_env() | {
            "TEMPORAL_ADDRESS": temporal.service_client.config.target_host,
            "DATABASE_URL": dsn,
            "TTAI_TASK_QUEUE": task_queue,
        }
        with tempfile.TemporaryDirectory(prefix="ttai-bench-mcp-") as tmp:
            env["TTAI_STATE_DIR"] = tmp
            worker = await asyncio.create_subprocess_exec(
                sys.executable, "worker.py", cwd=PROJECT_ROOT, env=env,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            try:
                await latency(env, temporal, task_queue, args.calls)
                await launches(env, args.launches)
            finally:
                worker.terminate()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(worker.wait(), 30)


if __name__ == "__main__":
    asyncio.run(main())
