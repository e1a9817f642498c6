"""git for sandboxed code: a pinned repository and no program from any configuration (real git)."""

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


def run(root: Path, *args: str, pin: GitPin | None = None) -> CommandResult:
    return run_command("git", list(args), root, allowlist=DEFAULT_ALLOWLIST, timeout=20, git=pin)


def owner_git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The owner's own git (their environment, a private HOME)."""
    assert GIT is not None
    env = {**os.environ, "HOME": str(root.parent / "home"), "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run([GIT, *args], cwd=root, capture_output=True, text=True, check=check, env=env)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (tmp_path / "home").mkdir()
    (root / "a.txt").write_text("alpha\n")
    owner_git(root, "init", "-q")
    owner_git(root, "config", "user.name", "Owner")
    owner_git(root, "config", "user.email", "owner@example.invalid")
    owner_git(root, "add", "a.txt")
    owner_git(root, "commit", "-q", "-m", "first")
    return root.resolve()


@pytest.fixture
def canary(tmp_path: Path) -> Path:
    return tmp_path / "canary"


@pytest.fixture
def script(tmp_path: Path, canary: Path) -> Path:
    """A program that leaves a canary file when anything runs it."""
    path = tmp_path / "program.sh"
    path.write_text(f'#!/bin/sh\necho "$0 $*" >> {canary}\ncat "$1" 2>/dev/null\nexit 0\n')
    path.chmod(0o755)
    return path


VARIANTS = [
    pytest.param({"core.fsmonitor": "{script}"}, "", ["status"], id="fsmonitor"),
    pytest.param({"diff.external": "{script}"}, "", ["diff"], id="diff.external"),
    pytest.param({"diff.tc.textconv": "{script}"}, "*.txt diff=tc\n", ["diff"], id="textconv-diff"),
    pytest.param({"diff.tc.textconv": "{script}"}, "*.txt diff=tc\n", ["log", "-p"], id="textconv-log"),
    pytest.param({"diff.tc.textconv": "{script}"}, "*.txt diff=tc\n", ["blame", "a.txt"], id="textconv-blame"),
    pytest.param({"diff.dd.command": "{script}"}, "*.txt diff=dd\n", ["diff"], id="diff-driver-command"),
    pytest.param(
        {"filter.f.clean": "{script}", "filter.f.required": "true"}, "*.txt filter=f\n", ["status"], id="clean-filter"
    ),
    pytest.param({"filter.p.process": "{script}"}, "*.txt filter=p\n", ["diff"], id="process-filter"),
    pytest.param({"core.pager": "{script}", "pager.log": "true"}, "", ["log"], id="pager"),
]


def _configure(repo: Path, config: dict[str, str], attributes: str, script: Path) -> None:
    for key, value in config.items():
        owner_git(repo, "config", key, value.format(script=script))
    if attributes:
        (repo / ".gitattributes").write_text(attributes)
    (repo / "a.txt").write_text("omega\n")  # same size: git has to read the file to see the change


class TestConfiguredProgramsNeverRun:
    @pytest.mark.parametrize("config, attributes, args", VARIANTS)
    def test_program_from_repository_config(
        self, repo: Path, script: Path, canary: Path, config: dict[str, str], attributes: str, args: list[str]
    ) -> None:
        _configure(repo, config, attributes, script)
        owner_git(repo, *args, check=False)
        if "core.pager" not in config:  # a pager runs only on a terminal: no control for it here
            assert canary.exists(), f"control: plain git {args} runs the configured program"
            canary.unlink()
        result = run(repo, *args)
        assert not canary.exists(), canary.read_text()
        assert result.exit_code in (0, 1), result.stderr

    def test_included_driver_from_a_project_file(self, repo: Path, script: Path, canary: Path) -> None:
        """An include the owner configured points into the project: its drivers are neutralised too."""
        (repo / "shared.gitconfig").write_text(f'[diff "inc"]\n\ttextconv = {script}\n')
        owner_git(repo, "config", "include.path", "../shared.gitconfig")
        _configure(repo, {}, "*.txt diff=inc\n", script)
        owner_git(repo, "diff")
        assert canary.exists(), "control: the included driver runs for plain git"
        canary.unlink()
        assert "+omega" in run(repo, "diff").stdout
        assert not canary.exists()

    def test_core_worktree_loses_to_the_pinned_work_tree(self, repo: Path) -> None:
        owner_git(repo, "config", "core.worktree", "/")
        (repo / "new.txt").write_text("new\n")
        status = run(repo, "status", "--porcelain").stdout
        assert "?? new.txt" in status and "etc/" not in status
        assert run(repo, "ls-files").stdout == "a.txt\n"


class TestPinnedRepository:
    def test_a_bare_layout_in_a_subfolder_is_never_used(self, repo: Path, script: Path, canary: Path) -> None:
        sub = repo / "sub"
        (sub / "objects").mkdir(parents=True)
        (sub / "refs").mkdir()
        (sub / "HEAD").write_text("ref: refs/heads/main\n")
        (sub / "config").write_text(f"[core]\n\tbare = false\n\tworktree = /\n\tfsmonitor = {script}\n")
        pin = pin_git_dir(repo)
        status = run(repo, "status", "--porcelain", "--", "sub", pin=pin).stdout
        assert status == "?? sub/\n"
        assert run(repo, "rev-parse", "--absolute-git-dir", pin=pin).stdout.strip() == str(repo / ".git")
        assert not canary.exists()

    def test_a_nested_dot_git_is_never_used(self, repo: Path, script: Path, canary: Path) -> None:
        nested = repo / "deep" / "er"
        nested.mkdir(parents=True)
        owner_git(nested, "init", "-q")
        owner_git(nested, "config", "core.fsmonitor", str(script))
        assert run(repo, "rev-parse", "--absolute-git-dir").stdout.strip() == str(repo / ".git")
        assert run(repo, "status", "--porcelain").exit_code == 0
        assert not canary.exists()

    def test_a_repository_made_after_the_pin_is_refused(self, tmp_path: Path) -> None:
        root = tmp_path / "late"
        root.mkdir()
        pin = pin_git_dir(root)
        owner_git(root, "init", "-q")
        with pytest.raises(ShellError) as caught:
            run(root, "status", pin=pin)
        assert caught.value.reason == "no_repository"
        assert str(caught.value).startswith("git is not available to sandboxed code here: the project root had no .git")

    @pytest.mark.parametrize("kind", ["file", "symlink"])
    def test_a_git_file_or_symlink_is_not_pinned(self, repo: Path, tmp_path: Path, kind: str) -> None:
        real = tmp_path / "real.git"
        (repo / ".git").rename(real)
        if kind == "file":
            (repo / ".git").write_text(f"gitdir: {real}\n")
        else:
            (repo / ".git").symlink_to(real)
        pin = pin_git_dir(repo)
        assert pin.git_dir is None
        with pytest.raises(ShellError) as caught:
            run(repo, "log", pin=pin)
        assert caught.value.reason == "no_repository"

    def test_global_options_and_aliases_are_not_offered(self, repo: Path) -> None:
        owner_git(repo, "config", "alias.st", "!touch pwned")
        for args in (["st"], ["-C", "sub", "status"], ["--git-dir=sub", "status"], ["-c", "a.b=c", "status"]):
            with pytest.raises(ShellError) as caught:
                run(repo, *args)
            assert caught.value.reason == "not_allowed"
        assert not (repo / "pwned").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["grep", "-n", "alpha"], ["blame", "a.txt"], ["shortlog", "-s", "HEAD"], ["describe", "--always"],
        ["cat-file", "-p", "HEAD:a.txt"], ["ls-tree", "-r", "HEAD"], ["rev-list", "--count", "HEAD"],
        ["branch", "--list"], ["tag", "-l"], ["for-each-ref", "--format=%(refname)"], ["show-ref"],
        ["name-rev", "HEAD"], ["merge-base", "HEAD", "HEAD"], ["diff-tree", "-r", "HEAD"], ["diff-files", "-p"],
        ["diff-index", "-p", "HEAD"], ["count-objects", "-v"], ["version"], ["log", "--oneline", "-n", "1"],
        ["show", "--stat"], ["diff", "--cached"], ["status", "-sb"], ["rev-parse", "--show-toplevel"], ["ls-files"],
    ],
)  # fmt: skip
def test_every_subcommand_runs_with_the_added_options(repo: Path, args: list[str]) -> None:
    result = run(repo, *args)
    assert result.exit_code == 0, result.stderr


class TestWorkTreeHardLinks:
    def test_diff_and_grep_refuse_a_hard_linked_tracked_file(self, repo: Path, tmp_path: Path) -> None:
        outside = tmp_path / "outside.txt"
        outside.write_text("SECRET\n")
        os.link(outside, repo / "b.txt")
        owner_git(repo, "add", "b.txt")
        owner_git(repo, "commit", "-q", "-m", "b")
        outside.write_text("SECRET-CHANGED\n")  # the project's b.txt changes with it
        for args in (["diff"], ["grep", "SECRET"], ["diff-files", "-p"], ["diff-index", "-p", "HEAD"]):
            with pytest.raises(ShellError) as caught:
                run(repo, *args)
            assert caught.value.reason == "hardlinked_file" and "b.txt" in str(caught.value)
        assert "SECRET" not in run(repo, "diff", "--cached").stdout
        assert run(repo, "status", "--porcelain").stdout == " M b.txt\n"
