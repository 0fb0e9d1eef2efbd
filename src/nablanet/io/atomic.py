"""Atomic replacement of a file: a locked, recognisable temporary file renamed over it, and the cleanup of
the temporaries that a killed writer left behind.

A writer creates ``.<name>.<random>.nablanet-tmp`` beside the target, holds an exclusive ``flock`` on it
while it writes, fsyncs it and renames it over the target. A writer killed on the way (kill -9, power
loss) leaves its temporary file; the lock dies with the process, so the next writer of the same target
removes every such file it can lock, and leaves alone those another live writer holds. A symbolic link
at the target is followed: the file it points to is replaced and the link stays, as editors do.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import re
import secrets
import stat
import time

try:
    import fcntl
except ImportError:  # Windows: a file open in another process cannot be deleted, which protects it there
    fcntl = None

_SUFFIX = ".nablanet-tmp"
# nablanet before this scheme used tempfile's names, ".<name>.<8 characters>.tmp", without a lock: such a
# file is removed once it is older than any save takes.
_UNLOCKED_AGE = 600.0
_ATTEMPTS = 8


def target_of(path: pathlib.Path) -> pathlib.Path:
    """The file a write to ``path`` replaces: ``path`` itself, or the end of its chain of symbolic links."""
    return pathlib.Path(os.path.realpath(path)) if os.path.islink(path) else path


@contextlib.contextmanager
def replacing(path: pathlib.Path, mode: int):
    """Yield a binary stream to write the new contents of ``path`` to; on normal exit they replace it atomically.

    The temporary file gets permissions ``mode`` before the rename. On an exception (or KeyboardInterrupt)
    it is removed and ``path`` is left as it was.
    """
    target = target_of(path)
    remove_stale_temporaries(target)
    descriptor, temporary = _locked_temporary(target)
    try:
        with os.fdopen(descriptor, "wb", closefd=False) as stream:
            yield stream
            stream.flush()
            os.fsync(descriptor)
        if hasattr(os, "fchmod"):
            os.fchmod(descriptor, mode)
        else:
            os.chmod(temporary, mode)
        # Renamed while still locked: a cleanup by another writer cannot take it in between.
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    finally:
        os.close(descriptor)
    _fsync_directory(target.parent)


def temporaries_of(target: pathlib.Path) -> list[pathlib.Path]:
    """The temporary files of writes to ``target`` present in its directory (this scheme's and the old one's)."""
    pattern = _temporary_pattern(target.name)
    try:
        names = os.listdir(target.parent)
    except OSError:
        return []
    return [target.parent / name for name in names if pattern.fullmatch(name)]


def remove_stale_temporaries(target: pathlib.Path) -> None:
    """Remove the temporary files of ``target`` that no live writer holds (left by a killed save)."""
    for temporary in temporaries_of(target):
        with contextlib.suppress(OSError):
            _remove_if_unheld(temporary)


def _remove_if_unheld(temporary: pathlib.Path) -> None:
    if fcntl is None:
        os.unlink(temporary)  # fails while its writer has it open
        return
    descriptor = os.open(temporary, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            return
        if not temporary.name.endswith(_SUFFIX) and time.time() - info.st_mtime < _UNLOCKED_AGE:
            return  # an old-style name: its writer took no lock, so only its age says it is dead
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # a live writer holds it
        # The name may have been renamed and reused since it was opened: remove it only if it is still this file.
        if os.stat(temporary, follow_symlinks=False).st_ino == info.st_ino:
            os.unlink(temporary)
    finally:
        os.close(descriptor)


def _locked_temporary(target: pathlib.Path) -> tuple[int, pathlib.Path]:
    """A new temporary file beside ``target``, created and exclusively locked: (descriptor, path)."""
    for _ in range(_ATTEMPTS):
        temporary = target.parent / f".{target.name}.{secrets.token_hex(4)}{_SUFFIX}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        if fcntl is None:
            return descriptor, temporary
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        # Between creating and locking, another writer's cleanup may have locked and removed it.
        try:
            if os.stat(temporary, follow_symlinks=False).st_ino == os.fstat(descriptor).st_ino:
                return descriptor, temporary
        except FileNotFoundError:
            pass
        os.close(descriptor)
    raise OSError(f"save: could not create a temporary file beside {target} (removed {_ATTEMPTS} times)")


def _temporary_pattern(name: str) -> re.Pattern:
    escaped = re.escape(name)
    return re.compile(rf"\.{escaped}\.[0-9a-f]{{8}}{re.escape(_SUFFIX)}|\.{escaped}\.[a-z0-9_]{{8}}\.tmp")


def _fsync_directory(directory: pathlib.Path) -> None:
    # Makes the rename itself durable on POSIX; some platforms and file systems cannot open or
    # fsync a directory, and the file is complete either way.
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
