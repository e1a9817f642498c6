"""What ``jido.shell`` may run: every check made before a command starts.

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
  (:mod:`jido_kernel.commands.options`); anything else is refused with one line naming it.
  A command added to the allow-list in settings, with no table, accepts no options.
- names: every name a write command would create, rename, link, back up, remove or
  write — recursive trees included — is checked against the names trusted programs obey
  (``.git``, ``HEAD``, ``.jido_code``, ``__pycache__``, ``*.pyc``, ``node_modules``,
  virtual environments); readers refuse hard-linked files, FIFOs, sockets and devices,
  and recursive readers walk what they would read first (:mod:`jido_kernel.commands.effects`).
- ``git``: the first argument must be a read-only builtin subcommand
  (:data:`GIT_SUBCOMMANDS`), so global options (``-c``, ``-C``, ``--git-dir``,
  ``--work-tree``, ``--exec-path``) cannot be given; git runs on the pinned repository
  with every program-running or path-moving key overridden (:mod:`jido_kernel.commands.git`).

Under Landlock (see :mod:`jido_kernel.confine`) the kernel enforces the same boundary
for whatever these checks miss.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Sequence

from jido_kernel.commands.allowlist import find_command, is_interpreter
from jido_kernel.commands.effects import ALLOWED_DEVICES, check_reads, check_writes
from jido_kernel.commands.options import (
    GIT_OPTIONS,
    OPTION_TABLES,
    TEXT_COMMANDS,
    Parsed,
    ShellError,
    parse_find,
    parse_options,
)
from jido_kernel.security import SANDBOX, Policy

MAX_ARGUMENT_BYTES = 128 * 1024 - 1
"""Linux refuses longer single arguments (``MAX_ARG_STRLEN`` with its NUL)."""

WRITE_COMMANDS = frozenset({"cp", "mv", "ln", "touch", "rm", "rmdir", "mkdir", "sort", "uniq"})
"""Commands that may write files: every name they would write is checked."""

GIT_SUBCOMMANDS: tuple[str, ...] = tuple(GIT_OPTIONS)
"""Read-only builtin git subcommands (``branch``/``tag`` only list)."""


def check_command(command: str, args: Sequence[str], root: str | os.PathLike[str], allowlist: Sequence[str]) -> str:
    """Return the binary ``command`` resolves to, or raise :class:`ShellError`.

    Checks, in order: NUL bytes and types, interpreters, bare name, allow-list, each
    argument, the options, the names written and the files read (see the module
    docstring), then the lookup on :data:`SEARCH_PATH`.
    """
    return checked(command, args, root, allowlist)[0]


def checked(
    command: str, args: Sequence[str], root: str | os.PathLike[str], allowlist: Sequence[str], policy: Policy = SANDBOX
) -> tuple[str, Parsed]:
    _check_encodable(command)
    if isinstance(args, (str, bytes)):
        raise ShellError(
            "Security error: arguments must be a list of strings, not one string", reason="invalid_argument"
        )
    for arg in args:
        _check_encodable(arg)
    if is_interpreter(os.path.basename(command)):
        raise ShellError(f"Security error: shell interpreters are blocked ({command})", reason="interpreter_blocked")
    if "/" in command:
        raise ShellError(
            f"Security error: commands are bare names from the allowlist, not paths ({command})", reason="not_allowed"
        )
    if command not in allowlist:
        raise ShellError(f"Security error: command not in allowlist ({command})", reason="not_allowed")
    root = os.path.realpath(root)
    for arg in args:
        _check_argument(arg, root)
    parsed = _parse(command, list(args))
    for arg in args:
        _check_protected_names(command, arg, root)
    if command in WRITE_COMMANDS:
        check_writes(command, parsed, root, policy)
    check_reads(command, parsed, root)
    found = find_command(command)
    if found is None:
        raise ShellError(f"Command not found: {command}", reason="not_found")
    return os.path.realpath(found), parsed


def _parse(command: str, args: list[str]) -> Parsed:
    if command in TEXT_COMMANDS:
        return Parsed(operands=args)
    if command == "find":
        return parse_find(args)
    if command == "git":
        return _parse_git(args)
    return parse_options(command, args, OPTION_TABLES.get(command))


def _check_encodable(value: object) -> None:
    encoded = None
    if isinstance(value, str) and "\0" not in value:
        with contextlib.suppress(UnicodeEncodeError):
            encoded = os.fsencode(value)
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


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _check_argument(arg: str, root: str) -> None:
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


def _names_directory(arg: str, root: str, names: frozenset[str]) -> bool:
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


def _check_protected_names(command: str, arg: str, root: str) -> None:
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
            f"Security error: git {subcommand} may only list (names are patterns after --list): {parsed.operands[0]}",
            reason="not_allowed",
        )
    return parsed
