"""Read-only ``.git`` and hidden ``.jido_code`` through a private mount namespace.

A ``.git/config`` or hook written from the sandbox would run later, outside it, when the
user runs git; ``.jido_code/`` holds the project's settings, sandbox limits included.
Landlock cannot carve such subtrees out of the writable root, so in a mount namespace
private to this process and its children (the rest of the system is unaffected) each
``.git`` directory is bind-mounted onto itself read-only and each ``.jido_code``
directory is covered by an empty read-only tmpfs.
"""

from __future__ import annotations

import os

from jido_kernel.confine._libc import mount, unshare
from jido_kernel.values import Value

MAX_SCANNED_DIRS = 20_000
"""Directories searched for nested ``.git``/``.jido_code`` (the root's own are always found)."""

READ_ONLY_NAME = ".git"
HIDDEN_NAME = ".jido_code"

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_MS_RDONLY = 1
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_NOEXEC = 8
_MS_REMOUNT = 32
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
_MS_RELATIME = 1 << 21
# statvfs f_flag bit -> mount flag that must be kept on a bind remount (the kernel refuses to
# drop locked flags such as nosuid/nodev/noexec inside a user namespace).
_KEPT_FLAGS = {
    os.ST_NOSUID: _MS_NOSUID,
    os.ST_NODEV: _MS_NODEV,
    os.ST_NOEXEC: _MS_NOEXEC,
    os.ST_NOATIME: 1024,
    os.ST_NODIRATIME: 2048,
    os.ST_RELATIME: _MS_RELATIME,
}


class Protected(Value):
    """Directories under a root that sandboxed code must not change (or see)."""

    _fields = ("read_only", "hidden")
    __slots__ = _fields

    def __init__(self, read_only: list[str] | None = None, hidden: list[str] | None = None) -> None:
        self.read_only: list[str] = [] if read_only is None else read_only
        self.hidden: list[str] = [] if hidden is None else hidden


def find_protected(root: str | os.PathLike[str]) -> Protected:
    """``.git`` and ``.jido_code`` directories under ``root`` (symlinks not followed), shallowest first."""
    found = Protected()
    for scanned, (directory, subdirs, _files) in enumerate(os.walk(root), start=1):
        for name, bucket in ((READ_ONLY_NAME, found.read_only), (HIDDEN_NAME, found.hidden)):
            if name in subdirs:
                subdirs.remove(name)
                bucket.append(os.path.join(directory, name))
        if scanned >= MAX_SCANNED_DIRS:
            break
    return found


def protect(directories: Protected) -> None:
    """Enter a private mount namespace; make ``read_only`` read-only and ``hidden`` empty.

    As root (or with ``CAP_SYS_ADMIN``) a mount namespace is enough; otherwise a user
    namespace mapping only the current uid/gid is created with it. Raises ``OSError``
    when the kernel refuses (no namespaces, seccomp, a locked-down container).
    """
    _enter_private_mount_namespace()
    for directory in directories.read_only:
        mount(directory, directory, _MS_BIND | _MS_REC)
        kept = os.statvfs(directory).f_flag
        flags = _MS_BIND | _MS_REMOUNT | _MS_RDONLY
        flags |= sum(ms for st, ms in _KEPT_FLAGS.items() if kept & st)
        mount(None, directory, flags)
    for directory in directories.hidden:
        flags = _MS_RDONLY | _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
        mount("none", directory, flags, fstype="tmpfs", data="size=4k,mode=000")


def _enter_private_mount_namespace() -> None:
    try:
        unshare(_CLONE_NEWNS)
    except PermissionError:
        uid, gid = os.getuid(), os.getgid()
        unshare(_CLONE_NEWUSER | _CLONE_NEWNS)
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")
    mount(None, "/", _MS_REC | _MS_PRIVATE)


def _write(path: str, text: str) -> None:
    with open(path, "wb") as f:
        f.write(text.encode())
