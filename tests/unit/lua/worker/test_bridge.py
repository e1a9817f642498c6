"""The ``jido`` bridge: every function, its answers and messages, tool-call records and
state calls — real Lua, the real security library and shell runner, real files."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lupa.lua54 import LuaRuntime

from jido_kernel.lua.limits import SandboxLimits
from jido_kernel.lua.protocol import MAX_ARGUMENTS, TOOL_CALL_FIELDS
from jido_kernel.lua.worker import bridge as bridge_module
from jido_kernel.lua.worker.bridge import FUNCTIONS, OPTION_NAMES, STATE_OPS, Bridge
from jido_kernel.lua.worker.lupa_data import from_lua, text
from jido_kernel.lua.worker.runtime import Callbacks, RunError, SandboxRuntime
from jido_kernel.lua.worker.stopper import Limiter

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def limiter() -> Limiter:
    limiter = Limiter()
    threading.Thread(target=limiter.watch, daemon=True).start()
    return limiter


class Bridged:
    """A Lua state wired to a real Bridge; ``kernel`` answers state calls (or not)."""

    def __init__(self, root: Path, limiter: Limiter) -> None:
        self.sent: list[dict[str, Any]] = []
        self.kernel: Callable[[str, list[Any]], tuple[bool, Any]] | None = lambda op, args: (True, True)
        self.bridge = Bridge(root, limiter, self._send, SandboxLimits(), calls=self)
        self.read_by_prelude: list[bool] = []  # per call: its options table came as a dict
        callbacks = Callbacks(
            emit=lambda data: None,
            bridge=self._call,
            state=self.bridge.state,
            bridge_names=FUNCTIONS,
            state_names=STATE_OPS,
            option_names=OPTION_NAMES,
        )
        self.runtime = SandboxRuntime(callbacks, limiter, max_memory=64 * MIB)

    def _call(self, name: str, args: tuple[Any, ...]) -> tuple[Any, str | None]:
        self.read_by_prelude.append(type(args[1:2] and args[1]) is dict)
        return self.bridge.call(name, args)

    def start(self, run_id: int, row: tuple[Any, ...]) -> None:
        self.sent.append({"type": "tool_call", "id": run_id, "call": dict(zip(TOOL_CALL_FIELDS, row, strict=True))})

    def finish(self, run_id: int, row: tuple[Any, ...]) -> None:
        self.start(run_id, row)

    def _send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        if message["type"] == "state_call" and self.kernel is not None:
            ok, value = self.kernel(message["op"], message["args"])
            reply = {"id": message["call_id"], "ok": ok, "value": value if ok else None, "error": None if ok else value}
            self.bridge.deliver(reply)

    def values(self, code: str, timeout: float = 20.0) -> list[Any]:
        outcome = self.runtime.run(code, "<cell 1>", timeout=timeout, want_return=True)
        assert outcome.error is None, outcome.error
        return outcome.values

    def error(self, code: str, timeout: float) -> RunError:
        outcome = self.runtime.run(code, "<cell 1>", timeout=timeout, want_return=True)
        assert outcome.error is not None
        return outcome.error

    def records(self) -> list[dict[str, Any]]:
        return [message["call"] for message in self.sent if message["type"] == "tool_call"]


@pytest.fixture
def root(project: Path) -> Path:
    (project / "a.txt").write_text("hello\nworld\n")
    (project / "src").mkdir()
    (project / "src" / "main.lua").write_text("print(1)\n")
    (project / "src" / "util.lua").write_text("return {}\n")
    (project / "bin.dat").write_bytes(b"\x00\x01\x02")
    return project


@pytest.fixture
def lua(root: Path, limiter: Limiter) -> Iterator[Bridged]:
    lua = Bridged(root, limiter)
    yield lua
    lua.runtime.close()


class TestFiles:
    def test_read_file_numbers_lines(self, lua: Bridged) -> None:
        assert lua.values("return jido.read_file('a.txt')") == ["     1→hello\n     2→world"]
        assert lua.values("return jido.read_file('a.txt', {offset = 2, limit = 1})") == ["     2→world"]
        assert lua.values("return jido.read_file('a.txt', {offset = 2.0})") == ["     2→world"]

    @pytest.mark.parametrize(
        ("call", "message"),
        [
            ("jido.read_file('missing.txt')", "File not found: missing.txt"),
            ("jido.read_file('../outside')", "Security error: path escapes project boundary: ../outside"),
            ("jido.read_file('/etc/passwd')", "Security error: path is outside project: /etc/passwd"),
            ("jido.read_file('src')", "Is a directory: src"),
            ("jido.read_file('bin.dat')", "Binary file detected: bin.dat. Cannot read binary files."),
            ("jido.read_file('.jido_code/settings.json')",
             "Security error: settings files (.jido_code/settings.json) are protected: .jido_code/settings.json"),
            ("jido.read_file(42)", "read_file: path must be a string"),
            ("jido.read_file()", "read_file: path must be a string"),
            ("jido.read_file('a.txt', 5)", "read_file: options must be a table of named fields"),
            ("jido.read_file('a.txt', {offset = -1})", "read_file: offset must be a non-negative integer"),
            ("jido.read_file('a.txt', {limit = 1.5})", "read_file: limit must be a non-negative integer"),
            ("jido.write_file('b.txt', 42)", "write_file content must be a string"),
            ("jido.write_file('b.txt')", "write_file content must be a string"),
            ("jido.write_file('../b.txt', 'x')", "Security error: path escapes project boundary: ../b.txt"),
            ("jido.write_file('src', 'x')", "Is a directory: src"),
            ("jido.list_dir('a.txt')", "Not a directory: a.txt"),
            ("jido.list_dir('nope')", "File not found: nope"),
            ("jido.list_dir('.', {ignore_patterns = 'x'})", "list_dir: ignore_patterns must be an array of strings"),
            ("jido.glob('../*')", "Security error: path escapes project boundary: ../*"),
            ("jido.glob('*', 'nope')", "File not found: nope"),
            ("jido.glob({})", "glob: pattern must be a string"),
            ("jido.file_exists('../x')", "Security error: path escapes project boundary: ../x"),
            ("jido.file_stat('missing')", "File not found: missing"),
            ("jido.delete_file('missing')", "File not found: missing"),
            ("jido.delete_file('src')", "Is a directory: src"),
            ("jido.mkdir_p('a.txt/sub')", "Not a directory: a.txt/sub"),
            ("jido.mkdir_p(true)", "mkdir_p: path must be a string"),
        ],
    )  # fmt: skip
    def test_failures_are_nil_and_the_message(self, lua: Bridged, call: str, message: str) -> None:
        assert lua.values(f"return {call}") == [None, message]

    def test_file_too_large(self, lua: Bridged) -> None:
        lua.bridge.limits = lua.bridge.limits.replace(max_file_size=10)
        assert lua.values("return jido.write_file('big.txt', string.rep('x', 11))") == [
            None,
            "File too large: big.txt (11 bytes; the limit is 10 bytes)",
        ]
        assert lua.values("return jido.read_file('a.txt')")[1].startswith("File too large: a.txt")

    def test_write_file_creates_parents_and_keeps_bytes(self, lua: Bridged, root: Path) -> None:
        assert lua.values("return jido.write_file('new/dir/f.bin', 'a\\0\\xffb')") == [True]
        assert (root / "new" / "dir" / "f.bin").read_bytes() == b"a\x00\xffb"

    def test_list_dir(self, lua: Bridged, root: Path) -> None:
        (root / "empty").mkdir()
        assert lua.values("return jido.list_dir()") == [[
            {"name": "empty", "type": "directory"}, {"name": "src", "type": "directory"},
            {"name": "a.txt", "type": "file"}, {"name": "bin.dat", "type": "file"},
        ]]  # fmt: skip
        assert lua.values("return jido.list_dir('src', {ignore_patterns = {'util*'}})") == [
            [{"name": "main.lua", "type": "file"}]
        ]
        assert lua.values("return jido.list_dir('empty')") == [[]]

    def test_glob(self, lua: Bridged, root: Path) -> None:
        os.utime(root / "src" / "main.lua", (1, 1))
        assert lua.values("return jido.glob('**/*.lua')") == [["src/util.lua", "src/main.lua"]]
        assert lua.values("return jido.glob('*.lua', 'src')") == [["src/util.lua", "src/main.lua"]]
        assert lua.values("return jido.glob('*.none')") == [[]]

    def test_predicates(self, lua: Bridged) -> None:
        code = (
            "return jido.file_exists('a.txt'), jido.file_exists('no'), jido.is_file('a.txt'), jido.is_file('src'), "
            "jido.is_dir('src'), jido.is_dir('a.txt')"
        )
        assert lua.values(code) == [True, False, True, False, True, False]

    def test_file_stat(self, lua: Bridged, root: Path) -> None:
        os.utime(root / "a.txt", (0, 86400 + 3661))
        assert lua.values("return jido.file_stat('a.txt')") == [
            {"access": "read_write", "mtime": "1970-01-02T01:01:01", "size": 12, "type": "regular"}
        ]

    def test_delete_and_mkdir(self, lua: Bridged, root: Path) -> None:
        assert lua.values("return jido.delete_file('a.txt'), jido.mkdir_p('x/y/z'), jido.mkdir_p('x/y')") == [
            True,
            True,
            True,
        ]
        assert not (root / "a.txt").exists() and (root / "x" / "y" / "z").is_dir()

    def test_works_inside_coroutines(self, lua: Bridged) -> None:
        code = (
            "return coroutine.wrap(function() coroutine.yield(jido.is_dir('src')) end)(), "
            "coroutine.wrap(jido.is_file)('a.txt')"
        )
        assert lua.values(code) == [True, True]

    def test_no_argument_ever_raises_into_lua(self, lua: Bridged) -> None:
        failures = lua.values(
            """
            local weird = {nil, 1, -1, 2^63, 0/0, true, {}, {1, {2}}, print, coroutine.create(print),
                           string.rep('x', 5000), '\\0', '\\xff', setmetatable({}, {__index = error})}
            local failures = 0
            for name, f in pairs(jido) do
              if type(f) == 'function' then
                for _, a in ipairs(weird) do
                  for _, b in ipairs(weird) do
                    local ok = pcall(f, a, b, a)
                    if not ok then failures = failures + 1 end
                  end
                end
              end
            end
            return failures
            """
        )
        assert failures == [0]


class TestShell:
    def test_runs_in_the_root(self, lua: Bridged, root: Path) -> None:
        assert lua.values("return jido.shell('echo', {'hi', 'there'})") == [
            {"exit_code": 0, "stdout": "hi there\n", "stderr": ""}
        ]
        assert lua.values("return jido.shell('pwd').stdout") == [f"{root}\n"]
        assert lua.values("return jido.shell('false').exit_code, jido.shell('ls', {'src'}).stdout") == [
            1,
            "main.lua\nutil.lua\n",
        ]

    @pytest.mark.parametrize(
        ("call", "message"),
        [
            ("jido.shell('bash', {'-c', 'id'})", "Security error: shell interpreters are blocked (bash)"),
            ("jido.shell('sh')", "Security error: shell interpreters are blocked (sh)"),
            ("jido.shell('curl', {'http://example.com'})", "Security error: command not in allowlist (curl)"),
            ("jido.shell('cat', {'../secret'})", "Security error: path traversal not allowed in argument: ../secret"),
            ("jido.shell('cat', {'/etc/passwd'})",
             "Security error: absolute paths outside project not allowed: /etc/passwd"),
            ("jido.shell('echo', 'hi')", "shell: args must be an array of strings"),
            ("jido.shell('echo', {1})", "shell: args must be an array of strings"),
            ("jido.shell(nil)", "shell: command must be a string"),
            ("jido.shell('echo', {}, {timeout = -5})", "shell: timeout must be a positive number of milliseconds"),
            ("jido.shell('sleep', {'5'}, {timeout = 100})", "Command timed out after 100 ms"),
        ],
    )  # fmt: skip
    def test_refusals(self, lua: Bridged, call: str, message: str) -> None:
        assert lua.values(f"return {call}") == [None, message]

    def test_a_command_never_outlives_the_run(self, lua: Bridged) -> None:
        start = time.monotonic()
        error = lua.error("local r, e = jido.shell('sleep', {'20'}) print(e) while true do end", timeout=0.5)
        assert error.type == "LuaTimeoutError"
        assert time.monotonic() - start < 3

    def test_an_interrupt_does_not_wait_for_the_command(self, lua: Bridged, limiter: Limiter) -> None:
        timer = threading.Timer(0.3, limiter.interrupt, args=(77,))
        timer.start()
        start = time.monotonic()
        outcome = lua.runtime.run(
            "return jido.shell('sleep', {'20'})", "<cell>", timeout=30, want_return=True, run_id=77
        )
        assert outcome.error is not None and outcome.error.type == "KeyboardInterrupt"
        assert time.monotonic() - start < 3


class TestToolCalls:
    def test_each_call_is_recorded_twice(self, lua: Bridged) -> None:
        lua.bridge.run_id = 5
        lua.values("jido.read_file('a.txt') jido.read_file('missing')")
        running, done, running2, failed = lua.records()
        assert running["id"] == done["id"] and running2["id"] == failed["id"] and running["id"] != failed["id"]
        assert running == {"id": running["id"], "name": "read_file", "arguments": {"path": "a.txt"},
                           "status": "running", "duration_ms": None, "result_summary": None}  # fmt: skip
        assert done["status"] == "completed" and done["result_summary"] == "2 lines" and done["duration_ms"] >= 0
        assert (failed["status"], failed["result_summary"]) == ("error", "File not found: missing")
        assert all(message["id"] == 5 for message in lua.sent)

    def test_arguments_are_shown_short(self, lua: Bridged) -> None:
        lua.values("jido.write_file('w.txt', string.rep('y', 1000)) jido.shell('echo', {'a'}, {timeout = 1000})")
        write, shell = lua.records()[1], lua.records()[3]
        assert write["arguments"] == {"path": "w.txt", "content": "y" * 200 + "… (1000 characters)"}
        assert shell["arguments"] == {"command": "echo", "args": ["a"], "options": {"timeout": 1000}}
        assert shell["result_summary"] == "exit code 0"

    def test_call_ids_are_unique_and_never_those_of_another_worker(
        self, lua: Bridged, root: Path, limiter: Limiter
    ) -> None:
        lua.values("for i = 1, 50 do jido.file_exists('a.txt') end")
        ids = [record["id"] for record in lua.records()[::2]]
        other = Bridged(root, limiter)
        other.values("jido.file_exists('a.txt')")
        assert len(set(ids)) == 50 and other.records()[0]["id"] not in ids
        assert all(len(call_id) == 32 and int(call_id, 16) >= 0 for call_id in ids)

    def test_options_tables_are_shown_as_they_are(self, lua: Bridged) -> None:
        # The largest table shown without being measured: 20 entries, keys of 200 characters in all.
        keys = [f"k{index:02d}" + "x" * 7 for index in range(20)]
        entries = ", ".join(
            f"{key} = {value}" for key, value in zip(keys, ["math.mininteger", "true"] * 10, strict=True)
        )
        lua.values(f"jido.read_file('a.txt', {{raw = true}}) jido.list_dir('.', {{{entries}}})")
        assert lua.records()[0]["arguments"] == {"path": "a.txt", "options": {"raw": True}}
        shown = lua.records()[2]["arguments"]["options"]
        assert shown == bridge_module._shown(shown) and len(shown) == 20
        assert shown["k00xxxxxxx"] == -(2**63) and shown["k01xxxxxxx"] is True
        widest = {chr(0x10000 + index) * 10: -(2**63) for index in range(20)}  # 12 bytes of JSON a character
        assert bridge_module._few_flags(widest) and len(json.dumps(widest)) <= MAX_ARGUMENTS // 4
        for table in ({"k" * 200: None}, {"a": 1, "b": 2}, {"k" * 201: 1}, {"a": 1.5}, {"a": "x"}, {b"a": 1},
                      {1: True}, {"a": [1]}, {"k" * 101: 1, "j" * 100: 2}, {str(i): i for i in range(21)}):  # fmt: skip
            expected = (len(table) <= 20 and all(type(key) is str for key in table) and sum(map(len, table)) <= 200
                        and all(type(value) in (bool, int, type(None)) for value in table.values()))  # fmt: skip
            assert bridge_module._few_flags(table) == expected, table

    def test_state_calls_are_not_tool_calls(self, lua: Bridged) -> None:
        lua.values("jido.state.append_message('user', 'hi')")
        assert lua.records() == []


class TestOptionsOfOneEntry:
    """``f(path, {key = flag})`` reaches Python as a dict, read by the prelude; a third
    argument (``nil``) keeps a call on the path where Python reads the table. Both give
    the same answers and records."""

    TABLES = (
        "{raw = true}", "{raw = false}", "{offset = 2}", "{limit = 0}", "{offset = -1}", "{raw = 1}",
        "{limit = math.maxinteger}", "{offset = math.mininteger}", "{unknown = true}", "{[1] = true}",
        "{['\\xff'] = true}", "{['\\xed\\xa0\\x80'] = true}", "{raw = 1.0}", "{raw = 'yes'}",
        "{raw = true, limit = 1}", "{}", "{[string.rep('k', 300)] = true}", "{raw = {}}", "{[true] = true}",
        "setmetatable({}, {__index = function() error('read through') end})",
        "setmetatable({raw = true}, {__pairs = function() error('iterated') end, __index = error})",
    )  # fmt: skip

    @pytest.mark.parametrize("function", ["read_file", "list_dir"])
    @pytest.mark.parametrize("table", TABLES)
    def test_the_same_as_when_python_reads_the_table(self, lua: Bridged, function: str, table: str) -> None:
        self.same_both_ways(lua, function, table)

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(
        key=st.one_of(st.sampled_from([b"raw", b"offset", b"limit", b"ignore_patterns"]), st.binary(max_size=12)),
        value=st.one_of(st.booleans(), st.integers(-(2**63), 2**63 - 1)),
        function=st.sampled_from(["read_file", "list_dir"]),
    )
    def test_any_entry_is_read_as_its_table(self, lua: Bridged, key: bytes, value: bool | int, function: str) -> None:
        literal = "".join(f"\\{byte}" for byte in key)
        shown = "math.mininteger" if value == -(2**63) and not isinstance(value, bool) else str(value).lower()
        self.same_both_ways(lua, function, f'{{["{literal}"] = {shown}}}')
        assert lua.read_by_prelude == [True, False]
        table = LuaRuntime(encoding=None).table_from({key: value})  # and as raw lupa's table reads
        assert from_lua(table, strict=False, name="options", max_items=1000) == {text(key): value}

    def test_only_a_lone_flag_after_the_first_argument_is_read_by_the_prelude(self, lua: Bridged) -> None:
        lua.values(
            "jido.read_file('a.txt', {raw = true}) jido.read_file('a.txt', {offset = 1.5})"
            " jido.read_file('a.txt', {raw = true, limit = 1}) jido.list_dir('.', {ignore_patterns = true})"
            " jido.write_file('b.txt', {raw = true}) jido.shell('true', {raw = true})"
            " jido.read_file({raw = true}) jido.read_file('a.txt', {[7] = 1})"
        )
        assert lua.read_by_prelude == [True, False, False, True, False, False, False, False]
        assert lua.records()[1]["arguments"] == {"path": "a.txt", "options": {"raw": True}}

    @staticmethod
    def same_both_ways(lua: Bridged, function: str, table: str) -> None:
        lua.sent.clear()
        lua.read_by_prelude.clear()
        path = "'a.txt'" if function == "read_file" else "'.'"
        by_prelude = lua.values(f"local t = {table} return jido.{function}({path}, t)")
        by_python = lua.values(f"local t = {table} return jido.{function}({path}, t, nil)")
        assert by_prelude == by_python
        records = [{**record, "id": None, "duration_ms": None} for record in lua.records()]
        assert records[:2] == records[2:] and len(records) == 4
        assert lua.read_by_prelude[1] is False


class TestStateCalls:
    def test_round_trip(self, lua: Bridged) -> None:
        seen: list[tuple[str, list[Any]]] = []

        def kernel(op: str, args: list[Any]) -> tuple[bool, Any]:
            seen.append((op, args))
            return True, {"$map": [[1, "ok"]]} if op == "end_streaming" else True

        lua.kernel = kernel
        values = lua.values(
            "return jido.state.append_message('user', 'hi'), "
            "jido.state.update_todos({{content = 'a', status = 'pending', active_form = 'A'}}), "
            "jido.state.end_streaming()"
        )
        assert values == [True, True, ["ok"]]
        assert seen == [
            ("append_message", ["user", "hi"]),
            ("update_todos", [[{"active_form": "A", "content": "a", "status": "pending"}]]),
            ("end_streaming", []),
        ]

    def test_kernel_refusal_is_nil_and_message(self, lua: Bridged) -> None:
        lua.kernel = lambda op, args: (False, "Not streaming: call start_streaming first.")
        assert lua.values("return jido.state.update_streaming('x')") == [
            None,
            "Not streaming: call start_streaming first.",
        ]

    def test_arguments_must_be_data(self, lua: Bridged) -> None:
        values = lua.values("return jido.state.update_todos({print})")
        assert values[0] is None and values[1].startswith(
            "jido.state.update_todos: Cannot convert argument 1[1] to Python"
        )

    def test_waiting_gives_up_when_a_limit_trips(self, lua: Bridged) -> None:
        lua.kernel = None  # never answers
        start = time.monotonic()
        assert (
            lua.error("jido.state.append_message('user', 'x') while true do end", timeout=0.3).type == "LuaTimeoutError"
        )
        assert time.monotonic() - start < 3
