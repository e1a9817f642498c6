"""Resource-limit backstops for the Lua worker (``setrlimit``).

These are not the primary limits (Lua's own allocator cap and hooks are); they stop a
worker whose native code runs away. Limits are inherited by every command it starts.
"""

from __future__ import annotations

import functools
import math
import os
import resource

AS_MARGIN = 1 << 30
"""Address space allowed beyond the Lua heap: Python, lupa, shared libraries, thread stacks
and malloc arenas of the worker (and of each command it starts, which inherits the limit)."""

NPROC_HEADROOM = 64
"""Processes (threads) the worker's user may start beyond those it runs at confinement."""

CPU_GRACE = 5
"""Seconds of CPU between the ``SIGXCPU`` at the soft limit and the ``SIGKILL`` at the hard one."""

_CAP_SYS_RESOURCE = 24


def apply_rlimits(max_memory: int | None) -> None:
    """Set ``RLIMIT_CORE`` = 0, ``RLIMIT_NPROC`` and (when ``max_memory``) ``RLIMIT_AS``.

    ``RLIMIT_AS`` = ``max_memory + AS_MARGIN``: past it allocations fail (``MemoryError``
    in Python) instead of exhausting the machine. ``RLIMIT_NPROC`` = the tasks the real
    user runs now + ``NPROC_HEADROOM`` (a fork-bomb backstop); the kernel does not
    enforce it for root or holders of ``CAP_SYS_RESOURCE``/``CAP_SYS_ADMIN``.
    Soft and hard limits are set equal, so they cannot be raised again.
    """
    _cap(resource.RLIMIT_CORE, 0)
    _cap(resource.RLIMIT_NPROC, user_task_count(os.getuid()) + NPROC_HEADROOM)
    if max_memory is not None:
        _cap(resource.RLIMIT_AS, max_memory + AS_MARGIN)


def set_cpu_budget(seconds: float) -> None:
    """Allow ``seconds`` more CPU time: past it ``SIGXCPU`` ends the process.

    Soft limit = CPU used so far + ``seconds`` (rounded up), hard = soft + ``CPU_GRACE``
    (``SIGKILL``). Raising a hard limit again needs ``CAP_SYS_RESOURCE`` in the initial
    user namespace; without it only the soft limit moves and the hard limit is left as
    it is, so later budgets stay possible.
    """
    if not seconds > 0:
        raise ValueError(f"CPU budget must be a positive number of seconds, got {seconds!r}")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(usage.ru_utime + usage.ru_stime + seconds)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if can_raise_hard_limits():
        hard = soft + CPU_GRACE
    elif hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def user_task_count(uid: int) -> int:
    """Tasks (threads count: ``RLIMIT_NPROC`` counts them) whose real uid is ``uid``.

    Each ``/proc/PID/status`` is read with one ``read`` and searched, not parsed: this
    runs at every worker start, over every process of the machine."""
    total = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            fd = os.open(f"/proc/{name}/status", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:  # the process ended while we looked
            continue
        try:
            status = os.read(fd, _STATUS_SIZE)
        except OSError:
            continue
        finally:
            os.close(fd)
        real = status.find(b"\nUid:")
        if real < 0 or int(status[real + 5 : status.index(b"\n", real + 5)].split()[0]) != uid:
            continue
        threads = status.find(b"\nThreads:")
        total += int(status[threads + 9 : status.index(b"\n", threads + 9)]) if threads >= 0 else 1
    return total


_STATUS_SIZE = 16384
"""More than a ``/proc/PID/status`` holds (about 1.5 KiB; ``Uid`` and ``Threads`` come early)."""


def _cap(limit: int, value: int) -> None:
    _soft, hard = resource.getrlimit(limit)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(limit, (value, value))


@functools.cache
def can_raise_hard_limits() -> bool:
    """True when this process holds ``CAP_SYS_RESOURCE`` in the initial user namespace
    (read once: a confined worker never gains capabilities, and this runs every cell)."""
    try:
        with open("/proc/self/status", "rb") as f:
            cap_eff = next(int(line.split()[1], 16) for line in f if line.startswith(b"CapEff:"))
        with open("/proc/self/uid_map", "rb") as f:
            initial_namespace = f.read().split() == [b"0", b"0", b"4294967295"]
    except (OSError, StopIteration, ValueError):
        return False
    return initial_namespace and bool(cap_eff >> _CAP_SYS_RESOURCE & 1)
