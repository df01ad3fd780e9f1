"""Run a command as a person sees it: in a real terminal of a given size (tmux),
or piped, and return what was shown.

tmux is a test dependency: `make test` installs it when it is missing (as
root, through apt-get). Without it these tests fail, naming the fix, rather
than skip.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import sys
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.helpers.waiting import eventually
from ttai.config import PROJECT_ROOT

DONE = "__TTAI_COMMAND_DONE__"


def tmux_path() -> str:
    found = shutil.which("tmux")
    if found is None:
        raise AssertionError(
            "tmux is not installed: `make test` installs it (apt-get install tmux)"
        )
    return found


async def _tmux(socket: str, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        tmux_path(),
        "-L",
        socket,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise AssertionError(f"tmux {args[0]} failed: {err.decode().strip()}")
    return out.decode()


async def in_terminal(
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    width: int = 80,
    height: int = 40,
    limit: float = 180,
) -> str:
    """What `argv` (run from the project root) left in a `width` x `height` pane,
    scrollback included, with wrapped lines joined (so a line wider than the
    pane shows as one long line)."""
    session = f"ttai-{uuid.uuid4().hex[:8]}"
    # A tmux server for this pane alone: never a person's, and never one that is
    # still shutting down after the previous pane closed.
    socket = f"ttai-test-{os.getpid()}-{session}"
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    script = (
        f"cd {shlex.quote(str(PROJECT_ROOT))} && env -u COLUMNS -u LINES {exports} "
        f"{shlex.join(argv)}"
    )
    command = f"{script}; echo {DONE} $?; sleep 600"
    await _tmux(
        socket,
        "new-session", "-d", "-s", session, "-x", str(width), "-y", str(height),
        "-e", "TERM=xterm-256color", "bash", "--norc", "--noprofile", "-c", command,
    )  # fmt: skip
    try:
        shown = await eventually(
            lambda: _tmux(socket, "capture-pane", "-p", "-J", "-S", "-", "-t", session),
            what=f"{argv} to finish in the terminal",
            until=lambda shown: DONE in shown,
            within=limit,
            every=0.3,
        )
        return shown.split(DONE)[0]
    finally:
        await _tmux(socket, "kill-server")


async def piped(argv: Sequence[str], env: Mapping[str, str]) -> tuple[int, str, str]:
    """`argv` with stdout and stderr to pipes (no terminal): (exit code, out, err)."""
    base = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=PROJECT_ROOT,
        env={**base, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def starter(*args: str) -> list[str]:
    return [sys.executable, str(Path(PROJECT_ROOT) / "starter.py"), *args]
