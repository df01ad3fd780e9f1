"""File operations for the local servers that never follow a planted link.

The servers may run as root, and PostgreSQL's folder may sit in a
world-writable directory when the state folder is out of the `postgres`
user's reach. Every change of mode or owner here goes through a descriptor
opened with `O_NOFOLLOW`, files are created with `O_EXCL` after removing what
was there, and folders are created by this process (`mkdir`/`mkdtemp`),
never adopted.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from ttai.servers import StackError

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def ensure_state_dir(path: Path) -> Path:
    """Create the state folder with mode 0700 (parents as needed), or tighten it to 0700.

    The folder itself may be a symlink we made on purpose (e.g. to another
    disk); a symlink someone else made is refused, and what it points at must
    be a folder of ours that others cannot write.
    """
    path = Path(path).absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, PRIVATE_DIR)
    link = os.lstat(path)
    if stat.S_ISLNK(link.st_mode) and link.st_uid not in (os.geteuid(), 0):
        raise StackError(
            f"refusing the state folder {path}: it is a symbolic link made by another user "
            f"(uid {link.st_uid}); set TTAI_STATE_DIR to a folder of your own"
        )
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise StackError(f"the state folder {path} cannot be opened ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if info.st_uid != os.geteuid():
            raise StackError(
                f"refusing the state folder {path}: it belongs to another user "
                f"(uid {info.st_uid}); set TTAI_STATE_DIR to a folder of your own"
            )
        if info.st_mode & stat.S_IWOTH:
            raise StackError(
                f"refusing the state folder {path}: everyone may write in it (like /tmp); "
                "set TTAI_STATE_DIR to a folder of your own"
            )
        if stat.S_IMODE(info.st_mode) != PRIVATE_DIR:
            os.fchmod(fd, PRIVATE_DIR)
    finally:
        os.close(fd)
    return path


def grant_group_traverse(path: Path, gid: int) -> None:
    """Let group `gid` pass through the state folder `path` (mode 0710), nothing
    more: no listing, no reading. (`path` was checked by `ensure_state_dir`.)"""
    with opened_dir(path, follow=True) as fd:
        info = os.fstat(fd)
        if info.st_gid != gid:
            os.fchown(fd, -1, gid)
        if stat.S_IMODE(info.st_mode) != 0o710:
            os.fchmod(fd, 0o710)


@contextlib.contextmanager
def opened_dir(path: Path, *, follow: bool = False) -> Iterator[int]:
    """A descriptor on the folder `path`; refused if its last component is a
    symlink, unless `follow` (for the state folder, checked by `ensure_state_dir`)."""
    try:
        fd = os.open(path, _DIR_FLAGS & ~os.O_NOFOLLOW if follow else _DIR_FLAGS)
    except OSError as exc:
        raise _refusal(path, exc) from None
    try:
        yield fd
    finally:
        os.close(fd)


def make_private_dir(parent_fd: int, name: str, *, uid: int, gid: int, where: Path) -> None:
    """`name` inside the folder `parent_fd`: created 0700 and owned by `uid`:`gid`.

    An existing `name` is kept only if it is a real folder owned by us or `uid`
    (one this project made on an earlier run); `where` is its path, for errors.
    """
    with contextlib.suppress(FileExistsError):
        os.mkdir(name, PRIVATE_DIR, dir_fd=parent_fd)
    try:
        fd = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except OSError as exc:
        raise _refusal(where, exc) from None
    try:
        info = os.fstat(fd)
        if info.st_uid not in (uid, os.geteuid()):
            raise StackError(
                f"refusing {where}: it belongs to uid {info.st_uid}, not to this project; remove it"
            )
        if stat.S_IMODE(info.st_mode) != PRIVATE_DIR:
            os.fchmod(fd, PRIVATE_DIR)
        if (info.st_uid, info.st_gid) != (uid, gid):
            os.fchown(fd, uid, gid)
    finally:
        os.close(fd)


def write_private_file(
    dir_fd: int,
    name: str,
    text: str,
    *,
    owner: tuple[int, int] | None = None,
    mode: int = PRIVATE_FILE,
) -> None:
    """Replace `name` in the folder `dir_fd` with a new file holding `text`.

    Whatever was there (a symlink, a hard link to another file) is unlinked,
    not written through; the new file is created exclusively with `mode`.
    """
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name, dir_fd=dir_fd)
    fd = os.open(
        name,
        os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
        mode,
        dir_fd=dir_fd,
    )
    try:
        os.fchmod(fd, mode)  # the umask may have cleared bits
        if owner is not None:
            os.fchown(fd, *owner)
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def write_private_file_atomically(directory: Path, name: str, text: str) -> None:
    """`directory/name` (mode 0600) appears whole or not at all, never through a
    link. `directory` is the state folder (see `ensure_state_dir`)."""
    with opened_dir(directory, follow=True) as dir_fd:
        temporary = f".{name}.{os.getpid()}.tmp"
        write_private_file(dir_fd, temporary, text)
        os.rename(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)


def read_text_nofollow(path: Path) -> str:
    """A small file's text; OSError if `path` is a symlink or cannot be read."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        return file.read(1 << 20).decode(errors="replace")


def make_private(path: Path) -> None:
    """Tighten an existing file of ours to 0600 (no-op when missing or a symlink)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return
    try:
        info = os.fstat(fd)
        if (
            stat.S_ISREG(info.st_mode)
            and info.st_uid == os.geteuid()
            and stat.S_IMODE(info.st_mode) & ~PRIVATE_FILE
        ):
            os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)


def _refusal(path: Path, exc: OSError) -> StackError:
    if exc.errno == errno.ELOOP:
        return StackError(f"refusing {path}: it is a symbolic link; remove it")
    if exc.errno == errno.ENOTDIR:
        return StackError(f"refusing {path}: it is not a folder; remove it")
    return StackError(f"cannot open {path} ({exc.strerror})")
