"""Saved session state: the SQLite store, the writer thread, restore and export, on real files."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jido_kernel.persistence import store
from jido_kernel.persistence.export import render, write
from jido_kernel.persistence.restore import restore
from jido_kernel.persistence.writer import STREAM_POLL, Persister
from jido_kernel.state import SessionState

SID = "0b6f8a3e-6f6e-4a51-9d2e-3c1f0e7a9b10"


def persister(state: SessionState, tmp_path: Path, max_bytes: int = 10**7) -> Persister:
    return Persister(state, tmp_path / f"{SID}.sqlite3", name="nb", project_root="/p", max_bytes=max_bytes)


def fill(state: SessionState) -> None:
    state.append_message("user", "hello")
    state.add_reasoning_step("think")
    call = state.add_tool_call("read_file", {"path": "a.txt"})
    state.update_tool_call(call.id, status="completed", result="text", duration_ms=3)
    state.update_todos([{"content": "write tests", "status": "in_progress"}])
    with state.stream() as writer:
        writer.write("Hi ")
        writer.write("there")


def test_every_change_is_saved_in_order_in_wal_mode(tmp_path: Path) -> None:
    state = SessionState(SID)
    saving = persister(state, tmp_path)
    fill(state)
    assert saving.flush()
    saved = store.load(saving.path)
    assert [(m["role"], m["content"]) for m in saved.records["message"]] == [
        ("user", "hello"),
        ("assistant", "Hi there"),
    ]
    assert [s["content"] for s in saved.records["reasoning"]] == ["think"]
    assert saved.records["tool_call"][0]["status"] == "completed" and saved.records["tool_call"][0]["result"] == "text"
    assert saved.todos == [{"content": "write tests", "status": "in_progress", "active_form": None}]
    assert saved.meta["name"] == "nb" and saved.meta["project_root"] == "/p"
    with sqlite3.connect(saving.path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert stat.S_IMODE(os.stat(saving.path).st_mode) == 0o600
    saving.close()


def test_a_stream_is_saved_while_it_runs_and_comes_back_interrupted(tmp_path: Path) -> None:
    state = SessionState(SID)
    saving = persister(state, tmp_path)
    state.start_streaming()
    state.update_streaming("part one, ")
    time.sleep(STREAM_POLL * 3)
    state.update_streaming("part two")
    time.sleep(STREAM_POLL * 3)
    # the process "dies" here: what is on disk is read by another connection
    saved = store.load(saving.path)
    (message,) = saved.records["message"]
    assert message["content"] == "part one, part two" and message["interrupted"] is True
    state.end_streaming()
    saving.flush()
    (message,) = store.load(saving.path).records["message"]
    assert message["content"] == "part one, part two" and message["interrupted"] is False
    saving.close()


def test_clears_and_reset_are_saved(tmp_path: Path) -> None:
    state = SessionState(SID)
    saving = persister(state, tmp_path)
    fill(state)
    state.clear_messages()
    state.clear_reasoning_steps()
    saving.flush()
    saved = store.load(saving.path)
    assert saved.records["message"] == [] and saved.records["reasoning"] == []
    assert len(saved.records["tool_call"]) == 1
    state.clear_tool_calls()
    saving.flush()
    assert store.load(saving.path).records["tool_call"] == []
    saving.reset()
    saving.flush()
    saved = store.load(saving.path)
    assert saved.counts() == {"message": 0, "reasoning": 0, "tool_call": 0} and saved.todos == []
    saving.close()


def test_the_size_cap_drops_the_oldest_records(tmp_path: Path) -> None:
    state = SessionState(SID)
    saving = persister(state, tmp_path, max_bytes=5_000)
    for index in range(50):
        state.append_message("user", f"{index:03d}" + "x" * 200)
    saving.flush()
    saved = store.load(saving.path)
    kept = [m["content"][:3] for m in saved.records["message"]]
    assert 0 < len(kept) < 50 and kept[-1] == "049" and kept == sorted(kept)
    assert saving.dropped == 50 - len(kept)
    saving.close()


def test_two_writers_of_one_session_lose_nothing(tmp_path: Path) -> None:
    states = [SessionState(SID), SessionState(SID)]
    savers = [persister(state, tmp_path) for state in states]

    def write(state: SessionState, who: str) -> None:
        for index in range(300):
            state.append_message("user", f"{who}{index}")

    threads = [threading.Thread(target=write, args=(state, who)) for state, who in zip(states, "ab", strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for saving in savers:
        saving.flush()
        saving.close()
    contents = [m["content"] for m in store.load(tmp_path / f"{SID}.sqlite3").records["message"]]
    assert sorted(contents) == sorted(f"{who}{i}" for who in "ab" for i in range(300))
    assert [c for c in contents if c[0] == "a"] == [f"a{i}" for i in range(300)]


def test_restore_brings_records_back_once(tmp_path: Path) -> None:
    before = SessionState(SID)
    saving = persister(before, tmp_path)
    fill(before)
    before.start_streaming()
    before.update_streaming("cut off")
    time.sleep(STREAM_POLL * 3)
    saved = store.load(saving.path)
    saving.close()
    after = SessionState(SID)
    counts = restore(after, saved)
    assert counts == {"message": 3, "reasoning": 1, "tool_call": 1, "todos": 1, "skipped": 0}
    assert [(m.content, m.interrupted) for m in after.messages] == [
        ("hello", False),
        ("Hi there", False),
        ("cut off", True),
    ]
    assert after.tool_calls[0].result == "text" and after.tool_calls[0].duration_ms == 3
    assert after.todos[0].content == "write tests"
    assert restore(after, saved) == {"message": 0, "reasoning": 0, "tool_call": 0, "todos": 0, "skipped": 0}
    assert len(after.messages) == 3


def aged(*paths: Path) -> None:
    """Session files at ``paths``, unchanged for a month."""
    month_ago = time.time() - 31 * 86400
    for path in paths:
        store.connect(path).close()
        for suffix in ("", "-wal"):
            if os.path.exists(f"{path}{suffix}"):
                os.utime(f"{path}{suffix}", (month_ago, month_ago))


def test_sweep_deletes_files_past_retention(tmp_path: Path) -> None:
    old, new = tmp_path / f"{SID}.sqlite3", tmp_path / "1b6f8a3e-6f6e-4a51-9d2e-3c1f0e7a9b10.sqlite3"
    aged(old)
    store.connect(new).close()
    assert store.sweep(tmp_path, 30) == 1
    assert not old.exists() and new.exists()


def test_the_writer_thread_deletes_other_files_past_retention(tmp_path: Path) -> None:
    """Off the kernel's start-up: the session's writer sweeps its folder before it opens its file."""
    own, old = tmp_path / f"{SID}.sqlite3", tmp_path / "1b6f8a3e-6f6e-4a51-9d2e-3c1f0e7a9b10.sqlite3"
    aged(own, old)
    saving = Persister(SessionState(SID), own, name="nb", project_root="/p", max_bytes=10**7, keep_days=30)
    assert saving.flush()
    saving.close()
    assert own.exists() and not old.exists() and saving.error is None


def test_summaries_list_names_roots_counts(tmp_path: Path) -> None:
    state = SessionState(SID)
    saving = persister(state, tmp_path)
    fill(state)
    saving.flush()
    (row,) = store.summaries(tmp_path)
    assert (row.session_id, row.name, row.project_root) == (SID, "nb", "/p")
    assert row.counts == {"message": 2, "reasoning": 1, "tool_call": 1}
    saving.close()


def test_export_json_and_markdown(tmp_path: Path) -> None:
    state = SessionState(SID)
    saving = persister(state, tmp_path)
    fill(state)
    state.append_message("assistant", "code:\n```lua\nreturn 1\n```")
    saving.flush()
    saved = store.load(saving.path)
    saving.close()
    document = json.loads(render(saved, "json"))
    assert [m["content"] for m in document["messages"]][-1].startswith("code:")
    markdown = render(saved, "md")
    assert "````text\ncode:\n```lua" in markdown and '# Session "nb"' in markdown
    target = write(str(tmp_path / "chat.md"), markdown)
    assert target.read_text() == markdown
    with pytest.raises(FileExistsError):
        write(str(tmp_path / "chat.md"), "other")
    write(str(tmp_path / "chat.md"), "other", force=True)
    assert (tmp_path / "chat.md").read_text() == "other"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".chat")] == []


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=200))
def test_markdown_fences_hold_any_text(content: str) -> None:
    saved = store.Saved(
        SID,
        {"name": "n"},
        {
            "message": [{"id": "1", "role": "user", "content": content, "timestamp": "t"}],
            "reasoning": [],
            "tool_call": [],
        },
    )
    markdown = render(saved, "md")
    body = markdown.split("### user — t\n\n", 1)[1]
    fence = body.split("text\n", 1)[0]
    assert set(fence) == {"`"} and len(fence) >= 3
    assert body.startswith(f"{fence}text\n{content}\n{fence}\n")
    assert fence not in content


def test_the_writer_thread_opens_the_file_and_opening_is_no_change(tmp_path: Path) -> None:
    saving = persister(SessionState(SID), tmp_path)
    assert saving.flush()
    saved = store.load(saving.path)
    assert saved.meta["name"] == "nb" and saved.meta["project_root"] == "/p"
    assert "updated" not in saved.meta
    saving.close()


def test_a_file_that_cannot_be_opened_is_an_error_and_changes_are_still_taken(tmp_path: Path) -> None:
    state = SessionState(SID)
    saving = Persister(state, tmp_path / "missing" / f"{SID}.sqlite3", name="nb", project_root="/p", max_bytes=10**7)
    for index in range(3):
        state.append_message("user", f"message {index}")
    assert saving.flush()
    assert saving.error is not None and "FileNotFoundError" in saving.error
    assert len(state.messages) == 3
    saving.close()


def test_session_files_opened_at_once_by_several_writers_all_open(tmp_path: Path) -> None:
    # Switching a new file to WAL can answer "database is locked" at once, without waiting,
    # while another connection is switching it too.
    failures: list[BaseException] = []
    for round_ in range(150):
        path = tmp_path / f"s{round_}.sqlite3"
        barrier = threading.Barrier(4)

        def open_and_write(path: Path = path, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                with closing(store.connect(path)) as connection, store.transaction(connection):
                    store.set_meta(connection, name="n")
            except BaseException as error:  # the outcome under test
                failures.append(error)

        threads = [threading.Thread(target=open_and_write) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not failures, failures[0]
