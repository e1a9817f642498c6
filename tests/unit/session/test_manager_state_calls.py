"""Every failure of a ``jido.state`` call reaches Lua as ``nil, message`` on one line.

A real session (state with its bounds, manager, worker): wrong argument counts, wrong
types, content above a state bound and replies too large all answer ``nil`` and one
line naming the problem, never a Python object or a traceback, and the run goes on.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jido_kernel.session import Session, SessionRegistry, close_session, open_session, set_registry

MIB = 1024 * 1024


@pytest.fixture
def session(tmp_path: Path, jido_home: Path) -> Iterator[Session]:
    set_registry(SessionRegistry())
    root = tmp_path / "project"
    root.mkdir()
    session = open_session(root.resolve())
    session.manager.run_lua("keep = 'alive'")
    yield session
    close_session(session)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ("jido.state.append_message()", "jido.state.append_message takes (role, content), not 0 arguments"),
        ("jido.state.end_streaming(1, 2)", "jido.state.end_streaming takes (), not 2 arguments"),
        ("jido.state.update_todos({[1] = {}, [true] = {}})", "its keys [1] and [true]"),
        ("jido.state.append_message('user', {1, 2})", ""),
        ("jido.state.update_todos({{content = 42}})", ""),
        ("jido.state.end_streaming()", ""),
        (f"jido.state.append_message('user', string.rep('m', {2 * MIB}))", "StateLimits.max_message_chars"),
        (f"jido.state.add_reasoning_step(string.rep('r\\n', {2 * MIB}))", ""),
    ],
)
def test_failures_are_nil_and_one_line(session: Session, call: str, expected: str) -> None:
    value, message, after = session.manager.run_lua(f"local v, m = {call} after = 'went on' return v, m, after").values
    assert value is None and isinstance(message, str) and after == "went on"
    assert expected in message and "\n" not in message and len(message) <= 2000
    assert "Traceback" not in message and " object at 0x" not in message
    assert session.manager.run_lua("return keep").values == ["alive"]
