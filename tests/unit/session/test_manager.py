"""``SessionManager`` and sessions opened with all their parts (seed §2.1, §2.5)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jido_kernel import settings
from jido_kernel.lua import LuaError, LuaSyntaxError, LuaTimeoutError
from jido_kernel.security import OWNER, FileNotFound, SecurityError
from jido_kernel.session import (
    Session,
    SessionError,
    SessionRegistry,
    close_session,
    current_session,
    lifecycle,
    open_session,
    registry,
    reload_settings,
    set_registry,
)


@pytest.fixture
def fresh_registry(jido_home: Path) -> Iterator[SessionRegistry]:
    reg = SessionRegistry()
    set_registry(reg)
    yield reg
    for session in reg.list():
        close_session(session)


def make_root(tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    root.mkdir()
    return root.resolve()


@pytest.fixture
def session(tmp_path: Path, fresh_registry: SessionRegistry) -> Session:
    return open_session(make_root(tmp_path, "alpha"))


def test_open_session_attaches_manager_state_settings_and_registers(session: Session) -> None:
    assert current_session() is session
    assert registry().lookup(session.id) is session
    assert session.manager.project_root == session.project_root
    assert session.state.session_id == session.id
    assert session.settings.local_path == session.project_root / ".jido_code" / "settings.json"


def test_manager_file_operations_inside_the_root(session: Session) -> None:
    manager = session.manager
    manager.write_file("src/main.lua", "return 1\n")
    assert manager.read_file("src/main.lua") == "return 1\n"
    assert manager.read_file("src/main.lua", numbered=True) == "     1→return 1"
    assert manager.list_dir() == [{"name": "src", "type": "directory"}]
    assert manager.validate_path("src/main.lua") == session.project_root / "src" / "main.lua"
    assert manager.glob("**/*.lua") == ["src/main.lua"]
    assert manager.file_exists("src/main.lua") and manager.is_dir("src") and not manager.is_file("src")
    manager.delete_file("src/main.lua")
    with pytest.raises(FileNotFound, match=r"File not found: src/main\.lua"):
        manager.read_file("src/main.lua")


@pytest.mark.parametrize("path", ["../outside.txt", "/etc/passwd", ".jido_code/settings.json"])
def test_manager_refuses_paths_outside_or_protected(session: Session, path: str) -> None:
    for operation in (session.manager.read_file, session.manager.validate_path):
        with pytest.raises(SecurityError):
            operation(path)
    with pytest.raises(SecurityError):
        session.manager.write_file(path, "x")


def test_owner_policy_reaches_git_but_the_sandbox_only_reads_it(session: Session) -> None:
    (session.project_root / ".git").mkdir()
    session.manager.write_file(".git/description", "mine", policy=OWNER)
    assert session.manager.read_file(".git/description") == "mine"
    with pytest.raises(SecurityError) as refused:
        session.manager.write_file(".git/description", "agent")
    assert refused.value.reason == "read_only_path"


def test_run_lua_keeps_state_and_reports_errors(session: Session) -> None:
    manager = session.manager
    assert manager.run_lua("return 21 + 21").values == [42]
    manager.run_lua("greeting = 'hi'")
    assert manager.run_lua("return greeting").values == ["hi"]
    with pytest.raises(LuaSyntaxError):
        manager.run_lua("return +")
    with pytest.raises(LuaError, match="boom"):
        manager.run_lua("error('boom')")
    assert manager.run_lua("return greeting").values == ["hi"]


def test_run_lua_timeout_really_stops_lua(session: Session) -> None:
    session.manager.run_lua("alive = true")
    with pytest.raises(LuaTimeoutError):
        session.manager.run_lua("while true do end", timeout=0.3)
    assert session.manager.run_lua("return alive").values == [True]


def test_bridge_calls_become_tool_calls_in_the_state(session: Session) -> None:
    session.manager.write_file("a.txt", "one\ntwo\n")
    session.manager.run_lua("jido.read_file('a.txt') jido.read_file('../x')")
    calls = session.state.tool_calls
    assert [c.name for c in calls] == ["read_file", "read_file"]
    assert [c.status for c in calls] == ["completed", "error"]
    assert calls[0].arguments == {"path": "a.txt"} and calls[0].duration_ms is not None
    assert "path escapes project boundary" in (calls[1].result or "")


def test_lua_state_calls_reach_the_session_state(session: Session) -> None:
    ok = session.manager.run_lua(
        "jido.state.append_message('user', 'hello')\n"
        "jido.state.add_reasoning_step('thinking')\n"
        "jido.state.update_todos({{content = 'write tests', status = 'in_progress', activeForm = 'Writing tests'}})\n"
        "jido.state.start_streaming()\n"
        "jido.state.update_streaming('Hel') jido.state.update_streaming('lo')\n"
        "local final = jido.state.end_streaming()\n"
        "return final, jido.state.append_message('nobody', 'x')"
    ).values
    assert ok[0] == "Hello"
    assert ok[1] is None and "role" in ok[2]
    state = session.state
    assert [(m.role, m.content) for m in state.messages] == [("user", "hello"), ("assistant", "Hello")]
    assert [s.content for s in state.reasoning_steps] == ["thinking"]
    assert state.todos[0].active_form == "Writing tests"


def test_settings_limits_apply_and_reload(session: Session) -> None:
    assert session.manager.limits.timeout == 30.0
    settings.set(session.project_root, "lua_timeout", 0.4)
    reload_settings(session)
    assert session.manager.limits.timeout == 0.4 and session.manager.lua.limits is session.manager.limits
    assert session.manager.lua.timeout == 30.0  # the configured value stays what configuration says
    assert session.manager.limits.sources["timeout"] == "local"
    with pytest.raises(LuaTimeoutError):
        session.manager.run_lua("while true do end")


def test_a_cell_timeout_is_the_limit_of_that_run_only(session: Session) -> None:
    """The "flag" source: a per-run timeout really limits the run, and only that run."""
    started = time.monotonic()
    with pytest.raises(LuaTimeoutError):
        session.manager.run_lua("while true do end", timeout=0.3)
    assert time.monotonic() - started < 5
    assert session.manager.limits.timeout == 30.0 and session.manager.limits.sources["timeout"] == "config"
    flagged = session.manager.limits.override(timeout=0.3)
    assert flagged.timeout == 0.3 and flagged.sources["timeout"] == "flag"
    assert session.manager.run_lua("return 1").values == [1]


def test_no_return_ships_no_values(session: Session) -> None:
    assert session.manager.run_lua("t = {} for i = 1, 10 do t[i] = i end return t, 2").values == [list(range(1, 11)), 2]
    assert session.manager.run_lua("return t, 2", want_return=False).values == []


def test_two_sessions_are_isolated(tmp_path: Path, fresh_registry: SessionRegistry) -> None:
    a = open_session(make_root(tmp_path, "a"), name="a")
    b = open_session(make_root(tmp_path, "b"), name="b")
    assert a.project_root != b.project_root
    a.manager.run_lua("who = 'a'")
    b.manager.run_lua("who = 'b'")
    assert a.manager.run_lua("return who").values == ["a"]
    assert b.manager.run_lua("return who").values == ["b"]
    a.manager.write_file("only-a.txt", "a")
    assert not b.manager.file_exists("only-a.txt")
    assert b.manager.run_lua("return jido.read_file('only-a.txt')").values[0] is None
    a.state.append_message("user", "for a")
    with a.state.stream() as stream:
        stream.write("streaming in a")
    assert b.state.messages == () and not b.state.is_streaming
    assert a.manager.lua.pid != b.manager.lua.pid
    with pytest.raises(SecurityError):
        a.manager.validate_path(str(b.project_root / "x"))


def _running(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_closing_a_session_stops_its_worker(session: Session) -> None:
    session.manager.run_lua("return 1")
    pid = session.manager.lua.pid
    assert pid is not None and _running(pid)
    close_session(session)
    with pytest.raises(SessionError):
        registry().lookup(session.id)
    deadline = time.monotonic() + 10
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(pid)


def test_an_invalid_session_leaves_nothing_registered(tmp_path: Path, fresh_registry: SessionRegistry) -> None:
    with pytest.raises(SessionError) as info:
        open_session(make_root(tmp_path, "named"), name="x" * 51)
    assert info.value.reason == "name_too_long"
    assert registry().list() == []


def test_deferred_workers_start_with_start_workers(
    tmp_path: Path, fresh_registry: SessionRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lifecycle, "_workers_deferred", False)
    lifecycle.defer_workers()
    later = open_session(make_root(tmp_path, "later"))
    assert later.manager.lua.pid is None
    lifecycle.start_workers()
    assert later.manager.lua.pid is not None
    now = open_session(make_root(tmp_path, "now"))
    assert now.manager.lua.pid is not None
    assert later.run_lua("return 1").values == [1]


GIT = shutil.which("git")


@pytest.mark.skipif(GIT is None, reason="git is not installed")
def test_untrusted_writes_protect_what_the_repositorys_config_names(session: Session, tmp_path: Path) -> None:
    root = session.project_root
    env = {**os.environ, "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1"}
    for args in (["init", "-q"], ["config", "core.hooksPath", ".husky"]):
        subprocess.run([GIT, *args], cwd=root, env=env, capture_output=True, check=True)
    manager = session.manager
    for write in (
        lambda: manager.write_file(".husky/pre-commit", "#!/bin/sh\n"),
        lambda: manager.mkdir_p(".husky/sub"),
    ):
        with pytest.raises(SecurityError, match="trusted programs read as configuration"):
            write()
    assert not (root / ".husky").exists()
    manager.write_file(".husky/pre-commit", "#!/bin/sh\n", policy=OWNER)  # the owner may
    with pytest.raises(SecurityError, match="trusted programs read as configuration"):
        manager.delete_file(".husky/pre-commit")
    manager.write_file("notes.txt", "fine")
    assert (root / "notes.txt").read_text() == "fine"
