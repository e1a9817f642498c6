"""``SessionRegistry``: several sessions in one process, jido_code's errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from traitlets.config import Config

from jido_kernel.session import Session, SessionError, SessionRegistry


@pytest.fixture
def roots(tmp_path: Path) -> list[Path]:
    made = []
    for i in range(12):
        root = tmp_path / f"p{i}"
        root.mkdir()
        made.append(root.resolve())
    return made


def reason(call, *args) -> str:
    with pytest.raises(SessionError) as info:
        call(*args)
    return info.value.reason


def test_register_lookup_list_and_unregister(roots: list[Path]) -> None:
    reg = SessionRegistry()
    a, b = Session.new(roots[0], name="a"), Session.new(roots[1], name="b")
    reg.register(a)
    reg.register(b)
    assert reg.list() == [a, b] and len(reg) == 2
    assert reg.lookup(a.id) is a and reg.lookup(a.id.upper()) is a
    assert reg.lookup_by_path(roots[1]) is b
    assert reg.lookup_by_name("a") is a
    assert reg.unregister(a.id) is a
    assert reg.list() == [b]
    assert reason(reg.lookup, a.id) == "session_not_found"


def test_first_session_is_current_and_switch_changes_it(roots: list[Path]) -> None:
    reg = SessionRegistry()
    assert reg.current is None
    a, b = reg.register(Session.new(roots[0])), reg.register(Session.new(roots[1]))
    assert reg.current is a
    reg.switch(b.id)
    assert reg.current is b
    reg.unregister(b.id)
    assert reg.current is a
    reg.unregister(a.id)
    assert reg.current is None


def test_errors(roots: list[Path]) -> None:
    reg = SessionRegistry()
    a = reg.register(Session.new(roots[0]))
    assert reason(reg.register, a) == "session_exists"
    assert reason(reg.register, Session.new(roots[0])) == "project_already_open"
    assert reason(reg.lookup_by_name, "missing") == "session_not_found"
    assert reason(reg.lookup_by_path, roots[5]) == "session_not_found"
    assert reason(reg.unregister, "00000000-0000-0000-0000-000000000000") == "session_not_found"


def test_limit_defaults_to_ten_and_is_configurable(roots: list[Path]) -> None:
    reg = SessionRegistry()
    for root in roots[:10]:
        reg.register(Session.new(root))
    with pytest.raises(SessionError) as info:
        reg.register(Session.new(roots[10]))
    assert info.value.reason == "session_limit_reached"
    assert "10 of 10" in str(info.value) and "%session close" in str(info.value)
    config = Config()
    config.SessionRegistry.max_sessions = 2
    small = SessionRegistry(config=config)
    small.register(Session.new(roots[0]))
    small.register(Session.new(roots[1]))
    assert reason(small.register, Session.new(roots[2])) == "session_limit_reached"


def test_find_by_index_id_name_or_path(roots: list[Path]) -> None:
    reg = SessionRegistry()
    a = reg.register(Session.new(roots[0], name="alpha"))
    b = reg.register(Session.new(roots[1], name="beta"))
    assert reg.find("1") is a and reg.find("2") is b
    assert reg.find(b.id) is b and reg.find("alpha") is a and reg.find(str(roots[1])) is b
    with pytest.raises(SessionError, match="%session list"):
        reg.find("gamma")
