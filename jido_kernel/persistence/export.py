"""``%session export PATH``: a saved conversation as JSON or Markdown, written by the owner.

PATH is the owner's own (like a path given to ``open()`` in a Python cell): relative
paths are taken from the kernel's working directory and no project-root confinement
applies. An existing file is never overwritten unless asked (``--force``), and the
file is written whole or not at all (temporary file, fsync, rename; mode 0600).
Message text is data: Markdown gets it inside fences longer than any backtick run in it.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jido_kernel.persistence.store import Saved

FORMATS = ("json", "md")


def render(saved: Saved, fmt: str) -> str:
    """The conversation in ``fmt`` (``json`` or ``md``)."""
    if fmt == "json":
        return json.dumps(_document(saved), ensure_ascii=False, indent=2) + "\n"
    return _markdown(saved)


def _document(saved: Saved) -> dict[str, Any]:
    return {
        "session_id": saved.session_id,
        "name": saved.meta.get("name", ""),
        "project_root": saved.meta.get("project_root", ""),
        "updated": _time(saved.meta.get("updated")),
        "messages": saved.records["message"],
        "reasoning_steps": saved.records["reasoning"],
        "tool_calls": saved.records["tool_call"],
        "todos": saved.todos,
    }


def _time(value: str | None) -> str | None:
    return None if value is None else datetime.fromtimestamp(float(value), UTC).isoformat()


def _fenced(text: str) -> str:
    longest = run = 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def _markdown(saved: Saved) -> str:
    document = _document(saved)
    name = document["name"] or saved.session_id
    lines = [f"# Session {json.dumps(name, ensure_ascii=False)}", "", f"- id: {saved.session_id}"]
    lines += [f"- project root: {json.dumps(document['project_root'], ensure_ascii=False)}"]
    lines += [f"- last change: {document['updated']}", "", "## Messages", ""]
    for message in document["messages"]:
        flag = " (interrupted)" if message.get("interrupted") else ""
        lines += [f"### {message['role']}{flag} — {message['timestamp']}", "", _fenced(message["content"]), ""]
    if document["reasoning_steps"]:
        lines += ["## Reasoning", ""]
        lines += [f"{_fenced(step['content'])}\n" for step in document["reasoning_steps"]]
    if document["tool_calls"]:
        lines += ["## Tool calls", ""]
        for call in document["tool_calls"]:
            lines += [f"- {json.dumps(call['name'], ensure_ascii=False)}: {call['status']}"]
    if document["todos"]:
        lines += ["", "## Todos", ""]
        lines += [
            f"- [{todo['status']}] {json.dumps(todo['content'], ensure_ascii=False)}" for todo in document["todos"]
        ]
    return "\n".join(lines).rstrip() + "\n"


def write(path: str, text: str, *, force: bool = False) -> Path:
    """Write ``text`` to ``path`` atomically; FileExistsError unless ``force``."""
    target = Path(path)
    if os.path.lexists(target) and not force:
        raise FileExistsError(f"{target} exists: add --force to replace it")
    descriptor, temporary = tempfile.mkstemp(dir=target.parent or ".", prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise
    return target.absolute()
