"""One rule for what commands read: no hard-linked files, no FIFOs, sockets or devices,
and recursive readers walk what they would read first."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from jido_kernel.commands.allowlist import DEFAULT_ALLOWLIST
from jido_kernel.commands.options import ShellError
from jido_kernel.commands.run import CommandResult, run_command


def run(root: Path, command: str, *args: str) -> CommandResult:
    return run_command(command, list(args), root, allowlist=DEFAULT_ALLOWLIST, timeout=20)


def refused(root: Path, command: str, *args: str) -> ShellError:
    with pytest.raises(ShellError) as caught:
        run(root, command, *args)
    assert "\n" not in str(caught.value)
    return caught.value


@pytest.fixture
def root(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "a.txt").write_text("alpha\n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("SECRET-TOKEN\n")
    return project.resolve()


@pytest.fixture
def linked(root: Path) -> Path:
    """``shared.txt``: a second name of a file outside the project."""
    os.link(root.parent / "outside" / "secret.txt", root / "shared.txt")
    return root / "shared.txt"


class TestHardLinks:
    @pytest.mark.parametrize(
        "command, args",
        [
            ("cat", ["shared.txt"]),
            ("head", ["-n1", "shared.txt"]),
            ("tail", ["shared.txt"]),
            ("wc", ["-c", "shared.txt"]),
            ("sort", ["shared.txt"]),
            ("uniq", ["shared.txt"]),
            ("grep", ["SECRET", "shared.txt"]),
            ("grep", ["-f", "shared.txt", "a.txt"]),
            ("diff", ["a.txt", "shared.txt"]),
            ("cp", ["shared.txt", "copy.txt"]),
        ],
    )
    def test_readers_refuse_a_hard_linked_file(self, root: Path, linked: Path, command: str, args: list[str]) -> None:
        error = refused(root, command, *args)
        assert error.reason == "hardlinked_file"
        assert str(error) == (
            f"Security error: {command} would read shared.txt: file has more than one hard link "
            "(it may be a file outside the project)"
        )
        assert not (root / "copy.txt").exists()

    def test_listing_and_metadata_are_fine(self, root: Path, linked: Path) -> None:
        assert "shared.txt" in run(root, "ls", "-l").stdout
        assert run(root, "test", "-f", "shared.txt").exit_code == 0
        assert run(root, "find", ".", "-name", "shared.txt").stdout == "./shared.txt\n"


class TestSpecialFiles:
    def test_fifo_is_refused_without_blocking(self, root: Path) -> None:
        os.mkfifo(root / "pipe")
        start = time.monotonic()
        for command in ("cat", "grep", "head", "wc"):
            args = ["x", "pipe"] if command == "grep" else ["pipe"]
            assert refused(root, command, *args).reason == "not_regular_file"
        assert time.monotonic() - start < 5

    def test_socket_is_refused(self, root: Path) -> None:
        with _unix_socket(root / "sock"):
            assert refused(root, "cat", "sock").reason == "not_regular_file"

    def test_allowed_devices_still_read(self, root: Path) -> None:
        assert run(root, "head", "-c", "3", "/dev/zero").stdout == "\0\0\0"


class TestRecursiveReaders:
    def test_grep_r_walks_first_and_names_the_hard_link(self, root: Path, linked: Path) -> None:
        (root / "d").mkdir()
        os.link(root / "shared.txt", root / "d" / "again.txt")
        error = refused(root, "grep", "-r", "SECRET", "d")
        assert error.reason == "hardlinked_file" and "d/again.txt" in str(error)
        assert refused(root, "grep", "-rl", "SECRET").reason == "hardlinked_file"  # no operand: the root

    def test_grep_r_refuses_a_symlink_leading_out(self, root: Path) -> None:
        (root / "d").mkdir()
        (root / "d" / "out").symlink_to(root.parent / "outside" / "secret.txt")
        error = refused(root, "grep", "-r", "SECRET", ".")
        assert error.reason == "symlink_escape" and "d/out" in str(error)

    def test_grep_r_never_reads_settings(self, root: Path) -> None:
        (root / "sub" / ".jido_code").mkdir(parents=True)
        (root / "sub" / ".jido_code" / "settings.json").write_text('{"token": "SETTINGS-SECRET"}')
        result = run(root, "grep", "-r", "SETTINGS-SECRET", ".")
        assert result.exit_code == 1 and "SETTINGS-SECRET" not in result.stdout

    def test_diff_of_two_folders_reads_one_level(self, root: Path, linked: Path) -> None:
        (root / "d1").mkdir()
        (root / "d2").mkdir()
        os.link(root / "shared.txt", root / "d1" / "same.txt")
        (root / "d2" / "same.txt").write_text("other\n")
        error = refused(root, "diff", "d1", "d2")
        assert error.reason == "hardlinked_file" and "d1/same.txt" in str(error)

    def test_diff_r_walks_the_trees(self, root: Path, linked: Path) -> None:
        for side in ("d1", "d2"):
            (root / side / "deep").mkdir(parents=True)
            (root / side / "deep" / "ok.txt").write_text(side)
        assert "ok.txt" in run(root, "diff", "-r", "d1", "d2").stdout
        os.link(root / "shared.txt", root / "d2" / "deep" / "x.txt")
        assert refused(root, "diff", "-r", "d1", "d2").reason == "hardlinked_file"

    def test_diff_r_refuses_symlinks_out_and_skips_settings(self, root: Path) -> None:
        for side in ("d1", "d2"):
            (root / side / ".jido_code").mkdir(parents=True)
            (root / side / ".jido_code" / "settings.json").write_text(f'"{side}-SETTINGS"')
        result = run(root, "diff", "-r", "d1", "d2")
        assert "SETTINGS" not in result.stdout
        (root / "d1" / "out").symlink_to(root.parent / "outside" / "secret.txt")
        (root / "d2" / "out").symlink_to(root.parent / "outside" / "secret.txt")
        assert refused(root, "diff", "-r", "d1", "d2").reason == "symlink_escape"

    def test_cp_r_refuses_a_hard_linked_file_in_the_tree(self, root: Path, linked: Path) -> None:
        (root / "src").mkdir()
        os.link(root / "shared.txt", root / "src" / "inner.txt")
        assert refused(root, "cp", "-r", "src", "dst").reason == "hardlinked_file"
        assert not (root / "dst").exists()

    def test_ls_r_only_lists(self, root: Path, linked: Path) -> None:
        (root / "d").mkdir()
        (root / "d" / "out").symlink_to(root.parent / "outside")
        result = run(root, "ls", "-R")
        assert "shared.txt" in result.stdout and "secret.txt" not in result.stdout


class _unix_socket:
    """A listening unix socket at ``path`` for the duration of a ``with``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX)

    def __enter__(self) -> None:
        self.sock.bind(str(self.path))

    def __exit__(self, *_: object) -> None:
        self.sock.close()


class TestGrepExcludedFolders:
    def test_plain_exclude_dir_names_are_not_walked(self, root: Path, linked: Path) -> None:
        (root / "vendor").mkdir()
        os.link(root / "shared.txt", root / "vendor" / "copy.txt")
        (root / "shared.txt").unlink()
        assert refused(root, "grep", "-r", "SECRET", ".").reason == "hardlinked_file"
        result = run(root, "grep", "-r", "--exclude-dir=vendor", "SECRET", ".")
        assert result.exit_code == 1 and result.stdout == ""

    def test_a_wildcard_pattern_is_walked_anyway(self, root: Path, linked: Path) -> None:
        (root / "vendor").mkdir()
        os.link(root / "shared.txt", root / "vendor" / "copy.txt")
        (root / "shared.txt").unlink()
        assert refused(root, "grep", "-r", "--exclude-dir=vend*", "SECRET", ".").reason == "hardlinked_file"
