"""Run `make run`'s main job (`python worker.py --local`) as a person does, on
free ports and a private state folder, for the tests that look at it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from ttai.config import PROJECT_ROOT
from ttai.loopback import free_port

READY = "Ctrl-C stops everything"


@dataclass(frozen=True)
class MainJobEnv:
    env: dict[str, str]
    ports: dict[str, int]  # TEMPORAL, UI, POSTGRES

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.ports['TEMPORAL']}"

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['UI']}"


def main_job_env(state_dir: Path) -> MainJobEnv:
    """This environment without Temporal, database or broker settings, plus free
    ports and `state_dir`: the main job brings up its own stack."""
    ports = {name: free_port() for name in ("TEMPORAL", "UI", "POSTGRES")}
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TEMPORAL_", "DATABASE_URL", "TT_", "TTAI_"))
    }
    env |= {f"TTAI_{name}_PORT": str(port) for name, port in ports.items()}
    env |= {"TTAI_STATE_DIR": str(state_dir), "COLUMNS": "200"}
    return MainJobEnv(env, ports)


async def run_main_job(
    env: dict[str, str], while_up: Callable[[], Awaitable[None]] | None = None
) -> tuple[int, str]:
    """Start `python worker.py --local`, wait until it is up, run `while_up`, SIGTERM it;
    return (exit code, output)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "worker.py", "--local",
        cwd=PROJECT_ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert proc.stdout is not None
    output: list[str] = []
    try:
        async with asyncio.timeout(180):
            while READY not in "".join(output)[-400:]:
                line = await proc.stdout.readline()
                assert line, "".join(output)
                output.append(line.decode())
            if while_up is not None:
                await while_up()
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        rest, _ = await proc.communicate()
    return proc.returncode or 0, "".join(output) + rest.decode()
