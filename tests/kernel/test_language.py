"""Lua in ``%%lua`` cells and ``%lua`` lines of the ``jido`` kernel, over the protocol:
complete_request, inspect_request, is_complete_request, and the Lua frames of an error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from kernel_helpers import execute, failure
from kernel_helpers import jido_kernel as start_jido

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def kc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BlockingKernelClient]:
    root: Path = tmp_path_factory.mktemp("language")
    with start_jido(root) as (_, client):
        run = execute(client, "%%lua\nconfig = {depth = 2, name = 'x', reload = function() end}")
        assert run.status == "ok", run.error
        yield client


def complete(kc: BlockingKernelClient, code: str, cursor: int | None = None) -> dict[str, Any]:
    kc.complete(code, len(code) if cursor is None else cursor)
    return kc.get_shell_msg(timeout=30)["content"]  # type: ignore[no-any-return]


def inspect(kc: BlockingKernelClient, code: str) -> dict[str, Any]:
    kc.inspect(code, len(code))
    return kc.get_shell_msg(timeout=30)["content"]  # type: ignore[no-any-return]


def is_complete(kc: BlockingKernelClient, code: str) -> dict[str, Any]:
    kc.is_complete(code)
    return kc.get_shell_msg(timeout=30)["content"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("code", "matches"),
    [
        ("%%lua\nlocal text = jido.rea", ["read_file"]),
        ("%%lua\njido.state.end", ["end_streaming"]),
        ("%%lua\nstring.fo", ["format"]),
        ("%%lua\nlocal s = 'x'\nreturn s:up", ["upper"]),
        ("%%lua\nwhi", ["while"]),
        ("%%lua\ncon", ["config"]),
        ("%%lua\nconfig.", ["depth", "name", "reload"]),
        ("n = %lua #jido.list", ["list_dir"]),
        ("%%lua\nprint('jido.", []),
    ],
)
def test_completion_in_lua(kc: BlockingKernelClient, code: str, matches: list[str]) -> None:
    reply = complete(kc, code)
    assert reply["status"] == "ok"
    assert reply["matches"] == matches
    if matches:
        start = reply["cursor_start"]
        assert code[start : reply["cursor_end"]] == code[start:]
        assert matches[0].startswith(code[start:])


def test_completion_reply_carries_types(kc: BlockingKernelClient) -> None:
    reply = complete(kc, "%%lua\njido.rea")
    (entry,) = reply["metadata"]["_jupyter_types_experimental"]
    assert entry == {"start": 11, "end": 14, "text": "read_file", "type": "function", "signature": ""}


def test_python_cells_complete_as_before(kc: BlockingKernelClient) -> None:
    assert "zip" in complete(kc, "zi")["matches"]
    execute(kc, "import os")
    assert "os.path" in complete(kc, "os.pa")["matches"] or "path" in complete(kc, "os.pa")["matches"]


def test_inspect_a_bridge_function(kc: BlockingKernelClient) -> None:
    reply = inspect(kc, '%%lua\nlocal t = jido.read_file("a.txt", ')
    assert reply["found"] is True
    text = reply["data"]["text/plain"]
    assert text.startswith("jido.read_file(path [, {offset=, limit=, raw=}]) -> text or nil, message")


def test_inspect_a_library_function_and_a_live_table(kc: BlockingKernelClient) -> None:
    assert inspect(kc, "%%lua\ntable.concat(")["data"]["text/plain"].startswith("table.concat(t [, sep")
    assert inspect(kc, "%%lua\nconfig")["data"]["text/plain"].startswith("config: a Lua table")
    assert inspect(kc, "%%lua\nnothing_here")["found"] is False


def test_inspect_python_as_before(kc: BlockingKernelClient) -> None:
    reply = inspect(kc, "zip")
    assert reply["found"] is True and "zip" in reply["data"]["text/plain"]


def test_help_in_cells(kc: BlockingKernelClient) -> None:
    assert "jido.glob(pattern [, base])" in execute(kc, "%%lua\njido.glob?").stdout
    assert "string.rep(s, n [, sep])" in execute(kc, "%lua help(string.rep)").stdout


@pytest.mark.parametrize(
    ("code", "reply"),
    [
        ("%%lua\nfor i = 1, 3 do", {"status": "incomplete", "indent": "  "}),
        ("%%lua\nlocal t = {\n  a = 1,", {"status": "incomplete", "indent": "  "}),
        ("%%lua\nx = [[long", {"status": "incomplete", "indent": ""}),
        ("%%lua\n", {"status": "incomplete", "indent": ""}),
        ("%%lua\nfor i = 1, 3 do print(i) end", {"status": "complete"}),
        ("%%lua\nend", {"status": "invalid"}),
        ("%lua x +", {"status": "incomplete", "indent": ""}),
        ("%lua 1 + 2", {"status": "complete"}),
        ("def f():", {"status": "incomplete", "indent": "    "}),
    ],
)
def test_is_complete(kc: BlockingKernelClient, code: str, reply: dict[str, str]) -> None:
    assert is_complete(kc, code) == reply


def test_error_shows_the_lua_frames_by_default(kc: BlockingKernelClient) -> None:
    code = "%%lua\nlocal function parse(s)\n  error('bad ' .. s)\nend\nlocal function run() parse('x') end\nrun()"
    error = failure(execute(kc, code))
    assert error["ename"] == "LuaError"
    assert "bad x" in error["traceback"][0]
    assert not any("jido sandbox" in line or ".py" in line for line in error["traceback"])
    frames = [line.strip() for line in error["traceback"][1:] if line.strip().startswith("<cell")]
    assert [frame.split(": in ")[1] for frame in frames] == ["function 'parse'", "function 'run'", "main chunk"]
    short = failure(execute(kc, code.replace("%%lua", "%%lua --no-traceback", 1)))
    assert len(short["traceback"]) == 1
