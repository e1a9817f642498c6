"""What the worker sets up at start, under hostile use: the command look-up that replaces
``shutil.which``, the allow-list it grants execute rights from, the job pool and futures
that replace :mod:`concurrent.futures`, immutable values (a ``Policy``), lazily built
option tables, and what Lua can reach of them (nothing Python).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jido_kernel.commands.allowlist import SEARCH_PATH, find_command, resolve_allowlist
from jido_kernel.commands.options import OPTION_TABLES
from jido_kernel.lua import LuaSandbox
from jido_kernel.lua.worker.jobs import Future, ThreadPoolExecutor
from jido_kernel.security.policy import SANDBOX

# -- find_command ----------------------------------------------------------------------------


@pytest.fixture
def odd_files(tmp_path: Path) -> Path:
    (tmp_path / "plain").write_text("x")
    (tmp_path / "exe").write_text("#!/bin/true\n")
    (tmp_path / "exe").chmod(0o755)
    (tmp_path / "dir.exe").mkdir(mode=0o755)
    os.symlink("exe", tmp_path / "link_exe")
    os.symlink("dir.exe", tmp_path / "link_dir")
    os.symlink("missing", tmp_path / "broken")
    os.symlink("plain", tmp_path / "link_plain")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "fifo").chmod(0o755)
    return tmp_path


NAMES = ["ls", "true", "", ".", "..", "bin", "usr", "ls/", "ls ", " ls", "LS", "no-such-command", "ls\0", "a" * 5000]


@pytest.mark.parametrize("name", NAMES)
def test_find_command_agrees_with_which_on_odd_names(name: str) -> None:
    try:
        expected = shutil.which(name, path=SEARCH_PATH)
    except ValueError:  # a NUL: which raises where find_command finds nothing
        expected = None
    assert find_command(name) == expected


@pytest.mark.parametrize(
    "name", ["plain", "exe", "dir.exe", "link_exe", "link_dir", "broken", "link_plain", "fifo", "missing"]
)
def test_find_command_agrees_with_which_on_paths(odd_files: Path, name: str) -> None:
    path = str(odd_files / name)
    assert find_command(path) == shutil.which(path)


def test_the_allowlist_grants_no_interpreter_path_or_missing_name() -> None:
    names = ["ls", "sh", "bash", "python3", "python3.11", "lua5.4", "env", "/bin/ls", "../bin/ls", "ls\0", "", "nope"]
    resolved = resolve_allowlist(names)
    assert list(resolved) == ["ls"]
    assert all(os.path.isabs(path) and os.path.realpath(path) == path for path in resolved.values())


# -- the job pool and futures ------------------------------------------------------------------


def test_a_job_that_raises_anything_leaves_the_pool_working() -> None:
    pool = ThreadPoolExecutor(max_workers=2)

    def explode(error: BaseException) -> None:
        raise error

    for error in (KeyboardInterrupt(), SystemExit(3), MemoryError(), ValueError("x")):
        with pytest.raises(type(error)):
            pool.submit(explode, error).result(5)
    assert pool.submit(lambda: 42).result(5) == 42


def test_more_jobs_than_threads_all_run_and_no_more_threads_start() -> None:
    pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="attack-job")
    gate = threading.Event()
    futures = [pool.submit(lambda i=i: gate.wait(5) and i) for i in range(50)]
    time.sleep(0.05)
    assert sum(thread.name.startswith("attack-job") for thread in threading.enumerate()) == 3
    gate.set()
    assert [future.result(5) for future in futures] == list(range(50))


def test_a_future_keeps_its_first_outcome() -> None:
    future = Future()
    with pytest.raises(TimeoutError):
        future.result(0.01)
    future.set_result(1)
    with pytest.raises(RuntimeError):
        future.set_result(2)
    with pytest.raises(RuntimeError):
        future.set_exception(ValueError())
    assert future.result(0) == 1


# -- values, policies, option tables ---------------------------------------------------------


def test_a_policy_cannot_be_changed_or_extended() -> None:
    fields = SANDBOX._values()
    for name in (*SANDBOX._fields, "extra", "__class__"):
        with pytest.raises((AttributeError, TypeError)):
            setattr(SANDBOX, name, False)
        with pytest.raises((AttributeError, TypeError)):
            delattr(SANDBOX, name)
    assert not hasattr(SANDBOX, "__dict__")
    assert SANDBOX._values() == fields and hash(SANDBOX) == hash(fields)


def test_option_tables_of_unknown_or_odd_names_are_none() -> None:
    for name in ("nope", "__class__", "keys", "", "ls\0", "get"):
        assert OPTION_TABLES.get(name) is None
    assert OPTION_TABLES.get("ls") is OPTION_TABLES["ls"]  # built once


# -- from Lua ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lua(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LuaSandbox]:
    sandbox = LuaSandbox(tmp_path_factory.mktemp("start").resolve(), timeout=20)
    yield sandbox
    sandbox.close()


def test_lua_reaches_no_python_object(lua: LuaSandbox) -> None:
    code = """
    local seen, found = {}, {}
    local function walk(value, path)
      if type(value) == 'userdata' or type(value) == 'thread' then found[#found + 1] = path end
      if type(value) ~= 'table' or seen[value] then return end
      seen[value] = true
      for k, v in pairs(value) do walk(v, path .. '.' .. tostring(k)) end
      local mt = getmetatable(value)
      if mt ~= nil then walk(mt, path .. '<mt>') end
    end
    walk(_G, '_G')
    walk(getmetatable(''), 'string<mt>')
    return found, python, debug, package, require, io, dofile, loadfile, string.dump
    """
    assert lua.run(code).values == [[]] + [None] * 8


@pytest.mark.parametrize(
    "probe",
    [
        "jido.read_file.__class__",
        "jido.shell.__globals__",
        "getmetatable(jido.read_file).__index",
        "load('return python')()",
        "os.execute",
        "os.getenv",
        "os.remove",
        "collectgarbage('count') > 0 and nil",
    ],
)
def test_python_internals_are_out_of_reach(lua: LuaSandbox, probe: str) -> None:
    ok, value = ([*lua.run(f"return pcall(function() return {probe} end)").values, None])[:2]
    assert not ok or value is None


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("sh", "{'-c', 'id'}"),
        ("/bin/ls", "nil"),
        ("../../bin/ls", "nil"),
        ("python3.11", "{'-c', '1'}"),
        ("env", "{'ls'}"),
        ("ls\\0", "nil"),
        ("", "nil"),
        ("ls -la", "nil"),
        ("LS", "nil"),
        ("find", "{'/', '-exec', 'id', ';'}"),
        ("git", "{'-c', 'core.pager=id', 'log'}"),
    ],
)
def test_lua_runs_no_unlisted_command(lua: LuaSandbox, command: str, args: str) -> None:
    value, message = ([*lua.run(f"return jido.shell('{command}', {args})").values, None, None])[:2]
    assert value is None and isinstance(message, str) and "\n" not in message
    assert lua.run("return 1").values == [1]
