"""Settings: paths, loading and merging, validation, saving, limits."""

from __future__ import annotations

import ctypes
import json
import os
import re
import stat
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from jido_kernel import settings
from jido_kernel.errors import JidoError
from jido_kernel.settings import (
    SCHEMA,
    InvalidProjectPath,
    SettingsError,
    SettingsWarning,
    ensure_local_dir,
    global_dir,
    global_path,
    load,
    load_global,
    load_local,
    local_dir,
    local_path,
    read_file,
    sandbox_limits,
    save,
    unset,
    update,
    validate,
    validate_project_path,
)

MIB = 1024 * 1024


def write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


# --- paths -----------------------------------------------------------------------


def test_global_dir_follows_jido_code_home(home: Path) -> None:
    assert global_dir() == home
    assert global_path() == home / "settings.json"


def test_global_dir_defaults_to_home_dot_jido_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JIDO_CODE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert global_path() == tmp_path / ".jido_code" / "settings.json"


def test_local_path_and_dir(root: Path) -> None:
    assert local_dir(root) == root / ".jido_code"
    assert local_path(str(root)) == root / ".jido_code" / "settings.json"


def test_tilde_is_expanded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert validate_project_path("~/proj") == tmp_path / "proj"
    assert local_path("~/proj") == tmp_path / "proj" / ".jido_code" / "settings.json"


@pytest.mark.parametrize(
    ("path", "problem", "reason"),
    [
        ("/tmp/a\x00b", "path contains null byte", "null_byte"),
        ("/tmp/../etc", "path contains '..' traversal", "path_traversal_detected"),
        ("/tmp/x/..", "path contains '..' traversal", "path_traversal_detected"),
        ("relative/dir", "path must be absolute", "path_not_absolute"),
        ("/" + "a" * 4096, "path exceeds maximum length of 4096 bytes", "path_too_long"),
        ("/" + "é" * 2048, "path exceeds maximum length of 4096 bytes", "path_too_long"),
    ],
)
def test_invalid_project_paths_are_rejected(path: str, problem: str, reason: str) -> None:
    for function in (validate_project_path, local_dir, local_path, load, ensure_local_dir):
        with pytest.raises(InvalidProjectPath) as info:
            function(path)
        assert str(info.value) == f"Invalid project path: {problem}"
        assert info.value.reason == reason
        assert isinstance(info.value, JidoError) and isinstance(info.value, ValueError)


def test_path_limits_are_inclusive_and_dots_in_names_are_fine() -> None:
    longest = "/" + "a" * 4095
    assert validate_project_path(longest) == Path(longest)
    assert validate_project_path("/tmp/a..b/...") == Path("/tmp/a..b/...")


def test_local_scope_needs_a_root(home: Path) -> None:
    with pytest.raises(InvalidProjectPath):
        save(None, {"theme": "dark"})
    assert not home.exists()


# --- reading and loading --------------------------------------------------------


def test_read_file_distinguishes_missing_ok_malformed_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    assert read_file(path).status == "missing" and read_file(path).data == {}
    write_json(path, {"theme": "dark"})
    assert (read_file(path).status, read_file(path).data) == ("ok", {"theme": "dark"})
    path.write_text('{"theme": ')
    malformed = read_file(path)
    assert malformed.status == "malformed" and malformed.data == {}
    assert "Expecting value" in malformed.error
    path.write_text("[1, 2]")
    assert read_file(path).error == "expected a JSON object, got an array"
    path.write_bytes(b'{"theme": "\xff"}')
    assert read_file(path).status == "malformed" and "utf-8" in read_file(path).error
    path.write_text('{"lua_timeout": NaN}')
    assert read_file(path).status == "malformed" and "NaN" in read_file(path).error
    path.write_text("[" * 100_000 + "]" * 100_000)
    assert read_file(path).status == "malformed"
    path.unlink()
    path.mkdir()
    assert read_file(path).status == "unreadable"


def test_read_file_does_not_block_on_a_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "settings.json"
    os.mkfifo(fifo)
    result = read_file(fifo)
    assert (result.status, result.error) == ("unreadable", "not a regular file")


def test_load_merges_global_and_local(root: Path, home: Path) -> None:
    write_json(home / "settings.json", {"provider": "anthropic", "theme": "dark"})
    write_json(local_path(root), {"model": "m-local"})
    loaded = load(root)
    assert loaded.values == {"provider": "anthropic", "theme": "dark", "model": "m-local"}
    assert loaded.sources["provider"] == ("global", home / "settings.json")
    assert loaded.sources["model"] == ("local", local_path(root))
    assert (loaded.global_path, loaded.local_path) == (global_path(), local_path(root))
    assert loaded.problems == ()


def test_local_settings_override_global(root: Path, home: Path) -> None:
    write_json(home / "settings.json", {"provider": "anthropic", "lua_timeout": 10})
    write_json(local_path(root), {"provider": "openai"})
    loaded = load(root)
    assert loaded.get("provider") == "openai"
    assert loaded.sources["provider"].scope == "local"
    assert loaded.effective("lua_timeout") == (10, ("global", home / "settings.json"))


def test_models_are_merged_one_level_deep(root: Path, home: Path) -> None:
    write_json(home / "settings.json", {"models": {"a": ["a1", "a2"], "b": ["b1"]}})
    write_json(local_path(root), {"models": {"b": ["b2"], "c": ["c1"]}})
    assert load(root).get("models") == {"a": ["a1", "a2"], "b": ["b2"], "c": ["c1"]}


def test_load_handles_missing_local_file(root: Path, home: Path) -> None:
    write_json(home / "settings.json", {"theme": "light"})
    loaded = load(root)
    assert loaded.values == {"theme": "light"}
    assert load_local(root).values == {}
    assert not local_dir(root).exists()


def test_load_with_no_files_is_empty(root: Path) -> None:
    loaded = load(root)
    assert loaded.values == {} and loaded.problems == ()
    assert loaded.effective("lua_timeout") == (30, ("default", None))
    assert loaded.effective("lua_max_memory_mb").value == 256
    assert loaded.effective("shell_timeout").value == 25
    assert loaded.effective("provider") == (None, ("default", None))


def test_load_handles_malformed_json_with_a_warning(root: Path, home: Path) -> None:
    write_json(home / "settings.json", {"theme": "dark"})
    local_dir(root).mkdir()
    local_path(root).write_text('{"provider": "x",,}')
    with pytest.warns(SettingsWarning) as caught:
        loaded = load(root)
    assert loaded.values == {"theme": "dark"}
    (message,) = [str(w.message) for w in caught]
    assert str(local_path(root)) in message and "Expecting property name" in message
    assert loaded.problems == (message,)


def test_non_object_json_is_malformed(root: Path, home: Path) -> None:
    write_json(home / "settings.json", ["provider", "x"])
    with pytest.warns(SettingsWarning, match="expected a JSON object, got an array"):
        assert load_global().values == {}


def test_settings_warnings_can_be_filtered(root: Path, home: Path) -> None:
    write_json(home / "settings.json", "nope")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SettingsWarning)
        loaded = load(root)
    assert loaded.values == {} and len(loaded.problems) == 1


def test_invalid_keys_are_dropped_on_load_with_a_warning(root: Path, home: Path) -> None:
    write_json(
        local_path(root),
        {"provider": 123, "colour": "red", "model": "m", "lua_timeout": 0},
    )
    with pytest.warns(SettingsWarning) as caught:
        loaded = load(root)
    assert loaded.values == {"model": "m"}
    messages = [str(w.message) for w in caught]
    assert len(messages) == 3 and list(loaded.problems) == messages
    assert all(str(local_path(root)) in m for m in messages)
    assert "provider must be a string, got: 123" in messages[0]
    assert "unknown key: colour" in messages[1]
    assert "lua_timeout must be a positive number of seconds (0.001 to 3600), got: 0" in messages[2]


def test_settings_object_is_immutable(root: Path) -> None:
    write_json(local_path(root), {"providers": ["a"]})
    loaded = load(root)
    loaded.values["providers"].append("b")
    loaded.get("providers").append("c")
    assert loaded.get("providers") == ["a"]
    with pytest.raises(AttributeError):
        loaded.problems = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        loaded.sources["x"] = ("local", None)  # type: ignore[index]
    assert loaded.get("missing", 7) == 7
    with pytest.raises(SettingsError, match="unknown key: nope") as info:
        loaded.effective("nope")
    assert info.value.reason == "unknown_key"


# --- validation -------------------------------------------------------------------


def test_validate_names_the_key_and_the_expected_type() -> None:
    validate({"version": 1, "provider": "p", "models": {"p": ["m"]}, "lua_timeout": 0.5})
    cases = [
        ({"provider": 123}, "invalid_type", "provider must be a string, got: 123"),
        ({"version": True}, "invalid_type", "version must be a positive integer (at most 1000), got: true"),
        ({"version": 0}, "invalid_value", "version must be a positive integer (at most 1000), got: 0"),
        ({"version": 1.0}, "invalid_type", "version must be a positive integer (at most 1000), got: 1.0"),
        ({"providers": ["a", 1]}, "invalid_type", "providers must be a list of strings"),
        ({"models": {"a": "b"}}, "invalid_type", "models must be an object mapping"),
        ({"lua_max_memory_mb": -5}, "invalid_value", "lua_max_memory_mb must be a positive"),
        ({"shell_timeout": float("inf")}, "invalid_value", "shell_timeout must be a positive"),
        ({"shell_allowlist": ["ls", "/bin/sh"]}, "invalid_value", "shell_allowlist must be"),
        ({"shell_allowlist": [""]}, "invalid_value", 'got: [""]'),
        ({"shell_allowlist": ".."}, "invalid_type", "shell_allowlist must be a list"),
    ]
    for bad, reason, text in cases:
        with pytest.raises(SettingsError) as info:
            validate(bad)
        assert info.value.reason == reason, bad
        assert text in str(info.value), bad
        assert info.value.key == next(iter(bad))


def test_unknown_key_lists_the_known_keys() -> None:
    with pytest.raises(SettingsError) as info:
        validate({"temperature": 0.7})
    assert str(info.value) == f"unknown key: temperature (known keys: {', '.join(SCHEMA)})"
    assert info.value.reason == "unknown_key"


def test_validate_wants_a_dict() -> None:
    with pytest.raises(SettingsError, match="settings must be a JSON object") as info:
        validate([("provider", "x")])  # type: ignore[arg-type]
    assert info.value.reason == "invalid_type"


def test_schema_is_one_table_with_types_descriptions_defaults() -> None:
    assert list(SCHEMA) == [
        "version", "provider", "model", "theme", "providers", "models",
        "lua_timeout", "lua_max_memory_mb", "shell_allowlist", "shell_timeout",
        "session_keep_days", "session_max_mb",
    ]  # fmt: skip
    for key, row in SCHEMA.items():
        assert row.key == key and row.type and row.description
        if row.default is not None:
            validate({key: row.default})


# --- saving ---------------------------------------------------------------------------


def test_save_creates_the_file_and_the_directory(root: Path) -> None:
    assert not local_dir(root).exists()
    path = save(root, {"provider": "anthropic", "models": {"b": ["2"], "a": ["1"]}})
    assert path == local_path(root)
    assert stat.S_IMODE(os.stat(local_dir(root)).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.read_text() == (
        '{\n  "models": {\n    "a": [\n      "1"\n    ],\n    "b": [\n      "2"\n    ]\n  },\n'
        '  "provider": "anthropic"\n}\n'
    )


def test_save_sets_mode_0600_over_a_looser_file(root: Path) -> None:
    write_json(local_path(root), {"theme": "x"})
    os.chmod(local_path(root), 0o644)
    save(root, {"theme": "y"})
    assert stat.S_IMODE(os.stat(local_path(root)).st_mode) == 0o600


def test_save_validates_before_touching_anything(root: Path) -> None:
    with pytest.raises(SettingsError, match="unknown key: nope"):
        save(root, {"theme": "x", "nope": 1})
    with pytest.raises(SettingsError, match="provider must be a string"):
        settings.set(root, "provider", ["x"])
    assert not local_dir(root).exists()


def test_save_replaces_the_whole_file_and_global_scope_needs_no_root(root: Path, home: Path) -> None:
    save(root, {"theme": "a", "model": "m"})
    save(root, {"theme": "b"})
    assert read_file(local_path(root)).data == {"theme": "b"}
    assert save(None, {"provider": "p"}, scope="global") == home / "settings.json"
    assert stat.S_IMODE(os.stat(home / "settings.json").st_mode) == 0o600
    assert load_global().values == {"provider": "p"}


def test_save_then_load_persists(root: Path, home: Path) -> None:
    save(None, {"provider": "anthropic", "model": "global-model"}, scope="global")
    save(root, {"model": "local-model", "lua_timeout": 2.5})
    reloaded = load(root)
    assert reloaded.values == {
        "provider": "anthropic", "model": "local-model", "lua_timeout": 2.5,
    }  # fmt: skip
    assert reloaded.sources["provider"].scope == "global"


def test_set_updates_one_key_keeping_the_others(root: Path) -> None:
    save(root, {"provider": "anthropic", "theme": "dark"})
    settings.set(root, "theme", "light")
    settings.set(root, "providers", ["a", "b"])
    assert read_file(local_path(root)).data == {
        "provider": "anthropic", "theme": "light", "providers": ["a", "b"],
    }  # fmt: skip
    unset(root, "theme")
    assert read_file(local_path(root)).data == {"provider": "anthropic", "providers": ["a", "b"]}


def test_set_keeps_keys_it_did_not_touch_even_if_invalid(root: Path) -> None:
    write_json(local_path(root), {"future_key": {"x": 1}, "theme": "dark"})
    settings.set(root, "model", "m")
    assert read_file(local_path(root)).data == {
        "future_key": {"x": 1}, "theme": "dark", "model": "m",
    }  # fmt: skip
    unset(root, "future_key")
    assert read_file(local_path(root)).data == {"theme": "dark", "model": "m"}


def test_update_validates_what_it_changes(root: Path) -> None:
    save(root, {"models": {"a": ["1"]}})
    update(root, lambda s: {**s, "models": {**s["models"], "b": ["2"]}})
    assert read_file(local_path(root)).data == {"models": {"a": ["1"], "b": ["2"]}}
    with pytest.raises(SettingsError, match="models must be"):
        update(root, lambda s: {**s, "models": {"c": 3}})
    with pytest.raises(SettingsError, match="settings must be a JSON object"):
        update(root, lambda s: None)  # type: ignore[arg-type,return-value]
    assert read_file(local_path(root)).data == {"models": {"a": ["1"], "b": ["2"]}}


def test_unknown_scope_is_refused(root: Path) -> None:
    with pytest.raises(SettingsError, match="use 'local' or 'global'") as info:
        settings.set(root, "theme", "x", scope="project")  # type: ignore[arg-type]
    assert info.value.reason == "invalid_scope"


def test_lone_surrogates_round_trip(root: Path) -> None:
    value = "a\\\udc80é"
    save(root, {"theme": value})
    assert load(root).get("theme") == value


# --- malformed files are kept --------------------------------------------------------


@pytest.mark.parametrize("content", [b'{"theme": "dark",}', b"[]", b'{"a": "\xff"}', b""])
def test_a_malformed_file_is_never_overwritten(root: Path, content: bytes) -> None:
    local_dir(root).mkdir()
    local_path(root).write_bytes(content)
    for attempt in (
        lambda: save(root, {"theme": "light"}),
        lambda: settings.set(root, "theme", "light"),
        lambda: unset(root, "theme"),
    ):
        with pytest.raises(SettingsError) as info:
            attempt()
        assert info.value.reason == "malformed_file"
        assert str(local_path(root)) in str(info.value)
        assert read_file(local_path(root)).error in str(info.value)
        assert "fix or remove the file, or overwrite it: force=True (%settings set ... --force)" in str(info.value)
        assert local_path(root).read_bytes() == content
    settings.set(root, "theme", "light", force=True)
    assert read_file(local_path(root)).data == {"theme": "light"}


def test_a_malformed_global_file_is_kept_too(home: Path) -> None:
    home.mkdir()
    (home / "settings.json").write_text("{oops")
    with pytest.raises(SettingsError, match="malformed settings file"):
        save(None, {"theme": "x"}, scope="global")
    assert (home / "settings.json").read_text() == "{oops"
    save(None, {"theme": "x"}, scope="global", force=True)
    assert load_global().values == {"theme": "x"}


# --- directories and temp files ------------------------------------------------------


def test_ensure_local_dir_creates_and_returns_it(root: Path) -> None:
    assert ensure_local_dir(root) == root / ".jido_code"
    assert (root / ".jido_code").is_dir()
    assert ensure_local_dir(root) == root / ".jido_code"


def test_ensure_local_dir_rejects_a_symlink(root: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (root / ".jido_code").symlink_to(elsewhere)
    for attempt in (
        lambda: ensure_local_dir(root),
        lambda: save(root, {"theme": "x"}),
        lambda: settings.set(root, "theme", "x", force=True),
    ):
        with pytest.raises(SettingsError, match="security violation: path is a symlink") as info:
            attempt()
        assert info.value.reason == "symlinked_settings_dir"
    assert list(elsewhere.iterdir()) == []


def test_ensure_local_dir_rejects_a_dangling_symlink_and_a_file(root: Path) -> None:
    (root / ".jido_code").symlink_to(root / "missing")
    with pytest.raises(SettingsError, match="path is a symlink"):
        ensure_local_dir(root)
    assert not (root / "missing").exists()
    (root / ".jido_code").unlink()
    (root / ".jido_code").write_text("")
    with pytest.raises(SettingsError, match="is not a directory") as info:
        ensure_local_dir(root)
    assert info.value.reason == "not_a_directory"


def test_save_into_a_missing_root_is_a_typed_error(tmp_path: Path, home: Path) -> None:
    with pytest.raises(SettingsError, match="No such file or directory") as info:
        save(tmp_path / "gone", {"theme": "x"})
    assert info.value.reason == "write_failed"


def test_a_predictable_temp_name_cannot_redirect_the_write(root: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    ensure_local_dir(root)
    for name in ("settings.json.tmp", ".settings.json.tmp"):
        (local_dir(root) / name).symlink_to(victim)
    save(root, {"theme": "x"})
    assert victim.read_text() == "keep me"
    assert read_file(local_path(root)).data == {"theme": "x"}


IN_CREATE, IN_MOVED_FROM, IN_MOVED_TO = 0x100, 0x40, 0x80


@contextmanager
def watch(directory: Path) -> Iterator[list[tuple[int, str]]]:
    """Record (mask, name) of the creations and renames in ``directory`` (inotify)."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    assert fd >= 0, os.strerror(ctypes.get_errno())
    events: list[tuple[int, str]] = []
    try:
        mask = IN_CREATE | IN_MOVED_FROM | IN_MOVED_TO
        assert libc.inotify_add_watch(fd, os.fsencode(directory), mask) >= 0
        yield events
        buffer = os.read(fd, 1 << 16)
        while buffer:
            _wd, event_mask, _cookie, size = struct.unpack_from("iIII", buffer)
            name = buffer[16 : 16 + size].rstrip(b"\0").decode()
            events.append((event_mask, name))
            buffer = buffer[16 + size :]
    finally:
        os.close(fd)


def test_temp_files_have_random_names_and_do_not_linger(root: Path) -> None:
    ensure_local_dir(root)
    with watch(local_dir(root)) as events:
        save(root, {"theme": "a"})
        settings.set(root, "theme", "b")
    created = [name for mask, name in events if mask & IN_CREATE and name != ".settings.json.lock"]
    renamed = [name for mask, name in events if mask & IN_MOVED_FROM]
    assert len(created) == 2 and created == renamed and created[0] != created[1]
    assert [name for mask, name in events if mask & IN_MOVED_TO] == ["settings.json"] * 2
    for name in created:
        assert re.search(r"[0-9a-f]{16}", name) and name != "settings.json"
    assert sorted(os.listdir(local_dir(root))) == ["settings.json"]  # its lock lives outside the project


# --- limits -------------------------------------------------------------------------


CONFIG = dict(timeout=30.0, max_memory=256 * MIB, shell_timeout=25.0, shell_allowlist=["ls", "cat", "wc"])


def test_limits_come_from_config_when_no_settings(root: Path) -> None:
    limits = sandbox_limits(load(root), **CONFIG)
    assert (limits.timeout, limits.max_memory, limits.shell_timeout) == (30.0, 256 * MIB, 25.0)
    assert limits.shell_allowlist == ("ls", "cat", "wc")
    assert {key: limits.values[key] for key in CONFIG} == {**CONFIG, "shell_allowlist": ("ls", "cat", "wc")}
    assert set(limits.sources.values()) == {"config"}


def test_limits_precedence_config_global_local_flag(root: Path, home: Path) -> None:
    save(None, {"lua_timeout": 5, "lua_max_memory_mb": 64, "shell_timeout": 3}, scope="global")
    save(root, {"lua_timeout": 2.5, "shell_allowlist": ["ls", "cat"]})
    limits = sandbox_limits(load(root), **CONFIG)
    assert (limits.timeout, limits.max_memory, limits.shell_timeout) == (2.5, 64 * MIB, 3.0)
    assert limits.shell_allowlist == ("ls", "cat")
    assert {key: limits.sources[key] for key in CONFIG} == {
        "timeout": "local", "max_memory": "global",
        "shell_timeout": "global", "shell_allowlist": "local",
    }  # fmt: skip
    flagged = limits.override(timeout=1, max_memory=None)
    assert (flagged.timeout, flagged.max_memory) == (1, 64 * MIB)
    assert (flagged.sources["timeout"], flagged.sources["max_memory"]) == ("flag", "global")
    assert limits.timeout == 2.5
    with pytest.raises(TypeError, match="unknown limit"):
        limits.override(memory=1)


def test_a_project_allowlist_can_only_narrow_the_one_below(root: Path, home: Path) -> None:
    save(root, {"shell_allowlist": ["ls", "python", "make"]})
    assert sandbox_limits(load(root), **CONFIG).shell_allowlist == ("ls",)
    save(None, {"shell_allowlist": ["ls", "make"]}, scope="global")
    assert sandbox_limits(load(root), **CONFIG).shell_allowlist == ("ls", "make")
    save(root, {}, force=True)
    assert sandbox_limits(load(root), **CONFIG).shell_allowlist == ("ls", "make")


# --- protection from the sandbox -------------------------------------------------------


def test_the_sandbox_cannot_read_the_settings_file(root: Path) -> None:
    security = pytest.importorskip("jido_kernel.security")
    read = getattr(security, "read_file", None)
    error_type = getattr(security, "SecurityError", None)
    if read is None or error_type is None:
        pytest.skip("jido_kernel.security.read_file is not available yet")
    save(root, {"provider": "secret"})
    for path in (".jido_code/settings.json", str(local_path(root))):
        with pytest.raises(error_type) as info:
            read(path, root)
        assert info.value.reason == "protected_settings_file"
