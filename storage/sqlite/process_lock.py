"""One Paperboy process per SQLite file: an advisory lock on a file beside the database."""

from __future__ import annotations

import fcntl
import os

from bot.ports.store_errors import DatabaseInUse


class ProcessLock:
    """An exclusive ``flock`` on ``<database>-paperboy.lock``, held while the store is open.

    The kernel drops it when the process dies however it dies (SIGKILL included), so a crash
    never leaves a stale lock behind, unlike a pid file; a clean stop removes the file too.
    """

    def __init__(self, fd: int, path: str) -> None:
        self._fd: int | None = fd
        self.path = path

    @classmethod
    def take(cls, database: str) -> ProcessLock:
        """Take the lock for *database*, or raise `DatabaseInUse` naming the process that holds it."""
        path = f"{os.path.abspath(database)}-paperboy.lock"
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "another process"
                os.close(fd)
                raise DatabaseInUse(
                    f"another Paperboy process (pid {holder}) already runs on this SQLite file; one process owns "
                    "an SQLite database, so to run several point them all at Postgres "
                    "(PAPERBOY_DATABASE=postgresql://…, see the README)") from None
            except BaseException:
                os.close(fd)
                raise
            if _still_at(fd, path):
                break
            # A holder that stopped removed the file between our open and our lock: this lock guards
            # nothing anyone else can find, so take the one at the path now.
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode("ascii"), 0)
        return cls(fd, path)

    def release(self) -> None:
        """Remove the lock file, then let another process take the database."""
        if self._fd is None:
            return
        try:
            os.unlink(self.path)  # while still locked: whoever opened it meanwhile sees it gone, and retries
        except OSError:  # gone already, or a read-only folder: a file left behind is harmless
            pass
        os.close(self._fd)
        self._fd = None


def _still_at(fd: int, path: str) -> bool:
    """Whether *path* still names the file open as *fd*."""
    try:
        here, there = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)
