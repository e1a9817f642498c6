"""is_complete for Lua text: the tokenizer's answers, and agreement with Lua's own compiler."""

from __future__ import annotations

import lupa.lua54
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jido_kernel.language.completeness import inside_text, is_complete


@pytest.mark.parametrize(
    ("code", "status", "indent"),
    [
        ("x = 1", "complete", ""),
        ("return", "complete", ""),
        ("print('a -- b')", "complete", ""),
        ("while true do end", "complete", ""),
        ("repeat x = 1 until x", "complete", ""),
        ("local s = [==[ ]] ]==]", "complete", ""),
        ("for i = 1, 3 do", "incomplete", "  "),
        ("function f()\n  if x then", "incomplete", "    "),
        ("t = {", "incomplete", "  "),
        ("x =", "incomplete", ""),
        ("x = 1 ..", "incomplete", ""),
        ("s = [[abc", "incomplete", ""),
        ("--[==[ comment", "incomplete", ""),
        ("repeat x = 1", "incomplete", "  "),
        ("end", "invalid", ""),
        ("f())", "invalid", ""),
        ("print('a\nb')", "invalid", ""),
    ],
)
def test_status_and_indent(code: str, status: str, indent: str) -> None:
    assert is_complete(code) == (status, indent)


@pytest.mark.parametrize(
    ("code", "inside"),
    [("x = 'abc", True), ("x = 1 -- note", True), ("--[[ a", True), ("x = '--' .. y", False), ("jido.", False)],
)
def test_inside_text(code: str, inside: bool) -> None:
    assert inside_text(code) is inside


TOKENS = [
    "x", "=", "1", "+", "..", "(", ")", "{", "}", "[", "]", ",", "do", "end", "if", "then", "else", "function",
    "f", "return", "while", "repeat", "until", "local", "'s'", "[[", "]]", "--", "\n", "for", "i", "in", "not",
]  # fmt: skip


def _lua_verdict(code: str) -> str:
    """Lua's own answer: ``ok``, ``eof`` (ends too soon) or ``error``."""
    lua = lupa.lua54.LuaRuntime()
    message = lua.eval("function(code) local fn, m = load(code, '=cell', 't'); return fn and '' or m end")(code)
    if message == "":
        return "ok"
    return "eof" if "<eof>" in message else "error"


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=14).map(" ".join))
def test_agrees_with_lua_where_lua_is_sure(code: str) -> None:
    status, _ = is_complete(code)
    verdict = _lua_verdict(code)
    if verdict == "ok":
        assert status == "complete", code
    if status == "incomplete" and verdict != "eof":
        # only an unfinished chunk may be held back: Lua must agree it ends too soon,
        # or fail before its end for another reason (reported when it runs)
        assert verdict == "error", code


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=2000))
def test_any_text_gets_an_answer(code: str) -> None:
    assert is_complete(code)[0] in ("complete", "incomplete", "invalid")


def test_long_input_is_linear() -> None:
    status, indent = is_complete("do " * 100_000)
    assert status == "incomplete" and len(indent) == 200_000
    assert is_complete("x = '" + "\\'" * 100_000 + "'") == ("complete", "")
