"""Lua values as text: multi-line strings read as text, and round-trip through real Lua."""

from __future__ import annotations

import lupa.lua54 as lua54
from hypothesis import given
from hypothesis import strategies as st

from jido_kernel.display.lua import MAX_REPR_CHARS, MAX_ROWS, LuaText, display_value, html_table, lua_repr


def test_a_multi_line_string_is_shown_as_text() -> None:
    shown = display_value(["one\ntwo <b>"])
    assert isinstance(shown, LuaText) and shown == "one\ntwo <b>"
    assert '<pre class="jido-lua-text">one\ntwo &lt;b&gt;</pre>' in shown._repr_html_()
    assert display_value(["one line"]) == "one line" and not isinstance(display_value(["x"]), LuaText)


def test_multi_line_text_is_capped() -> None:
    shown = LuaText("x\n" * MAX_REPR_CHARS)
    assert len(shown._repr_html_()) < MAX_REPR_CHARS + 10_000


def test_table_fields_use_long_strings() -> None:
    assert lua_repr({"stdout": "a\nb\n"}) == "{\n  stdout = [[\na\nb\n]],\n}"
    assert lua_repr({"s": "x]]\ny"}) == "{\n  s = [=[\nx]]\ny]=],\n}"
    assert lua_repr({"s": "bell\x07\n"}) == '{s = "bell\\x07\\n"}'


@given(st.text(alphabet=st.sampled_from("ab]=[\n\t -"), max_size=60))
def test_every_rendering_reads_back_in_lua(text: str) -> None:
    runtime = lua54.LuaRuntime()
    assert runtime.execute(f"return ({lua_repr({'s': text})}).s") == text


def test_records_are_judged_by_the_rows_shown() -> None:
    rows: list[object] = [{"id": index, "name": f"r{index}"} for index in range(1, 100_001)]
    rows.append("not a record")
    page = html_table(rows)
    assert ">id</th>" in page and ">name</th>" in page
    assert page.count("<tr>") == MAX_ROWS + 2 and f"… {len(rows) - MAX_ROWS} more" in page
    assert ">id</th>" not in html_table(["not a record", *rows[:3]])


class _Untouchable:
    """A value no rendering may look at."""

    def __repr__(self) -> str:
        raise AssertionError("a row past the ones shown was rendered")

    __str__ = __repr__


def test_a_large_result_renders_only_the_rows_shown() -> None:
    rows: list[dict[str, object]] = [{"id": index, "name": f"r{index}"} for index in range(1, 100_001)]
    rows[50_000] = {"id": _Untouchable(), "name": "x"}
    bundle = display_value([rows])._repr_mimebundle_()
    assert bundle["text/plain"].endswith("--[[ 99000 more ]],\n}")
    assert f"… {len(rows) - MAX_ROWS} more" in bundle["text/html"]
