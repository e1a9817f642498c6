"""Confined resolution: from an open descriptor of the root, one component at a time.

Every directory is opened relative to its parent's descriptor with ``O_NOFOLLOW``, so a
symlink swapped in at any moment cannot redirect the walk: it is met as a symlink,
read with ``readlinkat`` and its target re-validated here — relative targets continue
from the link's directory, absolute targets must name the root, ``..`` never climbs
above the root, and more than :data:`MAX_HOPS` links (or retries after a concurrent
change) is a loop. Rules of the :class:`~.policy.Policy` are checked on every
directory entered and on the final path, before anything is created: for sandboxed
writes that includes the trusted names in any letter case, and every directory
entered (the root too) must not hold a virtual environment's ``pyvenv.cfg``.

Where ``openat2`` is usable, the symlink-free case costs one syscall (see
:mod:`.openat2`); any symlink sends the call to the walk.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from collections import deque

from jido_kernel.security import openat2 as _o2
from jido_kernel.security.errors import Refusal
from jido_kernel.security.policy import ENVIRONMENT_MARKERS, Policy
from jido_kernel.security.roots import Root, split
from jido_kernel.values import Value

MAX_HOPS = 40

_PATH_DIR = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


class Found(Value):
    """Where a path led.

    ``dir_fd`` (owned by the caller unless it is the root descriptor; see
    :func:`~.locate.close_found`) is the directory holding ``name``; ``name`` is None
    when the path is a directory reached as such (the root, ``leaf_dir``, a link to
    ``.``), and ``dir_fd`` is then that directory. ``st`` is the leaf's ``lstat`` (its
    ``fstat`` when ``leaf_fd`` is open), None when it does not exist. ``missing`` is
    ``ENOENT``/``ENOTDIR`` when a component is absent or not a directory: ``dir_fd``
    is then -1 and ``missing_at`` indexes that component in ``parts``.
    """

    _fields = ("parts", "dir_fd", "name", "st", "missing", "missing_at", "leaf_fd")
    __slots__ = _fields
    parts: list[str]
    dir_fd: int
    name: str | None
    st: os.stat_result | None
    missing: int
    missing_at: int
    leaf_fd: int

    def __init__(
        self,
        parts: list[str],
        dir_fd: int,
        name: str | None,
        st: os.stat_result | None,
        missing: int = 0,
        missing_at: int = 0,
        leaf_fd: int = -1,
    ) -> None:
        self.parts, self.dir_fd, self.name, self.st = parts, dir_fd, name, st
        self.missing, self.missing_at, self.leaf_fd = missing, missing_at, leaf_fd


class Walker:
    """One confined resolution under ``root`` (open as ``root_fd``) for ``policy``;
    ``write`` selects the policy's rules for writes. Use each walker for one path."""

    def __init__(self, root: Root, root_fd: int, policy: Policy, *, write: bool) -> None:
        self.root = root
        self.root_fd = root_fd
        self.policy = policy
        self.write = write
        self.hops = 0
        self.guard_venvs = policy.guards_installed_code(write=write)
        self._fds: list[int] = []  # directories entered, -1 below an absent one
        self._resolved: list[str] = []
        self._missing = 0
        self._missing_at = 0

    def tick(self) -> None:
        """Count a symlink hop or a retry after a concurrent change; too many is a loop."""
        self.hops += 1
        if self.hops > MAX_HOPS:
            raise Refusal("symlink_loop")

    def resolve(
        self,
        parts: list[str],
        *,
        follow_leaf: bool = True,
        create: bool = False,
        leaf_dir: bool = False,
        open_flags: int | None = None,
    ) -> Found:
        """Resolve ``parts`` (lexically clean components under the root).

        ``follow_leaf``: follow a symlink in the last position. ``create``: make missing
        directories on the way (and the leaf itself when ``leaf_dir``). ``leaf_dir``:
        the leaf must be a directory, described by ``dir_fd`` with ``name`` None.
        ``open_flags``: open the leaf with these flags (plus ``O_NOFOLLOW``) into
        ``leaf_fd``, which the caller closes.
        """
        fds, resolved = self._fds, self._resolved
        queue = deque(parts)
        try:
            self._check_venv(self.root_fd)
            while queue:
                name = queue.popleft()
                if name == "..":
                    if not resolved:
                        raise Refusal("symlink_escapes_boundary")
                    resolved.pop()
                    fd = fds.pop()
                    if fd >= 0:
                        os.close(fd)
                    if self._missing and len(resolved) <= self._missing_at:
                        self._missing = 0
                    continue
                if self.policy.watches(name, write=self.write):
                    reason = self.policy.entering(name, queue, write=self.write)
                    if reason:
                        raise Refusal(reason)
                if self._missing:
                    resolved.append(name)
                    fds.append(-1)
                    continue
                parent = fds[-1] if fds else self.root_fd
                if queue or leaf_dir:
                    entered: int | None
                    try:
                        entered = os.open(name, _PATH_DIR, dir_fd=parent)
                    except OSError as exc:
                        entered = self._enter(exc, parent, name, queue, create)
                        if entered is None:
                            continue
                    resolved.append(name)
                    fds.append(entered)
                    self._check_venv(entered)
                    continue
                found = self._leaf(parent, name, queue, follow_leaf, open_flags)
                if found is not None:
                    return found
            reason = self.policy.refusal(resolved, write=self.write)
            if reason:
                raise Refusal(reason)
            if self._missing:
                return Found(list(resolved), -1, resolved[-1], None, self._missing, self._missing_at)
            top = fds.pop() if fds else self.root_fd
            return Found(list(resolved), top, None, os.fstat(top))
        finally:
            self._reset()

    def _leaf(self, parent: int, name: str, queue: deque[str], follow: bool, open_flags: int | None) -> Found | None:
        """Look at (or open) the last component; None after queueing a symlink's target."""
        path = [*self._resolved, name]
        reason = self.policy.refusal(path, write=self.write)
        if reason:
            raise Refusal(reason)
        leaf_fd = -1
        try:
            if open_flags is None:
                st: os.stat_result | None = os.stat(name, dir_fd=parent, follow_symlinks=False)
            else:
                leaf_fd = os.open(name, open_flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
                try:
                    st = os.fstat(leaf_fd)
                except BaseException:
                    os.close(leaf_fd)
                    raise
        except FileNotFoundError:
            st = None
        except OSError as exc:
            if exc.errno != errno.ELOOP or not follow:
                raise
            self._follow(parent, name, queue)
            return None
        if st is not None and stat.S_ISLNK(st.st_mode) and (follow or leaf_fd >= 0):
            if leaf_fd >= 0:
                os.close(leaf_fd)
            if not follow:
                raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
            self._follow(parent, name, queue)
            return None
        dir_fd = self._fds.pop() if self._fds else self.root_fd
        return Found(path, dir_fd, name, st, leaf_fd=leaf_fd)

    def _enter(self, exc: OSError, parent: int, name: str, queue: deque[str], create: bool) -> int | None:
        """After opening directory ``name`` failed with ``exc``: a descriptor, -1 with the
        walk marked absent, or None once a symlink's target (or a retry) is queued."""
        if isinstance(exc, FileNotFoundError):
            if not create:
                return self._absent(errno.ENOENT)
            reason = self.policy.refusal([*self._resolved, name], write=True)
            if reason:  # a folder only where the policy lets the caller write (the paths it protects)
                raise Refusal(reason)
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, 0o777, dir_fd=parent)
            try:
                return os.open(name, _PATH_DIR, dir_fd=parent)
            except (FileNotFoundError, NotADirectoryError):
                self.tick()  # changed under us: look again
                queue.appendleft(name)
                return None
        if not isinstance(exc, NotADirectoryError):
            raise exc
        try:
            st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            self.tick()
            queue.appendleft(name)
            return None
        if stat.S_ISLNK(st.st_mode):
            self._follow(parent, name, queue)
            return None
        if stat.S_ISDIR(st.st_mode):  # replaced between the two calls
            self.tick()
            queue.appendleft(name)
            return None
        return self._absent(errno.ENOTDIR)

    def _check_venv(self, fd: int) -> None:
        """Refuse a sandboxed write below an installed environment (a directory holding
        ``pyvenv.cfg`` or ``conda-meta``): its tree is installed code that runs without review."""
        if not self.guard_venvs or fd < 0:
            return
        for marker in ENVIRONMENT_MARKERS:
            try:
                os.stat(marker, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            raise Refusal("installed_code")

    def _absent(self, code: int) -> int:
        self._missing, self._missing_at = code, len(self._resolved)
        return -1

    def _follow(self, parent: int, name: str, queue: deque[str]) -> None:
        """Queue the target of symlink ``name``; an absolute target restarts at the root."""
        self.tick()
        try:
            target = os.readlink(name, dir_fd=parent)
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.ENOENT):
                raise
            queue.appendleft(name)  # no longer a symlink: look again
            return
        if target.startswith("/"):
            relative = self.root.relative(split(target))
            if relative is None:
                raise Refusal("symlink_escapes_boundary")
            self._reset()
            queue.extendleft(reversed(relative))
        else:
            queue.extendleft(reversed(split(target)))

    def _reset(self) -> None:
        """Close every directory entered and start again from the root."""
        for fd in self._fds:
            if fd >= 0:
                os.close(fd)
        self._fds.clear()
        self._resolved.clear()
        self._missing = 0


_FS_ENCODING = sys.getfilesystemencoding()
_FS_ERRORS = sys.getfilesystemencodeerrors()


def fast_open(root_fd: int, parts: list[str], flags: int) -> int | None:
    """``openat2`` of a symlink-free path; None when the walk must decide (a symlink
    anywhere, the last component included, or openat2 unusable). Other failures raise
    ``OSError``. ``flags`` must not hold ``O_NOFOLLOW`` (with ``O_PATH`` it would open
    a trailing link instead of reporting it)."""
    if not _o2.ENABLED:
        return None
    try:
        relative = "/".join(parts).encode(_FS_ENCODING, _FS_ERRORS) if parts else b"."  # as os.fsencode does
        return _o2.openat2(root_fd, relative, flags)
    except _o2.Unavailable:
        _o2.disable()
        return None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EXDEV, errno.EAGAIN):
            return None
        raise


def reopen_dir(fd: int) -> int:
    """A readable descriptor of the directory open (possibly ``O_PATH``) as ``fd``."""
    return os.open(".", _READ_DIR, dir_fd=fd)
