"""The allow-listed command runner: real commands in real temporary projects."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jido_kernel.commands.allowlist import BLOCKED_INTERPRETERS, DEFAULT_ALLOWLIST, SEARCH_PATH, resolve_allowlist
from jido_kernel.commands.effects import ALLOWED_DEVICES
from jido_kernel.commands.git import GIT_HARDENING
from jido_kernel.commands.options import ShellError
from jido_kernel.commands.policy import WRITE_COMMANDS, check_command
from jido_kernel.commands.run import CommandResult, environment, run_command
from jido_kernel.errors import JidoError

GIT = shutil.which("git", path=SEARCH_PATH)
needs_git = pytest.mark.skipif(GIT is None, reason="git is not installed")


def run(
    root: Path, command: str, *args: str, allowlist: Sequence[str] = DEFAULT_ALLOWLIST, **kw: float
) -> CommandResult:
    return run_command(command, list(args), root, allowlist=allowlist, timeout=kw.pop("timeout", 20), **kw)  # type: ignore[arg-type]


def refused(root: Path, command: str, *args: str, allowlist: Sequence[str] = DEFAULT_ALLOWLIST) -> ShellError:
    with pytest.raises(ShellError) as caught:
        check_command(command, list(args), root, allowlist)
    return caught.value


def git(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Plain git, outside the runner (to set up repositories and for control runs)."""
    assert GIT is not None
    return subprocess.run([GIT, *args], cwd=root, capture_output=True, text=True, check=True, env={**os.environ, **env})


@pytest.fixture
def root(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "a.txt").write_text("alpha\n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("secret\n")
    return project.resolve()


@pytest.fixture
def repo(root: Path) -> Path:
    git(root, "init", "-q")
    git(root, "config", "user.name", "Test")
    git(root, "config", "user.email", "test@example.invalid")
    git(root, "add", "a.txt")
    git(root, "commit", "-q", "-m", "first")
    return root


class TestRuns:
    def test_echo_runs(self, root: Path) -> None:
        result = run(root, "echo", "hello", "world")
        assert result.stdout == "hello world\n"
        assert (result.exit_code, result.stderr, result.truncated) == (0, "", False)
        assert result.duration_ms > 0

    def test_exit_code(self, root: Path) -> None:
        assert run(root, "false").exit_code == 1
        assert run(root, "test", "-f", "missing").exit_code == 1
        assert run(root, "test", "-f", "a.txt").exit_code == 0

    def test_cwd_is_the_root(self, root: Path) -> None:
        assert run(root, "pwd").stdout == f"{root}\n"
        assert run(root, "cat", "a.txt").stdout == "alpha\n"

    def test_stderr_is_captured_separately(self, root: Path) -> None:
        result = run(root, "ls", "a.txt", "missing")
        assert result.exit_code == 2
        assert result.stdout == "a.txt\n"
        assert "missing" in result.stderr and "No such file" in result.stderr

    def test_paths_inside_and_devices_are_allowed(self, root: Path) -> None:
        assert run(root, "cat", str(root / "a.txt")).stdout == "alpha\n"
        assert run(root, "cat", "/dev/null").stdout == ""
        assert run(root, "head", "-c", "4", "/dev/zero").stdout == "\0" * 4
        (root / "sub").mkdir()
        assert run(root, "cp", "a.txt", "sub/b.txt").exit_code == 0
        assert (root / "sub" / "b.txt").read_text() == "alpha\n"
        assert run(root, "ls", f"--hide={root}/x", ".").exit_code == 0

    def test_stdin_is_empty(self, root: Path) -> None:
        result = run(root, "cat", timeout=10)
        assert (result.exit_code, result.stdout) == (0, "")

    def test_duration_is_measured(self, root: Path) -> None:
        assert run(root, "sleep", "0.2").duration_ms >= 150

    def test_output_is_decoded_with_replacement(self, root: Path) -> None:
        assert run(root, "printf", "caf\\303\\251 \\377").stdout == "café \ufffd"

    def test_nonsense_limits_are_refused(self, root: Path) -> None:
        with pytest.raises(ValueError):
            run(root, "true", timeout=0)
        with pytest.raises(ValueError):
            run(root, "true", max_output=0)


class TestEnvironment:
    def test_callers_environment_is_not_inherited(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("SECRET_TOKEN", "hunter2")
        result = run(root, "printenv", allowlist=["printenv"])
        seen = dict(line.split("=", 1) for line in result.stdout.splitlines())
        assert seen == environment(root)
        assert "hunter2" not in result.stdout
        assert seen["PATH"] == SEARCH_PATH and seen["HOME"] == str(root)
        assert "TMPDIR" not in seen


class TestTimeout:
    def test_timeout_kills_and_reports(self, root: Path) -> None:
        start = time.monotonic()
        with pytest.raises(ShellError) as caught:
            run(root, "sleep", "30", timeout=0.5)
        assert caught.value.reason == "timeout"
        assert str(caught.value) == "Command timed out after 500 ms"
        assert time.monotonic() - start < 10

    @pytest.mark.skipif(shutil.which("run-parts", path=SEARCH_PATH) is None, reason="run-parts is not installed")
    def test_timeout_kills_the_whole_process_group(self, root: Path) -> None:
        """run-parts starts sh, which starts sleep: all of them must die."""
        marker = root.parent / "job-started"
        seconds = f"3{uuid.uuid4().int % 10**6}.5"
        (root / "jobs").mkdir()
        (root / "jobs" / "slow").write_text(f"#!/bin/sh\ntouch {marker}\nsleep {seconds}\n")
        (root / "jobs" / "slow").chmod(0o755)
        with pytest.raises(ShellError, match="timed out"):
            run(root, "run-parts", "jobs", allowlist=["run-parts"], timeout=5)
        assert marker.exists(), "the job never ran, so this test proves nothing"
        assert _wait_until_gone(["sleep", seconds])

    def test_runaway_output_is_stopped(self, root: Path) -> None:
        result = run(root, "cat", "/dev/zero", timeout=120, max_output=1 << 20)
        assert result.truncated
        assert result.exit_code == 137  # SIGKILL, reported shell-style
        assert result.stdout == "\0" * (1 << 20) + "\n\n[Output truncated at 1MB]"
        assert result.duration_ms < 60_000


class TestOutputCap:
    def test_stdout_is_capped_with_a_marker(self, root: Path) -> None:
        result = run(root, "head", "-c", "1500000", "/dev/zero", max_output=1 << 20)
        assert (result.exit_code, result.truncated) == (0, True)
        assert result.stdout == "\0" * (1 << 20) + "\n\n[Output truncated at 1MB]"

    def test_stderr_is_capped_on_its_own(self, root: Path) -> None:
        result = run(root, "cat", "a.txt", *[f"missing{i}" for i in range(20)], max_output=64)
        assert result.stdout == "alpha\n"
        assert result.truncated
        assert result.stderr.endswith("\n\n[Output truncated at 64 bytes]")
        assert len(result.stderr) == 64 + len("\n\n[Output truncated at 64 bytes]")


class TestCommandChecks:
    @pytest.mark.parametrize(
        "shell", ["bash", "sh", "zsh", "fish", "dash", "python3", "python3.11", "perl", "env", "xargs"]
    )
    def test_interpreters_are_blocked_even_when_allow_listed(self, root: Path, shell: str) -> None:
        error = refused(root, shell, "-c", "true", allowlist=[*DEFAULT_ALLOWLIST, shell])
        assert (error.reason, str(error)) == (
            "interpreter_blocked",
            f"Security error: shell interpreters are blocked ({shell})",
        )
        assert isinstance(error, JidoError)
        assert shell not in resolve_allowlist([shell])

    @pytest.mark.parametrize("command", ["curl", "wget", "make", "npm", "rsync", "time"])
    def test_commands_outside_the_allowlist_are_rejected(self, root: Path, command: str) -> None:
        error = refused(root, command)
        assert error.reason in ("not_allowed", "interpreter_blocked")
        if command not in BLOCKED_INTERPRETERS:
            assert str(error) == f"Security error: command not in allowlist ({command})"

    @pytest.mark.parametrize("command", ["/usr/bin/ls", "./ls", "bin/ls"])
    def test_paths_as_commands_are_rejected(self, root: Path, command: str) -> None:
        assert refused(root, command, allowlist=[command]).reason == "not_allowed"

    def test_bash_by_path_names_the_interpreter(self, root: Path) -> None:
        assert refused(root, "/bin/bash").reason == "interpreter_blocked"

    def test_missing_command(self, root: Path) -> None:
        error = refused(root, "jido-no-such-command", allowlist=["jido-no-such-command"])
        assert (error.reason, str(error)) == ("not_found", "Command not found: jido-no-such-command")

    def test_default_allowlist_holds_no_escape_hatch(self) -> None:
        # fmt: off
        escapes = {
            "mix", "elixir", "iex", "npm", "npx", "yarn", "pnpm", "node", "cargo", "rustc", "go", "python", "python3",
            "pip", "pip3", "rebar3", "erlc", "erl", "make", "cmake", "curl", "wget", "time", "env", "xargs", "nice",
            "timeout",
        }
        # fmt: on
        assert not escapes & set(DEFAULT_ALLOWLIST)
        assert not BLOCKED_INTERPRETERS & set(DEFAULT_ALLOWLIST)

    def test_resolve_allowlist(self) -> None:
        resolved = resolve_allowlist(["ls", "bash", "/usr/bin/cat", "jido-no-such-command"])
        assert list(resolved) == ["ls"]
        assert resolved["ls"] == os.path.realpath(shutil.which("ls", path=SEARCH_PATH) or "")


class TestArgumentChecks:
    @pytest.mark.parametrize("arg", ["../", "foo/../../bar", "..", "a..b", "--file=../x"])
    def test_traversal_is_rejected(self, root: Path, arg: str) -> None:
        error = refused(root, "cat", arg)
        assert (error.reason, str(error)) == (
            "path_traversal",
            f"Security error: path traversal not allowed in argument: {arg}",
        )

    @pytest.mark.parametrize("arg", ["/etc/passwd", "--file=/etc/passwd", "-o/etc/x", "-rf/etc", "//etc/passwd", "/"])
    def test_absolute_paths_outside_are_rejected(self, root: Path, arg: str) -> None:
        error = refused(root, "sort", arg)
        assert error.reason == "absolute_path_outside"
        assert str(error) == f"Security error: absolute paths outside project not allowed: {arg}"

    def test_sibling_with_the_roots_name_as_prefix_is_outside(self, root: Path) -> None:
        sibling = root.parent / (root.name + "2")
        sibling.mkdir()
        assert refused(root, "cat", str(sibling / "f")).reason == "absolute_path_outside"

    @pytest.mark.parametrize("device", sorted(ALLOWED_DEVICES))
    def test_devices_are_allowed(self, root: Path, device: str) -> None:
        assert check_command("cat", [device], root, DEFAULT_ALLOWLIST).endswith("/cat")

    def test_symlinks_leading_out_are_rejected(self, root: Path) -> None:
        (root / "out").symlink_to(root.parent / "outside")
        (root / "in").symlink_to(root / "a.txt")
        assert run(root, "cat", "in").stdout == "alpha\n"
        for arg in ("out/secret.txt", "out", f"{root}/out/secret.txt", "-oout/x", "--output=out/x", "-rout"):
            error = refused(root, "sort", arg)
            assert (error.reason, str(error)) == (
                "symlink_escape",
                f"Security error: symlink points outside project: {arg}",
            )

    @pytest.mark.parametrize("bad", ["a\0b", 3, b"bytes", "\udc00\ud800"])
    def test_invalid_arguments(self, root: Path, bad: object) -> None:
        assert refused(root, "echo", bad).reason == "invalid_argument"  # type: ignore[arg-type]

    def test_arguments_must_be_a_list(self, root: Path) -> None:
        with pytest.raises(ShellError, match="list of strings"):
            check_command("echo", "abc", root, DEFAULT_ALLOWLIST)

    def test_oversized_argument(self, root: Path) -> None:
        assert refused(root, "echo", "x" * (128 * 1024)).reason == "invalid_argument"


class TestGitDirectoryIsReadOnly:
    @pytest.mark.parametrize(
        "command, args",
        [
            ("cp", ["a.txt", ".git/config"]),
            ("mv", ["a.txt", ".git"]),
            ("touch", [".git/hooks/pre-commit"]),
            ("touch", ["./.GIT/hooks/x"]),
            ("ln", ["-s", "a.txt", ".git/hooks/pre-commit"]),
            ("mkdir", [".git/x"]),
            ("rm", ["-rf", ".git"]),
            ("rmdir", ["sub/.git"]),
            ("sort", ["-o", ".git/config", "a.txt"]),
            ("sort", ["--output=.git/config", "a.txt"]),
            ("uniq", ["a.txt", ".git/config"]),
            ("touch", ["gitdir/x"]),
        ],
    )
    def test_writing_commands_may_not_name_git(self, root: Path, command: str, args: list[str]) -> None:
        (root / ".git" / "hooks").mkdir(parents=True)
        (root / "gitdir").symlink_to(root / ".git")
        error = refused(root, command, *args)
        assert error.reason == "read_only_path" and "Security error: .git is read-only" in str(error)

    @pytest.mark.parametrize(
        "command, args",
        [
            ("cat", [".jido_code/settings.json"]),
            ("ls", ["sub/.jido_code"]),
            ("grep", ["-r", "x", ".jido_code"]),
            ("cp", ["a.txt", ".jido_code"]),
            ("git", ["show", "HEAD:.jido_code/settings.json"]),
            ("cat", ["settings/settings.json"]),
        ],
    )
    def test_settings_directory_is_protected_for_every_command(self, root: Path, command: str, args: list[str]) -> None:
        (root / ".jido_code").mkdir()
        (root / "settings").symlink_to(root / ".jido_code")
        error = refused(root, command, *args)
        assert error.reason == "protected_path" and ".jido_code" in str(error)

    def test_reading_git_is_fine(self, root: Path) -> None:
        (root / ".git").mkdir()
        (root / ".git" / "config").write_text("[core]\n")
        assert run(root, "cat", ".git/config").stdout == "[core]\n"
        assert run(root, "touch", ".gitignore").exit_code == 0


class TestCommandOptions:
    @pytest.mark.parametrize(
        "action",
        ["-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf", "-fls", "-files0-from"],
    )
    def test_find_actions_that_run_or_write_are_refused(self, root: Path, action: str) -> None:
        error = refused(root, "find", ".", action, "x")
        assert error.reason == "not_allowed" and action in str(error)

    def test_find_still_finds(self, root: Path) -> None:
        assert run(root, "find", ".", "-name", "*.txt").stdout == "./a.txt\n"

    @pytest.mark.parametrize(
        "command, arg",
        [
            ("sort", "--compress-program=x"),
            ("sort", "--compress-prog=x"),
            ("sort", "--files0-from=a.txt"),
            ("wc", "--files0-from=a.txt"),
            ("date", "-s"),
            ("date", "-us"),
            ("date", "--set=2000-01-01"),
            ("date", "--se"),
        ],
    )
    def test_options_that_run_programs_or_change_the_system(self, root: Path, command: str, arg: str) -> None:
        assert refused(root, command, arg, "tomorrow").reason == "not_allowed"

    def test_harmless_lookalikes_pass(self, root: Path) -> None:
        assert run(root, "date", "-Iseconds", "-d", "2000-01-01").stdout.startswith("2000-01-01T00:00:00")
        assert run(root, "sort", "--check", "a.txt").exit_code == 0


@needs_git
class TestGit:
    def test_read_only_subcommands_run(self, repo: Path) -> None:
        assert run(repo, "git", "log", "--format=%s").stdout == "first\n"
        assert run(repo, "git", "status", "--porcelain").stdout == ""
        assert run(repo, "git", "branch", "--list", "ma*").exit_code == 0
        assert run(repo, "git", "show", "HEAD:a.txt").stdout == "alpha\n"

    @pytest.mark.parametrize(
        "args",
        [
            ["config", "core.pager", "x"],
            ["commit", "-m", "x"],
            ["-c", "core.pager=x", "log"],
            ["-C", "sub", "log"],
            ["--git-dir=.git", "log"],
            ["--work-tree=.", "status"],
            ["--exec-path=.", "status"],
            ["log", "--output=x.txt"],
            ["diff", "--out=x.txt"],
            ["grep", "-O", "x"],
            ["grep", "-nOvi", "x"],
            ["grep", "--open-files-in-pager=vi", "x"],
            ["log", "--help"],
            ["branch", "new-branch"],
            ["branch", "-D", "main"],
            ["tag", "v1"],
            ["tag", "-d", "v1"],
            ["tag", "-v", "v1"],
            [],
        ],
    )
    def test_refused(self, repo: Path, args: list[str]) -> None:
        assert refused(repo, "git", *args).reason == "not_allowed"

    def test_hooks_and_fsmonitor_never_run(self, repo: Path) -> None:
        canary = repo.parent / "canary"
        hook = f"#!/bin/sh\necho ran >> {canary}\n"
        for name in ("pre-commit", "post-commit", "post-index-change"):
            (repo / ".git" / "hooks" / name).write_text(hook)
            (repo / ".git" / "hooks" / name).chmod(0o755)
        (repo.parent / "fsmonitor").write_text(hook)
        (repo.parent / "fsmonitor").chmod(0o755)
        git(repo, "config", "core.fsmonitor", str(repo.parent / "fsmonitor"))
        git(repo, "status")
        assert canary.exists(), "control: plain git runs the fsmonitor hook"
        canary.unlink()

        assert run(repo, "git", "status").exit_code == 0
        assert run(repo, "git", "diff").exit_code == 0
        assert GIT is not None
        hardened = [GIT, *GIT_HARDENING, "commit", "-q", "--allow-empty", "-m", "second"]
        done = subprocess.run(hardened, cwd=repo, env=environment(repo), capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert not canary.exists()
        git(repo, "commit", "-q", "--allow-empty", "-m", "third")
        assert canary.exists(), "control: plain git runs the commit hooks"

    def test_global_configuration_in_the_project_is_ignored(self, repo: Path) -> None:
        (repo / ".gitconfig").write_text("[status]\n\tshowUntrackedFiles = no\n")
        (repo / ".config" / "git").mkdir(parents=True)
        (repo / ".config" / "git" / "config").write_text("[status]\n\tshowUntrackedFiles = no\n")
        (repo / "new.txt").write_text("new\n")
        plain = git(repo, "status", "--porcelain", HOME=str(repo)).stdout
        assert "new.txt" not in plain, "control: plain git reads $HOME/.gitconfig"
        assert "?? new.txt" in run(repo, "git", "status", "--porcelain").stdout

    def test_repository_discovery_stops_at_the_root(self, repo: Path) -> None:
        sub = repo / "sub"
        sub.mkdir()
        with pytest.raises(ShellError) as caught:
            run(sub, "git", "status")
        assert caught.value.reason == "no_repository" and "no .git directory" in str(caught.value)


def _wait_until_gone(argv: list[str], seconds: float = 10) -> bool:
    """True once no live process runs exactly ``argv``."""
    wanted = ("\0".join(argv) + "\0").encode()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        running = False
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    running = running or f.read() == wanted
            except OSError:
                continue
        if not running:
            return True
        time.sleep(0.05)
    return False


# Arguments built from the pieces that matter for escapes: separators, dots, option
# prefixes, symlinks leading in and out, the root itself, .git and devices.
_PIECES = [
    "/",
    ".",
    "..",
    "-",
    "--",
    "=",
    ":",
    "a",
    "out",
    "in",
    "g",
    ".git",
    ".jido_code",
    "/etc/passwd",
    "/dev/null",
    "x",
]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("property")
    root = (base / "root").resolve()
    root.mkdir()
    (base / "outside").mkdir()
    (root / ".git").mkdir()
    (root / "out").symlink_to(base / "outside")
    (root / "in").symlink_to(root)
    (root / "g").symlink_to(root / ".git")
    (root / ".jido_code").mkdir()
    return root


def _forms(arg: str) -> list[str]:
    """Every way a command may read a path out of ``arg``: whole, ``--opt=PATH``, ``-xyPATH``."""
    forms = [arg]
    if arg.startswith("--") and "=" in arg:
        forms.append(arg.split("=", 1)[1])
    elif arg.startswith("-") and not arg.startswith("--"):
        end = 2
        while end <= len(arg) and arg[end - 1].isalnum():
            forms.append(arg[end:])
            end += 1
    return forms


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    command=st.sampled_from(["cat", "cp", "sort", "touch"]),
    args=st.lists(
        st.lists(st.sampled_from(_PIECES) | st.text(max_size=3), max_size=6).map("".join), min_size=1, max_size=4
    ),
)
def test_accepted_arguments_never_resolve_outside_the_root(sandbox: Path, command: str, args: list[str]) -> None:
    try:
        check_command(command, args, sandbox, DEFAULT_ALLOWLIST)
    except ShellError:
        return
    for arg in args:
        for form in _forms(arg):
            if form in ALLOWED_DEVICES:
                continue
            resolved = Path(os.path.realpath(sandbox / form))
            assert resolved == sandbox or sandbox in resolved.parents, (arg, form, resolved)
            parts = {p.lower() for p in resolved.relative_to(sandbox).parts}
            assert ".jido_code" not in parts, (arg, form)
            if command in WRITE_COMMANDS:
                assert ".git" not in parts, (arg, form)
