"""The loopback host, and port checks that fail early with a message naming the
port and the server wanting it."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

LOOPBACK = "127.0.0.1"


class PortInUse(RuntimeError):
    """A port cannot be bound; the message is one clear line for the user."""


def ensure_port_free(
    port: int, what: str, *, env_var: str | None = None, host: str = LOOPBACK
) -> None:
    """Raise `PortInUse` when `port` cannot be bound on `host`.

    `what` names the server wanting the port ("Temporal frontend") and
    `env_var` the setting that moves it, so the error says how to fix it.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR: a port left in TIME_WAIT by a previous run is free to
        # listen on again; only a live listener (or bound socket) counts as busy.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as err:
            hint = f"; set {env_var} to another port" if env_var else ""
            raise PortInUse(f"port {port} ({what}) is already in use{hint}") from err


def free_port(host: str = LOOPBACK) -> int:
    """A port the OS reports free right now (for tests; another process may take it later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_free(port: int, host: str = LOOPBACK) -> bool:
    """Could `port` be bound on `host` now (no live listener holds it)?"""
    try:
        ensure_port_free(port, "check", host=host)
    except PortInUse:
        return False
    return True


def is_loopback(host: str) -> bool:
    """Does binding `host` keep a server reachable from this machine only?"""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


@dataclass(frozen=True)
class Listener:
    """A listening TCP socket: who made it (uid) and which socket it is (inode)."""

    uid: int
    inode: int


# Listening sockets a connection to 127.0.0.1:port may reach: 127.0.0.1 itself,
# any IPv4 address, and dual-stack IPv6 sockets on :: or ::ffff:127.0.0.1.
_REACHING = {
    "/proc/net/tcp": {"0100007F", "00000000"},
    "/proc/net/tcp6": {"0" * 32, "0000000000000000FFFF00000100007F"},
}
_LISTEN = "0A"


def listeners(port: int) -> list[Listener]:
    """Every socket listening where a connection to 127.0.0.1:`port` would land
    (Linux /proc/net; elsewhere none are known)."""
    found = []
    for table, addresses in _REACHING.items():
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, _, hex_port = fields[1].partition(":")
            if fields[3] == _LISTEN and int(hex_port, 16) == port and address in addresses:
                found.append(Listener(uid=int(fields[7]), inode=int(fields[9])))
    return found
