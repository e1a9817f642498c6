"""The magics in an in-process IPython shell: values returned, displays, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import jido_kernel
from jido_kernel.security import SecurityError
from jido_kernel.settings import SettingsError


def cell(shell: InteractiveShell, code: str) -> tuple[Any, Any]:
    """Run ``code``; return (its result object, captured output)."""
    with capture_output() as captured:
        result = shell.run_cell(code)
    return result, captured


def error_of(shell: InteractiveShell, code: str) -> BaseException:
    result, captured = cell(shell, code)
    assert result.error_in_exec is not None or result.error_before_exec is not None, captured.stdout
    return result.error_in_exec or result.error_before_exec


# -- files -------------------------------------------------------------------------------------


def test_write_read_and_append(shell: InteractiveShell, project: Path) -> None:
    _, out = cell(shell, "%%write_file notes/a.txt\nfirst\n")
    assert (project / "notes" / "a.txt").read_text() == "first\n"
    assert "Wrote 6 bytes to notes/a.txt" in out.stdout
    cell(shell, "%%write_file notes/a.txt --append\nsecond\n")
    result, out = cell(shell, "text = %read_file notes/a.txt\ntext")
    assert shell.user_ns["text"] == "first\nsecond\n"
    assert isinstance(shell.user_ns["text"], str)
    assert result.result == "first\nsecond\n"


def test_read_file_shows_line_numbers_and_windows(shell: InteractiveShell, project: Path) -> None:
    (project / "f.txt").write_text("".join(f"line {i}\n" for i in range(1, 11)))
    result, _ = cell(shell, "%read_file f.txt --offset 3 --limit 2")
    assert result.result == "line 3\nline 4\n"
    text = shell.display_formatter.format(result.result)[0]["text/plain"]
    assert text == "     3→line 3\n     4→line 4"


def test_list_dir_returns_entries_and_shows_a_table(shell: InteractiveShell, project: Path) -> None:
    (project / "b.txt").write_text("b")
    (project / "a.tmp").write_text("a")
    (project / "src").mkdir()
    result, _ = cell(shell, "%list_dir --ignore '*.tmp'")
    assert result.result == [{"name": "src", "type": "directory"}, {"name": "b.txt", "type": "file"}]
    bundle = shell.display_formatter.format(result.result)[0]
    assert "<table" in bundle["text/html"] and bundle["text/plain"] == "src/\nb.txt"


def test_validate_path(shell: InteractiveShell, project: Path) -> None:
    result, _ = cell(shell, "%validate_path src/new.lua")
    assert result.result == str(project / "src" / "new.lua")
    error = error_of(shell, "%validate_path /etc/passwd")
    assert isinstance(error, SecurityError) and error.reason == "path_outside_boundary"


def test_the_settings_file_is_protected_from_the_file_magics(shell: InteractiveShell) -> None:
    error = error_of(shell, "%read_file .jido_code/settings.json")
    assert isinstance(error, SecurityError) and error.reason == "protected_settings_file"
    error = error_of(shell, "%%write_file .jido_code/settings.json\n{}")
    assert isinstance(error, SecurityError) and error.reason == "protected_settings_file"


def test_errors_render_as_one_line(shell: InteractiveShell) -> None:
    error = error_of(shell, "%read_file missing.txt")
    assert error._render_traceback_() == ["\x1b[0;31mFileNotFound\x1b[0m: missing.txt"]  # the kind said once


@pytest.mark.parametrize("name", ["lua", "read_file", "list_dir", "session", "settings", "state", "lua_reset"])
def test_magic_help_is_usage_first(shell: InteractiveShell, name: str) -> None:
    doc = shell.find_magic(name).__doc__
    lines = [line.strip() for line in doc.splitlines() if line.strip() not in ("", "::")]
    assert lines[0].startswith("%" + name), lines[0]
    assert "Examples" in doc or name == "lua_reset"


def test_quoted_arguments_are_unquoted(shell: InteractiveShell, project: Path) -> None:
    cell(shell, '%%write_file "with space/a b.txt"\nx')
    assert (project / "with space" / "a b.txt").read_text() == "x\n"


# -- settings ----------------------------------------------------------------------------------


def test_settings_show_values_with_their_source(shell: InteractiveShell) -> None:
    result, _ = cell(shell, "%settings")
    text = shell.display_formatter.format(result.result)[0]["text/plain"]
    assert "lua_timeout        30.0  (config)" in text
    assert "provider           null  (default)" in text


def test_settings_set_validates_saves_and_applies(shell: InteractiveShell, project: Path) -> None:
    _, out = cell(shell, "%settings set lua_timeout 5")
    assert "lua_timeout = 5 saved in" in out.stdout
    assert json.loads((project / ".jido_code" / "settings.json").read_text()) == {"lua_timeout": 5}
    session = jido_kernel.current_session()
    assert session.manager.limits.timeout == 5.0 and session.manager.limits.sources["timeout"] == "local"
    assert cell(shell, "%settings get lua_timeout")[0].result == 5.0
    cell(shell, "%settings set provider openai")
    assert cell(shell, "%settings get provider")[0].result == "openai"
    cell(shell, "%settings unset lua_timeout")
    assert session.manager.limits.timeout == 30.0


def test_settings_set_global(shell: InteractiveShell, jido_home: Path) -> None:
    cell(shell, '%settings set shell_allowlist \'["ls", "cat"]\' --global')
    assert json.loads((jido_home / "settings.json").read_text()) == {"shell_allowlist": ["ls", "cat"]}
    assert jido_kernel.current_session().manager.limits.shell_allowlist == ("ls", "cat")


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        ("%settings set lua_timeout -1", "invalid_value"),
        ("%settings set colour blue", "unknown_key"),
        ("%settings set providers 3", "invalid_type"),
        ("%settings get colour", "unknown_key"),
    ],
)
def test_settings_errors_name_the_key(shell: InteractiveShell, command: str, reason: str) -> None:
    error = error_of(shell, command)
    assert isinstance(error, SettingsError) and error.reason == reason
    assert command.split()[2] in str(error)


def test_a_malformed_settings_file_is_never_overwritten(shell: InteractiveShell, project: Path) -> None:
    target = project / ".jido_code" / "settings.json"
    target.parent.mkdir()
    target.write_text('{"lua_timeout": 5,,}')
    _, out = cell(shell, "%settings reload")
    assert "reloaded" in out.stdout
    result, _ = cell(shell, "%settings")
    assert "malformed" in shell.display_formatter.format(result.result)[0]["text/plain"]
    error = error_of(shell, "%settings set lua_timeout 7")
    assert isinstance(error, SettingsError) and error.reason == "malformed_file"
    assert target.read_text() == '{"lua_timeout": 5,,}'
    cell(shell, "%settings set lua_timeout 7 --force")
    assert json.loads(target.read_text()) == {"lua_timeout": 7}


def test_settings_path(shell: InteractiveShell, project: Path, jido_home: Path) -> None:
    _, out = cell(shell, "%settings path")
    assert str(jido_home / "settings.json") in out.stdout
    assert str(project / ".jido_code" / "settings.json") in out.stdout


# -- state ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("magic", ["state", "messages", "todos", "tool_calls", "reasoning"])
def test_state_magics_show_a_snapshot_outside_a_kernel(shell: InteractiveShell, magic: str) -> None:
    state = jido_kernel.current_session().state
    state.append_message("user", "hello there")
    state.update_todos([{"content": "ship it", "status": "completed"}])
    result, out = cell(shell, f"%{magic}")
    assert result.error_in_exec is None and result.result is None
    assert len(out.outputs) == 1 and "text/html" in out.outputs[0].data


# -- lua -----------------------------------------------------------------------------------------


def test_lua_line_magic_takes_expressions_and_statements(shell: InteractiveShell) -> None:
    assert cell(shell, "%lua answer = 6 * 7")[0].result is None
    assert cell(shell, "%lua answer")[0].result == 42
    assert cell(shell, "%lua 'a', 'b'")[0].result == ("a", "b")


def test_lua_cell_options(shell: InteractiveShell) -> None:
    shell.user_ns["items"] = {"x": 1, "y": [1, 2]}
    result, _ = cell(shell, "%%lua -i items -o copy,missing --no-return\ncopy = items\nreturn 'hidden'")
    assert result.result is None
    assert shell.user_ns["copy"] == {"x": 1, "y": [1, 2]} and shell.user_ns["missing"] is None


def test_lua_reset(shell: InteractiveShell) -> None:
    cell(shell, "%lua kept = 1")
    _, out = cell(shell, "%lua_reset")
    assert "reset" in out.stdout
    assert cell(shell, "%lua kept")[0].result is None


def test_empty_lua_line_is_a_usage_error(shell: InteractiveShell) -> None:
    _, out = cell(shell, "%lua")
    assert "UsageError" in out.stderr


def test_a_project_cannot_add_commands_and_is_told_so(shell: InteractiveShell) -> None:
    _, out = cell(shell, '%settings set shell_allowlist \'["ls", "curl"]\'')
    assert "curl not allowed" in out.stderr and "--global" in out.stderr
    assert jido_kernel.current_session().manager.limits.shell_allowlist == ("ls",)
    result, _ = cell(shell, "%settings")
    assert "curl not allowed" in shell.display_formatter.format(result.result)[0]["text/plain"]


def test_reload_names_what_it_ignored(shell: InteractiveShell, project: Path) -> None:
    (project / ".jido_code").mkdir()
    (project / ".jido_code" / "settings.json").write_text("[1, 2]")
    _, out = cell(shell, "%settings reload")
    assert "reloaded" in out.stdout and "malformed" in out.stderr
    error = error_of(shell, "%settings set theme dark")
    assert "--force" in str(error)


def test_session_summary_counts_read_naturally(shell: InteractiveShell) -> None:
    state = jido_kernel.current_session().state
    state.append_message("user", "one")
    result, _ = cell(shell, "%session")
    text = shell.display_formatter.format(result.result)[0]["text/plain"]
    assert "1 message, 0 reasoning steps, 0 tool calls, 0 todos" in text


def test_read_file_display_has_no_phantom_last_line(shell: InteractiveShell, project: Path) -> None:
    (project / "two.txt").write_text("a\r\nb\r\n")
    result, _ = cell(shell, "%read_file two.txt")
    assert result.result == "a\r\nb\r\n"
    assert shell.display_formatter.format(result.result)[0]["text/plain"] == "     1→a\n     2→b"
