"""Landlock (Linux >= 5.13): a kernel-enforced file, network and IPC policy.

The policy is built from *rules* on inodes and enforced on the calling thread and
every process it starts afterwards; it can only be tightened, never lifted. See
``Documentation/userspace-api/landlock.rst`` in the Linux tree.
"""

from __future__ import annotations

import ctypes
import os
import stat
import sys
from collections.abc import Iterable

from jido_kernel.confine._libc import PR_SET_NO_NEW_PRIVS, check, libc, prctl
from jido_kernel.values import FrozenValue

DISABLE_ENV = "JIDO_KERNEL_DISABLE_LANDLOCK"
"""Troubleshooting switch: ``JIDO_KERNEL_DISABLE_LANDLOCK=1`` makes Landlock count as unavailable."""

# System calls added after Linux 4.20 share one number on every architecture but alpha.
_SYSCALLS = {"create_ruleset": 444, "add_rule": 445, "restrict_self": 446}
_ARCHITECTURES = frozenset({"x86_64", "aarch64", "arm64", "i686", "armv7l", "riscv64", "ppc64le", "s390x"})

_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1

# Filesystem access rights (and the ABI that introduced the last ones).
EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
REMOVE_DIR = 1 << 4
REMOVE_FILE = 1 << 5
MAKE_CHAR = 1 << 6
MAKE_DIR = 1 << 7
MAKE_REG = 1 << 8
MAKE_SOCK = 1 << 9
MAKE_FIFO = 1 << 10
MAKE_BLOCK = 1 << 11
MAKE_SYM = 1 << 12
REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3
IOCTL_DEV = 1 << 15  # ABI 5
FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
"""The only rights a rule on a non-directory may carry."""

NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _syscall(name: str, *args: object) -> int:
    """``syscall(2)``: integers are passed as C longs (it is variadic)."""
    values = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    return int(libc.syscall(_SYSCALLS[name], *values))


def handled_fs(abi: int) -> int:
    """Every filesystem right Landlock ABI ``abi`` knows."""
    rights = (MAKE_SYM << 1) - 1
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


def abi_version() -> int | None:
    """The running kernel's Landlock ABI, or None when unavailable or disabled."""
    if os.environ.get(DISABLE_ENV, "") not in ("", "0"):
        return None
    if sys.platform != "linux" or os.uname().machine not in _ARCHITECTURES:
        return None
    result = _syscall("create_ruleset", None, 0, _CREATE_RULESET_VERSION)
    return result if result > 0 else None


class Rule(FrozenValue):
    """Grant ``rights`` beneath ``path`` (a directory) or on ``path`` (a file)."""

    _fields = ("path", "rights")
    __slots__ = _fields
    path: str
    rights: int

    def __init__(self, path: str, rights: int) -> None:
        self._set(path, rights)


def restrict_self(rules: Iterable[Rule], abi: int) -> bool:
    """Enforce a ruleset on this thread and its future children.

    Handles every filesystem right of ``abi`` (so anything not granted by ``rules`` is
    denied), denies TCP bind/connect from ABI 4, and scopes signals and abstract unix
    sockets to the domain from ABI 6. Paths that cannot be opened are skipped; rights a
    non-directory cannot carry are dropped from its rule. Returns whether TCP is denied.
    Raises ``OSError`` when the kernel refuses the ruleset.
    """
    handled = handled_fs(abi)
    attr = _RulesetAttr(
        handled_access_fs=handled,
        handled_access_net=NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0,
        scoped=SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0,
    )
    size = ctypes.sizeof(ctypes.c_uint64) * (3 if abi >= 6 else 2 if abi >= 4 else 1)
    ruleset = check(_syscall("create_ruleset", ctypes.byref(attr), size, 0), "landlock_create_ruleset")
    try:
        for rule in rules:
            _add_path_rule(ruleset, rule, handled)
        prctl(PR_SET_NO_NEW_PRIVS, 1)
        check(_syscall("restrict_self", ruleset, 0), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    return abi >= 4


def _add_path_rule(ruleset: int, rule: Rule, handled: int) -> None:
    try:
        fd = os.open(rule.path, os.O_PATH | os.O_CLOEXEC)
    except OSError:  # missing or out of reach: nothing to grant
        return
    try:
        rights = rule.rights & handled
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= FILE_RIGHTS
        if not rights:
            return
        attr = _PathBeneathAttr(allowed_access=rights, parent_fd=fd)
        check(
            _syscall("add_rule", ruleset, _RULE_PATH_BENEATH, ctypes.byref(attr), 0), f"landlock_add_rule {rule.path}"
        )
    finally:
        os.close(fd)
