"""A project's own settings can only tighten the limits below them, and every number
has bounds: a cloned repository's ``.jido_code/settings.json`` never raises a limit
or breaks the worker."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kernel_helpers import execute, jido_kernel, plain

from jido_kernel.settings import SettingsError, load, sandbox_limits, validate_value
from jido_kernel.settings.paths import local_path

MIB = 1024 * 1024
CONFIG: dict[str, Any] = {"timeout": 30.0, "max_memory": 256 * MIB, "shell_timeout": 25.0, "shell_allowlist": ["ls"]}
KEYS = {"lua_timeout": "timeout", "lua_max_memory_mb": "max_memory", "shell_timeout": "shell_timeout"}
BOUNDS = {"lua_timeout": (0.001, 3600), "lua_max_memory_mb": (1, 16384), "shell_timeout": (0.001, 3600)}


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _value(key: str) -> st.SearchStrategy[Any]:
    low, high = BOUNDS[key]
    if key == "lua_max_memory_mb":
        return st.integers(int(low), int(high))
    return st.integers(1, int(high)) | st.floats(low, high)


def _in_effect(key: str, value: Any) -> Any:
    return value * MIB if key == "lua_max_memory_mb" else float(value)


out_of_range = st.sampled_from(
    [1e300, 10**13, -1, 0, -0.5, math.inf, -math.inf, math.nan, True, False, 3601, 16385, 1e-9, 2**63]
)


@given(key=st.sampled_from(sorted(BOUNDS)), value=out_of_range)
def test_out_of_range_numbers_are_one_line_settings_errors(key: str, value: Any) -> None:
    if key == "lua_max_memory_mb" and value == 3601:
        value = 16385
    with pytest.raises(SettingsError) as info:
        validate_value(key, value)
    assert info.value.reason in ("invalid_type", "invalid_value")
    assert "\n" not in str(info.value) and key in str(info.value)


@given(key=st.sampled_from(sorted(BOUNDS)), data=st.data())
def test_values_inside_the_bounds_are_valid(key: str, data: st.DataObject) -> None:
    validate_value(key, data.draw(_value(key)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    key=st.sampled_from(sorted(KEYS)),
    data=st.data(),
    has_global=st.booleans(),
)
def test_a_project_value_never_raises_the_limit_below_it(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    key: str,
    data: st.DataObject,
    has_global: bool,
) -> None:
    home = tmp_path_factory.mktemp("home")
    root = tmp_path_factory.mktemp("project")
    monkeypatch.setenv("JIDO_CODE_HOME", str(home))
    local = data.draw(_value(key), "local")
    global_value = data.draw(_value(key), "global") if has_global else None
    if global_value is not None:
        _write(home / "settings.json", {key: global_value})
    _write(local_path(root), {key: local})
    limits = sandbox_limits(load(root), **CONFIG)
    name = KEYS[key]
    below = _in_effect(key, global_value) if global_value is not None else CONFIG[name]
    assert getattr(limits, name) == min(_in_effect(key, local), below)
    notes = [note for note in limits.notes if note.startswith(f"{key}:")]
    if _in_effect(key, local) > below:
        assert limits.sources[name] == ("global" if has_global else "config")
        assert len(notes) == 1 and str(local_path(root)) in notes[0] and "\n" not in notes[0]
        shown = below // MIB if key == "lua_max_memory_mb" else below
        assert f"in effect: {shown}" in notes[0]
    else:
        assert limits.sources[name] == "local" and notes == []


def test_raising_values_are_ignored_with_a_note(tmp_path: Path, jido_home: Path) -> None:
    _write(jido_home / "settings.json", {"lua_timeout": 60})
    _write(local_path(tmp_path), {"lua_timeout": 600, "lua_max_memory_mb": 4096, "shell_timeout": 5})
    limits = sandbox_limits(load(tmp_path), **CONFIG)
    assert (limits.timeout, limits.max_memory, limits.shell_timeout) == (60.0, 256 * MIB, 5.0)
    assert {name: limits.sources[name] for name in (*KEYS.values(), "shell_allowlist")} == {
        "timeout": "global",
        "max_memory": "config",
        "shell_timeout": "local",
        "shell_allowlist": "config",
    }
    assert len(limits.notes) == 2
    assert limits.notes[0].startswith("lua_timeout: 600 in ") and limits.notes[0].endswith(
        "in effect: 60.0 (from the global settings)"
    )
    assert "lua_max_memory_mb: 4096" in limits.notes[1] and "in effect: 256 (from the configuration)" in limits.notes[1]


def test_the_global_file_may_raise_the_configured_limits(tmp_path: Path, jido_home: Path) -> None:
    _write(jido_home / "settings.json", {"lua_timeout": 600, "lua_max_memory_mb": 1024})
    limits = sandbox_limits(load(tmp_path), **CONFIG)
    assert (limits.timeout, limits.max_memory) == (600.0, 1024 * MIB)
    assert limits.notes == ()


@pytest.mark.kernel
def test_a_cloned_repository_cannot_raise_or_break_the_limits(tmp_path: Path) -> None:
    settings_file = tmp_path / ".jido_code" / "settings.json"
    settings_file.parent.mkdir()
    settings_file.write_text(
        '{"lua_timeout": 1e300, "lua_max_memory_mb": 10000000000000, "shell_timeout": 600, "version": 1}'
    )
    with jido_kernel(tmp_path) as (_, kc):
        first = execute(kc, "%%lua\nreturn 1 + 1")
        second = execute(kc, "%%lua\nreturn 2 + 2")
        limits = execute(
            kc,
            "import jido_kernel\nl = jido_kernel.current_session().manager.limits\n"
            "print(l.timeout, l.max_memory, l.shell_timeout)",
        )
        slow = execute(kc, "%%lua\nlocal t = os.clock() while os.clock() - t < 2 do end return 'ran'")
    assert first.status == "ok" and second.status == "ok", (first.error, second.error)
    assert plain(first) == "2" and plain(second) == "4"
    notes = [line for line in first.stderr.splitlines() if line.startswith("Note:")]
    assert any("lua_timeout" in n and "1e+300" in n for n in notes), first.stderr
    assert any("lua_max_memory_mb" in n and "10000000000000" in n for n in notes), first.stderr
    assert any("shell_timeout: 600" in n and "in effect: 25.0" in n for n in notes), first.stderr
    assert "Note:" not in second.stderr and "Note:" not in limits.stderr
    assert limits.stdout.split() == ["30.0", str(256 * MIB), "25.0"]
    assert slow.status == "ok", slow.error
