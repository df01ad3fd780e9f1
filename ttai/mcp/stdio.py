"""stdout is the protocol: nothing else may reach it, from the first line on.

`guard_stdout()` points descriptor 1 at stderr as the very first thing
mcp_server.py does, so an import that prints, a warning, or a child process
that inherits stdout lands on stderr instead of corrupting the wire. The real
stdout is kept aside and handed back by `release_stdout()` just before the
SDK's stdio transport starts; the SDK then moves descriptor 1 to stderr itself
for as long as it serves (mcp/server/stdio.py), so children started while it
serves are safe too.
"""

from __future__ import annotations

import os
import sys

_saved: int | None = None


def guard_stdout() -> None:
    """Send descriptor 1 (and `sys.stdout`) to stderr until `release_stdout()`."""
    global _saved
    if _saved is not None:
        return
    sys.stdout.flush()
    _saved = os.dup(1)
    os.set_inheritable(_saved, False)
    os.dup2(2, 1)


def release_stdout() -> None:
    """Give descriptor 1 back to the protocol (right before the transport starts)."""
    global _saved
    if _saved is None:
        return
    sys.stdout.flush()  # what print() buffered goes to stderr, not the wire
    os.dup2(_saved, 1)
    os.close(_saved)
    _saved = None
