"""Is the Temporal server answering on the local port this user's own stack?

A port on 127.0.0.1 is anyone's to take. Before a client that would otherwise
start the local stack adopts whatever answers there (hands it payloads, takes
its answers for TTAI's), it checks that every socket listening where it
connects belongs to this user and to the dev server recorded in its own state
folder (`<state>/temporal.pid`, written by `TemporalDevServer.from_settings`).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from ttai.config import Settings
from ttai.loopback import LOOPBACK, listeners
from ttai.servers import process_alive

PID_FILE = "temporal.pid"  # TemporalDevServer.from_settings: <state>/temporal.log's .pid


def foreign_dev_server(settings: Settings) -> str | None:
    """Why what listens on the local Temporal port is not this state folder's dev
    server (one line), or None: it is, or nothing listens there yet."""
    port = settings.temporal_port
    found = listeners(port)
    if not found:
        return None
    for listener in found:
        if listener.uid != os.geteuid():
            return (
                f"{LOOPBACK}:{port} is held by another user (uid {listener.uid}), not by your "
                "TTAI stack: refusing to connect; stop it, or set TTAI_TEMPORAL_PORT to a free port"
            )
    server = recorded_server(settings.state_dir / PID_FILE)
    if server is None or not {listener.inode for listener in found} <= socket_inodes(server):
        return (
            f"the Temporal server on {LOOPBACK}:{port} was not started with this state folder "
            f"({settings.state_dir}): set TEMPORAL_ADDRESS={LOOPBACK}:{port} to use it anyway"
        )
    return None


def recorded_server(pid_file: Path) -> int | None:
    """The live server process named first in `pid_file`, if any."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if process_alive(pid) else None


def socket_inodes(pid: int) -> set[int]:
    """The inodes of the sockets process `pid` holds (ours to read: same user)."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(int(target[8:-1]))
    return inodes
