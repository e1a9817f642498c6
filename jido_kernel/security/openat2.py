"""``openat2(2)`` through ctypes: one-syscall confined opens where the kernel has it.

The confined operations open paths that contain no symlink with ``RESOLVE_BENEATH |
RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS``: the kernel refuses any escape and
reports ``ELOOP`` as soon as a symlink appears, and the caller then falls back to the
component-by-component walk, which resolves in-root links itself.
(``RESOLVE_BENEATH`` alone cannot serve symlinks: it refuses absolute targets even
when they point inside the root, and ``RESOLVE_IN_ROOT`` would re-root escapes
instead of refusing them.)

Availability is detected once at import; :data:`ENABLED` is the switch the
operations read on every call (tests turn it off to exercise the walk).
"""

from __future__ import annotations

import ctypes
import errno
import os

RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08

#: Confinement flags used by every call.
CONFINED = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS

#: openat2 syscall numbers per machine (the unified table gives 437 nearly everywhere).
SYSCALL_NUMBERS: dict[str, int] = {
    "x86_64": 437,
    "aarch64": 437,
    "arm64": 437,
    "i386": 437,
    "i686": 437,
    "armv7l": 437,
    "riscv64": 437,
    "ppc64le": 437,
    "s390x": 437,
    "loongarch64": 437,
}


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def _load() -> tuple[object, ctypes.c_long] | None:
    number = SYSCALL_NUMBERS.get(os.uname().machine)
    if number is None:
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        syscall = libc.syscall
    except (OSError, AttributeError):
        return None
    syscall.restype = ctypes.c_long
    # No argtypes, which spares a check per argument and call: the number and the size are
    # passed as values of their C types (long, size_t), the descriptor as a Python int (an
    # int) and the path as bytes (a char *, NUL-terminated), which ctypes passes as they
    # are, without making an object for either.
    return syscall, ctypes.c_long(number)


_LOADED = _load()
_HOW_SIZE = ctypes.c_size_t(ctypes.sizeof(_OpenHow))
# open_how structures are read-only once built: one per (flags, resolve) pair is reused.
_HOWS: dict[tuple[int, int], ctypes._Pointer[_OpenHow]] = {}


class Unavailable(Exception):
    """openat2 is missing or blocked (old kernel, seccomp filter)."""


def openat2(dir_fd: int, path: bytes, flags: int, resolve: int = CONFINED) -> int:
    """Open ``path`` relative to ``dir_fd``; raises ``OSError`` or :class:`Unavailable`."""
    if _LOADED is None:
        raise Unavailable
    if type(dir_fd) is not int or type(path) is not bytes:  # ctypes would pass a str as a wide string
        raise TypeError("openat2 takes a descriptor (an int) and a path (bytes)")
    syscall, number = _LOADED
    how = _HOWS.get((flags, resolve))
    if how is None:
        how = _HOWS[flags, resolve] = ctypes.pointer(_OpenHow(flags | os.O_CLOEXEC, 0, resolve))
    fd = syscall(number, dir_fd, path, how, _HOW_SIZE)  # type: ignore[operator]
    if fd >= 0:
        return fd
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EPERM, errno.E2BIG):
        raise Unavailable
    raise OSError(code, os.strerror(code))


def _detect() -> bool:
    if _LOADED is None:
        return False
    try:
        root_fd = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fd = openat2(root_fd, b".", os.O_PATH | os.O_DIRECTORY)
        os.close(fd)
        try:
            os.close(openat2(root_fd, b"..", os.O_PATH | os.O_DIRECTORY))
        except OSError as exc:
            return exc.errno == errno.EXDEV
        return False
    except (Unavailable, OSError):
        return False
    finally:
        os.close(root_fd)


#: True when this kernel runs openat2 with the confinement flags.
AVAILABLE: bool = _detect()

#: Whether the confined operations use openat2 (tests may switch it off).
ENABLED: bool = AVAILABLE


def disable() -> None:
    """Stop using openat2 (called when a call reports it blocked at run time)."""
    global ENABLED
    ENABLED = False
