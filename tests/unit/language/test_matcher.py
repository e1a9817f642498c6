"""Lua completion in plain IPython with ``%load_ext jido_kernel`` (IPython's Matcher API v2)."""

from __future__ import annotations

from IPython.core.completer import provisionalcompleter
from IPython.core.interactiveshell import InteractiveShell


def completions(shell: InteractiveShell, text: str) -> list[tuple[str, str, int]]:
    assert shell.Completer is not None
    with provisionalcompleter():
        found = shell.Completer.completions(text, len(text))
        return [(c.text, c.type, c.start) for c in found]


def test_lua_cell_completes_lua_only(shell: InteractiveShell) -> None:
    found = completions(shell, "%%lua\nlocal s = jido.rea")
    assert found == [("read_file", "function", len("%%lua\nlocal s = jido."))]


def test_lua_line_magic_completes(shell: InteractiveShell) -> None:
    texts = [text for text, _, _ in completions(shell, "n = %lua string.fo")]
    assert texts == ["format"]


def test_live_globals_complete(shell: InteractiveShell) -> None:
    shell.run_cell("%%lua\nsettings_table = {depth = 1}")
    assert [t for t, _, _ in completions(shell, "%%lua\nsettings_t")] == ["settings_table"]
    assert [t for t, _, _ in completions(shell, "%%lua\nsettings_table.")] == ["depth"]


def test_python_cells_complete_as_before(shell: InteractiveShell) -> None:
    assert "zip" in [text for text, _, _ in completions(shell, "zi")]
    shell.run_cell("import os")
    assert "path" in [text for text, _, _ in completions(shell, "os.pa")]


def test_help_in_a_lua_cell(shell: InteractiveShell, capsys: object) -> None:
    shell.run_cell("%%lua\njido.read_file?")
    shell.run_cell("%lua help(jido.write_file)")
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "jido.read_file(path [, {offset=, limit=, raw=}])" in out
    assert "jido.write_file(path, content)" in out


def test_no_python_names_in_lua_and_python_again_after(shell: InteractiveShell) -> None:
    assert completions(shell, "%%lua\nzi") == []
    assert "zip" in [text for text, _, _ in completions(shell, "zi")]
    assert completions(shell, "%%lua\nzi") == []


def test_unloading_gives_python_its_matchers_back(shell: InteractiveShell) -> None:
    assert completions(shell, "%%lua\nzi") == []
    shell.run_line_magic("unload_ext", "jido_kernel")
    try:
        assert "zip" in [text for text, _, _ in completions(shell, "%%lua\nzi")]
    finally:
        shell.run_line_magic("load_ext", "jido_kernel")
