"""Every name a write command would create, rename, link, remove or write is checked."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from jido_kernel.commands.allowlist import DEFAULT_ALLOWLIST
from jido_kernel.commands.effects import MAX_TREE_ENTRIES
from jido_kernel.commands.options import ShellError
from jido_kernel.commands.run import CommandResult, run_command

GIT_REASONS = {"git_metadata", "read_only_path"}


def run(root: Path, command: str, *args: str, allowlist: Sequence[str] = DEFAULT_ALLOWLIST) -> CommandResult:
    return run_command(command, list(args), root, allowlist=allowlist, timeout=20)


def snapshot(root: Path) -> dict[str, bytes | None]:
    return {
        str(path.relative_to(root)): path.read_bytes() if path.is_file() and not path.is_symlink() else None
        for path in root.rglob("*")
    }


def refused(root: Path, command: str, *args: str) -> ShellError:
    """Refused, and the project is exactly as before."""
    before = snapshot(root)
    with pytest.raises(ShellError) as caught:
        run(root, command, *args)
    assert snapshot(root) == before
    message = str(caught.value)
    assert message.startswith("Security error: ") and "\n" not in message
    return caught.value


@pytest.fixture
def root(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "a.txt").write_text("alpha\n")
    return project.resolve()


class TestGitLayouts:
    def test_copying_the_contents_of_a_folder_holding_git(self, root: Path) -> None:
        (root / "X" / ".git").mkdir(parents=True)
        (root / "X" / ".git" / "config").write_text("[core]\n\tfsmonitor = /tmp/x\n")
        error = refused(root, "cp", "-r", "X/.", ".")
        assert error.reason in GIT_REASONS and "cp would write .git" in str(error)

    @pytest.mark.parametrize("args", [["-r", "X/.", "."], ["-r", "X/", "Y"], ["-a", "X", "Y"], ["-rn", "X/.", "Y/"]])
    def test_copying_a_bare_layout(self, root: Path, args: list[str]) -> None:
        (root / "X" / "objects").mkdir(parents=True)
        (root / "X" / "refs").mkdir()
        (root / "X" / "HEAD").write_text("ref: refs/heads/main\n")
        (root / "Y").mkdir()
        assert refused(root, "cp", *args).reason == "git_metadata"

    def test_deep_git_in_any_case(self, root: Path) -> None:
        (root / "X" / "deep" / ".GiT").mkdir(parents=True)
        error = refused(root, "cp", "-r", "X", "Y")
        assert error.reason == "git_metadata" and "Y/deep/.GiT" in str(error)

    @pytest.mark.parametrize(
        "command, args",
        [
            ("mv", ["a.txt", ".GIT"]),
            ("mv", ["a.txt", ".Git"]),
            ("touch", ["HEAD"]),
            ("touch", ["sub/HEAD"]),
            ("mkdir", [".gIt"]),
            ("ln", ["-s", "a.txt", "HEAD"]),
            ("ln", ["-s", "sub/HEAD"]),
            ("ln", ["a.txt", "sub/HEAD"]),
            ("cp", ["a.txt", "sub/HEAD"]),
            ("mv", ["a.txt", "sub/HEAD"]),
            ("sort", ["-o", "sub/HEAD", "a.txt"]),
            ("uniq", ["a.txt", "sub/HEAD"]),
            ("uniq", ["a.txt", ".GIT/config"]),
        ],
    )
    def test_git_names_cannot_come_into_being(self, root: Path, command: str, args: list[str]) -> None:
        (root / "sub" / "objects").mkdir(parents=True)
        (root / "sub" / "refs").mkdir()
        (root / "sub" / "config").write_text("[core]\n\tbare = true\n")
        assert refused(root, command, *args).reason in GIT_REASONS

    def test_bare_layout_folders_alone_are_fine_but_head_is_not(self, root: Path) -> None:
        assert run(root, "mkdir", "-p", "a/objects", "a/refs").exit_code == 0
        assert refused(root, "cp", "a.txt", "a/HEAD").reason == "git_metadata"
        assert refused(root, "mv", "a.txt", "a/HEAD").reason == "git_metadata"

    def test_a_git_file_made_later_is_protected(self, root: Path) -> None:
        """A .git file (worktree or submodule link) that appeared after anything started."""
        (root / ".git").write_text("gitdir: /elsewhere\n")
        for command, args in (("cp", ["a.txt", ".git"]), ("rm", [".git"]), ("mv", [".git", "x"]), ("touch", [".git"])):
            assert refused(root, command, *args).reason in GIT_REASONS

    def test_into_a_directory_and_through_symlinks(self, root: Path) -> None:
        (root / "dir").mkdir()
        (root / "dir" / "HEAD").mkdir()  # cp a.txt dir/HEAD/ writes dir/HEAD/a.txt: fine
        assert run(root, "cp", "a.txt", "dir/HEAD/").exit_code == 0
        (root / ".git").mkdir()
        (root / "g").symlink_to(root / ".git")
        assert refused(root, "cp", "a.txt", "g").reason in GIT_REASONS  # g is a folder: writes .git/a.txt
        (root / "link").symlink_to(root / "dir")
        (root / "src").mkdir()
        (root / "src" / "HEAD").write_text("x\n")
        assert refused(root, "cp", "src/HEAD", "link/").reason == "git_metadata"
        assert refused(root, "mv", "src", "sub2", "link").reason == "git_metadata"

    def test_removing_a_tree_that_holds_git(self, root: Path) -> None:
        (root / "d" / "e" / ".git").mkdir(parents=True)
        error = refused(root, "rm", "-rf", "d")
        assert error.reason in GIT_REASONS and "rm would remove d/e/.git" in str(error)

    def test_settings_cannot_be_copied_in(self, root: Path) -> None:
        (root / "X" / ".jido_code").mkdir(parents=True)
        (root / "X" / ".jido_code" / "settings.json").write_text('{"lua_timeout": 1e9}')
        assert refused(root, "cp", "-r", "X/.", ".").reason in {"protected_path", "protected_settings_file"}


class TestInstalledCode:
    @pytest.mark.parametrize(
        "command, args",
        [
            ("sort", ["-o", "__pycache__/m.cpython-311.pyc", "a.txt"]),
            ("sort", ["--output=m.pyc", "a.txt"]),
            ("cp", ["a.txt", "pkg/__pycache__/mod.cpython-311.pyc"]),
            ("mv", ["a.txt", "mod.PYC"]),
            ("mkdir", ["-p", "node_modules/x"]),
            ("touch", ["lib/site-packages/evil.pth"]),
            ("ln", ["-s", "a.txt", "Node_Modules"]),
        ],
    )
    def test_compiled_and_installed_names(self, root: Path, command: str, args: list[str]) -> None:
        (root / "pkg" / "__pycache__").mkdir(parents=True)
        (root / "lib").mkdir()
        assert refused(root, command, *args).reason == "installed_code"

    @pytest.mark.parametrize(
        "command, args",
        [
            ("touch", ["venv/lib/python3.11/site.py"]),
            ("cp", ["a.txt", "venv/bin/"]),
            ("mv", ["a.txt", "venv/bin/python"]),
            ("mkdir", ["venv/new"]),
            ("rm", ["-r", "venv"]),
            ("rm", ["venv/pyvenv.cfg"]),
            ("cp", ["-r", "venv", "v2"]),
            ("ln", ["-s", "a.txt", "venv/bin/activate"]),
            ("sort", ["-o", "venv/bin/activate", "a.txt"]),
        ],
    )
    def test_writing_into_a_virtual_environment(self, root: Path, command: str, args: list[str]) -> None:
        (root / "venv" / "bin").mkdir(parents=True)
        (root / "venv" / "lib" / "python3.11").mkdir(parents=True)
        (root / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
        (root / "venv" / "bin" / "activate").write_text("# owner's\n")
        assert refused(root, command, *args).reason == "installed_code"

    def test_reading_a_virtual_environment_is_fine(self, root: Path) -> None:
        (root / "venv").mkdir()
        (root / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
        assert run(root, "cat", "venv/pyvenv.cfg").stdout == "home = /usr/bin\n"
        assert run(root, "cp", "venv/pyvenv.cfg", "copy.txt").exit_code == 0


class TestHardLinksAndBounds:
    def test_writing_into_a_hard_linked_file(self, root: Path, tmp_path: Path) -> None:
        outside = tmp_path / "outside.txt"
        outside.write_text("owner's\n")
        os.link(outside, root / "shared.txt")
        for command, args in (("cp", ["a.txt", "shared.txt"]), ("sort", ["-o", "shared.txt", "a.txt"])):
            assert refused(root, command, *args).reason == "hardlinked_file"
        assert outside.read_text() == "owner's\n"

    def test_hard_linking_a_git_file(self, root: Path) -> None:
        (root / ".git").mkdir()
        (root / ".git" / "config").write_text("[core]\n")
        assert refused(root, "ln", ".git/config", "conf").reason in GIT_REASONS

    def test_huge_trees_are_refused(self, root: Path) -> None:
        big = root / "big"
        big.mkdir()
        for index in range(MAX_TREE_ENTRIES + 1):
            (big / f"f{index}").touch()
        error = refused(root, "rm", "-r", "big")
        assert error.reason == "too_many_entries" and "more than 10000 entries" in str(error)
        assert refused(root, "cp", "-r", "big", "big2").reason == "too_many_entries"

    def test_ordinary_work_still_runs(self, root: Path) -> None:
        assert run(root, "mkdir", "-p", "src/pkg").exit_code == 0
        assert run(root, "cp", "a.txt", "src/pkg/").exit_code == 0
        assert run(root, "cp", "-r", "src", "copy").exit_code == 0
        assert (root / "copy" / "pkg" / "a.txt").read_text() == "alpha\n"
        assert run(root, "mv", "copy", "moved").exit_code == 0
        assert run(root, "ln", "-s", "a.txt", "link").exit_code == 0
        assert run(root, "touch", "moved/new.txt").exit_code == 0
        assert run(root, "uniq", "a.txt", "u.txt").exit_code == 0
        assert run(root, "rm", "-r", "moved").exit_code == 0
        assert not (root / "moved").exists()


class TestThroughSymlinks:
    def test_removing_through_a_symlink_walks_its_target(self, root: Path) -> None:
        (root / "d" / "e" / ".git").mkdir(parents=True)
        (root / "g").symlink_to(root / "d")
        for args in (["-r", "g/"], ["-rf", "g"]):
            assert refused(root, "rm", *args).reason in GIT_REASONS
        assert refused(root, "mv", "g/", "h").reason in GIT_REASONS

    def test_relative_symlinks_may_not_be_relocated_to_lead_out(self, root: Path) -> None:
        (root / "x" / "y").mkdir(parents=True)
        (root / "x" / "y" / "up").symlink_to("../../a.txt")  # inside the project where it is
        assert (root / "x" / "y" / "up").read_text() == "alpha\n"
        error = refused(root, "mv", "x/y/up", "up")
        assert error.reason == "symlink_escape" and "symlink leading out of the project at up" in str(error)
        assert refused(root, "cp", "-a", "x/y", "moved").reason == "symlink_escape"
        assert run(root, "cp", "-a", "x/y", "x/z").exit_code == 0  # same depth: still inside
