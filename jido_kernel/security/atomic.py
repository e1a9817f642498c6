"""Crash-safe file replacement.

A write never leaves a torn file: the data goes to a temporary file in the same
directory, is flushed with ``fsync``, renamed over the target, and the directory is
``fsync``-ed. Readers see the old content or the new content, even if the process is
killed mid-write. Renaming also replaces a hard-linked target with a fresh inode, so a
link to a file elsewhere is never written through.
"""

from __future__ import annotations

import contextlib
import os
import stat

_TEMP_PREFIX = ".jido-tmp-"


def atomic_write_at(dir_fd: int, name: str, data: bytes, *, mode: int | None = None) -> None:
    """Atomically replace ``name`` in the directory open as ``dir_fd`` with ``data``.

    ``mode``: permission bits of the new file; ``None`` keeps the mode of an existing
    regular file (``0o666`` masked by the umask for a new one). An existing regular
    file's owner and group are kept where the process may set them. The temporary
    file is created with ``O_EXCL | O_NOFOLLOW`` so nothing swapped in can redirect
    it, and is removed if anything fails.
    """
    existing = _existing(dir_fd, name)
    if mode is None and existing is not None:
        mode = stat.S_IMODE(existing.st_mode)
    tmp = f"{_TEMP_PREFIX}{os.urandom(8).hex()}-{name}"
    while len(os.fsencode(tmp)) > 255:
        tmp = tmp[:-1]
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(tmp, flags, 0o666, dir_fd=dir_fd)
    try:
        try:
            if existing is not None:
                _keep_owner(fd, existing)
            if mode is not None:
                os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise
    os.fsync(dir_fd)


def atomic_write(path: str | os.PathLike[str], data: bytes, *, mode: int | None = None) -> None:
    """Atomically replace the file at a trusted ``path`` (its directory must exist).

    For paths chosen by the notebook owner (settings files); untrusted paths go through
    :func:`jido_kernel.security.write_file`, which confines them to a project root.
    """
    from pathlib import Path  # here, not at the top: the Lua worker never loads pathlib

    target = Path(path)
    dir_fd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        atomic_write_at(dir_fd, target.name, data, mode=mode)
    finally:
        os.close(dir_fd)


def _existing(dir_fd: int, name: str) -> os.stat_result | None:
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return st if stat.S_ISREG(st.st_mode) else None


def _keep_owner(fd: int, existing: os.stat_result) -> None:
    new = os.fstat(fd)
    if (new.st_uid, new.st_gid) == (existing.st_uid, existing.st_gid):
        return
    try:
        os.fchown(fd, existing.st_uid, existing.st_gid)
    except PermissionError:
        with contextlib.suppress(PermissionError):  # an unprivileged owner may still keep the group it belongs to
            os.fchown(fd, -1, existing.st_gid)
