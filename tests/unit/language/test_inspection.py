"""Help on Lua names: every contract function has a signature and a doc line."""

from __future__ import annotations

import pytest

from jido_kernel.language.inspection import help_query, inspect_lua, lookup, name_at
from jido_kernel.lua.contract import FUNCTIONS, LIBRARY_TABLES


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_contract_function_has_help(name: str) -> None:
    text = lookup(name)
    assert text is not None
    signature, _, doc = text.partition("\n\n")
    assert signature.startswith(f"{name}(") and doc.strip()


@pytest.mark.parametrize("table", ["jido", "jido.state", *LIBRARY_TABLES])
def test_tables_list_their_fields(table: str) -> None:
    assert "Fields:" in (lookup(table) or "")


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("jido.read_file(", "jido.read_file"),
        ('jido.read_file("a.txt", ', "jido.read_file"),
        ("x = string.format", "string.format"),
        ("s:upper", "string.upper"),
        ('print(jido.glob("*"), ', "print"),
        ("1 + ", ""),
    ],
)
def test_name_at_cursor(code: str, name: str) -> None:
    assert name_at(code, len(code)) == name


def test_name_under_cursor_extends_to_the_word_end() -> None:
    code = "local t = jido.list_dir()"
    assert name_at(code, code.index("list") + 2) == "jido.list_dir"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("help(jido.read_file)", "jido.read_file"),
        ("  jido.read_file?\n", "jido.read_file"),
        ("string.rep??", "string.rep"),
    ],
)
def test_help_queries(text: str, name: str) -> None:
    assert help_query(text) == name


@pytest.mark.parametrize("text", ["x = 1", "help(x) + 1", "print(a?)", "a ? b"])
def test_code_is_not_a_help_query(text: str) -> None:
    assert help_query(text) is None


def test_live_values_show_their_type_and_fields() -> None:
    live = {(): {"config": "table"}, ("config",): {"depth": "number", "name": "string"}}.get
    bundle = inspect_lua("config", 6, live)
    assert bundle == {"text/plain": "config: a Lua table\n\nFields: depth, name"}
    assert inspect_lua("nothing", 7, live) is None
