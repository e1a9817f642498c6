"""Completion of Lua text from the contract tables and from live names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jido_kernel.language.completion import complete, target
from jido_kernel.lua.contract import BRIDGE, IN_SANDBOX, STATE

LIVE = {
    (): {"config": "table", "counter": "number", "parse": "function", "print": "function"},
    ("config",): {"depth": "number", "name": "string", "reload": "function"},
}


def live(path: tuple[str, ...]) -> dict[str, str] | None:
    return LIVE.get(path)


def texts(before: str, names: object = None) -> list[str]:
    return [text for text, _ in complete(before, live if names is None else None)[1]]


@pytest.mark.parametrize(
    ("before", "expected"),
    [
        ("jido.state.up", (("jido", "state"), ".", "up")),
        ("x = s:up", (("s",), ":", "up")),
        ("pri", ((), "", "pri")),
        ("f(a.b.", (("a", "b"), ".", "")),
        ("x = 1.5", ((), "?", "5")),
        ("f().x", ((), "?", "x")),
    ],
)
def test_target(before: str, expected: tuple[tuple[str, ...], str, str]) -> None:
    assert target(before) == expected


def test_jido_members_come_from_the_contract() -> None:
    assert texts("jido.") == sorted([f.short_name for f in (*BRIDGE, *IN_SANDBOX)] + ["state"])
    assert texts("jido.state.") == sorted(f.short_name for f in STATE)
    assert texts("jido.rea") == ["read_file"]


@pytest.mark.parametrize(
    ("before", "expected"),
    [
        ("string.fo", ["format"]),
        ("table.ins", ["insert"]),
        ("math.p", ["pi"]),
        ("utf8.ch", ["char", "charpattern"]),
        ("coroutine.y", ["yield"]),
        ("os.", ["clock", "date", "time"]),
        ("s:up", ["upper"]),
        ("whi", ["while"]),
        ("loc", ["local"]),
    ],
)
def test_library_keywords_and_string_methods(before: str, expected: list[str]) -> None:
    assert texts(before, names=False) == expected


def test_live_globals_and_fields() -> None:
    assert texts("con") == ["config"]
    assert texts("local n = config.") == ["depth", "name", "reload"]
    assert texts("config:") == ["reload"]  # methods of a table: its functions
    assert ("counter", "instance") in complete("cou", live)[1]


def test_no_completion_inside_strings_and_comments() -> None:
    assert complete("print('jido.", live) == ("", [])
    assert complete("x = 1 -- jido.", live) == ("", [])


def test_keyword_kinds() -> None:
    assert ("while", "keyword") in complete("whi")[1]
    assert ("read_file", "function") in complete("jido.re")[1]
    assert ("string", "module") in complete("stri")[1]


@given(st.text(max_size=400))
def test_any_text_completes_without_error(before: str) -> None:
    prefix, matches = complete(before, live)
    assert before.endswith(prefix)
    assert all(text.startswith(prefix) for text, _ in matches)
