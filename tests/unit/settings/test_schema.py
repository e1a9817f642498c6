"""Property tests of the settings validator and of save/load round trips."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jido_kernel.security.errors import display_path
from jido_kernel.settings import (
    SCHEMA,
    InvalidProjectPath,
    SettingsError,
    load,
    load_local,
    save,
    validate,
    validate_project_path,
)

# Strategies written from the documented schema, independently of the implementation.
text = st.text(max_size=20)
command_name = text.filter(lambda s: s not in ("", ".", "..") and "/" not in s and "\0" not in s)
# Every number has documented bounds: seconds 0.001..3600, memory 1..16384 MiB, version 1..1000.
seconds = st.one_of(
    st.integers(min_value=1, max_value=3600),
    st.floats(min_value=0.001, max_value=3600, allow_nan=False, allow_infinity=False),
)
VALID: dict[str, st.SearchStrategy[Any]] = {
    "version": st.integers(min_value=1, max_value=1000),
    "provider": text,
    "model": text,
    "theme": text,
    "providers": st.lists(text, max_size=5),
    "models": st.dictionaries(text, st.lists(text, max_size=3), max_size=4),
    "lua_timeout": seconds,
    "lua_max_memory_mb": st.integers(min_value=1, max_value=16384),
    "shell_allowlist": st.lists(command_name, max_size=5),
    "shell_timeout": seconds,
    "session_keep_days": st.integers(min_value=1, max_value=3650),
    "session_max_mb": st.integers(min_value=1, max_value=1024),
}
valid_settings = st.fixed_dictionaries({}, optional=VALID)

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), text)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
not_str = json_values.filter(lambda v: not isinstance(v, str))
not_list = json_values.filter(lambda v: not isinstance(v, list))
list_with_non_str = st.lists(json_values, min_size=1, max_size=4).filter(
    lambda items: any(not isinstance(item, str) for item in items)
)
not_string_list = not_list | list_with_non_str
WRONG_TYPE: dict[str, st.SearchStrategy[Any]] = {
    "version": json_values.filter(lambda v: type(v) is not int),
    "provider": not_str,
    "model": not_str,
    "theme": not_str,
    "providers": not_string_list,
    "models": json_values.filter(lambda v: not isinstance(v, dict))
    | st.dictionaries(text, not_string_list, min_size=1, max_size=3),
    "lua_timeout": json_values.filter(lambda v: type(v) not in (int, float)),
    "lua_max_memory_mb": json_values.filter(lambda v: type(v) is not int),
    "shell_allowlist": not_string_list,
    "shell_timeout": json_values.filter(lambda v: type(v) not in (int, float)),
    "session_keep_days": json_values.filter(lambda v: type(v) is not int),
    "session_max_mb": json_values.filter(lambda v: type(v) is not int),
}
bad_seconds = st.one_of(
    st.integers(max_value=0),
    st.floats(max_value=0),
    st.just(math.inf),
    st.just(math.nan),
    st.integers(min_value=3601),
    st.floats(min_value=3600, exclude_min=True),
    st.floats(0, 0.001, exclude_max=True),
    st.sampled_from([1e300, 10**13, -math.inf]),
)
bad_command = st.sampled_from(["", ".", ".."]) | st.builds(
    lambda a, sep, b: a + sep + b, text, st.sampled_from(["/", "\0"]), text
)
WRONG_VALUE: dict[str, st.SearchStrategy[Any]] = {
    "version": st.integers(max_value=0) | st.integers(min_value=1001),
    "lua_max_memory_mb": st.integers(max_value=0) | st.integers(min_value=16385) | st.just(10**13),
    "lua_timeout": bad_seconds,
    "shell_timeout": bad_seconds,
    "session_keep_days": st.integers(max_value=0) | st.integers(min_value=3651),
    "session_max_mb": st.integers(max_value=0) | st.integers(min_value=1025),
    "shell_allowlist": st.builds(
        lambda good, bad, at: [*good[:at], bad, *good[at:]],
        st.lists(command_name, max_size=3),
        bad_command,
        st.integers(0, 3),
    ),
}


def test_strategies_cover_the_schema() -> None:
    assert set(VALID) == set(WRONG_TYPE) == set(SCHEMA)


@given(valid_settings)
def test_valid_settings_pass(candidate: dict[str, Any]) -> None:
    validate(candidate)


def keyed(strategies: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[tuple[str, Any]]:
    return st.sampled_from(sorted(strategies)).flatmap(lambda key: st.tuples(st.just(key), strategies[key]))


@given(valid_settings, keyed(WRONG_TYPE))
def test_one_wrong_typed_value_is_named(base: dict[str, Any], wrong: tuple[str, Any]) -> None:
    key, value = wrong
    with pytest.raises(SettingsError) as info:
        validate({**base, key: value})
    assert (info.value.reason, info.value.key) == ("invalid_type", key)
    assert str(info.value).startswith(f"{key} must be {SCHEMA[key].type}, got: ")


@given(valid_settings, keyed(WRONG_VALUE))
def test_one_out_of_range_value_is_named(base: dict[str, Any], wrong: tuple[str, Any]) -> None:
    key, value = wrong
    with pytest.raises(SettingsError) as info:
        validate({**base, key: value})
    assert (info.value.reason, info.value.key) == ("invalid_value", key)
    assert key in str(info.value)


@given(valid_settings, text.filter(lambda k: k not in SCHEMA), json_values)
def test_unknown_keys_are_named(base: dict[str, Any], key: str, value: Any) -> None:
    with pytest.raises(SettingsError) as info:
        validate({**base, key: value})
    assert info.value.reason == "unknown_key"
    assert str(info.value).startswith(f"unknown key: {display_path(key)} (known keys: ")


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(valid_settings, valid_settings)
def test_save_load_round_trip(
    monkeypatch: pytest.MonkeyPatch, global_values: dict[str, Any], local_values: dict[str, Any]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        monkeypatch.setenv("JIDO_CODE_HOME", str(Path(tmp, "home")))
        root = Path(tmp, "project")
        root.mkdir()
        save(root, local_values)
        save(None, global_values, scope="global")
        assert load_local(root).values == local_values
        merged = {**global_values, **local_values}
        if "models" in global_values and "models" in local_values:
            merged["models"] = {**global_values["models"], **local_values["models"]}
        loaded = load(root)
        assert loaded.values == merged
        assert loaded.problems == ()
        for key in merged:
            expected = "local" if key in local_values else "global"
            assert loaded.sources[key].scope == expected


@given(st.text(max_size=40))
def test_absolute_paths_are_refused_only_for_nul_or_dot_dot(raw: str) -> None:
    path = "/" + raw
    if "\0" in path or ".." in path.split("/"):
        with pytest.raises(InvalidProjectPath):
            validate_project_path(path)
    else:
        assert validate_project_path(path) == Path(path)
