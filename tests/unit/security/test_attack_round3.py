"""Attacks on the worker's pinned start, the string-path checks and the ``%%lua`` transform.

- The worker starts as ``python -I -S -c BOOT <package folder> <lupa's folder>``. When
  the package sits in the project root (an editable install), that folder is the root:
  a Lua-written ``lupa/`` or a module that an optional import probes (``msvcrt``,
  ``__builtin__``: missing everywhere else) must never be imported by the next worker.
- The command checks compare real-path strings: every spelling of the root (trailing
  slash, ``/.``, a symlink to it) must refuse what the resolved root refuses, and
  prefix look-alikes (``root`` and ``rootx``) must stay apart.
- A ``%%lua`` cell's transform made without IPython's tokenizer must equal IPython's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from IPython.core.inputtransformer2 import TransformerManager

import jido_kernel
from jido_kernel.commands.allowlist import DEFAULT_ALLOWLIST
from jido_kernel.commands.effects import check_reads, check_writes
from jido_kernel.commands.options import Parsed, ShellError
from jido_kernel.commands.policy import checked
from jido_kernel.lua import LuaSandbox
from jido_kernel.lua.transport import _BOOT, Worker, _import_folders
from jido_kernel.magics.lua import keep_lua_source, lua_call

PACKAGE = os.path.dirname(os.path.abspath(jido_kernel.__file__ or ""))

# Modules Lua plants in a root that holds the package; each would record its import.
PLANTED = ["lupa/__init__.py", "lupa.py", "msvcrt.py", "__builtin__.py", "_hashlib.py", "jido_kernel.py"]

DRIVER = r"""
import json, sys
root, step = sys.argv[1], sys.argv[2]
sys.path.insert(0, root)  # jido_kernel is imported from the root, as an editable install is,
import jido_kernel  # then the root leaves sys.path (as the kernel takes it off)
sys.path.remove(root)
from jido_kernel.lua import LuaSandbox
from jido_kernel.lua.transport import Worker
sandbox = LuaSandbox(root, timeout=20)
try:
    if step == "plant":
        for name, code in json.loads(sys.argv[3]).items():
            result = sandbox.run(f"return jido.write_file({json.dumps(name)}, {json.dumps(code)})")
            assert result.values == [True], (name, result.values)
        print(json.dumps({"folders": list(Worker.command[5:])}))
    else:
        print(json.dumps({"values": sandbox.run("x = 20 return x + 22").values}))
finally:
    sandbox.close()
"""


def _drive(root: Path, *args: str) -> dict[str, list[object]]:
    done = subprocess.run(
        [sys.executable, "-I", "-c", DRIVER, str(root), *args],
        capture_output=True, text=True, timeout=60, cwd="/", check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    answer: dict[str, list[object]] = json.loads(done.stdout.splitlines()[-1])
    return answer


def test_lua_written_modules_in_a_root_holding_the_package_never_run_in_a_worker(tmp_path: Path) -> None:
    """The root holds the package (a symlink to it, as an editable install's root holds
    its folder): modules Lua writes there are not imported by the next worker."""
    root = tmp_path / "project"
    root.mkdir()
    canaries = tmp_path / "canaries"
    canaries.mkdir()
    os.symlink(PACKAGE, root / "jido_kernel")
    planted = {
        name: f"open({str(canaries / name.replace('/', '_'))!r}, 'w').close()\nraise ImportError('planted')\n"
        for name in PLANTED
        if name != "lupa.py"  # lupa/ and lupa.py cannot both be planted; the package wins anyway
    }
    first = _drive(root, "plant", json.dumps(planted))
    assert first["folders"][0] == str(root)  # the root is the package's folder here
    second = _drive(root, "run")  # a fresh worker, started after Lua wrote the modules
    assert second["values"] == [42]
    assert sorted(os.listdir(canaries)) == []


def test_the_boot_takes_the_package_folder_off_the_path(tmp_path: Path) -> None:
    """What the worker's ``sys.path`` is once its start ran: the standard library and
    lupa's folder, never the folder holding the package."""
    probe = _BOOT.replace(
        "import jido_kernel.lua.worker.__main__",
        "import json; print(json.dumps([sys.path, jido_kernel.__file__, list(sys.modules)]))",
    )
    assert probe != _BOOT
    _, *lupa = _import_folders()
    folder = tmp_path / "holder"
    folder.mkdir()
    os.symlink(PACKAGE, folder / "jido_kernel")
    (folder / "msvcrt.py").write_text("raise SystemExit('planted')\n")
    done = subprocess.run(
        [*Worker.command[:4], probe, str(folder), *lupa], capture_output=True, text=True, timeout=30, check=True
    )
    path, init, modules = json.loads(done.stdout)
    assert str(folder) not in path
    assert path[len(path) - len(lupa) :] == lupa  # lupa's folder last, after the standard library
    assert init == str(folder / "jido_kernel" / "__init__.py")
    assert "lupa" not in modules  # nothing but jido_kernel was imported from the folder


def test_the_worker_still_starts_and_confines_itself(tmp_path: Path) -> None:
    sandbox = LuaSandbox(tmp_path, timeout=20)
    try:
        assert sandbox.run("return jido.write_file('a.txt', 'x'), jido.file_exists('a.txt')").values == [True, True]
        assert sandbox.run("return jido.read_file('/etc/hostname')").values[0] is None
    finally:
        sandbox.close()


@pytest.fixture
def venv_root(tmp_path: Path) -> Path:
    """A root that is itself an installed environment (holds ``pyvenv.cfg``)."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (root / "data.txt").write_text("data\n")
    os.symlink(root, tmp_path / "link")
    return root


def _spellings(root: Path) -> list[str]:
    return [str(root), f"{root}/", f"{root}/.", f"{root}//", str(root.parent / "link"), f"{root.parent}/link/"]


@pytest.mark.parametrize(
    ("command", "operands"), [("touch", ["x"]), ("mkdir", ["d"]), ("cp", ["data.txt", "y"]), ("ln", ["data.txt", "z"])]
)
def test_check_writes_refuses_in_an_environment_however_the_root_is_spelled(
    venv_root: Path, command: str, operands: list[str]
) -> None:
    for root in _spellings(venv_root):
        with pytest.raises(ShellError) as refused:
            check_writes(command, Parsed(operands=operands), root)
        assert refused.value.reason == "installed_code", root


def test_check_reads_refuses_a_hard_link_however_the_root_is_spelled(venv_root: Path) -> None:
    os.link(venv_root / "data.txt", venv_root / "twin.txt")
    for root in _spellings(venv_root):
        with pytest.raises(ShellError) as refused:
            check_reads("cat", Parsed(operands=["twin.txt"]), root)
        assert refused.value.reason == "hardlinked_file", root


@pytest.fixture
def twins(tmp_path: Path) -> tuple[Path, Path]:
    """``root`` and a sibling ``rootx`` that its name is a prefix of."""
    root, rootx = tmp_path / "root", tmp_path / "rootx"
    for folder in (root, rootx):
        folder.mkdir()
        (folder / "f.txt").write_text("f\n")
    os.symlink(rootx, root / "out")
    os.symlink("../rootx/f.txt", root / "outfile")
    os.symlink("loop_b", root / "loop_a")
    os.symlink("loop_a", root / "loop_b")
    return root, rootx


def _reason(command: str, args: list[str], root: str) -> str:
    try:
        checked(command, args, root, DEFAULT_ALLOWLIST)
    except ShellError as error:
        return error.reason
    return "ok"


OUTSIDE_ARGS = [
    ("cat", ["{rootx}/f.txt"]),
    ("cat", ["{root}x/f.txt"]),
    ("ls", ["{rootx}"]),
    ("touch", ["{root}x/new"]),
    ("cp", ["f.txt", "{rootx}/g"]),
    ("cp", ["f.txt", "out/g"]),
    ("mv", ["f.txt", "out"]),
    ("ln", ["-s", "f.txt", "out/h"]),
    ("mkdir", ["out/d"]),
    ("rm", ["out/f.txt"]),
    ("cat", ["outfile"]),
    ("touch", ["outfile"]),
    ("cat", ["/etc/passwd"]),
    ("cat", ["//etc/passwd"]),
    ("sort", ["-o", "{rootx}/s", "f.txt"]),
    ("grep", ["-r", "x", "out"]),
    ("cat", ["../rootx/f.txt"]),
]


@pytest.mark.parametrize(("command", "template"), OUTSIDE_ARGS)
def test_prefix_look_alikes_and_escapes_are_refused_for_every_spelling(
    twins: tuple[Path, Path], command: str, template: list[str]
) -> None:
    root, rootx = twins
    args = [arg.format(root=root, rootx=rootx) for arg in template]
    for spelling in [str(root), f"{root}/", f"{root}/.", f"{root}//"]:
        assert _reason(command, args, spelling) != "ok", (args, spelling)


@pytest.mark.parametrize(
    ("command", "template"),
    [("cat", ["{root}/f.txt"]), ("cat", ["{root}//f.txt"]), ("touch", ["{root}/new"]), ("ls", ["{root}"])],
)
def test_absolute_paths_inside_the_root_stay_allowed(
    twins: tuple[Path, Path], command: str, template: list[str]
) -> None:
    root, _ = twins
    args = [arg.format(root=root) for arg in template]
    for spelling in [str(root), f"{root}/", f"{root}/."]:
        assert _reason(command, args, spelling) == "ok", (args, spelling)


def test_symlink_loops_and_undecodable_names_fail_closed(twins: tuple[Path, Path]) -> None:
    root, _ = twins
    for args in (["loop_a"], ["loop_a/x"]):  # touch then fails on the loop itself, inside the root
        assert _reason("touch", args, str(root)) in ("ok", "symlink_escape")
    assert _reason("cp", ["f.txt", "loop_a/x"], str(root)) in ("ok", "symlink_escape")
    weird = os.fsdecode(b"\xff\xfe")
    (root / weird).write_text("w\n")
    assert _reason("cat", [weird], str(root)) in ("ok", "invalid_argument")
    assert _reason("cp", [weird, "out/x"], str(root)) != "ok"


@pytest.fixture
def git_root(tmp_path: Path) -> Iterator[LuaSandbox]:
    root = tmp_path / "repo"
    root.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q"], cwd=root, env=env, check=True)
    (root / "tracked.txt").write_text("t\n")
    os.symlink(root, tmp_path / "alias")
    sandbox = LuaSandbox(f"{tmp_path / 'alias'}/", timeout=20)  # a symlinked, slash-ended spelling
    yield sandbox
    sandbox.close()


def test_lua_shell_through_the_real_worker_with_a_symlinked_root(git_root: LuaSandbox, tmp_path: Path) -> None:
    run = git_root.run
    status = run("local r = jido.shell('git', {'status', '--porcelain'}) return r and r.stdout")
    assert status.values == ["?? tracked.txt\n"]
    assert run("return jido.shell('cat', {'../repo/tracked.txt'})").values[0] is None
    assert run(f"return jido.shell('cat', {{'{tmp_path}/repo/tracked.txt'}})").values[0] is not None
    assert run("return jido.shell('touch', {'.git/hooks/pre-commit'})").values[0] is None
    assert run("return jido.shell('cp', {'tracked.txt', '.git/config'})").values[0] is None
    assert run("return jido.write_file('sub/.git/config', 'x')").values[0] is None
    assert not (tmp_path / "repo" / "sub" / ".git").exists()


class Shell:
    """What :func:`keep_lua_source` needs of a shell: its transformer manager's cleanup list."""

    def __init__(self) -> None:
        self.input_transformer_manager = TransformerManager()
        self.input_transformers_cleanup = self.input_transformer_manager.cleanup_transforms


@pytest.fixture
def manager() -> TransformerManager:
    shell = Shell()
    keep_lua_source(shell)
    return shell.input_transformer_manager


lines = st.lists(st.text(st.characters(exclude_categories=["Cs"]), max_size=12), max_size=4)
first_lines = st.sampled_from(
    [
        "%%lua",
        "%%lua ",
        "%%lua -i a",
        "%%lua\t-o x ",
        "%%lua --timeout 2 --quiet",
        "%%lua ?",
        "%%lua\x0c-i a",
        "%%lua\r",
    ]
)


@settings(max_examples=300, deadline=None)
@given(first_lines, lines, st.sampled_from(["", "\n", "\r\n", "?", "\n?", "\u2028", "\x85"]))
def test_the_lua_call_is_the_managers_transform_for_any_cell(first: str, body: list[str], end: str) -> None:
    shell = Shell()
    keep_lua_source(shell)
    cell = "\n".join([first, *body]) + end
    call = lua_call(shell.input_transformer_manager, cell)
    if cell.startswith("%%lua?"):
        assert call is None  # a help request, not a Lua cell: the manager's
    else:
        assert call == shell.input_transformer_manager.transform_cell(cell)


@pytest.mark.parametrize(
    "cell",
    [
        "%%lua\n  ",
        "%%lua $x\n  ",
        "%%lua\nreturn [[\n \t\n]]\n",
        "%%lua\r\r\n\t  ",
        "%%lua\r\n\x0b#return 1\r\n\t",
        "%%lua\n  indented\n\tmixed\n",
        "%%lua\n \r\n",
        "%%lua\n\n\n",
    ],
)
def test_whitespace_only_lines_are_transformed_as_the_manager_does(manager: TransformerManager, cell: str) -> None:
    """IPython 9 dedents a cell before the ``%%lua`` transform sees it: whitespace-only
    lines become empty, and the call must say so too."""
    assert lua_call(manager, cell) == manager.transform_cell(cell)


@pytest.mark.parametrize("cell", ["%%luax\nx", "%%lua?", " %%lua\nx", "\n%%lua\nx", "%lua 1", "x\n%%lua\ny", ""])
def test_cells_that_are_not_lua_cells_are_left_to_the_manager(manager: TransformerManager, cell: str) -> None:
    assert lua_call(manager, cell) is None


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m.cleanup_transforms.append(lambda lines: lines),
        lambda m: m.line_transforms.insert(0, lambda lines: lines),
        lambda m: m.token_transformers.pop(),
    ],
)
def test_a_changed_manager_is_left_to_itself(
    manager: TransformerManager, change: Callable[[TransformerManager], None]
) -> None:
    change(manager)
    assert lua_call(manager, "%%lua\nreturn 1") is None


def test_a_manager_without_the_lua_source_transform_is_left_to_itself() -> None:
    assert lua_call(TransformerManager(), "%%lua\nreturn [[\n>>> x\n]]") is None
