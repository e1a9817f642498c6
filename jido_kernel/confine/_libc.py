"""Thin ctypes access to the few Linux system calls confinement needs."""

from __future__ import annotations

import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
libc.unshare.argtypes = [ctypes.c_int]
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]

PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38


def check(result: int, what: str) -> int:
    """Return ``result``, or raise ``OSError`` with ``errno`` when it is -1."""
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def prctl(option: int, arg: int) -> None:
    check(libc.prctl(option, arg, 0, 0, 0), "prctl")


def unshare(flags: int) -> None:
    check(libc.unshare(flags), "unshare")


def mount(source: str | None, target: str, flags: int, fstype: str | None = None, data: str | None = None) -> None:
    def c(text: str | None) -> bytes | None:
        return text.encode() if text is not None else None

    check(libc.mount(c(source), c(target), c(fstype), flags, c(data)), f"mount {target}")
