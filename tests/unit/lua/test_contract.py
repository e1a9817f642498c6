"""The declarative ``jido.*`` contract matches what a cell really sees in the sandbox."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from jido_kernel.lua.contract import BRIDGE, IN_SANDBOX, LIBRARY_TABLES, STATE, check_names, markdown_table, members
from jido_kernel.lua.protocol import FUNCTIONS, STATE_OPS
from jido_kernel.lua.sandbox import LuaSandbox


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LuaSandbox]:
    lua = LuaSandbox(tmp_path_factory.mktemp("root"))
    lua.start()
    lua.run("x = 1")  # waits until the worker is ready
    yield lua
    lua.close()


def test_bridge_names_are_the_protocols() -> None:
    check_names("jido.", BRIDGE, FUNCTIONS)
    check_names("jido.state.", STATE, STATE_OPS)
    with pytest.raises(RuntimeError, match="read_file"):
        check_names("jido.", BRIDGE, tuple(name for name in FUNCTIONS if name != "read_file"))


@pytest.mark.parametrize("table", ["", "jido", "jido.state", *LIBRARY_TABLES])
def test_contract_members_are_the_sandboxs(sandbox: LuaSandbox, table: str) -> None:
    path = tuple(table.split(".")) if table else ()
    live = sandbox.names(path, wait=5)
    assert live is not None
    if table == "":
        live.pop("x")
    assert sorted(live) == members(table)


def test_live_names_read_raw_and_never_run_metamethods(sandbox: LuaSandbox) -> None:
    sandbox.run(
        "trap = setmetatable({a = 1}, {__index = function() error('ran') end, __pairs = function() error('ran') end})"
        "\ncalls = 0; setmetatable(_G, {__index = function() calls = calls + 1 end})"
    )
    assert sandbox.names(("trap",), wait=5) == {"a": "number"}
    assert sandbox.names(("trap", "missing"), wait=5) is None
    assert sandbox.run("setmetatable(_G, nil); return calls").values == [0]


def test_live_names_are_bounded(sandbox: LuaSandbox) -> None:
    sandbox.run("big = {}; for i = 1, 100000 do big['k' .. i] = i end")
    names = sandbox.names(("big",), wait=5)
    assert names is not None and 0 < len(names) <= 2000


def test_names_answer_none_while_a_run_holds_the_sandbox(sandbox: LuaSandbox) -> None:
    with sandbox._lock:  # what a running cell holds
        answers: list[object] = []
        thread = threading.Thread(target=lambda: answers.append(sandbox.names((), wait=5)))
        thread.start()
        thread.join(timeout=5)
    assert answers == [None]


def test_readme_table_lists_every_bridge_function() -> None:
    table = markdown_table()
    for function in (*BRIDGE, *IN_SANDBOX, *STATE):
        assert f"`{function.name}(" in table


def test_parameters_give_the_tool_call_argument_names() -> None:
    parameters = {function.short_name: function.parameter_names for function in BRIDGE}
    assert parameters["read_file"] == ("path", "options")
    assert parameters["shell"] == ("command", "args", "options")
    assert parameters["glob"] == ("pattern", "base")
