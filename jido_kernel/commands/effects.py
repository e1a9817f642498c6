"""What a command would write and read, checked before it runs (:mod:`jido_kernel.commands.run`).

**Names that come into being.** For the write commands the runner computes every name
the command would create, rename, link, remove or write, given the allowed options and
each command's semantics: ``cp``/``mv``/``ln`` into a directory (an existing one, a
trailing ``/``, several sources) or onto a name, ``X/.`` (the contents of ``X``),
recursive copies and every move or recursive removal (the whole source tree, walked,
at most :data:`MAX_TREE_ENTRIES` entries), ``mkdir``/``touch``/``rm``/``rmdir``
operands, ``uniq``'s OUTPUT operand and ``sort -o``. Each name is checked as written and
as resolved through existing symlinks by :meth:`SANDBOX.refusal
<jido_kernel.security.policy.Policy.refusal>` (``.git`` in any case, ``HEAD``,
``.jido_code``, ``__pycache__``, ``*.pyc``, ``node_modules``…), and refused when an
existing folder on its way holds ``pyvenv.cfg`` or ``conda-meta`` (an installed environment). Content written
into an existing regular file with more than one hard link is refused (it may be a file
outside, or under ``.git``). A symlink that ``cp``/``mv`` would place elsewhere may not
lead out of the root from its new place (relative targets change meaning when moved);
``rm -r`` through a symlink to a folder walks that folder.

**One rule for readers.** A path whose content a command reads (``cat head tail grep wc
diff sort uniq``, ``cp``'s sources, git's file arguments) may not be a regular file with
more than one hard link, nor a FIFO, socket or device (:data:`ALLOWED_DEVICES` except).
Recursive readers walk what they would read first, with the same bound, and refuse a
hard-linked file, a FIFO/socket/device or a symlink leading out, naming it:
``grep -r`` (it skips symlinks below its operands; the runner adds
``--exclude-dir=.jido_code``), ``diff`` (one level for two folders, the tree with ``-r``;
the runner adds ``--no-dereference`` and ``--exclude=.jido_code``), ``cp -r``. ``grep
-R`` (follows every symlink) is not allowed; ``ls -R`` and ``find`` only list names.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator

from jido_kernel.commands.options import Parsed, ShellError
from jido_kernel.security import SANDBOX, Policy
from jido_kernel.security.errors import RULES
from jido_kernel.security.policy import ENVIRONMENT_MARKERS, SETTINGS_DIR
from jido_kernel.values import Value

__all__ = ["ALLOWED_DEVICES", "MAX_TREE_ENTRIES", "check_reads", "check_writes", "written_names"]

ALLOWED_DEVICES = frozenset(
    {"/dev/null", "/dev/zero", "/dev/urandom", "/dev/random", "/dev/stdin", "/dev/stdout", "/dev/stderr"}
)

MAX_TREE_ENTRIES = 10_000
"""Entries a recursive command may touch; above it the command is refused."""

_READERS = frozenset({"cat", "head", "tail", "wc", "sort"})
_RECURSIVE = ("-r", "-R", "--recursive", "-a", "--archive")


class Written(Value):
    """One name a command would write, and whether content is written into it."""

    _fields = ("path", "content")
    __slots__ = _fields

    def __init__(self, path: str, content: bool = False) -> None:
        self.path = path
        self.content = content


class _Budget(Value):
    _fields = ("left", "seen")
    __slots__ = _fields

    def __init__(self, left: int = MAX_TREE_ENTRIES, seen: dict[str, bool] | None = None) -> None:
        self.left = left
        self.seen: dict[str, bool] = {} if seen is None else seen


_VERBS = {"rm": "remove", "rmdir": "remove", "mv": "move or create", "ln": "link or create", "mkdir": "create"}


def _refused(command: str, what: str, reason: str, shown: str) -> ShellError:
    return ShellError(f"Security error: {command} would {what} {shown}: {RULES.get(reason, reason)}", reason=reason)


def _absolute(root: str, arg: str) -> str:
    return os.path.normpath(os.path.join(root, arg))


def _last(arg: str) -> str:
    stripped = arg.rstrip("/") or "/"
    return os.path.basename(stripped) or stripped


def _walk(
    command: str, top: str, root: str, budget: _Budget, *, deep: bool = True, skip: frozenset[str] = frozenset()
) -> Iterator[tuple[str, os.stat_result]]:
    """Every entry below ``top`` (not following symlinks; one level unless ``deep``; not
    entering folders named in ``skip``) as (path relative to top, lstat)."""
    stack = [""]
    while stack:
        relative = stack.pop()
        try:
            with os.scandir(os.path.join(top, relative)) as entries:
                for entry in entries:
                    budget.left -= 1
                    if budget.left < 0:
                        raise ShellError(
                            f"Security error: {command} would touch more than {MAX_TREE_ENTRIES} entries under "
                            f"{os.path.relpath(top, root)}; name a smaller folder "
                            "(or skip folders with --exclude-dir=NAME)",
                            reason="too_many_entries",
                        )
                    name = os.path.join(relative, entry.name)
                    info = entry.stat(follow_symlinks=False)
                    yield name, info
                    if deep and stat.S_ISDIR(info.st_mode) and entry.name not in skip:
                        stack.append(name)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue


def _is_dir(path: str) -> bool:
    return os.path.isdir(path)


def written_names(command: str, parsed: Parsed, root: str, budget: _Budget | None = None) -> list[Written]:
    """Every name ``command`` would create, rename, link, remove or write (absolute, lexical)."""
    budget = budget or _Budget()
    ops = parsed.operands
    if command in ("mkdir", "touch", "rmdir"):
        return [Written(_absolute(root, op)) for op in ops]
    if command == "rm":
        return _removed(command, ops, root, recursive=parsed.has("-r", "-R", "--recursive"), budget=budget)
    if command == "sort":
        return [Written(_absolute(root, out), content=True) for out in parsed.values("-o", "--output")]
    if command == "uniq":
        return [Written(_absolute(root, ops[1]), content=True)] if len(ops) > 1 else []
    if command in ("cp", "mv"):
        return _copied(command, parsed, root, budget)
    if command == "ln":
        return _linked(parsed, root)
    return []


def _removed(command: str, ops: list[str], root: str, *, recursive: bool, budget: _Budget) -> list[Written]:
    names = []
    for op in ops:
        path = _absolute(root, op)
        names.append(Written(path))
        if recursive and os.path.isdir(path):  # through a symlink too: ``rm -r link/`` empties its target
            names.extend(Written(os.path.join(path, rel)) for rel, _ in _walk(command, path, root, budget))
    return names


def _copied(command: str, parsed: Parsed, root: str, budget: _Budget) -> list[Written]:
    ops = parsed.operands
    if len(ops) < 2:
        return []
    sources, dest = ops[:-1], ops[-1]
    into = len(sources) > 1 or dest.endswith("/") or _is_dir(_absolute(root, dest))
    moving = command == "mv"
    tree = moving or parsed.has(*_RECURSIVE)
    names: list[Written] = []
    for source in sources:
        origin = _absolute(root, source)
        target = os.path.normpath(os.path.join(root, dest, _last(source))) if into else _absolute(root, dest)
        names.append(Written(target, content=not moving))
        _check_relocated_link(command, origin, target, root)
        if moving:
            names.append(Written(origin))
        if tree and os.path.isdir(origin):
            for rel, info in _walk(command, os.path.realpath(origin), root, budget):
                names.append(Written(os.path.join(target, rel), content=not moving and stat.S_ISREG(info.st_mode)))
                if stat.S_ISLNK(info.st_mode):
                    _check_relocated_link(command, os.path.join(origin, rel), os.path.join(target, rel), root)
                if moving:
                    names.append(Written(os.path.join(origin, rel)))
    return names


def _check_relocated_link(command: str, link: str, placed: str, root: str) -> None:
    """A relative symlink copied or moved elsewhere points elsewhere: it may not lead out."""
    try:
        text = os.readlink(link)
    except OSError:
        return
    lands = os.path.normpath(os.path.join(os.path.dirname(placed), text))
    if not _within(os.path.realpath(lands), root) or not _within(lands, root):
        shown = os.path.relpath(placed, root)
        raise ShellError(
            f"Security error: {command} would place a symlink leading out of the project at {shown}",
            reason="symlink_escape",
        )


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _linked(parsed: Parsed, root: str) -> list[Written]:
    ops = parsed.operands
    if len(ops) == 1:
        return [Written(_absolute(root, _last(ops[0])))]
    names: list[Written] = []
    if not ops:
        return names
    targets, dest = ops[:-1], _absolute(root, ops[-1])
    names.append(Written(dest))
    if len(targets) > 1 or _is_dir(dest):
        names.extend(Written(os.path.join(dest, _last(target))) for target in targets)
    if not parsed.has("-s", "--symbolic"):
        # a hard link shares the inode: linking a protected file is changing it
        names.extend(Written(_absolute(root, target)) for target in targets)
    return names


def check_writes(command: str, parsed: Parsed, root: str | os.PathLike[str], policy: Policy = SANDBOX) -> None:
    """Refuse when any name the command would write is protected (see the module docstring).

    ``root`` may be spelled any way (a trailing slash, ``.``, a symlink): it is resolved
    here, because the checks compare it with real paths, as strings.
    """
    root = os.path.realpath(root)
    budget = _Budget()
    for written in written_names(command, parsed, root, budget):
        _check_written(command, written, root, budget, policy)


def _check_written(command: str, written: Written, root: str, budget: _Budget, policy: Policy) -> None:
    shown = os.path.relpath(written.path, root)
    resolved = os.path.realpath(written.path)
    if not _within(resolved, root):
        raise ShellError(f"Security error: symlink points outside project: {shown}", reason="symlink_escape")
    for path in (written.path, resolved):
        relative = os.path.relpath(path, root)
        parts = [] if relative == "." else relative.split(os.sep)
        reason = policy.refusal(parts, write=True)
        if reason:
            raise _refused(command, _VERBS.get(command, "write"), reason, shown)
    if _in_venv(os.path.dirname(resolved), root, budget):
        raise _refused(
            command, _VERBS.get(command, "write"), "installed_code", f"{shown} (inside an installed environment)"
        )
    if written.content:
        try:
            info = os.stat(resolved)
        except OSError:
            return
        if stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
            raise _refused(command, "write into", "hardlinked_file", shown)


def _in_venv(directory: str, root: str, budget: _Budget) -> bool:
    """True when ``directory`` or an existing ancestor below the root holds ``pyvenv.cfg``
    or ``conda-meta`` (an installed environment)."""
    while directory.startswith(root):
        cached = budget.seen.get(directory)
        if cached is None:
            cached = any(os.path.lexists(os.path.join(directory, marker)) for marker in ENVIRONMENT_MARKERS)
            budget.seen[directory] = cached
        if cached:
            return True
        if directory == root:
            break
        directory = os.path.dirname(directory)
    return False


def read_paths(command: str, parsed: Parsed) -> tuple[list[str], list[str]]:
    """(files read directly, folders read recursively or one level deep) for ``command``."""
    ops = parsed.operands
    if command in _READERS:
        return ops, []
    if command == "uniq":
        return ops[:1], []
    if command == "grep":
        files = parsed.values("-f", "--file")
        patterns_given = parsed.has("-e", "--regexp", "-f", "--file")
        targets = ops if patterns_given else ops[1:]
        if parsed.has("-r", "--recursive"):
            return files, targets or ["."]
        return files + targets, []
    if command == "diff":
        return ops, ops
    if command == "cp":
        sources = ops[:-1]
        return sources, sources if parsed.has(*_RECURSIVE) else []
    if command == "git":
        return ops, []
    return [], []


def check_reads(command: str, parsed: Parsed, root: str | os.PathLike[str]) -> None:
    """Refuse hard-linked files, FIFOs, sockets and devices among what ``command`` would
    read (``root`` is resolved here, as in :func:`check_writes`)."""
    root = os.path.realpath(root)
    files, trees = read_paths(command, parsed)
    for arg in files:
        if arg in ALLOWED_DEVICES:
            continue
        try:
            info = os.stat(_absolute(root, arg))
        except (OSError, ValueError):
            continue
        _check_read(command, arg, info)
    budget = _Budget()
    deep = command != "diff" or parsed.has("-r", "--recursive")
    skip = _skipped_folders(command, parsed)
    for arg in trees:
        top = _absolute(root, arg)
        if not os.path.isdir(top):
            continue
        for rel, info in _walk(command, os.path.realpath(top), root, budget, deep=deep, skip=skip):
            shown = os.path.join(arg, rel)
            _check_tree_entry(command, shown, os.path.join(top, rel), info, root)


def _skipped_folders(command: str, parsed: Parsed) -> frozenset[str]:
    """Folders a recursive grep never enters: ``--exclude-dir`` values that are plain names
    (a pattern with wildcards is walked anyway, which only makes the check stricter)."""
    if command != "grep":
        return frozenset()
    return frozenset(name for name in parsed.values("--exclude-dir") if not set(name) & set("*?[\\"))


def _check_read(command: str, shown: str, info: os.stat_result) -> None:
    if stat.S_ISREG(info.st_mode):
        if info.st_nlink > 1:
            raise _refused(command, "read", "hardlinked_file", shown)
    elif not stat.S_ISDIR(info.st_mode):
        raise _refused(command, "read", "not_regular_file", shown)


def _check_tree_entry(command: str, shown: str, path: str, info: os.stat_result, root: str) -> None:
    if stat.S_ISLNK(info.st_mode):
        if not _within(os.path.realpath(path), root):
            raise ShellError(
                f"Security error: {command} would follow a symlink out of the project: {shown}",
                reason="symlink_escape",
            )
        return
    if SETTINGS_DIR in os.path.relpath(path, root).split(os.sep):
        return  # grep and diff are told to skip it; what cp would copy is refused as a write
    _check_read(command, shown, info)
