"""Finding the Lua text of a cell: ``%%lua`` cells, ``%lua`` lines, Lua-first cells."""

from __future__ import annotations

from jido_kernel.language.cells import lua_cell_body, lua_text


def test_cell_magic_body() -> None:
    cell = "%%lua -o x\nx = 1\n"
    region = lua_text(cell, len(cell))
    assert region is not None and region.code == "x = 1\n" and region.offset == len("%%lua -o x\n")
    assert lua_cell_body(cell) == "x = 1\n"
    assert lua_text(cell, 3) is None  # on the magic's own line


def test_line_magic_after_python() -> None:
    cell = "import os\nn = %lua #jido.list_dir()"
    region = lua_text(cell, len(cell))
    assert region is not None and region.magic == "line" and region.code == "#jido.list_dir()"
    assert lua_text(cell, 3) is None


def test_python_cells_are_not_lua() -> None:
    for cell in ("x = 1", "%%luax\n", "%%python\nx = 1", "print('%lua')"):
        assert lua_text(cell, len(cell)) is None
        assert lua_cell_body(cell) is None


def test_lua_first_cells() -> None:
    assert lua_text("x = 1", 5, lua_first=True) is not None
    assert lua_text("%%python\nx = 1", 14, lua_first=True) is None
    region = lua_text("%%lua\nx", 7, lua_first=True)
    assert region is not None and region.code == "x"


def test_the_magic_line_alone_is_not_lua() -> None:
    assert lua_text("%%lua", 5) is None  # Shift+Tab on the magic shows its own help
    assert lua_text("%%lua --timeout 2", 17) is None
