"""The loopback host, and port checks that fail early with a message naming the
port and the server wanting it."""

from __future__ import annotations

import ipaddress
import socket

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
