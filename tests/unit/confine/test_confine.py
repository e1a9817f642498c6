"""OS confinement, tested in real child processes (confinement is irreversible)."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jido_kernel import confine
from jido_kernel.commands.allowlist import DEFAULT_ALLOWLIST, resolve_allowlist
from jido_kernel.confine import Confinement, elf, landlock, rlimits

ABI = confine.landlock_abi()
needs_landlock = pytest.mark.skipif(ABI is None, reason="Landlock is not available on this kernel")

# A child that confines itself as told by a JSON config, tries each action, prints JSON.
PROBE = textwrap.dedent(
    """
    import ctypes, errno, json, os, pathlib, socket, subprocess, sys, threading

    import lupa.lua54
    from jido_kernel import confine
    from jido_kernel.confine import landlock
    from jido_kernel.commands.options import ShellError
    from jido_kernel.commands.run import run_command

    config = json.loads(sys.argv[1])
    root = pathlib.Path(config["root"])


    def attempt(fn):
        try:
            result = fn()
        except OSError as error:
            return errno.errorcode.get(error.errno, str(error.errno))
        except MemoryError:
            return "MemoryError"
        except ShellError as error:
            return "ShellError: " + str(error)
        return "ok" if result is None else result


    def run(argv):
        done = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=60)
        return {"code": done.returncode, "out": done.stdout, "err": done.stderr}


    def write(path):
        with open(path, "a") as f:
            f.write("x")


    def read(path):
        with open(path) as f:
            f.read()


    def threads(count):
        def work():
            blocks.append(bytearray(4096))  # gives the thread its own malloc arena
            stop.wait()

        for _ in range(count):
            threading.Thread(target=work, daemon=True).start()
        return threading.active_count() - 1


    blocks, stop = [], threading.Event()


    def connect_abstract(name):
        s = socket.socket(socket.AF_UNIX)
        s.connect("\\0" + name)
        s.close()


    def umount(path):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.umount2(path.encode(), 2) != 0:  # MNT_DETACH
            raise OSError(ctypes.get_errno(), "umount2")


    def lua(size):
        runtime = lupa.lua54.LuaRuntime(register_eval=False, max_memory=config["max_memory"])
        return runtime.execute("local t = {} for i = 1, %d do t[i] = string.rep('x', 1024) .. i end return #t" % size)


    def shell(command, *args):
        result = run_command(command, list(args), root, allowlist=config["allowlist"], timeout=30)
        return {"code": result.exit_code, "out": result.stdout, "err": result.stderr}


    ACTIONS = {
        "write": write,
        "read": read,
        "list": lambda p: len(os.listdir(p)) and None,
        "threads": threads,
        "mkdir": os.mkdir,
        "exists": os.path.exists,
        "run": lambda *argv: run(list(argv)),
        "connect": lambda port: socket.create_connection(("127.0.0.1", port), timeout=10).close(),
        "abstract": connect_abstract,
        "signal": lambda pid: os.kill(pid, 0),
        "alloc": lambda size: bytes(size) and None,  # calloc: pages stay untouched
        "lua": lua,
        "umount": umount,
        "shell": shell,
    }


    def perform(actions):
        return {name: attempt(lambda: ACTIONS[kind](*args)) for name, (kind, *args) in actions.items()}


    before = perform(config.get("before", {}))
    if config.get("uid") is not None:
        os.setgid(config["uid"])
        os.setuid(config["uid"])
        ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: setuid from root cleared it
    if config.get("thread_first"):
        threading.Thread(target=threading.Event().wait, daemon=True).start()
    if config.get("abi") is not None:
        rules = [landlock.Rule(str(root), (1 << 16) - 1 - landlock.EXECUTE)]
        rules += [landlock.Rule(p, landlock.READ_FILE | landlock.READ_DIR) for p in confine.default_read_only_paths()]
        network = landlock.restrict_self(rules, config["abi"])
        confinement = {"network_restricted": network}
    else:
        try:
            confinement = confine.confine_process(
                root,
                max_memory=config["max_memory"],
                exec_allowlist=config["exec"],
            ).to_json()
        except RuntimeError as error:
            confinement = {"error": str(error)}
    print(json.dumps({"confinement": confinement, "before": before, "after": perform(config.get("after", {}))}))
    """
)


def probe(
    root: Path,
    *,
    after: dict[str, list[Any]] | None = None,
    before: dict[str, list[Any]] | None = None,
    exec_names: tuple[str, ...] = ("ls", "cat", "find", "touch", "cp", "git"),
    max_memory: int = 256 << 20,
    env: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Run PROBE in a fresh interpreter; return its JSON report."""
    config = {
        "root": str(root),
        "exec": list(resolve_allowlist(exec_names).values()),
        "allowlist": list(exec_names),
        "max_memory": max_memory,
        "before": before or {},
        "after": after or {},
        **extra,
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A project root with a file, a git repository, settings and a sibling directory outside it."""
    root = tmp_path / "project"
    (root / ".git" / "hooks").mkdir(parents=True)
    (root / ".git" / "config").write_text("[core]\n")
    (root / "notes.txt").write_text("inside\n")
    (root / ".jido_code").mkdir()
    (root / ".jido_code" / "settings.json").write_text('{"model": "secret-model"}\n')
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("secret\n")
    return root


@pytest.fixture
def listener() -> Iterator[int]:
    """A listening TCP socket on 127.0.0.1; yields its port."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


@needs_landlock
class TestLandlock:
    def test_confined_child_reaches_only_the_project(self, workspace: Path, listener: int) -> None:
        outside = workspace.parent / "outside"
        report = probe(
            workspace,
            before={"write_outside": ["write", str(outside / "before.txt")], "connect": ["connect", listener]},
            after={
                "write_inside": ["write", str(workspace / "new.txt")],
                "read_inside": ["read", str(workspace / "notes.txt")],
                "mkdir_inside": ["mkdir", str(workspace / "sub")],
                "write_outside": ["write", str(outside / "before.txt")],
                "read_outside": ["read", str(outside / "secret.txt")],
                "list_outside": ["list", str(outside)],
                "list_root_home": ["list", "/root"],
                "list_home": ["list", "/home"],
                "write_etc": ["write", "/etc/jido-kernel-probe"],
                "read_usr": ["read", "/usr/lib/os-release"],
                "dev_null": ["write", "/dev/null"],
                "connect": ["connect", listener],
            },
        )
        assert report["before"] == {"write_outside": "ok", "connect": "ok"}
        after = report["after"]
        assert after["write_inside"] == after["read_inside"] == after["mkdir_inside"] == "ok"
        assert after["read_usr"] == after["dev_null"] == "ok"
        for name in ("write_outside", "read_outside", "list_outside", "list_root_home", "list_home", "write_etc"):
            assert after[name] == "EACCES", name
        assert not Path("/etc/jido-kernel-probe").exists()
        tcp_denied = (ABI or 0) >= 4
        assert after["connect"] == ("EACCES" if tcp_denied else "ok")
        confinement = report["confinement"]
        assert confinement["landlock_abi"] == ABI
        assert confinement["landlock_enforced"] is True
        assert confinement["network_restricted"] is tcp_denied

    def test_only_allow_listed_binaries_execute(self, workspace: Path) -> None:
        python3 = shutil.which("python3", path="/usr/bin:/bin") or "/usr/bin/python3"
        report = probe(
            workspace,
            before={"python_before": ["run", python3, "-c", "pass"]},
            after={
                "ls": ["run", "ls", "-a"],
                "cat": ["run", "cat", "notes.txt"],
                "python3": ["run", python3, "-c", "pass"],
                "sh": ["run", "/bin/sh", "-c", "true"],
                "mkdir_binary": ["run", "mkdir", "x"],
            },
        )
        assert report["before"]["python_before"]["code"] == 0
        after = report["after"]
        assert after["ls"]["code"] == 0 and "notes.txt" in after["ls"]["out"]
        assert after["cat"] == {"code": 0, "out": "inside\n", "err": ""}
        assert after["python3"] == after["sh"] == after["mkdir_binary"] == "EACCES"

    def test_find_exec_cannot_start_anything_else(self, workspace: Path) -> None:
        canary = workspace / "canary"
        report = probe(
            workspace,
            after={
                "sh": ["run", "find", ".", "-maxdepth", "0", "-exec", "/bin/sh", "-c", f"echo > {canary}", ";"],
                "mkdir": ["run", "find", ".", "-maxdepth", "0", "-exec", "mkdir", str(canary), ";"],
            },
        )
        for name in ("sh", "mkdir"):
            assert "Permission denied" in report["after"][name]["err"], name
        assert not canary.exists()

    def test_commands_cannot_write_outside_even_without_the_shell_checks(self, workspace: Path) -> None:
        outside = workspace.parent / "outside"
        report = probe(
            workspace,
            after={
                "touch": ["run", "touch", str(outside / "touched")],
                "cp": ["run", "cp", "notes.txt", str(outside / "copied")],
                "cp_in": ["run", "cp", str(outside / "secret.txt"), "stolen.txt"],
                "touch_inside": ["run", "touch", "touched"],
            },
        )
        after = report["after"]
        assert after["touch"]["code"] != 0 and "Permission denied" in after["touch"]["err"]
        assert after["cp"]["code"] != 0 and "Permission denied" in after["cp"]["err"]
        assert after["cp_in"]["code"] != 0 and "Permission denied" in after["cp_in"]["err"]
        assert after["touch_inside"]["code"] == 0
        assert not (outside / "touched").exists() and not (outside / "copied").exists()
        assert not (workspace / "stolen.txt").exists() and (workspace / "touched").exists()

    def test_shell_runs_under_confinement(self, workspace: Path) -> None:
        subprocess.run(["git", "init", "-q", str(workspace)], check=True)
        report = probe(
            workspace,
            after={
                "ls": ["shell", "ls"],
                "git": ["shell", "git", "status", "--short"],
                "cat": ["shell", "cat", "notes.txt"],
            },
        )
        after = report["after"]
        assert after["ls"]["code"] == 0 and "notes.txt" in after["ls"]["out"]
        assert after["git"] == {"code": 0, "out": "?? notes.txt\n", "err": ""}
        assert after["cat"]["out"] == "inside\n"

    @pytest.mark.skipif(ABI is None or ABI < 6, reason="Landlock ABI 6 (scoping) is not available")
    def test_signals_and_abstract_sockets_are_scoped(self, workspace: Path) -> None:
        with socket.socket(socket.AF_UNIX) as server, subprocess.Popen(["sleep", "60"]) as sleeper:
            name = f"jido-kernel-test-{os.getpid()}"
            server.bind("\0" + name)
            server.listen()
            try:
                report = probe(
                    workspace,
                    before={"signal": ["signal", sleeper.pid], "abstract": ["abstract", name]},
                    after={"signal": ["signal", sleeper.pid], "abstract": ["abstract", name]},
                )
            finally:
                sleeper.kill()
        assert report["before"] == {"signal": "ok", "abstract": "ok"}
        assert report["after"] == {"signal": "EPERM", "abstract": "EPERM"}

    @pytest.mark.parametrize("abi", range(1, (ABI or 1) + 1))
    def test_every_abi_up_to_the_kernels_is_accepted(self, workspace: Path, listener: int, abi: int) -> None:
        report = probe(
            workspace,
            abi=abi,
            after={
                "write_inside": ["write", str(workspace / "new.txt")],
                "write_outside": ["write", str(workspace.parent / "outside" / "x")],
                "connect": ["connect", listener],
            },
        )
        assert report["confinement"]["network_restricted"] is (abi >= 4)
        assert report["after"]["write_inside"] == "ok"
        assert report["after"]["write_outside"] == "EACCES"
        assert report["after"]["connect"] == ("EACCES" if abi >= 4 else "ok")


class TestUnavailable:
    def test_switch_reports_and_runs_unconfined(self, workspace: Path) -> None:
        outside = workspace.parent / "outside" / "written.txt"
        report = probe(
            workspace,
            env={confine.DISABLE_ENV: "1"},
            after={"write_outside": ["write", str(outside)], "ls": ["run", "ls"]},
        )
        confinement = report["confinement"]
        assert confinement["landlock_abi"] is None
        assert confinement["landlock_enforced"] is False
        assert confinement["network_restricted"] is False
        notes = [n for n in confinement["notes"] if "Landlock" in n]
        assert len(notes) == 1 and confine.DISABLE_ENV in notes[0] and "user-space checks only" in notes[0]
        assert report["after"]["write_outside"] == "ok" and outside.exists()
        assert report["after"]["ls"]["code"] == 0

    def test_landlock_abi_honours_the_switch(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(confine.DISABLE_ENV, "1")
        assert confine.landlock_abi() is None
        monkeypatch.setenv(confine.DISABLE_ENV, "0")
        assert confine.landlock_abi() == landlock.abi_version()


class TestGitReadOnly:
    def test_git_directories_are_read_only_and_the_rest_writable(self, workspace: Path) -> None:
        nested = workspace / "vendor" / "lib" / ".git"
        nested.mkdir(parents=True)
        after: dict[str, list[Any]] = {
            "config": ["write", str(workspace / ".git" / "config")],
            "hook": ["write", str(workspace / ".git" / "hooks" / "pre-commit")],
            "nested": ["write", str(nested / "config")],
            "worktree": ["write", str(workspace / "notes.txt")],
            "read_config": ["read", str(workspace / ".git" / "config")],
        }
        if ABI is not None:  # Landlock forbids mount changes: the bind cannot be undone from inside
            after["umount"] = ["umount", str(workspace / ".git")]
            after["config_after_umount"] = ["write", str(workspace / ".git" / "config")]
        report = probe(workspace, after=after)
        if not report["confinement"]["git_read_only"]:
            pytest.skip(f"mount namespaces unavailable: {report['confinement']['notes']}")
        result = report["after"]
        assert result["config"] == result["hook"] == result["nested"] == "EROFS"
        assert result["worktree"] == result["read_config"] == "ok"
        if ABI is not None:
            assert result["umount"] == "EPERM" and result["config_after_umount"] == "EROFS"
        assert (workspace / ".git" / "config").read_text() == "[core]\n"
        assert not (workspace / ".git" / "hooks" / "pre-commit").exists()

    def test_settings_directory_is_hidden_and_read_only(self, workspace: Path) -> None:
        settings = workspace / ".jido_code" / "settings.json"
        report = probe(
            workspace,
            before={"read": ["read", str(settings)]},
            after={
                "read": ["read", str(settings)],
                "write": ["write", str(settings)],
                "create": ["write", str(workspace / ".jido_code" / "other.json")],
                "grep": ["run", "grep", "-r", "secret-model", "."],
            },
            exec_names=("grep",),
        )
        if not report["confinement"]["git_read_only"]:
            pytest.skip(f"mount namespaces unavailable: {report['confinement']['notes']}")
        assert report["before"]["read"] == "ok"
        after = report["after"]
        assert after["read"] == "ENOENT"
        assert after["write"] == after["create"] == "EROFS"
        assert after["grep"]["code"] == 1 and after["grep"]["out"] == ""
        assert settings.read_text() == '{"model": "secret-model"}\n'

    def test_unprivileged_worker_uses_a_user_namespace(self) -> None:
        if os.geteuid() != 0:
            pytest.skip("needs root to drop to another user for the test")
        base = Path(tempfile.mkdtemp(prefix="jido-confine-"))
        try:
            base.chmod(0o755)
            root = base / "workspace"
            (root / ".git").mkdir(parents=True)
            for path in (root, root / ".git"):
                os.chown(path, 65534, 65534)
            report = probe(
                root,
                uid=65534,
                after={"config": ["write", str(root / ".git" / "config")], "file": ["write", str(root / "f.txt")]},
            )
        finally:
            shutil.rmtree(base)
        if not report["confinement"]["git_read_only"]:
            pytest.skip(f"unprivileged user namespaces unavailable: {report['confinement']['notes']}")
        assert report["after"] == {"config": "EROFS", "file": "ok"}

    def test_project_without_git_needs_no_namespace(self, tmp_path: Path) -> None:
        report = probe(tmp_path, after={"write": ["write", str(tmp_path / "f")]})
        assert report["confinement"]["git_read_only"] is False
        assert not any("namespace" in note for note in report["confinement"]["notes"])
        assert report["after"]["write"] == "ok"


class TestLimits:
    def test_allocating_past_the_address_space_limit_is_a_memory_error(self, tmp_path: Path) -> None:
        big = 8 << 30
        report = probe(
            tmp_path,
            max_memory=64 << 20,
            before={"alloc": ["alloc", 2 << 30]},
            after={"alloc": ["alloc", big], "small": ["alloc", 16 << 20], "lua": ["lua", 30_000]},
        )
        assert report["before"]["alloc"] == "ok"
        assert report["after"]["alloc"] == "MemoryError"
        assert report["after"]["small"] == "ok"
        assert report["after"]["lua"] == 30_000

    def test_worker_runs_lua_near_its_memory_limit(self, tmp_path: Path) -> None:
        """The margin leaves room for Python, lupa and threads beside a full Lua heap."""
        report = probe(tmp_path, max_memory=256 << 20, after={"threads": ["threads", 8], "lua": ["lua", 150_000]})
        assert report["after"] == {"threads": 8, "lua": 150_000}

    def test_cpu_budget_ends_a_spinning_process(self) -> None:
        code = textwrap.dedent(
            """
            import resource
            from jido_kernel.confine import set_cpu_budget
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            set_cpu_budget(100)
            set_cpu_budget(1)
            soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
            print(soft, hard, flush=True)
            while True:
                pass
            """
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert done.returncode == -signal.SIGXCPU
        soft, hard = map(int, done.stdout.split())
        assert 1 <= soft <= 5
        # Without CAP_SYS_RESOURCE (even as root) the hard limit stays, so later budgets can grow.
        assert hard == (soft + rlimits.CPU_GRACE if rlimits.can_raise_hard_limits() else resource.RLIM_INFINITY)

    def test_cpu_budget_rejects_nonsense(self) -> None:
        with pytest.raises(ValueError, match="positive"):
            confine.set_cpu_budget(0)

    def test_user_task_count_counts_threads_of_the_user(self) -> None:
        if os.geteuid() != 0:
            pytest.skip("needs root to start a process as another user")
        uid = 54321
        assert rlimits.user_task_count(uid) == 0
        code = (
            f"import os, sys, threading; os.setuid({uid}); e = threading.Event(); "
            "[threading.Thread(target=e.wait, daemon=True).start() for _ in range(3)]; "
            "print('ready', flush=True); sys.stdin.read()"
        )
        with subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        ) as child:
            assert child.stdout is not None and child.stdin is not None
            assert child.stdout.readline() == "ready\n"
            assert rlimits.user_task_count(uid) == 4
            child.stdin.close()
        assert rlimits.user_task_count(uid) == 0


class TestConfineProcess:
    def test_refuses_to_run_with_threads(self, tmp_path: Path) -> None:
        report = probe(tmp_path, thread_first=True)
        assert "before the process starts threads" in report["confinement"]["error"]

    def test_to_json_is_plain_data(self) -> None:
        confinement = Confinement(7, True, True, False, ("a note",))
        data = confinement.to_json()
        assert data == {
            "landlock_abi": 7,
            "landlock_enforced": True,
            "network_restricted": True,
            "git_read_only": False,
            "notes": ["a note"],
        }
        assert json.loads(json.dumps(data)) == data

    def test_default_read_only_paths_cover_python(self) -> None:
        paths = confine.default_read_only_paths()
        for path in ("/usr", "/etc", sys.prefix, sys.base_prefix):
            assert path in paths
        assert all(os.path.isabs(p) for p in paths)
        assert "/tmp" not in paths and "/home" not in paths

    def test_default_allowlist_resolves_to_native_executables(self) -> None:
        for name, path in resolve_allowlist(DEFAULT_ALLOWLIST).items():
            assert os.path.isabs(path) and os.access(path, os.X_OK), name
            with open(path, "rb") as f:
                assert f.read(4) == b"\x7fELF", f"{name} is not a native executable"


class TestElf:
    def test_dynamic_binary_names_its_loader(self) -> None:
        ls = shutil.which("ls", path="/usr/bin:/bin")
        assert ls is not None
        loader = elf.program_interpreter(ls)
        assert loader is not None and os.path.isfile(loader)
        ldd = shutil.which("ldd")
        if ldd is not None:
            listed = subprocess.run([ldd, ls], capture_output=True, text=True, check=True).stdout
            assert loader in listed

    def test_scripts_and_junk_have_no_loader(self, tmp_path: Path) -> None:
        script = tmp_path / "script"
        script.write_text("#!/bin/sh\necho hi\n")
        junk = tmp_path / "junk"
        junk.write_bytes(b"\x7fELF" + os.urandom(60))
        assert elf.program_interpreter(str(script)) is None
        assert elf.program_interpreter(str(junk)) is None
        assert elf.program_interpreter(str(tmp_path / "missing")) is None
