"""Confined file operations: ``(path, root, ..., policy=SANDBOX)``.

Each call validates ``path`` lexically, opens the root, and reaches its target through
:mod:`.locate` (``openat2`` or the ``O_NOFOLLOW`` walk), so nothing outside the root
is ever opened, read, written or created, whatever is swapped in meanwhile. Writes
replace the target atomically (:func:`.atomic.atomic_write_at`). Refusals raise a
recorded :class:`~.errors.SecurityError`; file-system failures raise the typed
:class:`~.errors.FileOpError` subclasses naming the path as given.
"""

from __future__ import annotations

import errno
import functools
import os
import re
import stat
import time
from collections.abc import Callable, Sequence

from jido_kernel.security import audit
from jido_kernel.security.atomic import atomic_write_at
from jido_kernel.security.errors import BinaryFile, FileOpError, FileTooLarge, Refusal, file_error
from jido_kernel.security.lexical import parts_under, walk_parts
from jido_kernel.security.lines import (
    check_window,
    line_window,
    line_window_utf8,
    number_lines,
    number_lines_utf8,
)
from jido_kernel.security.locate import close_found, open_dir, open_leaf, open_parent
from jido_kernel.security.policy import SANDBOX, Policy
from jido_kernel.security.resolve import Walker, reopen_dir
from jido_kernel.security.roots import Root, get_root

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeVar

    _F = TypeVar("_F", bound=Callable[..., Any])

DEFAULT_MAX_BYTES = 10_000_000
BINARY_SNIFF_BYTES = 8192

_READ = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


def confined(func: _F) -> _F:
    """Translate internal refusals and ``OSError`` into the public typed errors for the
    ``path`` and ``root`` given as the first two arguments."""

    @functools.wraps(func)
    def wrapper(path: object, root: str | os.PathLike[str], *args: Any, **kwargs: Any) -> Any:
        try:
            return func(path, root, *args, **kwargs)
        except Refusal as refusal:
            raise audit.refuse(refusal.reason, path, get_root(root).real, detail=refusal.detail) from None
        except FileOpError:
            raise
        except OSError as exc:
            raise file_error(exc, path) from None

    return wrapper  # type: ignore[return-value]


def begin(path: object, root: str | os.PathLike[str], policy: Policy, *, write: bool) -> tuple[Root, list[str]]:
    """The root and the validated components of ``path``, with the policy's rules
    applied to them. A ``..`` is resolved as the OS does (after a symlink it is the
    parent of the link's target), so a link leading out makes ``link/../x`` an escape."""
    if not isinstance(policy, Policy):
        raise TypeError(f"policy must be a Policy (OWNER or SANDBOX), not {type(policy).__name__}")
    resolved_root = get_root(root)
    parts = parts_under(path, resolved_root)
    reason = policy.refusal(parts, write=write)
    if reason:
        raise Refusal(reason)
    if isinstance(path, str) and ".." not in path:
        return resolved_root, parts  # no ".." component to resolve
    raw = walk_parts(path, resolved_root)
    if ".." in raw:
        parts = _without_dotdot(resolved_root, raw, policy, write=write)
    return resolved_root, parts


def _without_dotdot(root: Root, raw: list[str], policy: Policy, *, write: bool) -> list[str]:
    """``raw`` with every ``..`` resolved through the confined walk (the leaf itself is
    not followed); the operation then resolves the result again as usual."""
    root_fd = root.open()
    try:
        found = Walker(root, root_fd, policy, write=False).resolve(raw, follow_leaf=False)
        close_found(found, root_fd)
    finally:
        os.close(root_fd)
    reason = policy.refusal(found.parts, write=write)
    if reason:
        raise Refusal(reason)
    return found.parts


def _check_size(path: object, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise FileTooLarge(path, size, max_bytes)


def _read_fd(fd: int, st: os.stat_result, path: object, policy: Policy, max_bytes: int) -> bytes:
    mode = st.st_mode
    regular = stat.S_ISREG(mode)
    if regular:
        if policy.refuse_hardlinks and st.st_nlink > 1:
            raise Refusal("hardlinked_file")
        _check_size(path, st.st_size, max_bytes)
        want = st.st_size + 1
    elif stat.S_ISDIR(mode):
        raise OSError(errno.EISDIR, os.strerror(errno.EISDIR))
    elif policy.refuse_special_files:
        raise Refusal("not_regular_file")
    else:
        os.set_blocking(fd, True)
        want = 65536
    chunks = []
    total = 0
    while True:
        ask = min(max(want - total, 1), max_bytes + 1 - total)
        chunk = os.read(fd, ask)
        if regular and not total and len(chunk) < ask:
            return chunk  # all of a regular file (at most max_bytes) in one short read
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
        if total > max_bytes:
            raise FileTooLarge(path, max(total, st.st_size), max_bytes)
        if regular and len(chunk) < ask:
            break  # a short read of a regular file ends at its end: no second read to see it
        if total >= want:
            want = total + 65536  # the file grew: keep reading in blocks
    return b"".join(chunks)


@confined
def read_bytes(
    path: str | os.PathLike[str],
    root: str | os.PathLike[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    policy: Policy = SANDBOX,
) -> bytes:
    """The bytes of the file at ``path`` under ``root`` (at most ``max_bytes``)."""
    return _read_bytes(path, root, max_bytes, policy)


def _read_bytes(path: object, root: str | os.PathLike[str], max_bytes: int, policy: Policy) -> bytes:
    """:func:`read_bytes` without the translation of its errors (its callers translate them)."""
    resolved_root, parts = begin(path, root, policy, write=False)
    root_fd = resolved_root.open()
    try:
        fd, st = open_leaf(resolved_root, root_fd, parts, policy, _READ)
    finally:
        os.close(root_fd)
    try:
        return _read_fd(fd, st, path, policy, max_bytes)
    finally:
        os.close(fd)


@confined
def read_file(
    path: str | os.PathLike[str],
    root: str | os.PathLike[str],
    *,
    offset: int | None = None,
    limit: int | None = None,
    numbered: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
    policy: Policy = SANDBOX,
) -> str:
    """The text of the file at ``path`` under ``root``.

    Text is decoded as UTF-8 (invalid bytes replaced); a NUL byte in the first 8 KiB
    raises :class:`~.errors.BinaryFile`. ``offset`` (1-based) and ``limit`` select a
    window of lines. ``numbered`` gives the agent format ``"     1→line"`` (see
    :func:`.lines.number_lines`; the limit then defaults to 2000 lines).
    """
    data = _text_bytes(path, root, offset, limit, max_bytes, policy)
    text = data.decode("utf-8", "replace")
    if numbered:
        return number_lines(text, offset, limit)
    return line_window(text, offset, limit)


@confined
def read_file_utf8(
    path: str | os.PathLike[str],
    root: str | os.PathLike[str],
    *,
    offset: int | None = None,
    limit: int | None = None,
    numbered: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
    policy: Policy = SANDBOX,
) -> bytes:
    """:func:`read_file`'s text encoded as UTF-8 (for Lua), without a round trip
    through ``str`` when the file is valid UTF-8."""
    data = _text_bytes(path, root, offset, limit, max_bytes, policy)
    if numbered:
        return number_lines_utf8(data, offset, limit)
    return line_window_utf8(data, offset, limit)


def _text_bytes(
    path: object, root: str | os.PathLike[str], offset: int | None, limit: int | None, max_bytes: int, policy: Policy
) -> bytes:
    """The bytes of a text file (:class:`~.errors.BinaryFile` for a NUL byte in its
    first 8 KiB), once the line window is checked."""
    check_window(offset, limit)
    data = _read_bytes(path, root, max_bytes, policy)
    if data.find(b"\0", 0, BINARY_SNIFF_BYTES) != -1:
        raise BinaryFile(path)
    return data


def _encode(content: str | bytes) -> bytes:
    if isinstance(content, str):
        return content.encode("utf-8")
    if isinstance(content, (bytes, bytearray, memoryview)):
        return bytes(content)
    raise TypeError(f"write_file content must be a string or bytes, not {type(content).__name__}")


@confined
def write_file(
    path: str | os.PathLike[str],
    root: str | os.PathLike[str],
    content: str | bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    policy: Policy = SANDBOX,
) -> None:
    """Write ``content`` (str as UTF-8, or bytes) to ``path`` under ``root``.

    Missing parent directories are created. The file is replaced atomically (old or
    new content, never a torn file, even on a crash); an existing file keeps its mode
    and must be writable. A symlink to a file inside the root writes that file; a
    hard-linked file is replaced by a new inode, never written through (and refused
    outright under :data:`SANDBOX`).
    """
    data = _encode(content)
    _check_size(path, len(data), max_bytes)
    resolved_root, parts = begin(path, root, policy, write=True)
    if not parts:
        raise OSError(errno.EISDIR, os.strerror(errno.EISDIR))
    root_fd = resolved_root.open()
    try:
        found = open_parent(resolved_root, root_fd, parts, policy, write=True, create=True)
        try:
            if found.missing:
                raise OSError(found.missing, os.strerror(found.missing))
            if found.name is None or (found.st is not None and stat.S_ISDIR(found.st.st_mode)):
                raise OSError(errno.EISDIR, os.strerror(errno.EISDIR))
            if found.st is not None:
                _check_replaceable(found.st, policy)
                if not os.access(found.name, os.W_OK, dir_fd=found.dir_fd, effective_ids=True, follow_symlinks=False):
                    raise OSError(errno.EACCES, os.strerror(errno.EACCES))
            dir_fd = reopen_dir(found.dir_fd)
            try:
                atomic_write_at(dir_fd, found.name, data)
            finally:
                os.close(dir_fd)
        finally:
            close_found(found, root_fd)
    finally:
        os.close(root_fd)


def _check_replaceable(st: os.stat_result, policy: Policy) -> None:
    if stat.S_ISREG(st.st_mode):
        if policy.refuse_hardlinks and st.st_nlink > 1:
            raise Refusal("hardlinked_file")
    elif policy.refuse_special_files:
        raise Refusal("not_regular_file")


@confined
def delete_file(path: str | os.PathLike[str], root: str | os.PathLike[str], *, policy: Policy = SANDBOX) -> None:
    """Delete the file (or symlink) at ``path`` under ``root``; directories are refused.

    The path must validate like any other (a symlink leading outside is refused); a
    symlink itself is removed, not its target.
    """
    resolved_root, parts = begin(path, root, policy, write=True)
    if not parts:
        raise OSError(errno.EISDIR, os.strerror(errno.EISDIR))
    root_fd = resolved_root.open()
    try:
        close_found(open_parent(resolved_root, root_fd, parts, policy, write=True), root_fd)
        found = open_parent(resolved_root, root_fd, parts, policy, write=True, follow_leaf=False)
        try:
            if found.missing:
                raise OSError(found.missing, os.strerror(found.missing))
            if found.st is None:
                raise OSError(errno.ENOENT, os.strerror(errno.ENOENT))
            if found.name is None or stat.S_ISDIR(found.st.st_mode):
                raise OSError(errno.EISDIR, os.strerror(errno.EISDIR))
            os.unlink(found.name, dir_fd=found.dir_fd)
        finally:
            close_found(found, root_fd)
    finally:
        os.close(root_fd)


@confined
def mkdir_p(path: str | os.PathLike[str], root: str | os.PathLike[str], *, policy: Policy = SANDBOX) -> None:
    """Create the directory ``path`` under ``root`` and any missing parents (no error if
    it exists)."""
    resolved_root, parts = begin(path, root, policy, write=True)
    root_fd = resolved_root.open()
    try:
        fd, _ = open_dir(resolved_root, root_fd, parts, policy, os.O_PATH, write=True, create=True)
        os.close(fd)
    finally:
        os.close(root_fd)


def _ignore_regex(patterns: Sequence[str]) -> re.Pattern[str] | None:
    if isinstance(patterns, str):
        patterns = [patterns]
    alternatives = []
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise TypeError(f"ignore patterns must be strings, not {type(pattern).__name__}")
        alternatives.append(re.escape(pattern).replace(r"\*", ".*").replace(r"\?", "."))
    return re.compile("|".join(f"(?:{a})" for a in alternatives), re.DOTALL) if alternatives else None


def _entry_type(entry: os.DirEntry[str]) -> str:
    # Not following links, a symlink is neither a file nor a directory: the common case first.
    if entry.is_file(follow_symlinks=False):
        return "file"
    if entry.is_dir(follow_symlinks=False):
        return "directory"
    if entry.is_symlink():
        return "symlink"
    return "other"


@confined
def list_dir(
    path: str | os.PathLike[str],
    root: str | os.PathLike[str],
    *,
    ignore_patterns: Sequence[str] = (),
    policy: Policy = SANDBOX,
) -> list[dict[str, str]]:
    """Entries of the directory ``path`` (``"."`` or ``""`` for the root itself) under
    ``root`` as ``{"name", "type"}`` dicts
    (type ``file``, ``directory``, ``symlink`` or ``other``; symlinks are not
    followed), directories first, then by name. Names matching an ignore pattern
    (``*`` and ``?`` wildcards) are left out."""
    ignore = _ignore_regex(ignore_patterns)
    resolved_root, parts = begin(path, root, policy, write=False)
    root_fd = resolved_root.open()
    try:
        fd, _ = open_dir(resolved_root, root_fd, parts, policy, os.O_RDONLY, write=False)
    finally:
        os.close(root_fd)
    try:
        with os.scandir(fd) as entries:
            kinds = {
                entry.name: _entry_type(entry)
                for entry in entries
                if ignore is None or not ignore.fullmatch(entry.name)
            }
    finally:
        os.close(fd)
    names = sorted(kinds)  # then directories first, each group still by name
    if "directory" in kinds.values():
        names = [name for name in names if kinds[name] == "directory"] + [
            name for name in names if kinds[name] != "directory"
        ]
    return [{"name": name, "type": kinds[name]} for name in names]


_ACCESS = {(True, True): "read_write", (True, False): "read", (False, True): "write"}


def _stat_type(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "regular"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "other"


@confined
def file_stat(
    path: str | os.PathLike[str], root: str | os.PathLike[str], *, policy: Policy = SANDBOX
) -> dict[str, Any]:
    """``{"size", "type", "access", "mtime"}`` of ``path`` under ``root`` (in-root
    symlinks followed), as jido_code reported them: type ``regular``,
    ``directory``, ``device`` or ``other``; access ``read``, ``write``,
    ``read_write`` or ``none`` for this process under ``policy``; mtime in UTC as
    ``YYYY-MM-DDTHH:MM:SS``."""
    resolved_root, parts = begin(path, root, policy, write=False)
    root_fd = resolved_root.open()
    try:
        found = open_parent(resolved_root, root_fd, parts, policy, write=False)
        try:
            if found.missing:
                raise OSError(found.missing, os.strerror(found.missing))
            if found.st is None:
                raise OSError(errno.ENOENT, os.strerror(errno.ENOENT))
            st = found.st
            name = found.name if found.name is not None else "."
            readable = os.access(name, os.R_OK, dir_fd=found.dir_fd, effective_ids=True, follow_symlinks=False)
            writable = os.access(name, os.W_OK, dir_fd=found.dir_fd, effective_ids=True, follow_symlinks=False)
        finally:
            close_found(found, root_fd)
        writable = writable and not _write_refused(resolved_root, root_fd, found.parts, policy)
    finally:
        os.close(root_fd)
    mode = st.st_mode
    if (stat.S_ISREG(mode) and policy.refuse_hardlinks and st.st_nlink > 1) or (
        policy.refuse_special_files and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))
    ):
        readable = writable = False
    access = _ACCESS.get((readable, writable), "none")
    mtime = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(st.st_mtime))
    return {"size": st.st_size, "type": _stat_type(mode), "access": access, "mtime": mtime}


def _write_refused(root: Root, root_fd: int, parts: list[str], policy: Policy) -> bool:
    """Whether ``policy`` refuses writing the resolved ``parts`` (names, and for the
    sandbox a virtual environment on the way); nothing is created."""
    if policy.refusal(parts, write=True):
        return True
    if not policy.guards_installed_code(write=True):
        return False
    try:
        close_found(Walker(root, root_fd, policy, write=True).resolve(parts, follow_leaf=False), root_fd)
    except Refusal:
        return True
    return False


def _lookup(path: object, root: str | os.PathLike[str], policy: Policy) -> os.stat_result | None:
    resolved_root, parts = begin(path, root, policy, write=False)
    root_fd = resolved_root.open()
    try:
        try:
            found = open_parent(resolved_root, root_fd, parts, policy, write=False)
        except (FileNotFoundError, NotADirectoryError):
            return None
        close_found(found, root_fd)
        return None if found.missing else found.st
    finally:
        os.close(root_fd)


@confined
def file_exists(path: str | os.PathLike[str], root: str | os.PathLike[str], *, policy: Policy = SANDBOX) -> bool:
    """Whether ``path`` exists under ``root`` (in-root symlinks followed; a dangling
    link does not exist). Refused paths raise :class:`~.errors.SecurityError`."""
    return _lookup(path, root, policy) is not None


@confined
def is_file(path: str | os.PathLike[str], root: str | os.PathLike[str], *, policy: Policy = SANDBOX) -> bool:
    """Whether ``path`` under ``root`` is a regular file (in-root symlinks followed)."""
    st = _lookup(path, root, policy)
    return st is not None and stat.S_ISREG(st.st_mode)


@confined
def is_dir(path: str | os.PathLike[str], root: str | os.PathLike[str], *, policy: Policy = SANDBOX) -> bool:
    """Whether ``path`` under ``root`` is a directory (in-root symlinks followed)."""
    st = _lookup(path, root, policy)
    return st is not None and stat.S_ISDIR(st.st_mode)
