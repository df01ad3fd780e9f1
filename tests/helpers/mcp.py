"""What the MCP server's tests share: monitor settings, environments for a
spawned `mcp_server.py`, process and port checks."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mcp import StdioServerParameters

from ttai.config import PROJECT_ROOT
from ttai.loopback import free_port
from ttai.models.monitors import MonitorInput
from ttai.servers import process_alive

# Monitors that check at all hours, often: an alert fires within seconds.
MONITOR_INPUTS = {
    "monitor-price-alerts": MonitorInput(hours="always", interval_seconds=5),
    "monitor-portfolio": MonitorInput(hours="always", interval_seconds=30),
    "monitor-position-sync": MonitorInput(hours="always", interval_seconds=60),
}

SERVER_SCRIPT = PROJECT_ROOT / "mcp_server.py"
HANDSHAKE = {
    "protocolVersion": "2025-11-25",
    "capabilities": {},
    "clientInfo": {"name": "ttai-tests", "version": "1"},
}
"""`initialize` params as hosts send them today (the handshake era)."""
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": HANDSHAKE}


def clean_environment() -> dict[str, str]:
    """This process's environment without anything naming a stack, broker or secret."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TEMPORAL_", "DATABASE_URL", "TT_", "TTAI_", "PG"))
    }


def local_stack_environment(state_dir: Path) -> dict[str, str]:
    """A private local stack: its own state folder and free ports (nothing running there)."""
    env = clean_environment()
    env |= {f"TTAI_{name}_PORT": str(free_port()) for name in ("TEMPORAL", "UI", "POSTGRES")}
    env["TTAI_STATE_DIR"] = str(state_dir)
    return env


def stack_ports(env: dict[str, str]) -> list[int]:
    return [int(env[f"TTAI_{name}_PORT"]) for name in ("TEMPORAL", "UI", "POSTGRES")]


def stdio_server(env: dict[str, str], *args: str) -> StdioServerParameters:
    """`python mcp_server.py` as a host launches it: env is all it gets, cwd is not ours."""
    return StdioServerParameters(
        command=sys.executable, args=[str(SERVER_SCRIPT), *args], env=env, cwd="/"
    )


def stack_pids(state_dir: Path) -> dict[str, int]:
    """The local stack's server processes, from the files they keep in the state folder."""
    pids: dict[str, int] = {}
    temporal = state_dir / "temporal.pid"
    if temporal.exists():
        pids["temporal"] = int(temporal.read_text().split()[0])
    postmaster = (state_dir / "postgres").resolve() / "data" / "postmaster.pid"
    if postmaster.exists():
        pids["postgres"] = int(postmaster.read_text().splitlines()[0])
    return pids


def alive(pids: dict[str, int] | list[int]) -> list[int]:
    values = pids.values() if isinstance(pids, dict) else pids
    return [pid for pid in values if process_alive(pid)]
