"""The owner's own tools never run what Lua wrote: the debugger, Python children, errors (real kernel)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from kernel_helpers import execute, failure, jido_kernel

from jido_kernel.commands.allowlist import SEARCH_PATH

GIT = shutil.which("git", path=SEARCH_PATH)
_UNSAFE = re.compile(r"\x1b(?!\[[0-9;]*m)|[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f-\x9f]")
"""Terminal control other than SGR colour, newlines and tabs."""


def _lua(code: str) -> str:
    return "%%lua\n" + code


def _canary_script(canary: Path) -> str:
    return f"open({str(canary)!r}, 'w').write('ran')\n"


def test_lua_cannot_write_a_pdbrc_and_the_debugger_reads_none(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    canary = tmp_path / "pdbrc-ran"
    # A .pdbrc already in the root (from before the name was protected, or the owner's).
    (root / ".pdbrc").write_text(f"import os; {_canary_script(canary).strip()}\n")
    with jido_kernel(root) as (_, kc):
        kc.allow_stdin = False
        failed = execute(kc, "def f():\n    return 1/0\nf()")
        post_mortem = execute(kc, "%debug")
        stopped = execute(kc, "breakpoint()")
        automatic = execute(kc, "%pdb on\nf()")
        wrote = execute(
            kc,
            _lua(
                'for _, name in ipairs({".pdbrc", "sub/.pdbrc"}) do\n'
                '  local ok, err = jido.write_file(name, "x")\n'
                '  print(ok == nil and err:find("configuration") ~= nil)\n'
                "end"
            ),
        )
    assert failed.status == "error"
    assert post_mortem.reply and stopped.reply and automatic.reply
    assert not canary.exists()
    assert wrote.status == "ok", wrote.error
    assert wrote.stdout.split() == ["true", "true"], wrote.stdout
    assert (root / ".pdbrc").read_text().startswith("import os")


def test_python_children_of_the_kernel_never_import_from_the_root(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    canary = tmp_path / "child-ran"
    body = json.dumps(_canary_script(canary))
    lua = "\n".join(
        f"assert(jido.write_file({json.dumps(name)}, {body}))"
        for name in ("pip/__init__.py", "pip/__main__.py", "xmod/__init__.py", "xmod/__main__.py", "json.py")
    )
    with jido_kernel(root) as (_, kc):
        planted = execute(kc, _lua(lua))
        pip = execute(kc, "%pip --version")
        module = execute(kc, "import sys\n!{sys.executable} -m xmod")
        script = execute(kc, "!{sys.executable} -c 'import json'")
        env = execute(kc, "import os; os.environ.get('PYTHONSAFEPATH')")
    assert planted.status == "ok", planted.error
    assert pip.status == "ok" and "pip " in pip.stdout, pip.stdout
    assert "No module named xmod" in module.stdout + module.stderr
    assert script.status == "ok"
    assert env.result == {"text/plain": "'1'"}
    assert not canary.exists()


def test_native_extension_modules_are_never_written_by_lua(tmp_path: Path) -> None:
    import importlib.machinery

    root = tmp_path / "project"
    root.mkdir()
    (root / "mymod.py").write_text("VALUE = 'reviewed'\n")
    (root / "data.bin").write_bytes(b"\x7fELF")
    names = [f"mymod{suffix}" for suffix in importlib.machinery.EXTENSION_SUFFIXES] + ["pkg/other.so", "x.PYD"]
    lua = "\n".join(f"print(jido.write_file({json.dumps(name)}, 'x') == nil)" for name in names)
    lua += '\nprint(jido.shell("cp", {"data.bin", "mymod.abi3.so"}) == nil)'
    lua += '\nprint(jido.shell("mv", {"data.bin", "mymod.so"}) == nil)'
    with jido_kernel(root) as (_, kc):
        run = execute(kc, _lua(lua))
    assert run.status == "ok", run.error
    assert run.stdout.split() == ["true"] * (len(names) + 2), run.stdout
    assert sorted(p.name for p in root.iterdir()) == ["data.bin", "mymod.py"]


@pytest.mark.parametrize(
    "cell",
    [
        'error("E\\27]0;pw\\7\\27[2J\\194\\155" .. "2J\\r\\8 end")',
        'coroutine.wrap(function() error("C\\27]8;;http://x\\7link\\27]8;;\\7\\27[H") end)()',
        'error(setmetatable({}, {__tostring = function() return "T\\27]0;pw\\7\\27c\\27[1;1H" end}))',
    ],
)
def test_lua_error_messages_reach_every_client_terminal_safe(tmp_path: Path, cell: str) -> None:
    root = tmp_path / "project"
    root.mkdir()
    with jido_kernel(root) as (_, kc):
        run = execute(kc, _lua(cell))
    assert run.status == "error"
    texts = [run.reply["content"]["evalue"], *run.reply["content"]["traceback"]]
    for message in run.of_type("error"):
        texts += [message["content"]["evalue"], *message["content"]["traceback"]]
    assert all(not _UNSAFE.search(text) for text in texts), texts


@pytest.mark.skipif(GIT is None, reason="git is not installed")
@pytest.mark.parametrize(
    ("config", "target"),
    [
        (("core.hooksPath", ".husky"), ".husky/pre-commit"),
        (("include.path", "../.gitconfig"), ".gitconfig"),
        (("includeIf.gitdir:/.path", "../conf/extra.inc"), "conf/extra.inc"),
        (("core.attributesFile", "attrs/global"), "attrs/global"),
    ],
)
def test_files_the_repository_config_names_are_read_only_for_lua(
    tmp_path: Path, config: tuple[str, str], target: str
) -> None:
    assert GIT is not None
    root = tmp_path / "project"
    (root / ".husky").mkdir(parents=True)
    (root / ".husky" / "pre-commit").write_text("#!/bin/sh\nexit 0\n")
    (root / "evil.sh").write_text("#!/bin/sh\ntouch pwned\n")
    env = {"PATH": SEARCH_PATH, "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run([GIT, "init", "-q"], cwd=root, check=True, env=env)
    subprocess.run([GIT, "config", *config], cwd=root, check=True, env=env)
    lua = f"""
local ok, err = jido.write_file({json.dumps(target)}, "[core]\\n\\tfsmonitor = ./evil.sh\\n")
print(ok == nil and err:find("configuration") ~= nil)
print(jido.delete_file({json.dumps(target)}) == nil)
print(jido.shell("cp", {{"evil.sh", {json.dumps(target)}}}) == nil)
print(jido.mkdir_p({json.dumps(target + "/x")}) == nil)
"""
    with jido_kernel(root) as (_, kc):
        run = execute(kc, _lua(lua))
        magic = execute(kc, f"%%write_file {target}\n#!/bin/sh\ntouch pwned\n")
    assert run.status == "ok", failure(run) if run.error else None
    assert run.stdout.split() == ["true"] * 4, run.stdout
    assert magic.status == "error" and "configuration" in failure(magic)["evalue"]
    assert not (root / target).exists() or (root / target).read_text().startswith("#!/bin/sh\nexit 0")


def _running(argument: str) -> list[int]:
    """The ids of the ``sleep ARGUMENT`` processes."""
    wanted = f"sleep\0{argument}\0".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes() == wanted:
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _until(condition: Callable[[], object], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.parametrize(
    "cell",
    ['return jido.shell("sleep", {"{arg}"})', 'while true do pcall(jido.shell, "sleep", {"{arg}"}) end'],
)
def test_an_interrupt_kills_the_running_command(tmp_path: Path, cell: str) -> None:
    root = tmp_path / "project"
    root.mkdir()
    argument = f"2{os.getpid() % 1000}.{time.monotonic_ns() % 1000}"  # this test's own sleep
    with jido_kernel(root) as (km, kc):
        msg_id = kc.execute(_lua(cell.replace("{arg}", argument)))
        assert _until(lambda: _running(argument), 20)
        km.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=30)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = kc.get_shell_msg(timeout=30)
        gone = _until(lambda: not _running(argument), 3)
        after = execute(kc, _lua("return 7"))
    assert gone, _running(argument)
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt", reply["content"]
    assert after.status == "ok" and after.result == {"text/plain": "7"}


def test_a_time_limit_reached_in_a_command_ends_the_cell_as_timed_out(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    with jido_kernel(root) as (_, kc):
        run = execute(kc, '%%lua --timeout 1\nreturn jido.shell("sleep", {"7.25"})')
    assert run.status == "error" and failure(run)["ename"] == "LuaTimeoutError", run.reply["content"]
    assert not _running("7.25")


def test_load_ext_in_plain_ipython_guards_children_and_the_debugger(
    project: Path, jido_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from IPython.core.interactiveshell import InteractiveShell

    (project / ".pdbrc").write_text("p 'rc ran'\n")
    monkeypatch.chdir(project)
    monkeypatch.setenv("JIDO_PROJECT_ROOT", str(project))
    monkeypatch.delenv("PYTHONSAFEPATH", raising=False)
    monkeypatch.setattr(sys, "breakpointhook", sys.__breakpointhook__)
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "jido_kernel")
    try:
        debugger = ip.InteractiveTB.debugger_cls()
        assert os.environ.get("PYTHONSAFEPATH") == "1"
        assert debugger.rcLines == []
        assert sys.breakpointhook is not sys.__breakpointhook__
    finally:
        ip.run_line_magic("unload_ext", "jido_kernel")
