"""Allow-listed command runner behind ``jido.shell``.

Commands are bare names from an allow-list, resolved on a fixed minimal ``PATH`` and run
without a shell, in the project root, with a minimal environment (never the caller's),
``stdin`` = ``/dev/null``, in their own process group (killed as a whole on timeout),
with ``stdout`` and ``stderr`` captured separately and capped.

Arguments are checked before anything runs:

- any ``..`` → refused; absolute paths outside the root → refused (a few ``/dev``
  files excepted), also in ``--opt=/path`` and ``-o/path`` forms; a path that leads
  out of the root through a symlink → refused; NUL bytes → refused.
- shells and interpreters (:data:`BLOCKED_INTERPRETERS`) are refused even when
  allow-listed: each runs arbitrary code.
- no command may name a path in ``.jido_code`` (the project's settings); commands that
  write (:data:`WRITE_COMMANDS`) may not name a path in ``.git``.
- options: each command accepts only the options of its table
  (:mod:`jido_kernel.shell_options`); anything else is refused with one line naming it.
  A command added to the allow-list in settings, with no table, accepts no options.
- names: every name a write command would create, rename, link, back up, remove or
  write — recursive trees included — is checked against the names trusted programs obey
  (``.git``, ``HEAD``, ``.jido_code``, ``__pycache__``, ``*.pyc``, ``node_modules``,
  virtual environments); readers refuse hard-linked files, FIFOs, sockets and devices,
  and recursive readers walk what they would read first (:mod:`jido_kernel.shell_paths`).
- ``git``: the first argument must be a read-only builtin subcommand
  (:data:`GIT_SUBCOMMANDS`), so global options (``-c``, ``-C``, ``--git-dir``,
  ``--work-tree``, ``--exec-path``) cannot be given; git runs on the pinned repository
  with every program-running or path-moving key overridden (:mod:`jido_kernel.shell_git`).

Under Landlock (see :mod:`jido_kernel.confine`) the kernel enforces the same boundary
for whatever these checks miss.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .confine._libc import PR_SET_PDEATHSIG, libc
from .security import SANDBOX
from .shell_git import (
    GIT_HARDENING,
    GitPin,
    check_worktree_reads,
    driver_overrides,
    git_argv,
    git_environment,
    pin_git_dir,
)
from .shell_options import (
    GIT_OPTIONS,
    OPTION_TABLES,
    TEXT_COMMANDS,
    Parsed,
    ShellError,
    parse_find,
    parse_options,
)
from .shell_paths import ALLOWED_DEVICES, check_reads, check_writes

__all__ = [
    "ALLOWED_DEVICES",
    "BLOCKED_INTERPRETERS",
    "DEFAULT_ALLOWLIST",
    "GIT_HARDENING",
    "GIT_SUBCOMMANDS",
    "OPTION_TABLES",
    "SEARCH_PATH",
    "WRITE_COMMANDS",
    "CommandResult",
    "GitPin",
    "ShellError",
    "check_command",
    "environment",
    "pin_git_dir",
    "resolve_allowlist",
    "run_command",
]

DEFAULT_ALLOWLIST: tuple[str, ...] = (
    "git", "ls", "cat", "head", "tail", "grep", "find", "wc", "diff", "sort", "uniq",
    "test", "true", "false", "echo", "printf", "pwd", "mkdir", "rmdir", "cp", "mv", "ln",
    "touch", "rm", "date", "sleep",
)  # fmt: skip
"""The original's list without interpreters, build tools, package managers, network tools
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

MAX_ARGUMENT_BYTES = 128 * 1024 - 1
"""Linux refuses longer single arguments (``MAX_ARG_STRLEN`` with its NUL)."""

WRITE_COMMANDS = frozenset({"cp", "mv", "ln", "touch", "rm", "rmdir", "mkdir", "sort", "uniq"})
"""Commands that may write files: every name they would write is checked."""

GIT_SUBCOMMANDS: tuple[str, ...] = tuple(GIT_OPTIONS)
"""Read-only builtin git subcommands (``branch``/``tag`` only list)."""

_READ_CHUNK = 1 << 16


@dataclass(frozen=True)
class CommandResult:
    """A finished command. ``exit_code`` is 128 + N when signal N ended it (shell style)."""

    exit_code: int
    stdout: str
    stderr: str
    truncated: bool
    duration_ms: float


def resolve_allowlist(allowlist: Sequence[str]) -> dict[str, str]:
    """Map each runnable allow-listed name to its resolved binary on :data:`SEARCH_PATH`.

    Interpreters, names with a ``/`` and names not found are left out: the result is
    what the worker may grant execute rights on.
    """
    resolved: dict[str, str] = {}
    for name in allowlist:
        if "/" in name or "\0" in name or _is_interpreter(name):
            continue
        found = shutil.which(name, path=SEARCH_PATH)
        if found is not None:
            resolved[name] = os.path.realpath(found)
    return resolved


def check_command(command: str, args: Sequence[str], root: Path, allowlist: Sequence[str]) -> str:
    """Return the binary ``command`` resolves to, or raise :class:`ShellError`.

    Checks, in order: NUL bytes and types, interpreters, bare name, allow-list, each
    argument, the options, the names written and the files read (see the module
    docstring), then the lookup on :data:`SEARCH_PATH`.
    """
    return _checked(command, args, root, allowlist)[0]


def _checked(command: str, args: Sequence[str], root: Path, allowlist: Sequence[str]) -> tuple[str, Parsed]:
    _check_encodable(command)
    if isinstance(args, (str, bytes)):
        raise ShellError(
            "Security error: arguments must be a list of strings, not one string", reason="invalid_argument"
        )
    for arg in args:
        _check_encodable(arg)
    if _is_interpreter(os.path.basename(command)):
        raise ShellError(f"Security error: shell interpreters are blocked ({command})", reason="interpreter_blocked")
    if "/" in command:
        raise ShellError(
            f"Security error: commands are bare names from the allowlist, not paths ({command})", reason="not_allowed"
        )
    if command not in allowlist:
        raise ShellError(f"Security error: command not in allowlist ({command})", reason="not_allowed")
    root = Path(os.path.realpath(root))
    for arg in args:
        _check_argument(arg, root)
    parsed = _parse(command, list(args))
    for arg in args:
        _check_protected_names(command, arg, root)
    if command in WRITE_COMMANDS:
        check_writes(command, parsed, root)
    check_reads(command, parsed, root)
    found = shutil.which(command, path=SEARCH_PATH)
    if found is None:
        raise ShellError(f"Command not found: {command}", reason="not_found")
    return os.path.realpath(found), parsed


def run_command(
    command: str,
    args: Sequence[str],
    root: Path,
    *,
    allowlist: Sequence[str],
    timeout: float,
    max_output: int = 1 << 20,
    git: GitPin | None = None,
) -> CommandResult:
    """Check and run ``command args`` in ``root``; wait at most ``timeout`` seconds.

    ``stdout`` and ``stderr`` are each kept up to ``max_output`` bytes (then a
    ``[Output truncated at …]`` marker; a command that goes on writing far past the cap is
    killed). On timeout the whole process group is killed and
    ``ShellError(reason="timeout")`` is raised. ``git``: the pinned repository (the Lua
    worker pins it when it starts); None pins the root's ``.git`` directory now.
    """
    if not timeout > 0 or not max_output > 0:
        raise ValueError(f"timeout and max_output must be positive, got {timeout!r} and {max_output!r}")
    binary, parsed = _checked(command, args, root, allowlist)
    root = Path(os.path.realpath(root))
    env = environment(root)
    argv = [command, *_guards(command, parsed, root), *args]
    if command == "git":
        env = git_environment(env, root, git if git is not None else pin_git_dir(root))
        overrides = driver_overrides(binary, root, env, timeout)
        check_worktree_reads(binary, root, env, timeout, list(args), overrides)
        argv = git_argv(list(args), overrides)
    return _execute(binary, argv, root, env=env, timeout=timeout, max_output=max_output)


def _guards(command: str, parsed: Parsed, root: Path) -> list[str]:
    """Options the runner adds so recursive readers skip the settings folder."""
    if command == "grep" and parsed.has("-r", "--recursive"):
        return ["--exclude-dir=.jido_code"]
    if command == "diff" and (
        parsed.has("-r", "--recursive") or any(os.path.isdir(os.path.join(root, op)) for op in parsed.operands)
    ):
        return ["--no-dereference", "--exclude=.jido_code"]
    return []


def _parse(command: str, args: list[str]) -> Parsed:
    if command in TEXT_COMMANDS:
        return Parsed(operands=args)
    if command == "find":
        return parse_find(args)
    if command == "git":
        return _parse_git(args)
    return parse_options(command, args, OPTION_TABLES.get(command))


def _die_with_parent() -> None:
    """In the command's process before exec: die (SIGKILL) when the process that started
    it dies — a killed Lua worker must not leave its commands running."""
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _execute(
    binary: str, argv: list[str], root: Path, *, env: dict[str, str], timeout: float, max_output: int
) -> CommandResult:
    start = time.monotonic()
    try:
        process = subprocess.Popen(
            argv,
            executable=binary,
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    except OSError as error:
        raise _start_error(error, argv[0], root) from None
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


def _start_error(error: OSError, command: str, root: Path) -> ShellError:
    if error.filename == str(root):
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


def environment(root: Path) -> dict[str, str]:
    """The whole environment commands get: nothing is inherited from the caller."""
    return {
        "PATH": SEARCH_PATH,
        "HOME": str(root),
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
        "GIT_CEILING_DIRECTORIES": str(root.parent),
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


def _check_encodable(value: object) -> None:
    encoded = None
    if isinstance(value, str) and "\0" not in value:
        try:
            encoded = os.fsencode(value)
        except UnicodeEncodeError:
            pass
    if encoded is None:
        raise ShellError(
            f"Security error: commands and arguments must be text without NUL bytes: {value!r:.80}",
            reason="invalid_argument",
        )
    if len(encoded) > MAX_ARGUMENT_BYTES:
        raise ShellError(
            f"Security error: argument longer than {MAX_ARGUMENT_BYTES} bytes: {encoded[:80]!r}…",
            reason="invalid_argument",
        )


def _is_interpreter(name: str) -> bool:
    return name in BLOCKED_INTERPRETERS or _VERSIONED_INTERPRETER.fullmatch(name) is not None


def _path_forms(arg: str) -> Iterator[str]:
    """The argument and each path an option may carry in it.

    ``--opt=PATH`` gives ``PATH``; a short-option cluster ``-abPATH`` may carry a value
    after any of its letters, so every suffix after a run of letters is a candidate.
    """
    yield arg
    if arg.startswith("--"):
        if "=" in arg:
            yield arg.split("=", 1)[1]
    elif arg.startswith("-"):
        for end in range(2, len(arg) + 1):
            if not arg[end - 1].isalnum():
                break
            yield arg[end:]


def _inside(path: str, root: Path) -> bool:
    base = str(root)
    return path == base or path.startswith(base.rstrip("/") + "/")


def _check_argument(arg: str, root: Path) -> None:
    if ".." in arg:
        raise ShellError(f"Security error: path traversal not allowed in argument: {arg}", reason="path_traversal")
    for form in _path_forms(arg):
        if form in ALLOWED_DEVICES:
            continue
        if form.startswith("/") and not _inside(os.path.normpath(form), root):
            raise ShellError(
                f"Security error: absolute paths outside project not allowed: {arg}", reason="absolute_path_outside"
            )
        if not _inside(os.path.realpath(os.path.join(root, form)), root):
            raise ShellError(f"Security error: symlink points outside project: {arg}", reason="symlink_escape")


def _names_directory(arg: str, root: Path, names: frozenset[str]) -> bool:
    """True when ``arg`` names (or leads through a symlink into) a directory called one of ``names``."""
    for name in names:
        if re.search(rf"(?:^|[/=:]|^-[A-Za-z0-9]*){re.escape(name)}(?:/|$)", arg, re.IGNORECASE):
            return True
    lowered = {name.lower() for name in names}
    for form in _path_forms(arg):
        relative = os.path.relpath(os.path.realpath(os.path.join(root, form)), root)
        if any(part.lower() in lowered for part in relative.split(os.sep)):
            return True
    return False


def _check_protected_names(command: str, arg: str, root: Path) -> None:
    if _names_directory(arg, root, SANDBOX.protected_dirs):
        raise ShellError(
            f"Security error: the .jido_code directory is protected from sandboxed code: {arg}",
            reason="protected_path",
        )
    if command in WRITE_COMMANDS and _names_directory(arg, root, SANDBOX.read_only_dirs):
        raise ShellError(f"Security error: .git is read-only: {arg}", reason="read_only_path")


def _parse_git(args: list[str]) -> Parsed:
    if not args or args[0].startswith("-"):
        given = f" ({args[0]})" if args else ""
        raise ShellError(
            f"Security error: git options before the subcommand are not allowed{given}; "
            f"start with one of: {', '.join(GIT_SUBCOMMANDS)}",
            reason="not_allowed",
        )
    subcommand, rest = args[0], args[1:]
    if subcommand not in GIT_OPTIONS:
        raise ShellError(
            f"Security error: git subcommand not allowed ({subcommand}); read-only subcommands only: "
            f"{', '.join(GIT_SUBCOMMANDS)}",
            reason="not_allowed",
        )
    parsed = parse_options(f"git {subcommand}", rest, GIT_OPTIONS[subcommand])
    if subcommand in ("branch", "tag") and parsed.operands and not parsed.has("-l", "--list"):
        raise ShellError(
            f"Security error: git {subcommand} may only list (names are patterns after --list): "
            f"{parsed.operands[0]}",
            reason="not_allowed",
        )
    return parsed
