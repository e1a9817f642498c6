"""The sandbox's C library (jido_kernel.lua.worker.native): loading, binding, its Lua state data."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import lupa.lua54
import pytest
from unit.lua.worker.test_runtime import Lua

from jido_kernel.lua.worker import native
from jido_kernel.lua.worker.stopper import Limiter


def test_a_missing_library_says_how_to_build_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(native, "LIBRARY", tmp_path / "libnative.so")
    with pytest.raises(native.NativeLibraryError, match="C compiler"):
        native.library.__wrapped__()


def test_it_binds_only_to_a_loaded_lua(tmp_path: Path) -> None:
    assert native.library().jido_bind(str(tmp_path / "not-loaded.so").encode()) == -1
    assert native.library().jido_bind(lupa.lua54.__file__.encode()) == 0


def test_the_cells_library_functions_are_c_functions() -> None:
    limiter = Limiter()
    lua = Lua(limiter)
    kinds = lua.runtime.lua.eval(
        "(function() local t = {} for _, f in ipairs({coroutine.create, coroutine.resume, coroutine.wrap, "
        "coroutine.close, pcall, xpcall, error, assert, load, collectgarbage, print, setmetatable}) do "
        "t[#t + 1] = pcall(string.dump, f) and 'Lua' or 'C' end return table.concat(t, ' ') end)()"
    )  # only a Lua function can be dumped
    assert kinds == b" ".join([b"C"] * 12)


def test_states_come_and_go_with_one_stopper() -> None:
    # Each state's data lives exactly as long as the state; the stopper outlives them all.
    limiter = Limiter()
    threading.Thread(target=limiter.watch, daemon=True).start()
    kept = []
    for i in range(60):
        lua = Lua(limiter, max_memory=8 * 1024 * 1024)
        lua.values("gen = coroutine.wrap(function() while true do coroutine.yield(1) end end) gen()")
        assert lua.outcome("local t = {} while true do t[#t + 1] = {} end").error.type == "LuaMemoryError"
        if i % 4 == 0:
            kept.append(lua)
        else:
            lua.runtime.close()
        del lua
        gc.collect()
    assert all(lua.values("return gen()") == [1] for lua in kept)


def test_the_allocator_keeps_the_account_the_limit_counts() -> None:
    lua = Lua(Limiter(), max_memory=64 * 1024 * 1024)
    start = lua.runtime.memory_used()
    lua.values("big = string.rep('x', 16 * 1024 * 1024)")
    grown = lua.runtime.memory_used() - start
    assert 16 * 1024 * 1024 <= grown < 17 * 1024 * 1024
    lua.values("big = nil collectgarbage()")
    assert lua.runtime.memory_used() - start < 256 * 1024
    error = lua.outcome("big = string.rep('x', 80 * 1024 * 1024)").error
    assert error is not None and error.type == "LuaMemoryError"
