"""``%session saved``, ``forget KEY``, ``export`` and ``resume`` in an in-process IPython."""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from jido_kernel import current_session
from jido_kernel.persistence import PersistenceError, flush_all, session_file


def test_saved_forget_by_number_and_export(
    shell: InteractiveShell, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = current_session()
    mine.state.append_message("user", "mine")
    flush_all()  # saved before the other session is: the list is newest first
    other_root = tmp_path / "other"
    other_root.mkdir()
    shell.run_line_magic("session", f"new {other_root} --name other")
    current_session().state.append_message("user", "theirs")
    shell.run_line_magic("session", "close other")
    rows = shell.run_line_magic("session", "saved")
    assert [row.name for row in rows] == ["other", mine.name]
    assert [row.counts["message"] for row in rows] == [1, 1]
    with pytest.raises(UsageError, match="is no saved session"):
        shell.run_line_magic("session", "forget nothing-like-it")
    other_id = rows[0].session_id
    shell.run_line_magic("session", "forget 1")
    assert not session_file(other_id).exists()
    assert [row.name for row in shell.run_line_magic("session", "saved")] == [mine.name]
    with pytest.raises(PersistenceError, match="Not a session id"):
        session_file("../../etc/passwd")
    out = tmp_path / "out.json"
    shell.run_line_magic("session", f"export {out} --format json")
    assert '"content": "mine"' in out.read_text()
    with pytest.raises(UsageError, match="--force"):
        shell.run_line_magic("session", f"export {out}")
    shell.run_line_magic("session", f"export {out} --format md --force")
    assert out.read_text().startswith("# Session")
    capsys.readouterr()
    shell.run_line_magic("session", "resume")
    assert "Resumed 0 messages" in capsys.readouterr().out
