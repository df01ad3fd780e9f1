"""PostgreSQL's server binaries: found on this machine, run as the right user.

`initdb` and `pg_ctl` come from one installation: PATH first, else Debian's
newest `/usr/lib/postgresql/<major>/bin`. When we are root they run as the
unprivileged `postgres` user through `runuser` (PostgreSQL refuses to run as
root); Python itself never does. Each runs in its own session from `/`, so
Ctrl-C reaches us first and the server is stopped in order.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from pathlib import Path

from ttai.servers import StackError
from ttai.servers.postgres_folder import SERVICE_USER

INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) not found: install them "
    "(Debian/Ubuntu: apt-get install postgresql) or set DATABASE_URL to an existing database"
)
# Debian's versioned server installs: <root>/<major>/bin.
DEBIAN_INSTALL_ROOT = Path("/usr/lib/postgresql")


def find_bin_dir() -> Path:
    """`pg_ctl`/`initdb` from PATH, else the newest `/usr/lib/postgresql/*/bin`."""
    on_path = shutil.which("pg_ctl")
    if on_path:
        # Resolve symlinks (/usr/local/bin/pg_ctl -> .../15/bin/pg_ctl): the
        # binaries must come from one installation.
        bin_dir = Path(on_path).resolve().parent
        if (bin_dir / "initdb").exists():
            return bin_dir
    candidates = [
        d
        for d in DEBIAN_INSTALL_ROOT.glob("*/bin")
        if (d / "pg_ctl").exists() and (d / "initdb").exists()
    ]
    if not candidates:
        raise StackError(INSTALL_HINT)
    return max(candidates, key=lambda d: _version_key(d.parent.name))


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name))


class ServerBinaries:
    """The binaries of one installation, run as the service user when `as_service_user`."""

    def __init__(self, *, as_service_user: bool) -> None:
        self.bin_dir = find_bin_dir()
        self.as_service_user = as_service_user

    def command(self, *args: str) -> list[str]:
        if self.as_service_user:
            return ["runuser", "-u", SERVICE_USER, "--", *args]
        return list(args)

    async def run(self, *args: str) -> tuple[int, str]:
        """Run a command (as the service user when root): its exit code and output."""
        proc = await asyncio.create_subprocess_exec(
            *self.command(*args),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            # Own session: Ctrl-C in the terminal reaches us, and we stop the
            # server in order, instead of the postmaster dying mid-write.
            start_new_session=True,
            cwd="/",  # the postgres user may not be able to enter our cwd
        )
        out, _ = await proc.communicate()
        return proc.returncode or 0, out.decode(errors="replace")

    async def initdb(self, *args: str) -> tuple[int, str]:
        return await self.run(str(self.bin_dir / "initdb"), *args)

    async def pg_ctl(self, *args: str) -> tuple[int, str]:
        return await self.run(str(self.bin_dir / "pg_ctl"), *args)

    def pg_ctl_blocking(self, *args: str) -> None:
        """`pg_ctl` without the event loop, output discarded (emergency stops)."""
        subprocess.run(
            self.command(str(self.bin_dir / "pg_ctl"), *args),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/",
            timeout=30,
            check=False,
        )

    async def can_traverse(self, path: Path) -> bool:
        """Could the server pass through the folder `path`?"""
        if not self.as_service_user:
            return True
        rc, _ = await self.run("test", "-x", str(path))
        return rc == 0
