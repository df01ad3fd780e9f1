"""Where the private PostgreSQL cluster keeps its files, and why nobody else can use them.

The cluster's folder is `<state>/postgres`. When the state folder is out of
the `postgres` user's reach (under /root, say) and we are root, the cluster
lives instead in a folder made by `mkdtemp` in /var/tmp, linked from
`<state>/postgres`; an existing folder is used only if it passes
`ClusterFolder.check_fallback` (a real folder, ours, private, pointing back at
us), and nothing there is ever changed through a symlink. Fallback folders
whose state folder is gone are swept when a new one is made.

When we are root the cluster's files belong to the `postgres` user
(PostgreSQL refuses to run as root); otherwise to us.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from ttai.servers import StackError
from ttai.servers.files import (
    PRIVATE_DIR,
    ensure_state_dir,
    grant_group_traverse,
    make_private_dir,
    opened_dir,
    read_text_nofollow,
    write_private_file,
)

SERVICE_USER = "postgres"
# Where the cluster lives when the state folder is unreachable for SERVICE_USER.
FALLBACK_PARENT = Path("/var/tmp")
FALLBACK_PREFIX = "ttai-pg-"
# File in a fallback cluster folder naming the symlink that points at it.
_BACK_REFERENCE = "pointer"


class ClusterFolder:
    """The cluster folder of one state folder: found, checked or made by `prepare`."""

    def __init__(self, state_dir: Path, *, as_service_user: bool) -> None:
        self.state_dir = state_dir
        self.as_service_user = as_service_user
        self._root: Path | None = None

    @property
    def pointer(self) -> Path:
        """`<state>/postgres`: the cluster folder itself, or a symlink to it."""
        return self.state_dir / "postgres"

    @property
    def prepared(self) -> bool:
        return self._root is not None

    @property
    def root(self) -> Path:
        if self._root is None:
            raise StackError("PostgreSQL cluster folder not prepared yet; call start() first")
        return self._root

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    @property
    def owner_file(self) -> Path:
        return self.root / "owner.pid"

    def owner(self) -> dict[str, int]:
        """Who owns the cluster's files: the service user when we are root, else us."""
        if self.as_service_user:
            user = service_user()
            return {"uid": user.pw_uid, "gid": user.pw_gid}
        return {"uid": os.geteuid(), "gid": os.getegid()}

    def owner_ids(self) -> tuple[int, int]:
        owner = self.owner()
        return owner["uid"], owner["gid"]

    async def prepare(self, service_user_can_reach: Callable[[Path], Awaitable[bool]]) -> None:
        """Find (and check) or make the cluster folder; `service_user_can_reach(path)`
        says whether the server could traverse `path`."""
        if self._root is not None:
            return
        ensure_state_dir(self.state_dir)
        root = self.existing()
        if root is None:
            if await service_user_can_reach(self.state_dir.parent):
                root = self.pointer
                with opened_dir(self.state_dir, follow=True) as state_fd:
                    make_private_dir(state_fd, root.name, **self.owner(), where=root)
            else:
                # The state folder sits under a directory the postgres user
                # cannot traverse (e.g. /root/...): keep the cluster in a
                # fresh private folder it can reach, linked from the state folder.
                root = self.create_fallback()
        if root == self.pointer and self.as_service_user:
            # The server must pass through the (0700) state folder to its own.
            grant_group_traverse(self.state_dir, service_user().pw_gid)
        self._root = root

    def find_existing(self) -> bool:
        """Adopt the folder an earlier run made (checked), unless prepared; is there one?"""
        if self._root is None:
            self._root = self.existing()
        return self._root is not None

    def existing(self) -> Path | None:
        """The cluster folder an earlier run made for this state folder, checked; else None."""
        try:
            info = os.lstat(self.pointer)
        except FileNotFoundError:
            return None
        if stat.S_ISLNK(info.st_mode):
            target = Path(os.readlink(self.pointer))
            if not os.path.lexists(target):
                # Cleaned away (tmpfiles, reboot): its data is gone. Start
                # afresh in a new folder, never at the old, known path.
                self.pointer.unlink()
                return None
            self.check_fallback(target)
            return target
        if stat.S_ISDIR(info.st_mode):
            uid = self.owner()["uid"]
            if info.st_uid not in (uid, os.geteuid()) or info.st_mode & 0o077:
                raise StackError(
                    f"refusing {self.pointer}: not a private folder of this project "
                    f"(owner uid {info.st_uid}, mode {stat.S_IMODE(info.st_mode):o}); remove it"
                )
            return self.pointer
        raise StackError(f"refusing {self.pointer}: not a folder or a link to one; remove it")

    def check_fallback(self, target: Path) -> None:
        """Refuse a linked cluster folder this project did not create for this state folder."""

        def refuse(reason: str) -> StackError:
            return StackError(
                f"refusing the PostgreSQL folder {target} linked from {self.pointer}: {reason}. "
                f"Check it, then remove {self.pointer} to start a new cluster"
            )

        if target.parent != FALLBACK_PARENT or not target.name.startswith(FALLBACK_PREFIX):
            raise refuse(f"not a {FALLBACK_PARENT}/{FALLBACK_PREFIX}* folder")
        info = os.lstat(target)
        if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
            raise refuse("not a real folder")
        uid = self.owner()["uid"]
        if info.st_uid != uid:
            raise refuse(f"it belongs to uid {info.st_uid}, not {uid}")
        if info.st_mode & 0o077:
            raise refuse(f"others may use it (mode {stat.S_IMODE(info.st_mode):o})")
        try:
            back_reference = read_text_nofollow(target / _BACK_REFERENCE)
        except OSError:
            raise refuse("it does not name its state folder") from None
        if back_reference != str(self.pointer):
            raise refuse("it belongs to another state folder")

    def create_fallback(self) -> Path:
        sweep_abandoned_fallbacks(self.owner()["uid"])
        # mkdtemp: a new folder with an unpredictable name, mode 0700, made
        # here (never an existing one, never through a planted symlink).
        root = Path(tempfile.mkdtemp(prefix=FALLBACK_PREFIX, dir=FALLBACK_PARENT))
        try:
            with opened_dir(root) as root_fd:
                # Symlink first, back-reference second: a concurrent sweep never
                # sees a back-reference without its symlink.
                self.pointer.symlink_to(root)
                write_private_file(root_fd, _BACK_REFERENCE, str(self.pointer))
                os.fchown(root_fd, *self.owner_ids())
                os.fchmod(root_fd, PRIVATE_DIR)
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        return root

    def make_private_dir(self, name: str) -> None:
        """`<root>/name`, 0700, owned by the cluster's owner; never through a symlink."""
        with opened_dir(self.root) as root_fd:
            make_private_dir(root_fd, name, **self.owner(), where=self.root / name)

    def remove(self) -> None:
        """Delete the cluster folder and the link to it (the server must be stopped)."""
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)  # never follows a symlink
        if self.pointer.is_symlink():
            self.pointer.unlink()
        self._root = None


def sweep_abandoned_fallbacks(owner_uid: int) -> None:
    """Delete fallback clusters whose state folder is gone and that nothing runs.

    Their symlink vanished with the state folder (pytest prunes old temp
    folders; a test run may be killed before it cleans up), so nobody can
    reach that data again. Only folders this project made are considered: real
    folders owned by `owner_uid`, private, with a back-reference.
    """
    for root in FALLBACK_PARENT.glob(f"{FALLBACK_PREFIX}*"):
        try:
            info = os.lstat(root)
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != owner_uid or info.st_mode & 0o077:
                continue
            pointer = Path(read_text_nofollow(root / _BACK_REFERENCE))
            if pointer.is_symlink() and pointer.readlink() == root:
                continue
        except OSError:
            continue  # no back-reference: not ours to judge
        if not postmaster_serves(root / "data" / "postmaster.pid", root / "data"):
            shutil.rmtree(root, ignore_errors=True)


def postmaster_serves(pid_file: Path, data_dir: Path) -> bool:
    """Is the PID in `pid_file` alive and working in `data_dir` (as a postmaster does)?"""
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        return Path(f"/proc/{pid}/cwd").resolve(strict=True) == data_dir.resolve()
    except (OSError, ValueError, IndexError):
        return False


def service_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        raise StackError(
            f"running as root needs the '{SERVICE_USER}' system user to run PostgreSQL "
            "(Debian/Ubuntu: apt-get install postgresql) or set DATABASE_URL"
        ) from None
