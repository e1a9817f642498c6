"""``%%lua`` through a real ``jido`` kernel over the Jupyter protocol."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager
from kernel_helpers import Execution, execute, interrupt_when_started, jido_kernel

pytestmark = pytest.mark.kernel

BACKTRACK = "string.find(('a?'):rep(50) .. ('a'):rep(50), ('a?'):rep(50) .. ('a'):rep(50))"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KernelManager, BlockingKernelClient, Path]]:
    root = tmp_path_factory.mktemp("lua-kernel-project").resolve()
    with jido_kernel(root) as (km, kc):
        yield km, kc, root


def run(kernel: tuple[KernelManager, BlockingKernelClient, Path], code: str) -> Execution:
    return execute(kernel[1], code)


def test_prints_stream_and_tables_render(kernel: Any) -> None:
    done = run(kernel, "%%lua\nfor i = 1, 3 do print('line', i) end\nreturn {name = 'jido', n = 3}")
    assert done.status == "ok", done.error
    assert done.stdout == "line\t1\nline\t2\nline\t3\n"
    assert done.result is not None
    assert "<table" in done.result["text/html"] and "jido" in done.result["text/html"]
    assert 'name = "jido"' in done.result["text/plain"]


def test_globals_persist_between_cells(kernel: Any) -> None:
    assert run(kernel, "%%lua\ncounter = (counter or 0) + 1").status == "ok"
    assert run(kernel, "%lua counter + 1").result["text/plain"] == "2"


def test_input_and_output_variables(kernel: Any) -> None:
    run(kernel, "numbers = [1, 2, 3.5]\nconfig = {'scale': 2}")
    done = run(
        kernel,
        "%%lua -i numbers -i config=cfg -o total -o doubled=py_doubled\n"
        "total = 0\ndoubled = {}\n"
        "for i, n in ipairs(numbers) do total = total + n * cfg.scale; doubled[i] = n * 2 end",
    )
    assert done.status == "ok", done.error
    check = run(kernel, "total, py_doubled")
    assert check.result["text/plain"] == "(13.0, [2, 4, 7.0])"


def test_missing_input_variable_is_a_usage_error(kernel: Any) -> None:
    done = run(kernel, "%%lua -i no_such_variable\nreturn 1")
    assert done.status == "error" and done.error["ename"] == "UsageError"
    assert "no_such_variable" in done.error["evalue"]


def test_lua_errors_are_one_line_with_the_cell_and_line(kernel: Any) -> None:
    done = run(kernel, "%%lua\nlocal t = nil\nreturn t.field")
    assert done.status == "error"
    assert done.error["ename"] == "LuaError"
    count = done.reply["content"]["execution_count"]
    assert done.error["evalue"].startswith(f"<cell {count}>:3: attempt to index")
    assert len(done.error["traceback"]) == 1


def test_syntax_errors_point_at_the_line(kernel: Any) -> None:
    done = run(kernel, "%%lua\nlocal ok = 1\nlocal = 2")
    assert done.error["ename"] == "LuaSyntaxError"
    assert ":3:" in done.error["evalue"] and len(done.error["traceback"]) == 1


def test_the_time_limit_stops_lua_and_keeps_the_state(kernel: Any) -> None:
    run(kernel, "%lua survivor = 'still here'")
    started = time.monotonic()
    done = run(kernel, "%%lua --timeout 0.5\nwhile true do pcall(function() while true do end end) end")
    assert done.error["ename"] == "LuaTimeoutError"
    assert time.monotonic() - started < 10
    assert run(kernel, "%lua survivor").result["text/plain"] == "'still here'"


def test_bridge_refusals_are_values_not_exceptions(kernel: Any) -> None:
    done = run(kernel, "%%lua\nreturn jido.read_file('../outside.txt')")
    assert done.status == "ok"
    assert done.result["text/plain"] == 'nil, "Security error: path escapes project boundary: ../outside.txt"'


def test_a_cells_tool_calls_show_live_in_its_output(kernel: Any) -> None:
    assert run(kernel, "%%write_file notes/a.txt\nhello").status == "ok"
    done = run(kernel, "%%lua\nlocal text = jido.read_file('notes/a.txt')\njido.list_dir('notes')\nreturn #text")
    assert done.status == "ok", done.error
    assert list(done.displays().values()) == [{"text/plain": ""}], "one live view, emptied at the end"
    finals = [m["content"]["data"] for m in done.of_type("display_data") if not m["content"].get("transient")]
    assert len(finals) == 1, "the cell's tool calls end as one output of their own"
    shown = finals[0]["text/plain"]
    assert "read_file" in shown and "list_dir" in shown and "completed" in shown
    assert not run(kernel, "%%lua\nreturn 1 + 1").displays(), "no view when no tool was called"


def test_lua_reset_forgets_globals(kernel: Any) -> None:
    run(kernel, "%lua forgotten = 1")
    assert "reset" in run(kernel, "%lua_reset").stdout
    assert run(kernel, "%lua forgotten").result is None or run(kernel, "%lua forgotten").result["text/plain"] == "None"


def test_help_comes_from_the_docstring(kernel: Any) -> None:
    kc = kernel[1]
    kc.inspect("%%lua", 5)
    reply = kc.get_shell_msg(timeout=30)["content"]
    assert reply["found"] and "-i VAR[=LUANAME]" in reply["data"]["text/plain"]


def test_kernel_interrupt_stops_a_loop_and_keeps_the_state(kernel: Any) -> None:
    km, kc, _ = kernel
    run(kernel, "%lua kept = 42")
    reply, delay = interrupt_when_started(
        km,
        kc,
        "%%lua\nprint('started')\nwhile true do local ok = pcall(function() while true do end end) end",
        idle=True,  # else the next request may arrive in time to be aborted with this one
    )
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt"
    assert "intact" in reply["evalue"] and len(reply["traceback"]) == 1
    assert delay < 5
    assert run(kernel, "%lua kept").result["text/plain"] == "42"


def test_kernel_interrupt_of_a_long_c_call_resets_the_state(kernel: Any) -> None:
    km, kc, _ = kernel
    run(kernel, "%lua lost = true")
    reply, delay = interrupt_when_started(km, kc, f"%%lua\nprint('started')\nreturn {BACKTRACK}", idle=True)
    assert reply["ename"] == "KeyboardInterrupt"
    assert "reset" in reply["evalue"]
    assert delay < 2 + 5  # the grace period, then the kill
    after = run(kernel, "%lua lost")
    assert after.status == "ok" and (after.result is None or after.result["text/plain"] == "None")
    assert run(kernel, "%lua 6 * 7").result["text/plain"] == "42"


def test_lua_source_reaches_lua_as_written(kernel: Any) -> None:
    # IPython strips '>>> ' and 'In [1]: ' prompts from pasted cells; a Lua cell keeps them.
    done = run(kernel, "%%lua\nreturn [[\n>>> x = 1\n... y\nIn [1]: z\n]]")
    assert done.status == "ok", done.error
    assert done.result["text/plain"] == ">>> x = 1\n... y\nIn [1]: z\n"
    # and IPython's dedent empties whitespace-only lines; a Lua cell keeps their spaces.
    spaced = run(kernel, "%%lua\nreturn #[[\n \t\n  \n]]")
    assert spaced.status == "ok", spaced.error
    assert spaced.result["text/plain"] == "6"
