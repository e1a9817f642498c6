"""The notebook's session in a real ``jido`` kernel: where it comes from, restarts,
several sessions in one kernel."""

from __future__ import annotations

from pathlib import Path

import pytest
from kernel_helpers import execute, jido_kernel

pytestmark = pytest.mark.kernel


def test_notebook_directory_is_the_root_and_a_restart_reopens_the_same_session(tmp_path: Path) -> None:
    notebook_dir = (tmp_path / "analysis").resolve()
    notebook_dir.mkdir()
    env = {"JPY_SESSION_NAME": str(notebook_dir / "Experiment 1.ipynb")}
    with jido_kernel(tmp_path, env=env) as (km, kc):
        root = execute(kc, "%project_root")
        first = execute(kc, "import jido_kernel\ns = jido_kernel.current_session()\n(s.id, s.name)")
        km.restart_kernel(now=True)
        kc.wait_for_ready(timeout=60)
        again = execute(kc, "import jido_kernel\ns = jido_kernel.current_session()\n(s.id, s.name)")
    assert root.result["text/plain"] == repr(str(notebook_dir))
    assert first.result == again.result
    assert "'Experiment 1'" in first.result["text/plain"]


def test_session_magics_manage_several_sessions(tmp_path: Path) -> None:
    main, other = (tmp_path / "main").resolve(), (tmp_path / "other").resolve()
    main.mkdir()
    other.mkdir()
    with jido_kernel(main) as (_, kc):
        shown = execute(kc, "%session")
        opened = execute(kc, f"%session new {other} --name side")
        listed = execute(kc, "%session list")
        lua_other = execute(kc, "%lua jido.write_file('where.txt', 'other') return 1")
        switched = execute(kc, "%session switch main")
        root = execute(kc, "%project_root")
        duplicate = execute(kc, f"%session new {other}")
        renamed = execute(kc, "%session rename primary")
        closed = execute(kc, "%session close side")
        missing = execute(kc, "%session switch side")
    assert shown.status == "ok" and str(main) in shown.result["text/plain"]
    assert "now current" in opened.stdout
    assert "side" in listed.result["text/plain"] and "main" in listed.result["text/plain"]
    assert lua_other.status == "ok" and (other / "where.txt").read_text() == "other"
    assert not (main / "where.txt").exists()
    assert switched.status == "ok" and root.result["text/plain"] == repr(str(main))
    assert duplicate.error["ename"] == "SessionError" and "already open" in duplicate.error["evalue"]
    assert len(duplicate.error["traceback"]) == 1
    assert "renamed to 'primary'" in renamed.stdout
    assert "Closed session 'side'" in closed.stdout
    assert missing.error["ename"] == "SessionError" and len(missing.error["traceback"]) == 1


def test_expected_errors_are_one_line_and_the_session_survives(tmp_path: Path) -> None:
    with jido_kernel(tmp_path) as (_, kc):
        refused = execute(kc, "%read_file ../../etc/passwd")
        missing = execute(kc, "%read_file nowhere.txt")
        bad_flag = execute(kc, "%list_dir --no-such-flag")
        still = execute(kc, "%project_root")
    assert refused.error["ename"] == "SecurityError"
    assert refused.error["evalue"] == "Security error: path escapes project boundary: ../../etc/passwd"
    assert missing.error["ename"] == "FileNotFound" and missing.error["evalue"] == "File not found: nowhere.txt"
    assert bad_flag.error["ename"] == "UsageError"
    for failed in (refused, missing):
        assert len(failed.error["traceback"]) == 1
    assert still.status == "ok"
