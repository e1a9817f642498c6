"""Allow-listed command runner behind ``jido.shell``.

Commands are bare names from an allow-list, resolved on a fixed minimal ``PATH`` and run
without a shell, in the project root, with a minimal environment (never the caller's),
``stdin`` = ``/dev/null``, in their own process group (killed as a whole on timeout),
with ``stdout`` and ``stderr`` captured separately and capped.

Arguments are checked before anything runs (the original's rules plus gaps it left):

- any ``..`` → refused; absolute paths outside the root → refused (a few ``/dev``
  files excepted), also in ``--opt=/path`` and ``-o/path`` forms; a path that leads
  out of the root through a symlink → refused; NUL bytes → refused.
- shells and interpreters (:data:`BLOCKED_INTERPRETERS`) are refused even when
  allow-listed: each runs arbitrary code.
- commands that write (:data:`WRITE_COMMANDS`) may not name a path in a ``.git``
  directory: a written ``.git/config`` or hook would run later, outside the sandbox;
  no command may name a path in ``.jido_code`` (the project's settings).
- ``find``: no ``-exec``/``-execdir``/``-ok``/``-okdir``/``-delete``/``-fprint*``/
  ``-fls``/``-files0-from`` (they run or write things the checks never see); ``sort``:
  no ``--compress-program``/``--files0-from``; ``wc``: no ``--files0-from``; ``date``:
  no ``-s``/``--set``.
- ``git``: the first argument must be a read-only subcommand (:data:`GIT_SUBCOMMANDS`),
  so global options (``-c``, ``-C``, ``--git-dir``, ``--work-tree``, ``--exec-path``)
  cannot be given; ``branch`` and ``tag`` only list; ``--output``, ``grep -O`` and
  ``--help`` (which start programs or write files) are refused. git always runs with
  hooks, pagers, fsmonitor, ssh, signing programs and every transport disabled, and
  with no system or global configuration.

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

from .errors import JidoError
from .confine._libc import PR_SET_PDEATHSIG, libc
from .security import SANDBOX

__all__ = [
    "ALLOWED_DEVICES",
    "BLOCKED_INTERPRETERS",
    "DEFAULT_ALLOWLIST",
    "GIT_HARDENING",
    "GIT_SUBCOMMANDS",
    "SEARCH_PATH",
    "WRITE_COMMANDS",
    "CommandResult",
    "ShellError",
    "check_command",
    "environment",
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

ALLOWED_DEVICES = frozenset(
    {"/dev/null", "/dev/zero", "/dev/urandom", "/dev/random", "/dev/stdin", "/dev/stdout", "/dev/stderr"}
)

MAX_ARGUMENT_BYTES = 128 * 1024 - 1
"""Linux refuses longer single arguments (``MAX_ARG_STRLEN`` with its NUL)."""

WRITE_COMMANDS = frozenset({"cp", "mv", "ln", "touch", "rm", "rmdir", "mkdir", "sort", "uniq"})
"""Commands that may write files: their arguments may not name anything in a ``.git``."""

GIT_SUBCOMMANDS: tuple[str, ...] = (
    "status", "log", "diff", "show", "ls-files", "ls-tree", "rev-parse", "rev-list", "blame",
    "grep", "shortlog", "describe", "cat-file", "show-ref", "for-each-ref", "name-rev",
    "merge-base", "diff-tree", "diff-files", "diff-index", "count-objects", "check-ignore",
    "branch", "tag", "version",
)  # fmt: skip
"""Read-only git subcommands (``branch``/``tag`` only list)."""

GIT_HARDENING: tuple[str, ...] = (
    "--no-pager",
    *("-c", "core.hooksPath=/dev/null"),
    *("-c", "core.pager=cat"),
    *("-c", "core.fsmonitor=false"),
    *("-c", "core.sshCommand=false"),
    *("-c", "core.editor=false"),
    *("-c", "sequence.editor=false"),
    *("-c", "protocol.allow=never"),
    *("-c", "gpg.program=false"),
    *("-c", "gpg.ssh.program=false"),
    *("-c", "gpg.x509.program=false"),
)
"""Put before every git subcommand: no hooks, pager, fsmonitor, editor, signing program or transport."""

_FIND_REFUSED = frozenset("-exec -execdir -ok -okdir -delete -fprint -fprint0 -fprintf -fls -files0-from".split())
_LONG_REFUSED = {
    "sort": ("compress-program", "files0-from"),
    "wc": ("files0-from",),
    "date": ("set",),
    "git": (
        "output", "open-files-in-pager", "help", "exec-path", "git-dir", "work-tree",
        "config-env", "namespace", "super-prefix",
    ),
}  # fmt: skip
_DATE_VALUE_OPTIONS = "dfIr"
_LISTING_FLAGS = "-l --list -i --ignore-case --color --no-color --column --no-column --omit-empty"
_BRANCH_TAG_FLAGS = {
    "branch": frozenset(f"{_LISTING_FLAGS} -a --all -r --remotes -v -vv --verbose --show-current".split()),
    "tag": frozenset(f"{_LISTING_FLAGS} -n".split()),
}
_BRANCH_TAG_VALUE_OPTIONS = (
    "--contains=", "--no-contains=", "--merged=", "--no-merged=", "--points-at=", "--sort=",
    "--format=", "--color=", "--column=", "--abbrev=",
)  # fmt: skip
_READ_CHUNK = 1 << 16


class ShellError(JidoError):
    """A command was refused, not found, or timed out.

    ``reason``: ``interpreter_blocked``, ``not_allowed``, ``path_traversal``,
    ``absolute_path_outside``, ``symlink_escape``, ``read_only_path``, ``protected_path``,
    ``invalid_argument``, ``not_found``, ``start_failed`` (e.g. out of processes or
    memory), ``timeout``.
    """

    reason = "shell_error"


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
    argument (see the module docstring), then the lookup on :data:`SEARCH_PATH`.
    """
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
    _check_command_options(command, list(args), root)
    found = shutil.which(command, path=SEARCH_PATH)
    if found is None:
        raise ShellError(f"Command not found: {command}", reason="not_found")
    return os.path.realpath(found)


def run_command(
    command: str,
    args: Sequence[str],
    root: Path,
    *,
    allowlist: Sequence[str],
    timeout: float,
    max_output: int = 1 << 20,
) -> CommandResult:
    """Check and run ``command args`` in ``root``; wait at most ``timeout`` seconds.

    ``stdout`` and ``stderr`` are each kept up to ``max_output`` bytes (then a
    ``[Output truncated at …]`` marker; a command that goes on writing far past the cap is
    killed). On timeout the whole process group is killed and
    ``ShellError(reason="timeout")`` is raised.
    """
    if not timeout > 0 or not max_output > 0:
        raise ValueError(f"timeout and max_output must be positive, got {timeout!r} and {max_output!r}")
    binary = check_command(command, args, root, allowlist)
    argv = [command, *GIT_HARDENING, *args] if command == "git" else [command, *args]
    return _execute(binary, argv, Path(os.path.realpath(root)), timeout=timeout, max_output=max_output)


def _die_with_parent() -> None:
    """In the command's process before exec: die (SIGKILL) when the process that started
    it dies — a killed Lua worker must not leave its commands running."""
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _execute(binary: str, argv: list[str], root: Path, *, timeout: float, max_output: int) -> CommandResult:
    start = time.monotonic()
    try:
        process = subprocess.Popen(
            argv,
            executable=binary,
            cwd=root,
            env=environment(root),
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


def _long_option_abbreviates(arg: str, names: Sequence[str]) -> bool:
    """True when ``arg`` is ``--name`` (or ``--name=…``, or an abbreviation of it) for one of ``names``."""
    if not arg.startswith("--"):
        return False
    given = arg[2:].split("=", 1)[0]
    return bool(given) and any(name.startswith(given) for name in names)


def _check_command_options(command: str, args: list[str], root: Path) -> None:
    refused = _LONG_REFUSED.get(command, ())
    for arg in args:
        if _long_option_abbreviates(arg, refused) or (command == "find" and arg in _FIND_REFUSED):
            raise ShellError(
                f"Security error: option not allowed for {command} (it runs programs, writes files or "
                f"changes the system outside the command checks): {arg}",
                reason="not_allowed",
            )
        if _names_directory(arg, root, SANDBOX.protected_dirs):
            raise ShellError(
                f"Security error: the .jido_code directory is protected from sandboxed code: {arg}",
                reason="protected_path",
            )
        if command in WRITE_COMMANDS and _names_directory(arg, root, SANDBOX.read_only_dirs):
            raise ShellError(f"Security error: .git is read-only: {arg}", reason="read_only_path")
    if command == "date":
        _check_date(args)
    elif command == "git":
        _check_git(args)


def _check_date(args: list[str]) -> None:
    for arg in args:
        if arg.startswith("-") and not arg.startswith("--"):
            for letter in arg[1:]:
                if letter == "s":
                    raise ShellError(f"Security error: date may not set the clock: {arg}", reason="not_allowed")
                if letter in _DATE_VALUE_OPTIONS:
                    break


def _check_git(args: list[str]) -> None:
    if not args or args[0].startswith("-"):
        given = f" ({args[0]})" if args else ""
        raise ShellError(
            f"Security error: git options before the subcommand are not allowed{given}; "
            f"start with one of: {', '.join(GIT_SUBCOMMANDS)}",
            reason="not_allowed",
        )
    subcommand, rest = args[0], args[1:]
    if subcommand not in GIT_SUBCOMMANDS:
        raise ShellError(
            f"Security error: git subcommand not allowed ({subcommand}); read-only subcommands only: "
            f"{', '.join(GIT_SUBCOMMANDS)}",
            reason="not_allowed",
        )
    if subcommand == "grep":
        for arg in rest:
            if re.match(r"-[^-]*O", arg):
                raise ShellError(f"Security error: git grep may not open a pager program: {arg}", reason="not_allowed")
    if subcommand in ("branch", "tag"):
        listing = any(arg in ("-l", "--list") for arg in rest)
        for arg in rest:
            is_option = (
                arg in _BRANCH_TAG_FLAGS[subcommand]
                or arg.startswith(_BRANCH_TAG_VALUE_OPTIONS)
                or (subcommand == "tag" and re.fullmatch(r"-n[0-9]+", arg) is not None)
            )
            if not is_option and (arg.startswith("-") or not listing):
                raise ShellError(
                    f"Security error: git {subcommand} may only list (options from the listing set, "
                    f"patterns after --list, values as --option=value): {arg}",
                    reason="not_allowed",
                )
