"""``%%lua`` cells reach the magic as written: IPython's prompt strippers never see them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from IPython.core.inputtransformer2 import TransformerManager

from jido_kernel.magics.lua import keep_lua_source, lua_call, lua_cell_source


class Shell:
    """What keep_lua_source needs of a shell: its cleanup transformers."""

    def __init__(self) -> None:
        self.input_transformer_manager = TransformerManager()
        self.input_transformers_cleanup = self.input_transformer_manager.cleanup_transforms


@pytest.fixture
def shells() -> Iterator[tuple[Shell, TransformerManager]]:
    shell = Shell()
    keep_lua_source(shell)
    yield shell, TransformerManager()


lua_lines = st.lists(
    st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"),
        max_size=20,
    ),
    max_size=6,
)


@given(st.sampled_from(["", " -i a", " --timeout 2 --quiet", " -o x=y"]), lua_lines)
def test_the_magic_call_is_ipythons_when_no_prompt_is_stripped(flags: str, lines: list[str]) -> None:
    ours, ipython = Shell(), TransformerManager()
    keep_lua_source(ours)
    cell = "\n".join([f"%%lua{flags}", *lines])
    body = (cell if cell.endswith("\n") else cell + "\n").split("\n", 1)[1]  # the lines as written
    assert ours.input_transformer_manager.transform_cell(cell) == (
        f"get_ipython().run_cell_magic('lua', {flags.strip()!r}, {body!r})\n"
    )
    prompts = any(line.lstrip().startswith((">>>", "...", "In [", "   ...")) for line in lines)
    blanks = any(line.strip(" \t") == "" and line for line in lines)  # IPython's dedent empties those
    if not prompts and not blanks:
        assert ours.input_transformer_manager.transform_cell(cell) == ipython.transform_cell(cell)


def test_prompts_in_lua_source_are_kept(shells: tuple[Shell, TransformerManager]) -> None:
    ours, ipython = shells
    cell = "%%lua\nreturn [[\n>>> x\n... y\nIn [1]: z\n]]"
    assert "'return [[\\n>>> x\\n... y\\nIn [1]: z\\n]]\\n'" in ours.input_transformer_manager.transform_cell(cell)
    assert ">>> x" not in ipython.transform_cell(cell)  # what IPython alone does to it


@pytest.mark.parametrize("cell", ["%%lua?", "%%luax\nbody", "1 + 1", ">>> 1 + 1", "\n\n%lua 1", "%%bash\n>>> x"])
def test_other_cells_are_ipythons(shells: tuple[Shell, TransformerManager], cell: str) -> None:
    ours, ipython = shells
    assert ours.input_transformer_manager.transform_cell(cell) == ipython.transform_cell(cell)


def test_whitespace_only_lines_in_lua_source_are_kept(shells: tuple[Shell, TransformerManager]) -> None:
    ours, ipython = shells
    cell = "%%lua\nreturn [[\n \t\n  x\n]]"
    assert "'return [[\\n \\t\\n  x\\n]]\\n'" in ours.input_transformer_manager.transform_cell(cell)
    assert "[[\\n\\n  x" in ipython.transform_cell(cell)  # what IPython's dedent alone does to it


def test_blank_lines_before_the_magic_are_dropped_first(shells: tuple[Shell, TransformerManager]) -> None:
    ours, _ = shells
    assert ours.input_transformer_manager.transform_cell("\n\n%%lua\n>>> a") == (
        "get_ipython().run_cell_magic('lua', '', '>>> a\\n')\n"
    )


def test_it_is_taken_out_again(shells: tuple[Shell, TransformerManager]) -> None:
    ours, _ = shells
    keep_lua_source(ours)  # twice: still once
    assert ours.input_transformers_cleanup.count(lua_cell_source) == 1
    keep_lua_source(ours, keep=False)
    assert lua_cell_source not in ours.input_transformers_cleanup


@given(st.sampled_from(["", " ", "\t", " -i a", " --timeout 2 --quiet", "\t-o x=y "]), st.text(), st.booleans())
def test_lua_call_is_what_the_manager_makes(flags: str, body: str, newline: bool) -> None:
    shell = Shell()
    keep_lua_source(shell)
    cell = f"%%lua{flags}" + ("\n" + body if newline or body else "")
    call = lua_call(shell.input_transformer_manager, cell)
    assert call is not None
    assert call == shell.input_transformer_manager.transform_cell(cell)


@pytest.mark.parametrize("cell", ["%%luax\nbody", "%%lua?", " %%lua\nx", "\n%%lua\nx", "%lua 1", "1", ""])
def test_lua_call_leaves_other_cells_to_the_manager(shells: tuple[Shell, TransformerManager], cell: str) -> None:
    ours, _ = shells
    assert lua_call(ours.input_transformer_manager, cell) is None


def test_lua_call_leaves_changed_transformers_to_the_manager(shells: tuple[Shell, TransformerManager]) -> None:
    ours, _ = shells
    manager = ours.input_transformer_manager
    assert lua_call(manager, "%%lua\nx") is not None
    manager.line_transforms.append(lambda lines: lines)
    assert lua_call(manager, "%%lua\nx") is None
    manager.line_transforms.pop()
    keep_lua_source(ours, keep=False)
    assert lua_call(manager, "%%lua\nx") is None
