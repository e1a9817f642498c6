"""What every client keeps of a cell's output, through the ``jido`` kernel: text from Lua,
tool-call rows in order with prints, final outputs for clients that ignore updates,
``--help`` on every magic and ``%state clear``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from kernel_helpers import Execution, execute, jido_kernel, plain

pytestmark = pytest.mark.kernel

MAGICS = (
    "%lua",
    "%%lua",
    "%lua_reset",
    "%session",
    "%project_root",
    "%validate_path",
    "%read_file",
    "%%write_file",
    "%list_dir",
    "%settings",
    "%state",
    "%messages",
    "%todos",
    "%tool_calls",
    "%reasoning",
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("outputs-project")
    (root / "two.txt").write_text("first\nsecond\n")
    for number in range(12):
        (root / f"f{number}.txt").write_text("x")
    return root


@pytest.fixture(scope="module")
def kc(project: Path) -> Iterator[BlockingKernelClient]:
    with jido_kernel(project) as (_, client):
        yield client


def final_outputs(run: Execution) -> list[tuple[str, dict[str, Any]]]:
    """The outputs a client that ignores updates keeps, in order: (kind, data or text)."""
    kept: list[tuple[str, dict[str, Any]]] = []
    for message in run.messages:
        kind, content = message["msg_type"], message["content"]
        if kind == "stream":
            kept.append(("stream", {"text": content["text"]}))
        elif kind in ("display_data", "execute_result"):
            kept.append((kind, content["data"]))
    return kept


@pytest.mark.parametrize("magic", MAGICS)
def test_every_magic_prints_its_usage_with_help(kc: BlockingKernelClient, magic: str) -> None:
    for flag in ("--help", "-h"):
        run = execute(kc, f"{magic} {flag}" + ("\nerror('must not run')" if magic.startswith("%%") else ""))
        assert run.status == "ok", run.error
        name = magic.lstrip("%")
        assert f"%{name}" in run.stdout and not run.of_type("execute_result")


def test_lua_help_does_not_run_lua(kc: BlockingKernelClient) -> None:
    execute(kc, "%lua ran = false")
    execute(kc, "%lua --help")
    assert plain(execute(kc, "%lua ran")) == "False"


def test_multi_line_text_from_lua_reads_as_text(kc: BlockingKernelClient) -> None:
    run = execute(kc, '%lua "one\\ntwo"')
    assert run.result is not None
    assert run.result["text/plain"] == "one\ntwo"
    assert '<pre class="jido-lua-text">one\ntwo</pre>' in run.result["text/html"]
    shell = execute(kc, '%lua jido.shell("ls")')
    assert shell.result is not None
    assert "stdout = [[\n" in shell.result["text/plain"] and "\\n" not in shell.result["text/plain"]
    assert '<pre class="jido-lua-text">f0.txt\n' in shell.result["text/html"]


def test_read_file_numbers_exactly_the_lines_and_has_a_raw_mode(kc: BlockingKernelClient) -> None:
    numbered = execute(kc, '%lua jido.read_file("two.txt")')
    assert plain(numbered) == "     1→first\n     2→second"
    raw = execute(kc, '%lua jido.read_file("two.txt", {raw=true})')
    assert plain(raw) == "first\nsecond\n"
    refused = execute(kc, '%lua jido.read_file("two.txt", {raw="yes"})')
    assert "raw must be a boolean" in plain(refused)
    magic = execute(kc, "%read_file two.txt")
    assert plain(magic) == "     1→first\n     2→second"


def test_tool_calls_keep_their_final_state_in_order_with_prints(kc: BlockingKernelClient) -> None:
    run = execute(
        kc,
        "%%lua\n"
        "jido.file_exists('two.txt')\n"
        "print('between')\n"
        "for i = 0, 11 do jido.file_stat('f' .. i .. '.txt') end\n"
        "jido.file_stat('missing.txt')\n",
    )
    assert run.status == "ok", run.error
    kept = [(kind, data) for kind, data in final_outputs(run) if data.get("text/plain") != ""]
    kinds = [kind for kind, _ in kept]
    assert kinds == ["display_data", "display_data", "stream", "display_data", "display_data"], kinds
    first, last = kept[1][1], kept[4][1]
    assert first["text/plain"] == 'file_exists(path="two.txt") \u2014 completed\n  \u2192 true'
    assert kept[2][1]["text"] == "between\n"
    assert "13 \u00d7 file_stat \u00b7 1 error" in last["text/plain"]
    assert "running" not in first["text/plain"] + last["text/plain"]
    assert "<details" in last["text/html"] and "<table" in last["text/html"]
    # the live outputs are emptied once their final rendering is shown
    for display_id, data in run.displays().items():
        assert data == {"text/plain": ""}, display_id


def test_quiet_hides_the_tool_rows(kc: BlockingKernelClient) -> None:
    run = execute(kc, "%%lua --quiet\njido.file_exists('two.txt')\nprint('done')")
    assert run.status == "ok" and run.stdout == "done\n"
    assert not run.of_type("display_data", "update_display_data")


def test_state_clear(kc: BlockingKernelClient) -> None:
    execute(kc, "import jido_kernel\nstate = jido_kernel.current_session().state")
    execute(kc, "state.append_message('user', 'hi'); state.add_reasoning_step('think')")
    cleared = execute(kc, "%state clear tool_calls")
    assert cleared.stdout == "Cleared: tool calls.\n"
    assert plain(execute(kc, "len(state.tool_calls), len(state.messages)")) == "(0, 1)"
    everything = execute(kc, "%state clear")
    assert everything.stdout == "Cleared: messages, reasoning, tool calls, todos.\n"
    assert plain(execute(kc, "len(state.messages) + len(state.reasoning_steps)")) == "0"
    wrong = execute(kc, "%state clear nothing")
    assert wrong.status == "error"


def test_an_empty_live_view_says_it_updates(kc: BlockingKernelClient) -> None:
    execute(kc, "%state clear messages")
    run = execute(kc, "%messages")
    (shown,) = run.of_type("display_data")
    assert shown["content"]["data"]["text/plain"].startswith("No messages yet; this view updates in place")


def test_a_refused_root_is_named_with_its_source_and_fix(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-project"
    with jido_kernel(tmp_path, env={"JIDO_PROJECT_ROOT": str(missing)}) as (_, client):
        run = execute(client, "%project_root")
        assert run.status == "error"
        message = run.error["evalue"] if run.error else ""
        assert f"the project root {missing} (from $JIDO_PROJECT_ROOT) was refused" in message
        assert f"Project path {missing} does not exist" in message
        assert "%session new PATH" in message and "restart the kernel" in message
        assert "load_ext" not in message


def test_security_errors_name_their_kind_once(kc: BlockingKernelClient) -> None:
    run = execute(kc, "%validate_path ../../etc/passwd")
    assert run.error is not None
    (line,) = run.error["traceback"]
    assert "SecurityError" in line and "Security error" not in line and "path escapes" in line


def test_load_ext_names_the_session_and_root(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.setenv("JIDO_PROJECT_ROOT", str(project))
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "jido_kernel")
    try:
        out = capsys.readouterr().out
    finally:
        ip.run_line_magic("unload_ext", "jido_kernel")
    (line,) = [line for line in out.splitlines() if "session" in line]
    assert line.startswith(f"jido_kernel: session {project.name!r} at {project} (root from $JIDO_PROJECT_ROOT)")


def test_settings_say_where_they_wrote_and_add_no_lock_to_the_project(tmp_path: Path) -> None:
    (tmp_path / ".jido_code").mkdir()
    (tmp_path / ".jido_code" / "settings.json").write_text("{not json")
    with jido_kernel(tmp_path) as (_, client):
        first = execute(client, "1")
        assert first.stderr.count("Note: ") == 1
        saved = execute(client, "%settings set lua_timeout 5 --force")
        assert saved.status == "ok", saved.error
        assert f"saved in {tmp_path}/.jido_code/settings.json" in saved.stdout
        assert "add .jido_code/ to .gitignore" in saved.stdout
        again = execute(client, "%settings set lua_timeout 6")
        assert ".gitignore" not in again.stdout and "Note: " not in again.stderr
    assert sorted(p.name for p in (tmp_path / ".jido_code").iterdir()) == ["settings.json"]
