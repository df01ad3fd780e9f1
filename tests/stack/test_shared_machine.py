"""The local stack on a machine shared with other users (issue 22).

- The servers get a minimal environment: nothing secret from ours ends up in
  `/proc/<pid>/environ`, readable by whoever runs as the server's user.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ttai.loopback import free_port
from ttai.servers.postgres import PrivatePostgres
from ttai.servers.temporal_server import TemporalDevServer

MARKER = "marker-secret-0f1e2d3c4b5a"
SECRET_VARIABLES = {
    "TT_REFRESH_TOKEN": MARKER,
    "TT_PROVIDER_SECRET": MARKER,
    "TTAI_ENCRYPTION_KEYS": f"k1:{MARKER}",
    "TTAI_NOTIFY_URLS": f"json://user:{MARKER}@hooks.example.com/x",
    "DATABASE_URL": f"postgresql://u:{MARKER}@db/ttai",
}


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = [entry.split(b"=", 1) for entry in raw.split(b"\0") if b"=" in entry]
    return {name.decode(): value.decode(errors="replace") for name, value in pairs}


async def test_servers_never_inherit_our_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in SECRET_VARIABLES.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("TZ", "America/New_York")  # what a server may keep
    state = tmp_path / "state"
    pg = PrivatePostgres(state, port=free_port(), durable=False)
    server = TemporalDevServer(
        log_path=tmp_path / "temporal.log", port=free_port(), port_env_var=None
    )
    try:
        async with pg, server:
            postmaster = int((pg.folder.data_dir / "postmaster.pid").read_text().split()[0])
            dev_server = int(server.pid_file.read_text().split()[0])
            for pid in (postmaster, dev_server):
                env = environ_of(pid)
                leaked = [name for name, value in env.items() if MARKER in value]
                assert not leaked, f"pid {pid} holds {leaked}"
                assert env.get("TZ") == "America/New_York"
                assert "PATH" in env
    finally:
        await pg.destroy()
