"""Saved session state through real ``jido`` kernels: restarts, ``kill -9`` mid-stream,
two kernels of one notebook, and the ``%session`` commands of the saved state."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from queue import Empty

import pytest
from kernel_helpers import execute, jido_kernel, plain

pytestmark = pytest.mark.kernel

MESSAGES = (
    "from jido_kernel import current_session\n"
    "[(m.role, m.content, m.interrupted) for m in current_session().state.messages]"
)


def notebook_env(project: Path) -> dict[str, str]:
    return {"JPY_SESSION_NAME": str(project / "chat.ipynb")}


def test_restart_then_resume_brings_the_conversation_back_once(project: Path, jido_home: Path) -> None:
    setup = (
        "from jido_kernel import current_session\n"
        "st = current_session().state\n"
        "st.append_message('user', 'hello')\n"
        "st.add_reasoning_step('thinking')\n"
        "st.update_todos([{'content': 'reply', 'status': 'in_progress'}])\n"
        "with st.stream() as w:\n    w.write('hi '); w.write('there')\n"
    )
    with jido_kernel(project, env=notebook_env(project)) as (km, kc):
        assert execute(kc, setup).status == "ok"
        lua = execute(kc, "%%lua\nx = 42\njido.write_file('a.txt', 'data')")
        assert lua.status == "ok"
        km.restart_kernel(now=False)
        kc.wait_for_ready(timeout=60)
        fresh = execute(kc, MESSAGES)
        resumed = execute(kc, "%session resume")
        again = execute(kc, "%session resume")
        messages = execute(kc, MESSAGES)
        others = execute(
            kc,
            "st = current_session().state\n"
            "(len(st.reasoning_steps), [t.content for t in st.todos], len(st.tool_calls))",
        )
        lua_state = execute(kc, "%lua tostring(x)")
        saved = execute(kc, "%session saved")
        shown = execute(kc, "%session")
        exported = execute(kc, "%session export chat.json --format json")
        markdown = execute(kc, "%session export chat.md")
        refused = execute(kc, "%session export chat.md")
        forgot = execute(kc, "%session forget")
        after_forget = execute(kc, "%session saved")
    assert plain(fresh) == "[]"
    assert "Resumed 2 messages, 1 reasoning steps, 1 tool calls and 1 todos" in resumed.stdout
    assert "Lua state is not saved" in resumed.stdout
    assert "Resumed 0 messages" in again.stdout
    assert plain(messages) == "[('user', 'hello', False), ('assistant', 'hi there', False)]"
    assert plain(others) == "(1, ['reply'], 1)"
    assert "nil" in plain(lua_state)
    assert (
        "chat" in plain(saved)
        and str(project) in plain(saved)
        and "2 messages, 1 reasoning, 1 tool calls" in plain(saved)
    )
    assert f"Saved state: {jido_home / 'sessions'}" in shown.stdout
    assert exported.status == markdown.status == "ok"
    document = json.loads((project / "chat.json").read_text())
    assert [m["content"] for m in document["messages"]] == ["hello", "hi there"]
    assert "```text\nhello\n```" in (project / "chat.md").read_text()
    assert refused.status == "error" and "--force" in refused.error["evalue"]
    assert "Forgot the saved state" in forgot.stdout
    assert "0 messages, 0 reasoning, 0 tool calls" in plain(after_forget)
    assert not any(project.rglob("*.sqlite3")) and not any(project.rglob("*-wal"))


def _kernel_pid(km: object) -> int:
    return km.provisioner.process.pid  # type: ignore[attr-defined]


def test_kill_9_in_the_middle_of_a_stream_keeps_everything_before_it(project: Path, jido_home: Path) -> None:
    stream = (
        "import time\n"
        "from jido_kernel import current_session\n"
        "st = current_session().state\n"
        "st.append_message('user', 'before the stream')\n"
        "st.start_streaming()\n"
        "for i in range(200):\n"
        "    st.update_streaming(f'<chunk {i}>')\n"
        "    time.sleep(0.3)\n"
        "    print(i, flush=True)\n"
    )
    env = notebook_env(project)
    with jido_kernel(project, env=env) as (km, kc):
        kc.execute(stream)
        printed = -1
        deadline = time.monotonic() + 60
        while printed < 5 and time.monotonic() < deadline:
            try:
                msg = kc.get_iopub_msg(timeout=1)
            except Empty:
                continue
            if msg["msg_type"] == "stream":
                printed = max([printed, *(int(n) for n in msg["content"]["text"].split())])
        assert printed >= 5
        os.kill(_kernel_pid(km), signal.SIGKILL)
    with jido_kernel(project, env=env) as (_, kc):
        assert "Resumed 2 messages" in execute(kc, "%session resume").stdout
        messages = eval(plain(execute(kc, MESSAGES)))  # a list of tuples of literals
    assert messages[0] == ("user", "before the stream", False)
    role, content, interrupted = messages[1]
    assert role == "assistant" and interrupted
    count = content.count("<chunk ")
    assert content == "".join(f"<chunk {i}>" for i in range(count))  # whole chunks, in order
    assert count >= printed + 1


def test_two_kernels_of_one_notebook_writing_at_once_lose_nothing(project: Path, jido_home: Path) -> None:
    env = notebook_env(project)
    write = (
        "from jido_kernel import current_session\nst = current_session().state\n"
        "for i in range(300):\n    st.append_message('user', '{who}%d' % i)\n"
    )
    with jido_kernel(project, env=env) as (_, first), jido_kernel(project, env=env) as (_, second):
        ids = [kc.execute(write.replace("{who}", who)) for kc, who in ((first, "a"), (second, "b"))]
        for kc, msg_id in zip((first, second), ids, strict=True):
            reply = kc.get_shell_msg(timeout=60)
            while reply["parent_header"].get("msg_id") != msg_id:
                reply = kc.get_shell_msg(timeout=60)
            assert reply["content"]["status"] == "ok"
        for kc in (first, second):
            assert execute(kc, "%session saved").status == "ok"  # commits what is pending
    with jido_kernel(project, env=env) as (_, kc):
        assert "Resumed 600 messages" in execute(kc, "%session resume").stdout
        contents = [content for _, content, _ in eval(plain(execute(kc, MESSAGES)))]
    assert sorted(contents) == sorted(f"{who}{i}" for who in "ab" for i in range(300))
    assert [c for c in contents if c[0] == "a"] == [f"a{i}" for i in range(300)]


def test_lua_cannot_reach_the_store_and_a_store_inside_the_root_is_refused(
    project: Path, tmp_path: Path, jido_home: Path
) -> None:
    with jido_kernel(project, env=notebook_env(project)) as (_, kc):
        execute(kc, "from jido_kernel import current_session\ncurrent_session().state.append_message('user', 'x')")
        execute(kc, "%session saved")
        (stored,) = (jido_home / "sessions").glob("*.sqlite3")
        lua = execute(kc, f"%%lua\nlocal ok, message = jido.read_file({json.dumps(str(stored))})\nreturn tostring(ok)")
    assert "nil" in plain(lua)
    inside = project / "home"
    with jido_kernel(project, env={**notebook_env(project), "JIDO_CODE_HOME": str(inside)}) as (_, kc):
        shown = execute(kc, "%session")
        resume = execute(kc, "%session resume")
    assert f"Saved state: not saved: {inside / 'sessions'} is inside the project root" in shown.stdout
    assert resume.status == "error" and "Nothing is saved" in resume.error["evalue"]
    assert not (inside / "sessions").exists()
