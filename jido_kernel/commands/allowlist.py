"""The command allow-list: which names ``jido.shell`` may run, and where they are found.

Shells, language interpreters and command runners (:data:`BLOCKED_INTERPRETERS`) are
refused even when allow-listed: each runs arbitrary code. Commands are bare names looked
up on :data:`SEARCH_PATH` only. The kernel side reads these constants; the worker grants
execute rights on :func:`resolve_allowlist`'s binaries.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

DEFAULT_ALLOWLIST: tuple[str, ...] = (
    "git", "ls", "cat", "head", "tail", "grep", "find", "wc", "diff", "sort", "uniq",
    "test", "true", "false", "echo", "printf", "pwd", "mkdir", "rmdir", "cp", "mv", "ln",
    "touch", "rm", "date", "sleep",
)  # fmt: skip
"""jido_code's list without interpreters, build tools, package managers, network tools
and commands that run their arguments (``time``)."""

_SHELLS = "bash sh zsh fish dash ksh csh tcsh ash mksh pdksh rbash yash posh busybox elvish nu xonsh pwsh"

_INTERPRETERS = "perl ruby node nodejs deno bun php tclsh wish expect awk gawk mawk nawk sed osascript R Rscript"

_RUNNERS = (
    "env xargs nice nohup timeout time stdbuf setsid chroot sudo su doas runuser strace ltrace gdb "
    "script watch flock unshare nsenter ionice taskset chrt parallel socat"
)

BLOCKED_INTERPRETERS: frozenset[str] = frozenset(f"{_SHELLS} {_INTERPRETERS} {_RUNNERS}".split())
"""Shells, language interpreters and command runners: refused even when allow-listed.
Versioned names (``python3.11``, ``lua5.4``, ``perl5.36``…) are refused too."""

_VERSIONED_INTERPRETER = re.compile(r"(python|pypy|perl|ruby|lua|luajit|php|tclsh|wish|node)[0-9.]*")

SEARCH_PATH = "/usr/local/bin:/usr/bin:/bin"
"""The only ``PATH`` commands are looked up on and run with."""


def resolve_allowlist(allowlist: Sequence[str]) -> dict[str, str]:
    """Map each runnable allow-listed name to its resolved binary on :data:`SEARCH_PATH`.

    Interpreters, names with a ``/`` and names not found are left out: the result is
    what the worker may grant execute rights on.
    """
    resolved: dict[str, str] = {}
    for name in allowlist:
        if "/" in name or "\0" in name or is_interpreter(name):
            continue
        found = find_command(name)
        if found is not None:
            resolved[name] = os.path.realpath(found)
    return resolved


def find_command(name: str) -> str | None:
    """Where command ``name`` is on :data:`SEARCH_PATH`, or None: the answer of
    ``shutil.which(name, path=SEARCH_PATH)``, without the archive and compression modules
    ``shutil`` loads into the worker."""
    if os.path.dirname(name):
        return name if _runnable(name) else None
    for directory in dict.fromkeys(SEARCH_PATH.split(os.pathsep)):
        candidate = os.path.join(directory, name)
        if _runnable(candidate):
            return candidate
    return None


def _runnable(path: str) -> bool:
    return os.path.exists(path) and os.access(path, os.F_OK | os.X_OK) and not os.path.isdir(path)


def is_interpreter(name: str) -> bool:
    return name in BLOCKED_INTERPRETERS or _VERSIONED_INTERPRETER.fullmatch(name) is not None
