"""Running a checked command: a minimal environment, its own process group, capped output.

Commands run without a shell, in the project root, with a minimal environment (never the
caller's), ``stdin`` = ``/dev/null``, in their own process group (killed as a whole on timeout),
with ``stdout`` and ``stderr`` captured separately and capped. Everything is checked
first by :mod:`jido_kernel.commands.policy`.

A command dies with the process that started it. By default it gets its own session
and ``PR_SET_PDEATHSIG`` (set in the child before exec, which forces a full ``fork``).
The Lua worker passes ``in_session=True``: the command's group stays inside the
worker's session, no Python code runs between fork and exec (so it starts with
``vfork``, at the same cost whatever the worker's size), and the kernel kills the
worker's whole session whenever the worker ends (:meth:`~jido_kernel.lua.transport.Worker.kill`).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Sequence

from jido_kernel.commands.allowlist import SEARCH_PATH
from jido_kernel.commands.git import (
    GitPin,
    check_worktree_reads,
    driver_overrides,
    git_argv,
    git_environment,
    pin_git_dir,
    sandbox_policy,
)
from jido_kernel.commands.options import Parsed, ShellError
from jido_kernel.commands.policy import checked
from jido_kernel.confine._libc import PR_SET_PDEATHSIG, libc
from jido_kernel.values import FrozenValue

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_READ_CHUNK = 1 << 16


class CommandResult(FrozenValue):
    """A finished command. ``exit_code`` is 128 + N when signal N ended it (shell style)."""

    _fields = ("exit_code", "stdout", "stderr", "truncated", "duration_ms")
    __slots__ = _fields
    exit_code: int
    stdout: str
    stderr: str
    truncated: bool
    duration_ms: float

    def __init__(self, exit_code: int, stdout: str, stderr: str, truncated: bool, duration_ms: float) -> None:
        self._set(exit_code, stdout, stderr, truncated, duration_ms)


def run_command(
    command: str,
    args: Sequence[str],
    root: str | os.PathLike[str],
    *,
    allowlist: Sequence[str],
    timeout: float,
    max_output: int = 1 << 20,
    git: GitPin | None = None,
    in_session: bool = False,
    started: Callable[[int], None] | None = None,
) -> CommandResult:
    """Check and run ``command args`` in ``root``; wait at most ``timeout`` seconds.

    ``stdout`` and ``stderr`` are each kept up to ``max_output`` bytes (then a
    ``[Output truncated at …]`` marker; a command that goes on writing far past the cap is
    killed). On timeout the whole process group is killed and
    ``ShellError(reason="timeout")`` is raised. ``git``: the pinned repository (the Lua
    worker pins it when it starts); None pins the root's ``.git`` directory now.
    ``in_session``: keep the command in the caller's session (see the module docstring).
    ``started(pid)`` is told the command's process id (it leads its own process group).
    """
    if not timeout > 0 or not max_output > 0:
        raise ValueError(f"timeout and max_output must be positive, got {timeout!r} and {max_output!r}")
    pin = git if git is not None else pin_git_dir(root)
    binary, parsed = checked(command, args, root, allowlist, sandbox_policy(root, pin))
    root = os.path.realpath(root)
    env = environment(root)
    argv = [command, *_guards(command, parsed, root), *args]
    if command == "git":
        env = git_environment(env, root, pin)
        overrides = driver_overrides(binary, root, env, timeout)
        check_worktree_reads(binary, root, env, timeout, list(args), overrides)
        argv = git_argv(list(args), overrides)
    return _execute(
        binary, argv, root, env=env, timeout=timeout, max_output=max_output, in_session=in_session, started=started
    )


def _guards(command: str, parsed: Parsed, root: str) -> list[str]:
    """Options the runner adds so recursive readers skip the settings folder."""
    if command == "grep" and parsed.has("-r", "--recursive"):
        return ["--exclude-dir=.jido_code"]
    if command == "diff" and (
        parsed.has("-r", "--recursive") or any(os.path.isdir(os.path.join(root, op)) for op in parsed.operands)
    ):
        return ["--no-dereference", "--exclude=.jido_code"]
    return []


def _die_with_parent() -> None:
    """In the command's process before exec: die (SIGKILL) when the process that started
    it dies."""
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _execute(
    binary: str,
    argv: list[str],
    root: str,
    *,
    env: dict[str, str],
    timeout: float,
    max_output: int,
    in_session: bool,
    started: Callable[[int], None] | None = None,
) -> CommandResult:
    start = time.monotonic()
    grouping: dict[str, Any] = (
        {"process_group": 0} if in_session else {"start_new_session": True, "preexec_fn": _die_with_parent}
    )
    try:
        process = subprocess.Popen(
            argv,
            executable=binary,
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            **grouping,
        )
    except OSError as error:
        raise _start_error(error, argv[0], root) from None
    if started is not None:
        started(process.pid)
    with process:
        assert process.stdout is not None and process.stderr is not None
        outputs = {process.stdout.fileno(): _Capture(max_output), process.stderr.fileno(): _Capture(max_output)}
        try:
            timed_out = _collect(process, outputs, start + timeout)
        except BaseException:
            _kill_group(process.pid)  # never leave it running (or block in wait) on an error
            raise
        process.wait()
    if timed_out:
        raise ShellError(f"Command timed out after {round(timeout * 1000)} ms", reason="timeout")
    code = process.returncode
    stdout, stderr = (capture.text() for capture in outputs.values())
    return CommandResult(
        exit_code=code if code >= 0 else 128 - code,
        stdout=stdout,
        stderr=stderr,
        truncated=any(capture.dropped for capture in outputs.values()),
        duration_ms=(time.monotonic() - start) * 1000,
    )


def _start_error(error: OSError, command: str, root: str) -> ShellError:
    if error.filename == root:
        return ShellError(
            f"Cannot run commands in the project root {root}: {error.strerror}", reason="invalid_argument"
        )
    if isinstance(error, FileNotFoundError):
        return ShellError(f"Command not found: {command}", reason="not_found")
    if isinstance(error, PermissionError):
        return ShellError(
            f"Security error: the sandbox does not allow running this command ({command})", reason="not_allowed"
        )
    return ShellError(f"Command could not start ({command}): {error.strerror}", reason="start_failed")


def environment(root: str | os.PathLike[str]) -> dict[str, str]:
    """The whole environment commands get in ``root`` (a real path): nothing is inherited from the caller."""
    return {
        "PATH": SEARCH_PATH,
        "HOME": os.fspath(root),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TERM": "dumb",
        "PAGER": "cat",
        "GIT_PAGER": "cat",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_ATTR_NOSYSTEM": "1",
        "XDG_CONFIG_HOME": "/dev/null",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_OPTIONAL_LOCKS": "0",
        "GIT_CEILING_DIRECTORIES": os.path.dirname(root),
    }


class _Capture:
    """Bytes of one stream up to a cap; counts what it had to drop."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = max(self.limit - len(self.data), 0)
        self.data += chunk[:room]
        self.dropped += max(len(chunk) - room, 0)

    @property
    def runaway(self) -> bool:
        """Far past the cap: stop the command rather than read on."""
        return self.dropped > max(self.limit, _READ_CHUNK)

    def text(self) -> str:
        text = self.data.decode("utf-8", errors="replace")
        return text + f"\n\n[Output truncated at {_size(self.limit)}]" if self.dropped else text


def _collect(process: subprocess.Popen[bytes], outputs: dict[int, _Capture], deadline: float) -> bool:
    """Read both pipes until they close and the process ends; True on timeout.

    When the process ends (or runs away with output), its whole group is killed while
    the process is still unreaped, so its group id cannot have been reused.
    """
    pidfd = os.pidfd_open(process.pid)
    killed = False
    try:
        with selectors.DefaultSelector() as selector:
            for fd in outputs:
                selector.register(fd, selectors.EVENT_READ)
            selector.register(pidfd, selectors.EVENT_READ)
            while selector.get_map():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    _kill_group(process.pid)
                    return not killed
                for key, _ in selector.select(remaining):
                    if key.fd == pidfd:
                        selector.unregister(pidfd)
                        _kill_group(process.pid)
                        continue
                    chunk = os.read(key.fd, _READ_CHUNK)
                    if not chunk:
                        selector.unregister(key.fd)
                        continue
                    outputs[key.fd].add(chunk)
                    if outputs[key.fd].runaway and not killed:
                        killed = True
                        _kill_group(process.pid)
    finally:
        os.close(pidfd)
    return False


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def _size(limit: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if limit % size == 0:
            return f"{limit // size}{unit}"
    return f"{limit} bytes"
