"""Confined ``glob``: patterns matched by walking directory descriptors from the root.

``*`` and ``?`` (and ``[...]``) match within one name, ``**`` matches any number of
directories, ``{a,b}`` expands to alternatives. Wildcards skip names starting with a
dot unless the pattern part itself starts with one. ``**`` never descends through
symlinks; a symlink named by a literal or wildcard part is followed only through the
confined resolution, so matches never lead outside the root; results the policy
refuses are left out.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import re
import stat

from jido_kernel.security import audit
from jido_kernel.security.errors import FileOpError, Refusal, file_error
from jido_kernel.security.fileops import begin
from jido_kernel.security.lexical import as_text
from jido_kernel.security.locate import close_found, open_dir
from jido_kernel.security.policy import SANDBOX, Policy
from jido_kernel.security.resolve import Walker, reopen_dir
from jido_kernel.security.roots import Root, get_root, split
from jido_kernel.values import FrozenValue

MAX_ALTERNATIVES = 1024
MAX_DEPTH = 256

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_MAGIC = re.compile(r"[*?\[]")
_GROUP = re.compile(r"\{([^{}]*,[^{}]*)\}")  # an innermost brace group holding a comma


class _Part(FrozenValue):
    _fields = ("text", "regex", "recursive", "dotted")
    __slots__ = _fields
    text: str
    regex: re.Pattern[str] | None  # None: a literal name
    recursive: bool
    dotted: bool  # the pattern part itself starts with a dot

    def __init__(self, text: str, regex: re.Pattern[str] | None, recursive: bool = False, dotted: bool = False) -> None:
        self._set(text, regex, recursive, dotted)


def expand_braces(pattern: str) -> list[str]:
    """``"a{b,c}d"`` → ``["abd", "acd"]``, nested braces included (innermost first);
    braces without a comma stay literal."""
    done: dict[str, None] = {}
    todo = [pattern]
    while todo:
        current = todo.pop()
        group = _GROUP.search(current)
        if group is None:
            done[current] = None
        else:
            head, tail = current[: group.start()], current[group.end() :]
            todo.extend(head + alternative + tail for alternative in reversed(group[1].split(",")))
        if len(done) + len(todo) > MAX_ALTERNATIVES:
            raise Refusal("invalid_path", f"pattern has more than {MAX_ALTERNATIVES} brace alternatives")
    return list(done)


def _compile(name: str) -> _Part:
    if name == "**":
        return _Part(name, None, recursive=True)
    if _MAGIC.search(name):
        return _Part(name, re.compile(fnmatch.translate(name)), dotted=name.startswith("."))
    return _Part(name, None)


class _Matcher:
    """Collects matches (path relative to the root → mtime in ns) under one open root.

    Each directory is tracked twice: ``names`` as matched (through links, as the
    result will name it) and ``real`` as resolved, which the policy judges.
    """

    def __init__(self, root: Root, root_fd: int, policy: Policy) -> None:
        self.root = root
        self.root_fd = root_fd
        self.policy = policy
        self.found: dict[str, int] = {}

    def run(self, parts: list[_Part]) -> None:
        if parts[-1].recursive:
            parts = [*parts, _compile("*")]
        top = reopen_dir(self.root_fd)
        try:
            self._match(top, [], [], parts, 0)
        finally:
            os.close(top)

    def _match(self, dir_fd: int, names: list[str], real: list[str], parts: list[_Part], index: int) -> None:
        part = parts[index]
        if part.recursive:
            self._match(dir_fd, names, real, parts, index + 1)
            if len(names) < MAX_DEPTH:
                for name in self._names(dir_fd, part, dirs_only=True):
                    self._descend(dir_fd, names, real, name, parts, index, follow=False)
        elif part.regex is None:
            self._visit(dir_fd, names, real, part.text, parts, index)
        else:
            for name in self._names(dir_fd, part):
                self._visit(dir_fd, names, real, name, parts, index)

    def _names(self, dir_fd: int, part: _Part, *, dirs_only: bool = False) -> list[str]:
        try:
            with os.scandir(dir_fd) as entries:
                names = [
                    entry.name
                    for entry in entries
                    if (part.dotted or not entry.name.startswith("."))
                    and (not dirs_only or entry.is_dir(follow_symlinks=False))
                ]
        except OSError:
            return []
        if part.regex is not None:
            names = [name for name in names if part.regex.match(name)]
        return names

    def _visit(self, dir_fd: int, names: list[str], real: list[str], name: str, parts: list[_Part], index: int) -> None:
        if index + 1 < len(parts):
            self._descend(dir_fd, names, real, name, parts, index + 1, follow=True)
            return
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError:
            return
        if stat.S_ISLNK(st.st_mode):
            try:
                found = Walker(self.root, self.root_fd, self.policy, write=False).resolve([*real, name])
            except (Refusal, OSError):
                return
            close_found(found, self.root_fd)
            if found.st is not None:
                st = found.st
        elif self.policy.refusal([*real, name], write=False):
            return
        self.found["/".join([*names, name])] = st.st_mtime_ns

    def _descend(
        self, dir_fd: int, names: list[str], real: list[str], name: str, parts: list[_Part], index: int, *, follow: bool
    ) -> None:
        if self.policy.entering(name, (), write=False):
            return
        resolved = [*real, name]
        try:
            child = os.open(name, _DIR, dir_fd=dir_fd)
        except OSError as exc:
            if not (follow and exc.errno in (errno.ELOOP, errno.ENOTDIR)):
                return
            opened = self._open_linked_dir(resolved)
            if opened is None:
                return
            child, resolved = opened
        try:
            self._match(child, [*names, name], resolved, parts, index)
        finally:
            os.close(child)

    def _open_linked_dir(self, path: list[str]) -> tuple[int, list[str]] | None:
        """A readable descriptor and the resolved components of the directory a link names."""
        try:
            found = Walker(self.root, self.root_fd, self.policy, write=False).resolve(path, leaf_dir=True)
        except (Refusal, OSError):
            return None
        try:
            return None if found.missing else (reopen_dir(found.dir_fd), found.parts)
        except OSError:
            return None
        finally:
            close_found(found, self.root_fd)


def _pattern_parts(pattern: str, base: list[str], root: Root) -> list[_Part]:
    """One brace-free pattern as parts from the root: the base's names literal, the
    pattern's compiled; ``..`` is collapsed and may not climb out of the root."""
    absolute = pattern.startswith("/")
    stack = [] if absolute else [_Part(name, None) for name in base]
    for name in split(pattern):
        if name != "..":
            stack.append(_compile(name))
        elif stack:
            stack.pop()
        elif not absolute:
            raise Refusal("path_escapes_boundary")
    if not absolute:
        return stack
    literal = []
    for part in stack:
        if part.regex is not None or part.recursive:
            break
        literal.append(part.text)
    for prefix in (root.real_parts, root.given_parts):
        if literal[: len(prefix)] == list(prefix):
            return stack[len(prefix) :]
    raise Refusal("path_outside_boundary")


def glob(pattern: str, root: str | os.PathLike[str], *, base: str = ".", policy: Policy = SANDBOX) -> list[str]:
    """Paths under ``root`` matching ``pattern`` (relative to ``base``), as paths
    relative to the root, newest modification first.

    ``base`` must be an existing directory (else ``FileNotFound``/``NotADirectory``
    naming it); a pattern climbing out of the root is a :class:`SecurityError`.
    """
    resolved_root = get_root(root)
    try:
        text = as_text(pattern)
        patterns = expand_braces(text)
    except Refusal as refusal:
        raise audit.refuse(refusal.reason, pattern, resolved_root.real, detail=refusal.detail) from None
    try:
        _, base_parts = begin(base, root, policy, write=False)
        root_fd = resolved_root.open()
        try:
            fd, base_parts = open_dir(resolved_root, root_fd, base_parts, policy, os.O_PATH, write=False)
            os.close(fd)
        except BaseException:
            os.close(root_fd)
            raise
    except Refusal as refusal:
        raise audit.refuse(refusal.reason, base, resolved_root.real, detail=refusal.detail) from None
    except FileOpError:
        raise
    except OSError as exc:
        raise file_error(exc, base) from None
    try:
        matcher = _Matcher(resolved_root, root_fd, policy)
        for one in patterns:
            parts = _pattern_parts(one, base_parts, resolved_root)
            if len(parts) > MAX_DEPTH:
                raise Refusal("invalid_path", f"pattern deeper than {MAX_DEPTH} components")
            if parts:
                matcher.run(parts)
    except Refusal as refusal:
        raise audit.refuse(refusal.reason, pattern, resolved_root.real, detail=refusal.detail) from None
    finally:
        os.close(root_fd)
    return [path for path, _ in sorted(matcher.found.items(), key=lambda item: (-item[1], item[0]))]
