"""The three ways an operation reaches its target under an open root descriptor —
the leaf itself, the directory holding it, or a directory — each by ``openat2`` when
the path has no symlink, else by the :class:`~.resolve.Walker`.

All of them raise ``OSError`` for file-system failures and :class:`~.errors.Refusal`
for rule violations; the public functions translate both.
"""

from __future__ import annotations

import errno
import os
import stat

from jido_kernel.security.errors import Refusal
from jido_kernel.security.policy import Policy
from jido_kernel.security.resolve import Found, Walker, fast_open
from jido_kernel.security.roots import Root

_PATH_DIR = os.O_PATH | os.O_DIRECTORY


def close_found(found: Found, root_fd: int) -> None:
    """Close the directory descriptor a :class:`Found` owns."""
    if found.dir_fd >= 0 and found.dir_fd != root_fd:
        os.close(found.dir_fd)


def _raise_missing(found: Found) -> None:
    if found.missing:
        raise OSError(found.missing, os.strerror(found.missing))


def open_leaf(root: Root, root_fd: int, parts: list[str], policy: Policy, flags: int) -> tuple[int, os.stat_result]:
    """Open the file ``parts`` names (in-root symlinks followed) with ``flags``.

    Returns the descriptor and its ``fstat``. Callers pass ``O_NONBLOCK`` so that a
    FIFO cannot block the open; a socket (``ENXIO``) under a policy refusing special
    files is refused.
    """
    try:
        fd = fast_open(root_fd, parts, flags)
        if fd is not None:
            return fd, os.fstat(fd)
        found = Walker(root, root_fd, policy, write=False).resolve(parts, open_flags=flags)
    except OSError as exc:
        if exc.errno == errno.ENXIO and policy.refuse_special_files:
            raise Refusal("not_regular_file") from None
        raise
    try:
        _raise_missing(found)
        if found.name is None:
            fd = os.open(".", flags | os.O_CLOEXEC, dir_fd=found.dir_fd)
            return fd, os.fstat(fd)
        if found.st is None:
            raise OSError(errno.ENOENT, os.strerror(errno.ENOENT))
        return found.leaf_fd, found.st
    finally:
        close_found(found, root_fd)


def open_parent(
    root: Root,
    root_fd: int,
    parts: list[str],
    policy: Policy,
    *,
    write: bool,
    create: bool = False,
    follow_leaf: bool = True,
) -> Found:
    """The directory holding the target and the target's name and ``lstat``.

    ``create`` makes missing directories on the way; ``follow_leaf`` resolves a
    symlink in the last position to its (in-root) target. The caller closes the
    result with :func:`close_found`. Writes that must look for virtual environments
    on the way always walk.
    """
    if parts and not policy.guards_installed_code(write=write):
        try:
            fd = fast_open(root_fd, parts[:-1], _PATH_DIR)
        except FileNotFoundError:
            if not create:
                raise
            fd = None
        if fd is not None:
            name = parts[-1]
            try:
                st: os.stat_result | None = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                st = None
            except BaseException:
                os.close(fd)
                raise
            if st is None or not (follow_leaf and stat.S_ISLNK(st.st_mode)):
                return Found(list(parts), fd, name, st)
            os.close(fd)
    walker = Walker(root, root_fd, policy, write=write)
    return walker.resolve(parts, follow_leaf=follow_leaf, create=create)


def open_dir(
    root: Root, root_fd: int, parts: list[str], policy: Policy, flags: int, *, write: bool, create: bool = False
) -> tuple[int, list[str]]:
    """Open the directory ``parts`` names with ``flags`` (``create`` makes it and its
    parents). Returns the descriptor and the resolved components."""
    try:
        fd = None if policy.guards_installed_code(write=write) else fast_open(root_fd, parts, flags | os.O_DIRECTORY)
    except (FileNotFoundError, NotADirectoryError):
        if not create:
            raise
        fd = None  # the walk creates what is missing and tells a file from a directory
    if fd is not None:
        return fd, parts
    found = Walker(root, root_fd, policy, write=write).resolve(parts, create=create, leaf_dir=True)
    try:
        if found.missing == errno.ENOTDIR and found.missing_at == len(found.parts) - 1 and create:
            raise OSError(errno.EEXIST, os.strerror(errno.EEXIST))
        _raise_missing(found)
        return os.open(".", flags | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=found.dir_fd), found.parts
    finally:
        close_found(found, root_fd)
