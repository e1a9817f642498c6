"""Per-command option allow-lists of the shell runner: real commands in real temporary projects."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from jido_kernel.commands.allowlist import DEFAULT_ALLOWLIST, SEARCH_PATH
from jido_kernel.commands.options import (
    GIT_OPTIONS,
    OPTION_TABLES,
    TEXT_COMMANDS,
    OptionTable,
    ShellError,
    markdown_table,
)
from jido_kernel.commands.policy import GIT_SUBCOMMANDS, check_command
from jido_kernel.commands.run import CommandResult, run_command


def run(root: Path, command: str, *args: str, allowlist: Sequence[str] = DEFAULT_ALLOWLIST) -> CommandResult:
    return run_command(command, list(args), root, allowlist=allowlist, timeout=20)


def refused(root: Path, command: str, *args: str, allowlist: Sequence[str] = DEFAULT_ALLOWLIST) -> ShellError:
    with pytest.raises(ShellError) as caught:
        run(root, command, *args, allowlist=allowlist)
    return caught.value


@pytest.fixture
def root(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "a.txt").write_text("alpha\n")
    (project / "b.txt").write_text("beta\n")
    (project / "d").mkdir()
    return project.resolve()


def snapshot(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*")}


class TestBackupSuffixes:
    """A backup renames the destination to DEST+SUFFIX: a name no argument shows."""

    @pytest.mark.parametrize(
        "command, args, option",
        [
            ("cp", ["--backup", "--suffix=t", "a.txt", ".gi"], "--backup"),
            ("cp", ["-b", "-S", "t", "a.txt", ".gi"], "-b"),
            ("cp", ["-bSt", "a.txt", ".gi"], "-b"),
            ("cp", ["--suffix=t", "a.txt", ".gi"], "--suffix"),
            ("mv", ["-b", "-S", "t", "a.txt", ".gi"], "-b"),
            ("mv", ["--backup=simple", "--suffix=t", "a.txt", ".gi"], "--backup"),
            ("ln", ["-f", "-b", "-S", "t", "a.txt", ".gi"], "-b"),
            ("ln", ["--backup", "-S", "D", "-f", "a.txt", "HEA"], "--backup"),
            ("cp", ["-b", "-S", "D", "a.txt", "HEA"], "-b"),
        ],
    )
    def test_backups_are_refused_and_nothing_is_created(
        self, root: Path, command: str, args: list[str], option: str
    ) -> None:
        (root / ".gi").write_text("gitdir: /elsewhere\n")
        (root / "HEA").write_text("ref: refs/heads/main\n")
        before = snapshot(root)
        error = refused(root, command, *args)
        assert error.reason == "not_allowed"
        assert str(error).startswith(f"Security error: option not allowed for {command}: {option}")
        assert snapshot(root) == before
        assert not (root / ".git").exists() and not (root / "HEAD").exists()

    def test_control_the_backup_really_creates_the_name(self, root: Path) -> None:
        """What the refused command would have done, run directly."""
        (root / ".gi").write_text("gitdir: /elsewhere\n")
        cp = shutil.which("cp", path=SEARCH_PATH)
        assert cp is not None
        subprocess.run([cp, "--backup", "--suffix=t", "a.txt", ".gi"], cwd=root, check=True)
        assert (root / ".git").read_text() == "gitdir: /elsewhere\n"


class TestRefusedOptions:
    @pytest.mark.parametrize(
        "command, args, option",
        [
            ("cp", ["-T", "d", "e"], "-T"),
            ("cp", ["--no-target-directory", "d", "e"], "--no-target-directory"),
            ("cp", ["-t", "d", "a.txt"], "-t"),
            ("cp", ["--target-directory=d", "a.txt"], "--target-directory"),
            ("cp", ["--parents", "d/x", "e"], "--parents"),
            ("cp", ["-l", "a.txt", "c"], "-l"),
            ("cp", ["-s", "a.txt", "c"], "-s"),
            ("cp", ["--link", "a.txt", "c"], "--link"),
            ("cp", ["-rL", "d", "e"], "-L"),
            ("mv", ["-T", "d", "e"], "-T"),
            ("mv", ["-t", "d", "a.txt"], "-t"),
            ("ln", ["-T", "a.txt", "c"], "-T"),
            ("ln", ["--target-directory=d", "a.txt"], "--target-directory"),
            ("rm", ["--no-preserve-root", "x"], "--no-preserve-root"),
            ("sort", ["--compress-program=x", "a.txt"], "--compress-program"),
            ("sort", ["--files0-from=a.txt"], "--files0-from"),
            ("sort", ["-T", "d", "a.txt"], "-T"),
            ("wc", ["--files0-from=a.txt"], "--files0-from"),
            ("date", ["-s", "2000-01-01"], "-s"),
            ("date", ["-us", "2000-01-01"], "-s"),
            ("date", ["--set=2000-01-01"], "--set"),
            ("grep", ["-R", "x", "."], "-R"),
            ("grep", ["--dereference-recursive", "x", "."], "--dereference-recursive"),
            ("grep", ["--directories=recurse", "x", "."], "--directories"),
            ("tail", ["-f", "a.txt"], "-f"),
            ("ls", ["-L", "d"], "-L"),
            ("find", [".", "-exec", "true", ";"], "-exec"),
            ("find", [".", "-fprint", "x"], "-fprint"),
            ("find", ["-L", "."], "-L"),
            ("find", [".", "-follow"], "-follow"),
            ("mkdir", ["-Z", "x"], "-Z"),
            ("sleep", ["--help"], "--help"),
        ],
    )
    def test_unlisted_options_are_refused_by_name(self, root: Path, command: str, args: list[str], option: str) -> None:
        before = snapshot(root)
        error = refused(root, command, *args)
        assert error.reason == "not_allowed"
        message = str(error)
        assert message.startswith(f"Security error: option not allowed for {command}: {option}")
        assert ("\n" not in message and "(allowed: " in message) or "accepts no options" in message
        assert snapshot(root) == before

    @pytest.mark.parametrize("arg", ["--rec", "--recursiv", "--forc", "--backu", "--suf=.git", "--verb"])
    def test_gnu_abbreviations_are_refused(self, root: Path, arg: str) -> None:
        assert refused(root, "cp", arg, "a.txt", "c").reason == "not_allowed"
        assert not (root / "c").exists()

    def test_a_refused_letter_inside_a_cluster_is_named(self, root: Path) -> None:
        error = refused(root, "cp", "-rb", "d", "e")
        assert str(error).startswith("Security error: option not allowed for cp: -b (in -rb) (allowed: -f -i -n -p")

    def test_a_missing_value_is_refused(self, root: Path) -> None:
        assert refused(root, "sort", "a.txt", "-o").reason == "invalid_argument"
        assert refused(root, "head", "--lines").reason == "invalid_argument"


class TestAllowedOptionsWork:
    def test_values_attached_separate_and_numeric(self, root: Path) -> None:
        (root / "n.txt").write_text("".join(f"{i}\n" for i in range(10)))
        assert run(root, "head", "-n3", "n.txt").stdout == "0\n1\n2\n"
        assert run(root, "head", "-n", "2", "n.txt").stdout == "0\n1\n"
        assert run(root, "head", "--lines=1", "n.txt").stdout == "0\n"
        assert run(root, "tail", "-2", "n.txt").stdout == "8\n9\n"
        assert run(root, "sort", "-rn", "-k1,1", "n.txt").stdout.startswith("9\n8\n")
        assert run(root, "date", "-u", "-Iseconds", "-d", "2000-01-01").stdout.startswith("2000-01-01T00:00:00")

    def test_options_after_operands_and_clusters(self, root: Path) -> None:
        assert run(root, "grep", "alpha", "a.txt", "-n").stdout == "1:alpha\n"
        assert run(root, "grep", "-rn", "beta", "d", "b.txt").stdout == "b.txt:1:beta\n"
        assert run(root, "cp", "-rv", "d", "e").exit_code == 0 and (root / "e").is_dir()
        assert run(root, "ls", "-la", "--color=never", "d").exit_code == 0

    def test_double_dash_ends_options(self, root: Path) -> None:
        (root / "-b").write_text("dash\n")
        assert run(root, "cat", "--", "-b").stdout == "dash\n"
        assert run(root, "rm", "--", "-b").exit_code == 0
        assert not (root / "-b").exists()

    def test_text_commands_keep_their_arguments(self, root: Path) -> None:
        assert run(root, "echo", "-n", "--backup").stdout == "--backup"
        assert run(root, "printf", "%s-%s", "-S", ".git").stdout == "-S-.git"
        assert run(root, "test", "-f", "a.txt").exit_code == 0

    def test_find_primaries(self, root: Path) -> None:
        result = run(root, "find", ".", "-maxdepth", "1", "-name", "*.txt", "-type", "f", "-print")
        assert sorted(result.stdout.split()) == ["./a.txt", "./b.txt"]
        assert run(root, "find", ".", "(", "-name", "a*", "-o", "-name", "b*", ")", "-newer", "a.txt").exit_code == 0


class TestCommandsWithoutATable:
    """A command an owner adds to the allow-list in settings accepts no options at all."""

    REV = shutil.which("rev", path=SEARCH_PATH)

    @pytest.mark.skipif(REV is None, reason="rev is not installed")
    def test_operands_only(self, root: Path) -> None:
        allowlist = [*DEFAULT_ALLOWLIST, "rev"]
        assert run(root, "rev", "a.txt", allowlist=allowlist).stdout == "ahpla\n"
        error = refused(root, "rev", "--help", "a.txt", allowlist=allowlist)
        assert error.reason == "not_allowed"
        assert "rev was added to the allow-list in settings and has no option table" in str(error)
        assert run(root, "rev", "--", "a.txt", allowlist=allowlist).stdout == "ahpla\n"


class TestGitOptions:
    @pytest.mark.parametrize(
        "args, option",
        [
            (["log", "--output=x"], "--output"),
            (["diff", "--ext-diff"], "--ext-diff"),
            (["diff", "--textconv"], "--textconv"),
            (["diff", "--no-index", "a.txt", "b.txt"], "--no-index"),
            (["grep", "-O", "x"], "-O"),
            (["grep", "-nO", "x"], "-O"),
            (["grep", "--open-files-in-pager=vi", "x"], "--open-files-in-pager"),
            (["log", "--show-signature"], "--show-signature"),
            (["status", "--recurse-submodules"], "--recurse-submodules"),
            (["log", "--exec-path=."], "--exec-path"),
            (["blame", "--contents", "a.txt", "a.txt"], "--contents"),
            (["log", "--help"], "--help"),
            (["log", "--out=x"], "--out"),
            (["cat-file", "--textconv", "HEAD:a.txt"], "--textconv"),
        ],
    )
    def test_refused(self, root: Path, args: list[str], option: str) -> None:
        with pytest.raises(ShellError) as caught:
            check_command("git", args, root, DEFAULT_ALLOWLIST)
        assert caught.value.reason == "not_allowed"
        assert str(caught.value).startswith(f"Security error: option not allowed for git {args[0]}: {option}")


class TestTables:
    def test_every_spec_builds_its_table_once(self) -> None:
        """Tables are built when first looked up: each spec is valid, and built once."""
        for tables in (OPTION_TABLES, GIT_OPTIONS):
            for name, table in tables.items():
                assert isinstance(table, OptionTable)
                assert table.spec == " ".join(table.spec.split())
                assert tables[name] is table
                assert OptionTable.of(table.spec) == table

    def test_every_default_command_has_a_table(self) -> None:
        for command in DEFAULT_ALLOWLIST:
            assert command in OPTION_TABLES or command in TEXT_COMMANDS or command == "git", command
        assert set(GIT_SUBCOMMANDS) == set(GIT_OPTIONS)

    def test_write_commands_list_no_backup_or_target_option(self) -> None:
        for command in ("cp", "mv", "ln"):
            table = OPTION_TABLES[command]
            assert not {"b", "S", "T", "t", "l", "L", "H"} & (table.flags | table.valued | table.optional)
            longs = table.long_flags | table.long_valued | table.long_optional
            assert not {"backup", "suffix", "target-directory", "no-target-directory", "parents", "link"} & longs
        for command in ("mkdir", "touch", "rm", "rmdir", "sort", "uniq"):
            table = OPTION_TABLES[command]
            longs = table.long_flags | table.long_valued | table.long_optional
            assert not {"backup", "suffix", "target-directory", "temporary-directory", "files0-from"} & longs
        assert "T" not in OPTION_TABLES["sort"].valued

    def test_markdown_table_lists_every_command(self) -> None:
        text = markdown_table()
        for command in DEFAULT_ALLOWLIST:
            assert f"`{command}" in text or command in TEXT_COMMANDS
        for subcommand in GIT_SUBCOMMANDS:
            assert f"| `git {subcommand}` |" in text
