"""The tools compatibility layer: global ``ToolsManager`` and handler helpers (seed §2.4)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from traitlets.config import Config

from jido_kernel.security import SecurityError
from jido_kernel.session import Session, SessionError, SessionRegistry, close_session, open_session, set_registry
from jido_kernel.tools import ToolsManager, get_project_root, tools_manager, validate_path
from jido_kernel.tools import manager as tools_module


@pytest.fixture
def session(tmp_path: Path, jido_home: Path) -> Iterator[Session]:
    set_registry(SessionRegistry())
    root = tmp_path / "session-root"
    root.mkdir()
    opened = open_session(root.resolve())
    yield opened
    close_session(opened)


@pytest.fixture
def global_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "global-root"
    root.mkdir()
    monkeypatch.chdir(root)
    monkeypatch.setattr(tools_module, "_instance", None)
    return root.resolve()


def test_with_session_id_every_call_delegates_to_the_session(session: Session, global_root: Path) -> None:
    tools = tools_manager()
    sid = session.id
    assert tools.project_root(session_id=sid) == session.project_root
    tools.write_file("a.txt", "hello\n", session_id=sid)
    assert (session.project_root / "a.txt").read_text() == "hello\n"
    assert not (global_root / "a.txt").exists()
    assert tools.read_file("a.txt", session_id=sid) == "     1→hello"
    assert tools.read_file("a.txt", session_id=sid, offset=2, limit=1) == ""
    assert tools.list_dir(".", session_id=sid) == [{"name": "a.txt", "type": "file"}]
    assert tools.validate_path("a.txt", session_id=sid) == session.project_root / "a.txt"


def test_delegated_calls_are_recorded_in_the_session_state(session: Session, global_root: Path) -> None:
    tools = tools_manager()
    tools.validate_path("ok.txt", session_id=session.id)
    with pytest.raises(SecurityError):
        tools.validate_path("../escape", session_id=session.id)
    calls = session.state.tool_calls
    assert [(c.name, c.status) for c in calls] == [("validate_path", "completed"), ("validate_path", "error")]
    assert calls[0].result == str(session.project_root / "ok.txt")
    assert "escapes project boundary" in (calls[1].result or "")
    assert all(c.duration_ms is not None for c in calls)


def test_without_session_id_the_global_root_is_used_with_a_deprecation(global_root: Path) -> None:
    tools = tools_manager()
    with pytest.warns(DeprecationWarning, match="session_id"):
        assert tools.project_root() == global_root
    with pytest.warns(DeprecationWarning, match=r"ToolsManager.write_file called without session_id"):
        tools.write_file("g.txt", "global")
    with pytest.warns(DeprecationWarning):
        assert tools.list_dir() == [{"name": "g.txt", "type": "file"}]
    with pytest.warns(DeprecationWarning), pytest.raises(SecurityError):
        tools.read_file("../secret")


def test_the_warning_is_suppressible_by_config(global_root: Path, recwarn: pytest.WarningsRecorder) -> None:
    config = Config()
    config.ToolsManager.suppress_global_warnings = True
    tools = ToolsManager(config=config)
    tools.write_file("quiet.txt", "x")
    assert tools.file_exists("quiet.txt") and tools.is_file("quiet.txt") and not tools.is_dir("quiet.txt")
    tools.mkdir_p("d/e")
    assert tools.file_stat("d")["type"] == "directory"
    tools.delete_file("quiet.txt")
    assert not recwarn.list


def test_global_root_is_configurable(tmp_path: Path, global_root: Path) -> None:
    other = tmp_path / "configured"
    other.mkdir()
    config = Config()
    config.ToolsManager.root = str(other)
    config.ToolsManager.suppress_global_warnings = True
    assert ToolsManager(config=config).project_root() == other.resolve()


def test_global_shell_runs_allow_listed_commands_in_the_global_root(global_root: Path) -> None:
    with pytest.warns(DeprecationWarning):
        result = tools_manager().shell("pwd")
    assert result.exit_code == 0 and result.stdout.strip() == str(global_root)


def test_execute_runs_lua_without_keeping_state(global_root: Path) -> None:
    config = Config()
    config.ToolsManager.suppress_global_warnings = True
    tools = ToolsManager(config=config)
    try:
        assert tools.execute("kept = 1 return args.a + args.b", {"a": 40, "b": 2}) == 42
        assert tools.execute("return kept") is None
        assert tools.execute("return 1, 'two', {3}") == [1, "two", [3]]
        assert tools.execute("return jido.file_exists('.')") is True
        for restricted in ("os.execute", "io", "loadfile", "dofile", "require", "package", "os.exit"):
            assert tools.execute(f"return {restricted}") is None
    finally:
        tools.close()


def test_unknown_session_is_not_found(session: Session, global_root: Path) -> None:
    with pytest.raises(SessionError) as info:
        tools_manager().read_file("a.txt", session_id="00000000-0000-4000-8000-000000000000")
    assert info.value.reason == "session_not_found"


# -- handler helpers -------------------------------------------------------------------


def test_helpers_prefer_the_session_id(session: Session, global_root: Path, tmp_path: Path) -> None:
    context = {"session_id": session.id, "project_root": str(tmp_path)}
    assert get_project_root(context) == session.project_root
    assert validate_path("x.txt", context) == session.project_root / "x.txt"


def test_session_id_is_case_insensitive(session: Session, global_root: Path) -> None:
    assert get_project_root({"session_id": session.id.upper()}) == session.project_root


@pytest.mark.parametrize("bad", ["invalid", "", "1234", 42])
def test_malformed_session_ids_are_refused(session: Session, bad: object) -> None:
    with pytest.raises(SessionError) as info:
        get_project_root({"session_id": bad})
    assert info.value.reason == "invalid_session_id"
    assert "Invalid session ID format (expected UUID)" in str(info.value)


def test_unknown_uuid_is_not_found(session: Session) -> None:
    with pytest.raises(SessionError) as info:
        validate_path("a", {"session_id": "00000000-0000-4000-8000-000000000000"})
    assert info.value.reason == "session_not_found"


def test_project_root_in_the_context_is_used_directly(tmp_path: Path, global_root: Path) -> None:
    root = (tmp_path / "ctx").resolve()
    root.mkdir()
    assert get_project_root({"project_root": str(root)}) == root
    assert validate_path("f", {"project_root": str(root)}) == root / "f"
    with pytest.raises(SecurityError):
        validate_path("../f", {"project_root": str(root)})


def test_fallback_to_the_global_manager_warns(global_root: Path) -> None:
    with pytest.warns(DeprecationWarning, match="falling back to the global ToolsManager"):
        assert get_project_root({}) == global_root
    with pytest.warns(DeprecationWarning):
        assert validate_path("y", {}) == global_root / "y"


def test_require_session_context(global_root: Path) -> None:
    tools_manager().require_session_context = True
    with pytest.raises(SessionError) as info:
        get_project_root({})
    assert info.value.reason == "session_context_required"
    assert str(info.value) == "Session context required (session_id or project_root must be provided)"


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_global_writes_protect_what_the_repositorys_config_names(global_root: Path, tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path), "GIT_CONFIG_NOSYSTEM": "1"}
    for args in (["init", "-q"], ["config", "core.hooksPath", "hooks"]):
        subprocess.run(["git", *args], cwd=global_root, env=env, capture_output=True, check=True)
    tools = tools_manager()
    for write in (lambda: tools.write_file("hooks/pre-commit", "x"), lambda: tools.mkdir_p("hooks/d")):
        with pytest.warns(DeprecationWarning), pytest.raises(SecurityError, match="read as configuration"):
            write()
    assert not (global_root / "hooks").exists()
