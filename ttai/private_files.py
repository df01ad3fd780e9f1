"""Files that hold secrets, read only when nobody else can read them.

One check for every secret file the project reads (tastytrade credentials,
encryption keys, the local stack's database passwords, the generated MCP and
codec tokens): a file that group or others can access is refused with a
message saying how to fix it. Messages name the file, never its content.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path


class PrivateFileError(ValueError):
    """A secret file is missing, unreadable or readable by others (message: one line)."""


def read_private_text(path: Path, what: str) -> str:
    """The text of `path` (UTF-8), after checking that only its owner can access it.

    `what` names the file in errors ("the tastytrade secrets file"). The mode is
    read from the opened file, so the file checked is the file read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise PrivateFileError(f"{what} {path} cannot be read ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as file:
        mode = os.fstat(file.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise PrivateFileError(f"{what} {path} is not a regular file")
        # A leaked refresh token trades the account; a leaked key reads every history.
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise PrivateFileError(
                f"refusing {what} {path}: it is accessible to group or others "
                f"(mode {stat.S_IMODE(mode):o}); run `chmod 600 {path}`"
            )
        data = file.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise PrivateFileError(f"{what} {path} is not UTF-8 text") from None


def private_token(path: Path, what: str) -> str:
    """The token kept in `path`, made (random, mode 0600) the first time.

    `path`'s folder must be this user's and closed to others' writes (the state
    folder). The new file appears whole or not at all (linked into place from
    a private temporary file), so two processes starting at once share one
    token; an existing one is read only if nobody else can read it.
    """
    folder = path.parent
    info = os.stat(folder)
    if info.st_uid != os.geteuid() or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise PrivateFileError(f"refusing to keep {what} in {folder}: others may write there")
    if not os.path.lexists(path):
        temporary = folder / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, f"{secrets.token_hex(32)}\n".encode())
        finally:
            os.close(fd)
        try:
            os.link(temporary, path)  # fails if another process made it first: use theirs
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    token = read_private_text(path, what).strip()
    if not token:
        raise PrivateFileError(f"{what} {path} is empty: delete it to make a new one")
    return token
