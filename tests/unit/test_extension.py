"""``%load_ext jido_kernel`` in plain IPython and in the stock python3 kernel."""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell
from kernel_helpers import execute
from kernel_helpers import jido_kernel as start_kernel

import jido_kernel
from jido_kernel.magics import MAGIC_CLASSES

CONTRACT_LINE_MAGICS = {
    "lua",
    "lua_reset",
    "session",
    "project_root",
    "validate_path",
    "read_file",
    "list_dir",
    "settings",
    "state",
    "messages",
    "todos",
    "tool_calls",
    "reasoning",
}
CONTRACT_CELL_MAGICS = {"lua", "write_file"}


def test_load_ext_registers_every_contract_magic(shell: InteractiveShell) -> None:
    magics = shell.magics_manager.magics
    assert set(magics["line"]) >= CONTRACT_LINE_MAGICS
    assert set(magics["cell"]) >= CONTRACT_CELL_MAGICS


def test_load_ext_opens_the_session_on_the_project_root(shell: InteractiveShell, project: Path) -> None:
    assert shell.run_line_magic("project_root", "") == str(project)
    session = jido_kernel.current_session()
    assert session.project_root == project
    assert session.name == project.name


def test_load_ext_twice_is_harmless(shell: InteractiveShell, project: Path) -> None:
    session = jido_kernel.current_session()
    shell.run_line_magic("load_ext", "jido_kernel")
    assert jido_kernel.current_session() is session


def test_magic_classes_are_ipython_magics() -> None:
    from IPython.core.magic import Magics

    assert MAGIC_CLASSES and all(issubclass(c, Magics) for c in MAGIC_CLASSES)


@pytest.mark.kernel
def test_load_ext_in_the_stock_python3_kernel(tmp_path: Path) -> None:
    with start_kernel(tmp_path, kernel_name="python3") as (_, kc):
        loaded = execute(kc, "%load_ext jido_kernel")
        root = execute(kc, "%project_root")
        cells = execute(kc, "sorted(get_ipython().magics_manager.magics['cell'])")
    assert loaded.status == "ok", loaded.error
    assert str(tmp_path.resolve()) in root.result["text/plain"]
    assert "'lua'" in cells.result["text/plain"]
