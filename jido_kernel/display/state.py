"""Renderings of session state: deterministic ``text/plain`` and themed ``text/html``.

Pure functions of records and snapshots. ``text/plain`` holds no ids, clock times or
durations, so notebooks diff and test cleanly. ``text/html`` escapes every piece of
content before adding markup, uses JupyterLab CSS variables (light and dark themes) and
only ``jido-`` scoped class names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from jido_kernel.display import tools
from jido_kernel.display.html import CSS, esc, page
from jido_kernel.display.markdown import MARKDOWN_MAX_CHARS, markdown_html
from jido_kernel.text import clip, clip_utf8, terminal_safe

if TYPE_CHECKING:
    from jido_kernel.state.model import StateSnapshot
    from jido_kernel.state.records import Message, ReasoningStep, Todo, ToolCall

PARTS: tuple[str, ...] = (
    "state",
    "messages",
    "todos",
    "tool_calls",
    "reasoning",
    "stream",
)

_T = TypeVar("_T")

Bundle = dict[str, str]

__all__ = ["MARKDOWN_MAX_CHARS", "MAX_BUNDLE_BYTES", "PARTS", "markdown_html", "part_bundle"]

MAX_BUNDLE_BYTES = 512 * 1024
_MIN_ITEM_CHARS = 1024
_TODO_MARKS = {"pending": "[ ]", "in_progress": "[~]", "completed": "[x]"}
_TODO_ICONS = {"pending": "\u2610", "in_progress": "\u25d0", "completed": "\u2611"}


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _tail(items: Sequence[_T], limit: int | None) -> tuple[int, Sequence[_T]]:
    """(number hidden, the last ``limit`` items)."""
    if limit is None or len(items) <= limit:
        return 0, items
    return len(items) - limit, items[len(items) - limit :]


def _bundle(
    part: str,
    text: str,
    body: str,
    *,
    max_bytes: int = MAX_BUNDLE_BYTES,
    note: str | None = None,
) -> Bundle:
    """The mimebundle, within ``max_bytes`` (a third for text, the rest for HTML).

    Text beyond its share is clipped with a marker and loses terminal control
    sequences; HTML beyond its share is replaced by the escaped text.
    """
    if note is not None:
        text = f"({note})\n{text}"
        body = f'<div class="jido-more">{esc(note)}</div>{body}'
    plain = terminal_safe(clip_utf8(text, max_bytes // 3))
    shown_html = page(part, body)
    html_bytes = max_bytes - max_bytes // 3
    if 4 * len(shown_html) > html_bytes and len(shown_html.encode("utf-8", "surrogatepass")) > html_bytes:
        shown = clip_utf8(plain, (html_bytes - len(CSS) - 500) // 6)
        shown_html = page(
            part,
            f'<div class="jido-more">too large for HTML: shown as text</div><div class="jido-text">{esc(shown)}</div>',
        )
    return {"text/plain": plain, "text/html": shown_html}


def _clip_record(record: _T, chars: int) -> _T:
    """``record`` with its long text fields clipped to ``chars`` (with a marker)."""
    changes = {
        name: clip(value, chars)
        for name in ("content", "active_form", "result")
        if isinstance(value := getattr(record, name, None), str) and len(value) > chars
    }
    return replace(record, **changes) if changes else record  # type: ignore[type-var]


def _clip_shown(items: tuple[_T, ...], limit: int | None, chars: int) -> tuple[_T, ...]:
    """``items`` with the ones a rendering shows (the last ``limit``) clipped."""
    hidden = len(items) - limit if limit is not None and len(items) > limit else 0
    return (*items[:hidden], *(_clip_record(item, chars) for item in items[hidden:]))


def _clip_snapshot(snapshot: StateSnapshot, limit: int | None, max_bytes: int) -> StateSnapshot:
    """``snapshot`` with every text a rendering shows clipped to its share of ``max_bytes``."""
    lists = (snapshot.messages, snapshot.reasoning_steps, snapshot.tool_calls)
    shown = sum(len(items) if limit is None else min(limit, len(items)) for items in lists)
    shown += len(snapshot.todos) + 1
    chars = max(_MIN_ITEM_CHARS, max_bytes // 3 // shown)
    streaming = snapshot.streaming
    return replace(
        snapshot,
        messages=_clip_shown(snapshot.messages, limit, chars),
        reasoning_steps=_clip_shown(snapshot.reasoning_steps, limit, chars),
        tool_calls=_clip_shown(snapshot.tool_calls, limit, chars),
        todos=_clip_shown(snapshot.todos, None, chars),
        streaming=None if streaming is None else _clip_record(streaming, chars),
    )


_EMPTY = frozenset({"No messages.", "No reasoning steps.", "No tool calls.", "No todos."})


def _more_html(hidden: int, noun: str) -> str:
    return f'<div class="jido-more">{_plural(hidden, "earlier " + noun)} not shown</div>'


# -- messages -------------------------------------------------------------------------


def message_text(message: Message, *, streaming: bool = False) -> str:
    """``role: content``; ``(streaming)`` or ``(interrupted)`` after the role."""
    label = message.role
    if streaming:
        label += " (streaming)"
    elif message.interrupted:
        label += " (interrupted)"
    return f"{label}: {message.content}" if message.content else f"{label}:"


def message_html(message: Message, *, streaming: bool = False) -> str:
    """One message; assistant content as markdown unless it is still streaming."""
    role = esc(message.role)
    note = ""
    if streaming:
        note = ' <span class="jido-note">streaming\u2026</span>'
    elif message.interrupted:
        note = ' <span class="jido-note">interrupted</span>'
    if message.role == "assistant" and not streaming:
        body = markdown_html(message.content)
    else:
        cursor = '<span class="jido-cursor">\u258d</span>' if streaming else ""
        body = f'<div class="jido-text">{esc(message.content)}{cursor}</div>'
    return f'<div class="jido-msg jido-role-{role}"><strong class="jido-role">{role}{note}</strong>{body}</div>'


def messages_text(
    messages: Sequence[Message],
    *,
    streaming: Message | None = None,
    limit: int | None = None,
) -> str:
    hidden, shown = _tail(messages, limit)
    lines = [f"({_plural(hidden, 'earlier message')} not shown)"] if hidden else []
    lines += [message_text(message) for message in shown]
    if streaming is not None:
        lines.append(message_text(streaming, streaming=True))
    return "\n".join(lines) if lines else "No messages."


def messages_html(
    messages: Sequence[Message],
    *,
    streaming: Message | None = None,
    limit: int | None = None,
) -> str:
    hidden, shown = _tail(messages, limit)
    parts = [_more_html(hidden, "message")] if hidden else []
    parts += [message_html(message) for message in shown]
    if streaming is not None:
        parts.append(message_html(streaming, streaming=True))
    return "".join(parts) if parts else '<div class="jido-empty">No messages.</div>'


def message_bundle(message: Message) -> Bundle:
    return _bundle("message", message_text(message), message_html(message))


def stream_bundle(
    message: Message | None,
    *,
    live: bool,
    max_bytes: int = MAX_BUNDLE_BYTES,
    note: str | None = None,
) -> Bundle:
    """The streaming message alone (``live``), or the message it became, or a placeholder."""
    if message is None:
        return _bundle(
            "stream",
            "No message is streaming.",
            '<div class="jido-empty">No message is streaming.</div>',
            max_bytes=max_bytes,
            note=note,
        )
    return _bundle(
        "stream",
        message_text(message, streaming=live),
        message_html(message, streaming=live),
        max_bytes=max_bytes,
        note=note,
    )


# -- reasoning, tool calls, todos -------------------------------------------------------------


def reasoning_text(steps: Sequence[ReasoningStep], *, limit: int | None = None) -> str:
    hidden, shown = _tail(steps, limit)
    lines = [f"({_plural(hidden, 'earlier step')} not shown)"] if hidden else []
    lines += [f"{hidden + number}. {step.content}" for number, step in enumerate(shown, 1)]
    return "\n".join(lines) if lines else "No reasoning steps."


def reasoning_html(steps: Sequence[ReasoningStep], *, limit: int | None = None) -> str:
    if not steps:
        return '<div class="jido-empty">No reasoning steps.</div>'
    hidden, shown = _tail(steps, limit)
    items = "".join(f'<li><div class="jido-text">{esc(step.content)}</div></li>' for step in shown)
    more = _more_html(hidden, "step") if hidden else ""
    return f'{more}<ol class="jido-reasoning" start="{hidden + 1}">{items}</ol>'


def tool_calls_text(calls: Sequence[ToolCall], *, limit: int | None = None) -> str:
    hidden, shown = _tail(calls, limit)
    lines = [f"({_plural(hidden, 'earlier tool call')} not shown)"] if hidden else []
    lines += tools.tool_calls_text(shown)
    return "\n".join(lines) if lines else "No tool calls."


def tool_calls_html(calls: Sequence[ToolCall], *, limit: int | None = None) -> str:
    if not calls:
        return '<div class="jido-empty">No tool calls.</div>'
    hidden, shown = _tail(calls, limit)
    more = _more_html(hidden, "tool call") if hidden else ""
    return more + tools.tool_calls_html(shown)


def _todo_label(todo: Todo) -> str:
    if todo.status == "in_progress" and todo.active_form:
        return todo.active_form
    return todo.content


def _todo_markup(todo: Todo) -> str:
    """The label; struck through when completed, strong while in progress."""
    label = esc(_todo_label(todo))
    if todo.status == "completed":
        return f"<s>{label}</s>"
    return f"<strong>{label}</strong>" if todo.status == "in_progress" else label


def todos_text(todos: Sequence[Todo]) -> str:
    """A checklist: ``[x]`` completed, ``[~]`` in progress, ``[ ]`` pending."""
    if not todos:
        return "No todos."
    return "\n".join(f"{_TODO_MARKS[todo.status]} {_todo_label(todo)}" for todo in todos)


def todos_html(todos: Sequence[Todo]) -> str:
    if not todos:
        return '<div class="jido-empty">No todos.</div>'
    items = "".join(
        f'<li class="jido-todo jido-todo-{esc(todo.status)}">'
        f'<span class="jido-check">{_TODO_ICONS[todo.status]}</span> {_todo_markup(todo)}</li>'
        for todo in todos
    )
    return f'<ul class="jido-todos">{items}</ul>'


def reasoning_bundle(steps: Sequence[ReasoningStep], *, limit: int | None = None) -> Bundle:
    return _bundle(
        "reasoning",
        reasoning_text(steps, limit=limit),
        reasoning_html(steps, limit=limit),
    )


def tool_calls_bundle(calls: Sequence[ToolCall], *, limit: int | None = None) -> Bundle:
    return _bundle(
        "tool_calls",
        tool_calls_text(calls, limit=limit),
        tool_calls_html(calls, limit=limit),
    )


def todos_bundle(todos: Sequence[Todo]) -> Bundle:
    return _bundle("todos", todos_text(todos), todos_html(todos))


# -- whole state and parts -------------------------------------------------------------


def _indent(text: str) -> str:
    return "\n".join("  " + line if line else line for line in text.split("\n"))


def state_text(snapshot: StateSnapshot, *, limit: int | None = None) -> str:
    messages = messages_text(snapshot.messages, streaming=snapshot.streaming, limit=limit)
    reasoning = reasoning_text(snapshot.reasoning_steps, limit=limit)
    tool_calls = tool_calls_text(snapshot.tool_calls, limit=limit)
    sections = [
        (f"Messages ({len(snapshot.messages)})", messages),
        (f"Reasoning ({len(snapshot.reasoning_steps)})", reasoning),
        (f"Tool calls ({len(snapshot.tool_calls)})", tool_calls),
        (f"Todos ({len(snapshot.todos)})", todos_text(snapshot.todos)),
    ]
    return "\n".join(f"{title}\n{_indent(body)}" for title, body in sections)


def state_html(snapshot: StateSnapshot, *, limit: int | None = None) -> str:
    sections = [
        (
            f"Messages ({len(snapshot.messages)})",
            messages_html(snapshot.messages, streaming=snapshot.streaming, limit=limit),
        ),
        (
            f"Reasoning ({len(snapshot.reasoning_steps)})",
            reasoning_html(snapshot.reasoning_steps, limit=limit),
        ),
        (
            f"Tool calls ({len(snapshot.tool_calls)})",
            tool_calls_html(snapshot.tool_calls, limit=limit),
        ),
        (f"Todos ({len(snapshot.todos)})", todos_html(snapshot.todos)),
    ]
    return "".join(
        f'<details class="jido-section" open><summary>{title}</summary>{body}</details>' for title, body in sections
    )


def part_bundle(
    snapshot: StateSnapshot,
    part: str,
    *,
    limit: int | None = None,
    stream_text: bool = True,
    last_stream: Message | None = None,
    max_bytes: int = MAX_BUNDLE_BYTES,
    note: str | None = None,
    live: bool = False,
) -> Bundle:
    """The mimebundle of one ``part`` of a snapshot (one of :data:`PARTS`).

    ``limit`` keeps the most recent items of long lists. Without ``stream_text`` the
    history parts show that a message is streaming but not its text (live views of the
    history are not redrawn on every chunk). The ``stream`` part shows the streaming
    message, else ``last_stream`` (the message the stream became), else a placeholder.
    Content is clipped before rendering so the bundle stays within ``max_bytes``; ``note``
    is shown above the content. A ``live`` view that is empty says in ``text/plain``
    that it updates in place (text consoles show only its first state).
    """
    snapshot = _clip_snapshot(snapshot, limit, max_bytes)
    streaming = snapshot.streaming
    if streaming is not None and not stream_text:
        streaming = replace(streaming, content="")
    if part == "stream":
        if snapshot.streaming is not None:
            return stream_bundle(snapshot.streaming, live=True, max_bytes=max_bytes, note=note)
        shown = None if last_stream is None else _clip_record(last_stream, max_bytes // 3)
        return stream_bundle(shown, live=False, max_bytes=max_bytes, note=note)
    if part == "messages":
        text = messages_text(snapshot.messages, streaming=streaming, limit=limit)
        body = messages_html(snapshot.messages, streaming=streaming, limit=limit)
    elif part == "reasoning":
        text = reasoning_text(snapshot.reasoning_steps, limit=limit)
        body = reasoning_html(snapshot.reasoning_steps, limit=limit)
    elif part == "tool_calls":
        text = tool_calls_text(snapshot.tool_calls, limit=limit)
        body = tool_calls_html(snapshot.tool_calls, limit=limit)
    elif part == "todos":
        text, body = todos_text(snapshot.todos), todos_html(snapshot.todos)
    elif part == "state":
        if streaming is not snapshot.streaming:
            snapshot = replace(snapshot, streaming=streaming)
        text, body = (
            state_text(snapshot, limit=limit),
            state_html(snapshot, limit=limit),
        )
    else:
        raise ValueError(f"unknown part {part!r}")
    if live and text in _EMPTY:
        text = f"{text[:-1]} yet; this view updates in place (in a text console, run %{part} again)."
    return _bundle(part, text, body, max_bytes=max_bytes, note=note)
