"""OS confinement of the Lua worker process: resource limits, Landlock, read-only ``.git``.

The worker calls :func:`confine_process` once, before it runs any Lua. Everything it
applies is irreversible and inherited by every command the worker starts. Nothing here
raises because a mechanism is missing: the returned :class:`Confinement` says what is in
force and ``notes`` explain, in sentences, what is not.

Troubleshooting: ``JIDO_KERNEL_DISABLE_LANDLOCK=1`` in the worker's environment makes
Landlock count as unavailable (the user-space checks still apply).
"""

from __future__ import annotations

import glob
import os
import signal
import sys
import threading
from collections.abc import Iterable, Sequence

from jido_kernel.confine import landlock as _landlock
from jido_kernel.confine._libc import PR_SET_NO_NEW_PRIVS, PR_SET_PDEATHSIG, prctl
from jido_kernel.confine.elf import program_interpreter
from jido_kernel.confine.landlock import DISABLE_ENV, Rule
from jido_kernel.confine.mounts import find_protected, protect
from jido_kernel.confine.rlimits import apply_rlimits, set_cpu_budget
from jido_kernel.values import FrozenValue

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "DISABLE_ENV",
    "SYSTEM_READ_ONLY_PATHS",
    "Confinement",
    "confine_process",
    "default_read_only_paths",
    "landlock_abi",
    "set_cpu_budget",
]

SYSTEM_READ_ONLY_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc")
"""System directories commands and the Python worker read (libraries, locale, passwd, ld.so.cache)."""

_DEVICES_READ_WRITE = ("/dev/null",)
_DEVICES_READ = ("/dev/zero", "/dev/urandom", "/dev/random")

_LL = _landlock
_ROOT_RIGHTS_DENIED = _LL.EXECUTE | _LL.MAKE_CHAR | _LL.MAKE_BLOCK
"""Never granted in the project root: running files from it, and device nodes (a privileged
worker could otherwise create a node for a disk and read it raw)."""
_ALL_RIGHTS = (1 << 64) - 1


class Confinement(FrozenValue):
    """What :func:`confine_process` put in force for this process and its children."""

    _fields = ("landlock_abi", "landlock_enforced", "network_restricted", "git_read_only", "notes")
    __slots__ = _fields
    landlock_abi: int | None
    landlock_enforced: bool
    network_restricted: bool
    git_read_only: bool
    notes: tuple[str, ...]

    def __init__(
        self,
        landlock_abi: int | None,
        landlock_enforced: bool,
        network_restricted: bool,
        git_read_only: bool,
        notes: tuple[str, ...],
    ) -> None:
        self._set(landlock_abi, landlock_enforced, network_restricted, git_read_only, notes)

    def to_json(self) -> dict[str, Any]:
        """Plain data (for the worker's "ready" message)."""
        return {
            "landlock_abi": self.landlock_abi,
            "landlock_enforced": self.landlock_enforced,
            "network_restricted": self.network_restricted,
            "git_read_only": self.git_read_only,
            "notes": list(self.notes),
        }


def landlock_abi() -> int | None:
    """The kernel's Landlock ABI version, or None (not built in, disabled at boot, not
    Linux, or switched off with ``JIDO_KERNEL_DISABLE_LANDLOCK=1``)."""
    return _landlock.abi_version()


def default_read_only_paths() -> list[str]:
    """System directories plus every directory the running Python imports from: its
    ``sys.path`` and this package's own folder (the worker imports ``jido_kernel`` from
    a folder it then takes off ``sys.path``: :data:`jido_kernel.lua.transport._BOOT`)."""
    python = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    python += [p for p in sys.path if os.path.isabs(p)]
    python.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    paths = list(SYSTEM_READ_ONLY_PATHS)
    for path in python:
        if os.path.exists(path) and path not in paths:
            paths.append(path)
    return paths


def confine_process(
    root: str | os.PathLike[str],
    *,
    max_memory: int | None,
    exec_allowlist: Iterable[str],
    read_only_paths: Sequence[str] | None = None,
) -> Confinement:
    """Confine this process and everything it will start to the project ``root``.

    In order: ``PR_SET_NO_NEW_PRIVS``; ``RLIMIT_CORE`` 0, ``RLIMIT_NPROC`` and
    ``RLIMIT_AS`` (``max_memory`` + :data:`rlimits.AS_MARGIN`; none when ``max_memory`` is
    None); a private mount namespace in which every ``.git`` directory under ``root`` is
    read-only and every ``.jido_code`` directory an empty read-only tmpfs (see
    :mod:`.mounts`); ``PR_SET_PDEATHSIG(SIGKILL)``, so the process dies when the *thread*
    that started it exits (set after the namespace: a credential change clears it); then
    Landlock:

    - ``root``: every right but execute and device-node creation;
    - ``read_only_paths`` (default :func:`default_read_only_paths`): read files, list dirs;
    - ``exec_allowlist`` binaries and their ELF loaders: execute and read (a script's
      interpreter is *not* granted, so allow-listed scripts cannot run);
    - ``/dev/null`` read-write, ``/dev/zero``, ``/dev/urandom``, ``/dev/random`` read;
    - nothing else: no /tmp, no home; TCP bind/connect denied (ABI >= 4); signals and
      abstract unix sockets scoped to this process's own domain (ABI >= 6).

    Must be called while the process has a single thread: Landlock and no_new_privs apply
    to the calling thread only, so threads started earlier would stay unconfined
    (``RuntimeError`` otherwise). Never raises because a mechanism is unavailable.
    """
    threads = _thread_count()
    if threads != 1:
        raise RuntimeError(
            f"confine_process must run before the process starts threads ({threads} are running "
            "and would stay unconfined): call it first thing in the worker"
        )
    root = os.path.realpath(root)
    notes: list[str] = []
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    apply_rlimits(max_memory)
    git_read_only = _protect_directories(root, notes)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    abi = landlock_abi()
    enforced = network = False
    if abi is None:
        reason = (
            f"Landlock is disabled by {DISABLE_ENV}=1"
            if os.environ.get(DISABLE_ENV, "") not in ("", "0")
            else "Landlock is unavailable on this Linux kernel"
        )
        notes.append(f"{reason}: file access from Lua and its commands is confined by user-space checks only.")
    else:
        rules = _rules(root, exec_allowlist, read_only_paths, notes)
        try:
            network = _landlock.restrict_self(rules, abi)
            enforced = True
        except OSError as error:
            notes.append(
                f"Landlock could not be enforced ({error.strerror}): file access from Lua and its "
                "commands is confined by user-space checks only."
            )
        else:
            notes.extend(_abi_notes(abi))
    return Confinement(abi, enforced, network, git_read_only, tuple(notes))


def _protect_directories(root: str, notes: list[str]) -> bool:
    """Read-only ``.git``, hidden ``.jido_code``; True when ``.git`` directories were made read-only."""
    directories = find_protected(root)
    if not directories.read_only and not directories.hidden:
        return False
    try:
        protect(directories)
    except OSError as error:
        notes.append(
            f"A private mount namespace could not be created ({error.strerror}): .git is read-only and "
            ".jido_code hidden for Lua and its commands through user-space checks only."
        )
        return False
    return bool(directories.read_only)


def _rules(
    root: str,
    exec_allowlist: Iterable[str],
    read_only_paths: Sequence[str] | None,
    notes: list[str],
) -> list[Rule]:
    rules = [Rule(root, _ALL_RIGHTS & ~_ROOT_RIGHTS_DENIED)]
    read = _LL.READ_FILE | _LL.READ_DIR
    paths = default_read_only_paths() if read_only_paths is None else read_only_paths
    rules += [Rule(path, read) for path in paths]
    rules += [Rule(path, _LL.READ_FILE | _LL.WRITE_FILE | _LL.TRUNCATE) for path in _DEVICES_READ_WRITE]
    rules += [Rule(path, _LL.READ_FILE) for path in _DEVICES_READ]
    for binary in _executables(exec_allowlist, notes):
        rules.append(Rule(binary, _LL.EXECUTE | _LL.READ_FILE))
    return rules


def _executables(exec_allowlist: Iterable[str], notes: list[str]) -> list[str]:
    """The binaries, their loaders, and git's own copy in its exec-path (it re-runs itself)."""
    found: list[str] = []
    for path in exec_allowlist:
        binary = os.path.realpath(path)
        if not os.path.isfile(binary):
            continue
        candidates = [binary]
        if os.path.basename(binary) == "git":
            prefix = os.path.dirname(os.path.dirname(binary))
            candidates += glob.glob(os.path.join(prefix, "lib*", "git-core", "git"))
        for candidate in candidates:
            loader = program_interpreter(candidate)
            if loader is None and _is_script(candidate):
                notes.append(
                    f"{path} is a script: Landlock does not let its interpreter run, so it will fail "
                    "with 'Permission denied'."
                )
            found += [candidate] + ([loader] if loader else [])
    return list(dict.fromkeys(found))


def _is_script(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(2) == b"#!"
    except OSError:
        return False


def _abi_notes(abi: int) -> list[str]:
    notes = []
    if abi < 2:
        notes.append(
            f"Landlock ABI {abi} forbids moving or linking files between directories, even inside the project."
        )
    if abi < 3:
        notes.append(f"Landlock ABI {abi} cannot restrict truncating files outside the project.")
    if abi < 4:
        notes.append(f"Landlock ABI {abi} cannot restrict the network: commands may open TCP connections.")
    if abi < 6:
        notes.append(
            f"Landlock ABI {abi} cannot scope signals and abstract unix sockets: commands may reach "
            "other processes of the same user through them."
        )
    return notes


def _thread_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()
