"""git for sandboxed code shows no work-tree content the hard-link check does not cover, and
the files the repository's configuration names are read-only for it (real git)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from jido_kernel.commands.allowlist import DEFAULT_ALLOWLIST, SEARCH_PATH
from jido_kernel.commands.git import GitPin, pin_git_dir
from jido_kernel.commands.options import ShellError
from jido_kernel.commands.run import CommandResult, run_command

GIT = shutil.which("git", path=SEARCH_PATH)
pytestmark = pytest.mark.skipif(GIT is None, reason="git is not installed")


def run(root: Path, command: str, *args: str, pin: GitPin | None = None) -> CommandResult:
    return run_command(command, list(args), root, allowlist=DEFAULT_ALLOWLIST, timeout=20, git=pin)


def refused(reason: str, root: Path, command: str, *args: str, pin: GitPin | None = None) -> str:
    with pytest.raises(ShellError) as caught:
        run(root, command, *args, pin=pin)
    assert caught.value.reason == reason, caught.value
    return str(caught.value)


def owner_git(root: Path, *args: str) -> None:
    assert GIT is not None
    env = {**os.environ, "HOME": str(root.parent / "home"), "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run([GIT, *args], cwd=root, capture_output=True, check=True, env=env)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (tmp_path / "home").mkdir()
    (root / "a.txt").write_text("alpha\n")
    (root / ".gitignore").write_text("ignored*\n")
    owner_git(root, "init", "-q")
    owner_git(root, "config", "user.name", "Owner")
    owner_git(root, "config", "user.email", "owner@example.invalid")
    owner_git(root, "add", "a.txt", ".gitignore")
    owner_git(root, "commit", "-q", "-m", "first")
    return root.resolve()


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("TOPSECRET\n")
    return path


@pytest.mark.parametrize(
    "args",
    [
        ["grep", "--untracked", "--no-exclude-standard", "TOPSECRET"],
        ["status", "-v", "-v"],
        ["status", "-vv"],
        ["status", "--verbose"],
        ["ls-files", "--eol"],
        ["ls-files", "--format=%(eolinfo:worktree) %(path)"],
        ["ls-files", "--exclude-per-directory=ignored-secret", "-o", "-i"],
        ["check-ignore", "-v", "ignored-secret"],
        ["log", "--use-mailmap"],
    ],
)
def test_options_that_show_work_tree_content_are_not_offered(repo: Path, args: list[str]) -> None:
    refused("not_allowed", repo, "git", *args)


def test_ignored_hardlinked_file_is_never_shown(repo: Path, secret: Path) -> None:
    os.link(secret, repo / "ignored-secret")
    for args in (["grep", "--untracked", "TOPSECRET"], ["grep", "TOPSECRET"], ["status"], ["status", "--ignored"]):
        try:
            shown = run(repo, "git", *args)
        except ShellError as error:
            assert error.reason in {"not_allowed", "hardlinked_file"}
        else:
            assert "TOPSECRET" not in shown.stdout + shown.stderr


def test_blame_of_a_hardlinked_tracked_file_is_refused(repo: Path, secret: Path) -> None:
    (repo / "a.txt").unlink()
    os.link(secret, repo / "a.txt")
    refused("hardlinked_file", repo, "git", "blame", "a.txt")
    refused("hardlinked_file", repo, "git", "diff")
    refused("hardlinked_file", repo, "git", "grep", "TOPSECRET")


def test_a_hardlinked_mailmap_stops_every_subcommand(repo: Path, secret: Path) -> None:
    os.link(secret, repo / ".mailmap")
    for args in (["log"], ["shortlog", "HEAD"], ["log", "--format=%aN"], ["status"]):
        refused("hardlinked_file", repo, "git", *args)


@pytest.mark.parametrize(
    ("key", "value", "protected"),
    [
        ("core.hooksPath", ".husky", (".husky",)),
        ("include.path", "../.gitconfig", (".gitconfig",)),
        ("includeIf.gitdir:/.path", "../conf/extra.inc", ("conf", "extra.inc")),
        ("core.attributesFile", "attrs/global", ("attrs", "global")),
        ("core.fsmonitor", "./tools/fsmonitor.sh", ("tools", "fsmonitor.sh")),
        ("alias.lint", "!./scripts/lint.sh --fix", ("scripts", "lint.sh")),
    ],
)
def test_files_named_by_the_repository_config_are_read_only(
    repo: Path, key: str, value: str, protected: tuple[str, ...]
) -> None:
    (repo / "evil.sh").write_text("#!/bin/sh\ntouch pwned\n")
    owner_git(repo, "config", key, value)
    pin = pin_git_dir(repo)
    assert protected in pin.config_paths
    target = "/".join(protected)
    refused("trusted_config", repo, "cp", "evil.sh", target, pin=pin)
    refused("trusted_config", repo, "cp", "evil.sh", target)  # pinned on the way when none is given
    refused("trusted_config", repo, "mkdir", "-p", f"{target}/x", pin=pin)
    assert not (repo / target).exists()
    run(repo, "cp", "evil.sh", "elsewhere.sh", pin=pin)


def test_a_symlinked_hooks_folder_is_protected_where_it_leads(repo: Path) -> None:
    (repo / "hooks-real").mkdir()
    (repo / ".husky").symlink_to("hooks-real")
    (repo / "evil.sh").write_text("#!/bin/sh\n")
    owner_git(repo, "config", "core.hooksPath", ".husky")
    pin = pin_git_dir(repo)
    assert {(".husky",), ("hooks-real",)} <= pin.config_paths
    refused("trusted_config", repo, "cp", "evil.sh", "hooks-real/pre-commit", pin=pin)
    refused("trusted_config", repo, "cp", "evil.sh", ".husky/pre-commit", pin=pin)


def test_paths_outside_the_root_are_not_listed(repo: Path, tmp_path: Path) -> None:
    owner_git(repo, "config", "core.hooksPath", str(tmp_path / "hooks"))
    owner_git(repo, "config", "include.path", "/etc/gitconfig-extra")
    assert pin_git_dir(repo).config_paths == frozenset()
