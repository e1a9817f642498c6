"""git for sandboxed callers, by construction (used by :mod:`jido_kernel.commands.run`).

The repository is pinned, never discovered: the ``.git`` directory directly under the
project root when the Lua worker started (:func:`pin_git_dir`). git runs with
``GIT_DIR`` and ``GIT_WORK_TREE`` in its environment, so a ``.git`` or a bare layout
(``HEAD``, ``objects/``, ``refs/``) written anywhere later is never used, and
``core.worktree`` from any config loses to the environment. No system or global config
is read. Every key that runs a program or moves paths is overridden on the command line
(:data:`GIT_HARDENING`), and so is every driver the repository's config (with its
includes) configures (:func:`driver_overrides`): ``filter.*.clean|smudge|process``,
``diff.*.textconv|command``, ``merge.*.driver``, ``credential.*.helper``,
``gpg.*.program``. Subcommands that diff also get ``--no-ext-diff``/``--no-textconv``.
Only builtin read-only subcommands run (aliases never do), each with its own option
table (:data:`jido_kernel.commands.options.GIT_OPTIONS`). Subcommands that show work-tree
files (:data:`WORKTREE_READERS`) are refused while a file they would show is
hard-linked, as any reader is, and every subcommand while ``.mailmap`` is
(:func:`check_worktree_reads`); options that show work-tree content in other ways are
not offered. Every helper git run gets the same overrides.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess

from jido_kernel.commands.allowlist import SEARCH_PATH, find_command
from jido_kernel.commands.options import ShellError
from jido_kernel.security.policy import SANDBOX, Policy, own_code
from jido_kernel.values import FrozenValue

__all__ = [
    "GIT_HARDENING",
    "GitPin",
    "check_worktree_reads",
    "config_paths",
    "driver_overrides",
    "git_argv",
    "git_environment",
    "pin_git_dir",
    "sandbox_policy",
]

GIT_HARDENING: tuple[str, ...] = (
    "--no-pager",
    *("-c", "safe.bareRepository=explicit"),
    *("-c", "core.hooksPath=/dev/null"),
    *("-c", "core.fsmonitor=false"),
    *("-c", "core.pager=cat"),
    *("-c", "core.sshCommand=false"),
    *("-c", "core.editor=false"),
    *("-c", "sequence.editor=false"),
    *("-c", "core.askPass=false"),
    *("-c", "core.attributesFile=/dev/null"),
    *("-c", "core.excludesFile=/dev/null"),
    *("-c", "core.alternateRefsCommand="),
    *("-c", "credential.helper="),
    *("-c", "diff.external="),
    *("-c", "gpg.program=false"),
    *("-c", "gpg.openpgp.program=false"),
    *("-c", "gpg.ssh.program=false"),
    *("-c", "gpg.x509.program=false"),
    *("-c", "log.showSignature=false"),
    *("-c", "submodule.recurse=false"),
    *("-c", "diff.ignoreSubmodules=all"),
    *("-c", "status.submoduleSummary=false"),
    *("-c", "protocol.allow=never"),
    *("-c", "uploadpack.packObjectsHook="),
    *("-c", "blame.ignoreRevsFile="),
    *("-c", "gc.auto=0"),
    *("-c", "maintenance.auto=false"),
)
"""Put before every git subcommand: no hooks, pager, fsmonitor, editor, external diff,
credential or signing program, transport, submodule or out-of-tree file."""

NO_PROGRAMS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        ("diff", "log", "show", "diff-tree", "diff-files", "diff-index"), ("--no-ext-diff", "--no-textconv")
    ),
    **dict.fromkeys(("blame", "grep"), ("--no-textconv",)),
}
"""Options added right after these subcommands (git 2.39 accepts each of them there)."""

_DRIVER_KEY = re.compile(
    r"(filter\..+\.(?:clean|smudge|process)|diff\..+\.(?:textconv|command)|merge\..+\.driver"
    r"|credential\..+\.helper|gpg\..+\.program)",
    re.IGNORECASE,
)
_FILTER_KEY = re.compile(r"filter\.(.+)\.(?:clean|smudge|process)", re.IGNORECASE)
_MAX_CONFIG_LISTING = 1 << 20
_MAX_FILE_LISTING = 16 << 20
WORKTREE_READERS = frozenset({"blame", "diff", "diff-files", "diff-index", "grep"})
"""Subcommands that show the content of work-tree files (unless given ``--cached``;
``blame`` without a revision shows the work-tree version)."""
MAILMAP = ".mailmap"
"""Read from the top of the work tree by ``log``, ``shortlog``, ``blame`` and ``%aN``
formats; the names it maps to are shown."""


_CONFIG_PATH_KEY = re.compile(
    r"include\.path|includeif\..+\.path|core\.(?:hookspath|attributesfile|excludesfile|fsmonitor|askpass"
    r"|sshcommand|editor|pager|worktree|gitproxy|alternaterefscommand)|sequence\.editor|commit\.template"
    r"|mailmap\.file|blame\.ignorerevsfile|init\.templatedir|diff\.external|diff\..+\.(?:command|textconv)"
    r"|filter\..+\.(?:clean|smudge|process)|merge\..+\.driver|credential\.(?:.+\.)?helper"
    r"|gpg\.(?:.+\.)?program|gpg\.ssh\.allowedsignersfile|uploadpack\.packobjectshook|alias\..+",
    re.IGNORECASE,
)
"""Keys whose value names a file git reads as configuration or a program it runs (the
first word of a command; an alias's after ``!``)."""
_MAX_CONFIG_PATHS = 256


class GitPin(FrozenValue):
    """The repository git runs on for one caller: ``git_dir``, or None with the ``problem``.

    ``config_paths``: root-relative paths (component tuples) the repository's
    configuration names as files git reads as configuration or runs (:data:`_CONFIG_PATH_KEY`);
    sandboxed writes may not change them (:meth:`jido_kernel.security.policy.Policy.protecting`).
    """

    _fields = ("git_dir", "problem", "config_paths")
    __slots__ = _fields
    git_dir: str | None
    problem: str
    config_paths: frozenset[tuple[str, ...]]

    def __init__(
        self, git_dir: str | None, problem: str = "", config_paths: frozenset[tuple[str, ...]] = frozenset()
    ) -> None:
        self._set(git_dir, problem, config_paths)


def pin_git_dir(root: str | os.PathLike[str]) -> GitPin:
    """The ``.git`` directory directly under ``root`` now (a directory, not a file or symlink)."""
    real = os.path.realpath(root)
    candidate = os.path.join(real, ".git")
    try:
        info = os.lstat(candidate)
    except OSError:
        return GitPin(
            None,
            "the project root had no .git directory (git for sandboxed code uses only the one that "
            "existed when its worker started)",
        )
    if not stat.S_ISDIR(info.st_mode):
        return GitPin(None, "the project's .git is not a directory (a worktree or submodule link); git is not offered")
    return GitPin(candidate, config_paths=config_paths(real, candidate))


def sandbox_policy(root: str | os.PathLike[str], pin: GitPin | None = None) -> Policy:
    """:data:`SANDBOX` with the files the repository's configuration names, and the
    package's own folder when it is inside the root, read-only: the policy of every
    untrusted write. ``pin``: the caller's pinned repository (Lua's, its commands'); by
    default the root's repository now (agent tools, the file magics)."""
    pin = pin_git_dir(root) if pin is None else pin
    return SANDBOX.protecting(pin.config_paths, code=own_code(root))


def config_paths(root: str, git_dir: str, timeout: float = 10.0) -> frozenset[tuple[str, ...]]:
    """The paths inside ``root`` that the repository's configuration (with its includes)
    names as files git reads as configuration or runs, literal and resolved, as
    root-relative component tuples (none when git cannot read it: git for sandboxed code
    then refuses to run too)."""
    binary = find_command("git")
    env = git_environment({"PATH": SEARCH_PATH}, root, GitPin(git_dir))
    try:
        done = subprocess.run(
            [binary or "git", "config", "--list", "-z"], executable=binary, cwd=root, env=env,
            capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return frozenset()
    if done.returncode != 0 or len(done.stdout) > _MAX_CONFIG_LISTING:
        return frozenset()
    found: set[tuple[str, ...]] = set()
    for entry in done.stdout.split(b"\0"):
        key, _, raw = os.fsdecode(entry).partition("\n")
        if not _CONFIG_PATH_KEY.fullmatch(key) or not raw.strip():
            continue
        words = raw.strip().lstrip("!").split()
        value = os.path.expanduser(words[0]) if words else ""
        for base in (root, git_dir):
            found.update(_inside(root, os.path.join(base, value)))
    return frozenset(sorted(found)[:_MAX_CONFIG_PATHS])


def _inside(root: str, path: str) -> list[tuple[str, ...]]:
    """``path`` as written and as resolved, relative to ``root``, when inside it (not the root)."""
    inside = []
    for form in (os.path.normpath(path), os.path.realpath(path)):
        relative = os.path.relpath(form, root)
        if relative != "." and not relative.startswith(".." + os.sep) and relative != "..":
            inside.append(tuple(relative.split(os.sep)))
    return inside


def git_environment(base: dict[str, str], root: str, pin: GitPin) -> dict[str, str]:
    """``base`` plus the pinned repository; raises :class:`ShellError` when there is none."""
    if pin.git_dir is None:
        raise ShellError(f"git is not available to sandboxed code here: {pin.problem}", reason="no_repository")
    return {
        **base,
        "GIT_DIR": pin.git_dir,
        "GIT_WORK_TREE": root,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_NO_REPLACE_OBJECTS": "1",
    }


def driver_overrides(binary: str, root: str, env: dict[str, str], timeout: float) -> list[str]:
    """``-c`` options that empty every driver the repository's config (and its includes) names."""
    try:
        done = subprocess.run(
            [binary, "config", "--list", "--name-only", "-z"],
            executable=binary, cwd=root, env=env, capture_output=True, timeout=timeout,
            stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ShellError(f"git could not read the repository's configuration: {error}", reason="start_failed") from None
    if done.returncode != 0 or len(done.stdout) > _MAX_CONFIG_LISTING:
        detail = done.stderr.decode("utf-8", "replace").strip()[:200] or "configuration too large"
        raise ShellError(f"git refused: the repository's configuration cannot be read ({detail})", reason="not_allowed")
    overrides: list[str] = []
    for raw in done.stdout.split(b"\0"):
        key = raw.decode("utf-8", "replace")
        if not _DRIVER_KEY.fullmatch(key):
            continue
        if "=" in key or "\n" in key:
            raise ShellError(
                f"git refused: the repository's configuration names a driver that cannot be overridden: {key!r}",
                reason="not_allowed",
            )
        value = "false" if key.lower().startswith("gpg.") else ""
        overrides += ["-c", f"{key}={value}"]
        filtered = _FILTER_KEY.fullmatch(key)
        if filtered:
            overrides += ["-c", f"filter.{filtered.group(1)}.required=false"]
    return overrides


def check_worktree_reads(
    binary: str, root: str, env: dict[str, str], timeout: float, args: list[str], overrides: list[str]
) -> None:
    """Refuse a subcommand that would show work-tree files when a tracked one is hard-linked
    (its other name may be a file outside the project)."""
    subcommand, rest = args[0], args[1:]
    _refuse_hardlinked(subcommand, root, MAILMAP)
    if subcommand not in WORKTREE_READERS or "--cached" in rest or "--staged" in rest:
        return
    others = ["--others", "--exclude-standard"] if "--untracked" in rest else []
    listing = [binary, *GIT_HARDENING, *overrides, "ls-files", "-z", "--cached", *others]
    try:
        done = subprocess.run(
            listing, executable=binary, cwd=root, env=env, capture_output=True, timeout=timeout,
            stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ShellError(f"git could not list the work tree: {error}", reason="start_failed") from None
    if done.returncode != 0 or len(done.stdout) > _MAX_FILE_LISTING:
        raise ShellError(f"git {subcommand} refused: the work tree cannot be checked", reason="too_many_entries")
    for raw in filter(None, done.stdout.split(b"\0")):
        _refuse_hardlinked(subcommand, root, os.fsdecode(raw))


def _refuse_hardlinked(subcommand: str, root: str, name: str) -> None:
    """Refuse when the work-tree file ``name`` is a regular file with more than one hard link."""
    try:
        info = os.lstat(os.path.join(root, name))
    except OSError:
        return
    if stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
        raise ShellError(
            f"Security error: git {subcommand} would read {name}: file has more than one hard link "
            "(it may be a file outside the project)",
            reason="hardlinked_file",
        )


def git_argv(args: list[str], overrides: list[str]) -> list[str]:
    """The whole git command line for the (checked) ``args``."""
    subcommand, rest = args[0], args[1:]
    return ["git", *GIT_HARDENING, *overrides, subcommand, *NO_PROGRAMS.get(subcommand, ()), *rest]
