"""Renderings of session state: deterministic ``text/plain`` and themed ``text/html``.

Pure functions of records and snapshots. ``text/plain`` holds no ids, clock times or
durations, so notebooks diff and test cleanly. ``text/html`` escapes every piece of
content before adding markup, uses JupyterLab CSS variables (light and dark themes) and
only ``jido-`` scoped class names.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from jido_kernel.state.model import StateSnapshot
    from jido_kernel.state.records import Message, ReasoningStep, Todo, ToolCall

PARTS: tuple[str, ...] = ("state", "messages", "todos", "tool_calls", "reasoning", "stream")

_T = TypeVar("_T")

Bundle = dict[str, str]

_RESULT_HTML_CHARS = 2000
_TODO_MARKS = {"pending": "[ ]", "in_progress": "[~]", "completed": "[x]"}
_TODO_ICONS = {"pending": "\u2610", "in_progress": "\u25d0", "completed": "\u2611"}

_CSS = (
    ".jido{font-family:var(--jp-ui-font-family,system-ui,sans-serif);"
    "font-size:var(--jp-ui-font-size1,13px);color:var(--jp-ui-font-color1,inherit);"
    "line-height:1.45}"
    ".jido .jido-msg{border-left:3px solid var(--jp-border-color2,#9e9e9e);"
    "padding:2px 8px;margin:4px 0;background:var(--jp-layout-color1,transparent)}"
    ".jido .jido-role-user{border-left-color:var(--jp-brand-color1,#1976d2);"
    "background:var(--jp-layout-color2,rgba(127,127,127,.08))}"
    ".jido .jido-role-assistant{border-left-color:var(--jp-success-color1,#388e3c)}"
    ".jido .jido-role-system{border-left-color:var(--jp-warn-color1,#f57c00)}"
    ".jido .jido-role-tool{border-left-color:var(--jp-border-color1,#757575)}"
    ".jido .jido-role{font-size:.8em;font-weight:600;letter-spacing:.04em;"
    "text-transform:uppercase;color:var(--jp-ui-font-color2,inherit)}"
    ".jido .jido-note{font-weight:400;text-transform:none;font-style:italic}"
    ".jido .jido-text{white-space:pre-wrap;overflow-wrap:anywhere}"
    ".jido .jido-md>:first-child{margin-top:0}.jido .jido-md>:last-child{margin-bottom:0}"
    ".jido .jido-md p,.jido .jido-md ul,.jido .jido-md ol,.jido .jido-md pre{margin:4px 0}"
    ".jido .jido-md h1,.jido .jido-md h2,.jido .jido-md h3,.jido .jido-md h4,"
    ".jido .jido-md h5,.jido .jido-md h6{font-size:1.05em;margin:6px 0 2px;"
    "color:var(--jp-ui-font-color0,inherit)}"
    ".jido .jido-md h1{font-size:1.25em}.jido .jido-md h2{font-size:1.15em}"
    ".jido code,.jido pre{font-family:var(--jp-code-font-family,monospace);"
    "font-size:var(--jp-code-font-size,12px)}"
    ".jido code{background:var(--jp-layout-color2,rgba(127,127,127,.15));"
    "padding:0 3px;border-radius:2px}"
    ".jido pre{background:var(--jp-layout-color2,rgba(127,127,127,.15));padding:6px 8px;"
    "overflow-x:auto;white-space:pre;border-radius:2px}"
    ".jido pre code{background:none;padding:0}"
    ".jido a{color:var(--jp-content-link-color,#1976d2)}"
    ".jido .jido-cursor{color:var(--jp-brand-color1,#1976d2)}"
    ".jido .jido-empty,.jido .jido-more{color:var(--jp-ui-font-color2,inherit);"
    "font-style:italic}"
    ".jido .jido-section>summary{font-weight:600;cursor:pointer;margin-top:4px;"
    "color:var(--jp-ui-font-color0,inherit)}"
    ".jido .jido-tool{padding:2px 0;border-bottom:1px solid var(--jp-border-color2,#9e9e9e)}"
    ".jido .jido-badge{display:inline-block;min-width:6em;font-size:.8em;font-weight:600;"
    "text-transform:uppercase}"
    ".jido .jido-status-pending .jido-badge{color:var(--jp-ui-font-color2,inherit)}"
    ".jido .jido-status-running .jido-badge{color:var(--jp-brand-color1,#1976d2)}"
    ".jido .jido-status-completed .jido-badge{color:var(--jp-success-color1,#388e3c)}"
    ".jido .jido-status-error .jido-badge{color:var(--jp-error-color1,#d32f2f)}"
    ".jido .jido-duration{color:var(--jp-ui-font-color2,inherit);font-size:.85em}"
    ".jido .jido-result summary{cursor:pointer;font-size:.85em;"
    "color:var(--jp-ui-font-color2,inherit)}"
    ".jido .jido-todos,.jido .jido-reasoning{margin:2px 0;padding-left:1.6em}"
    ".jido .jido-todos{list-style:none;padding-left:.2em}"
    ".jido .jido-check{display:inline-block;width:1.4em}"
    ".jido .jido-todo-in_progress{font-weight:600}"
    ".jido .jido-todo-in_progress .jido-check{color:var(--jp-warn-color1,#f57c00)}"
    ".jido .jido-todo-completed{color:var(--jp-ui-font-color2,inherit);"
    "text-decoration:line-through}"
    ".jido .jido-todo-completed .jido-check{color:var(--jp-success-color1,#388e3c);"
    "text-decoration:none}"
)


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _tail(items: Sequence[_T], limit: int | None) -> tuple[int, Sequence[_T]]:
    """(number hidden, the last ``limit`` items)."""
    if limit is None or len(items) <= limit:
        return 0, items
    return len(items) - limit, items[len(items) - limit :]


def _wrap(part: str, body: str) -> str:
    return f'<div class="jido jido-{part}"><style>{_CSS}</style>{body}</div>'


def _bundle(part: str, text: str, body: str) -> Bundle:
    return {"text/plain": text, "text/html": _wrap(part, body)}


def _more_html(hidden: int, noun: str) -> str:
    return f'<div class="jido-more">{_plural(hidden, "earlier " + noun)} not shown</div>'


# -- markdown -------------------------------------------------------------------------

_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")
_HEADING = re.compile(r" {0,3}(#{1,6})[ \t]+(.*)")
_BULLET = re.compile(r"\s*[-*+][ \t]+(.*)")
_ORDERED = re.compile(r"\s*\d{1,9}[.)][ \t]+(.*)")
_LANG = re.compile(r"[\w+#.-]{1,30}")
_INLINE = re.compile(
    r"`([^`\n]+)`"
    r"|\[([^\]\n]{1,500})\]\(((?i:https?)://[^\s()<>\"'`]{1,2000})\)"
)
_BOLD = re.compile(r"\*\*([^*\n]+)\*\*")
_EM = re.compile(r"\*([^*\s](?:[^*\n]*[^*\s])?)\*")


def _emphasis(text: str) -> str:
    """Escape ``text`` and render **bold** and *em*."""
    return _EM.sub(r"<em>\1</em>", _BOLD.sub(r"<strong>\1</strong>", _esc(text)))


def _inline(text: str) -> str:
    """Render inline markdown (code spans, http(s) links, bold, em) of raw ``text``."""
    out: list[str] = []
    position = 0
    for match in _INLINE.finditer(text):
        out.append(_emphasis(text[position : match.start()]))
        code, label, url = match.groups()
        if code is not None:
            out.append(f"<code>{_esc(code)}</code>")
        else:
            out.append(
                f'<a href="{_esc(url)}" target="_blank" rel="noopener noreferrer">'
                f"{_emphasis(label)}</a>"
            )
        position = match.end()
    out.append(_emphasis(text[position:]))
    return "".join(out)


def _fence_start(line: str) -> tuple[str, str] | None:
    """(fence, language) if ``line`` opens a fenced code block."""
    match = _FENCE.fullmatch(line)
    if match is None:
        return None
    fence, info = match.groups()
    if fence[0] == "`" and "`" in info:
        return None
    words = info.split()
    lang = words[0] if words and _LANG.fullmatch(words[0]) else ""
    return fence, lang


def _heading_title(text: str) -> str:
    """A heading's text without its optional closing ``#`` sequence."""
    title = text.rstrip()
    body = title.rstrip("#")
    if body != title and (not body or body[-1] in " \t"):
        return body.rstrip()
    return title


def markdown_html(text: str) -> str:
    """HTML of a safe markdown subset: paragraphs, headings, lists, code, links, emphasis.

    Every character of ``text`` is HTML-escaped before markup is added; links must be
    http(s). Raw HTML in ``text`` is shown as text.
    """
    lines = text.splitlines()
    blocks: list[str] = []
    paragraph: list[str] = []

    def end_paragraph() -> None:
        if paragraph:
            blocks.append("<p>" + _inline("\n".join(paragraph)).replace("\n", "<br>\n") + "</p>")
            paragraph.clear()

    index = 0
    while index < len(lines):
        line = lines[index]
        fence = _fence_start(line)
        heading = _HEADING.fullmatch(line) if fence is None else None
        if fence is not None:
            end_paragraph()
            marker, lang = fence
            code: list[str] = []
            index += 1
            while index < len(lines):
                closing = lines[index].strip()
                if closing.startswith(marker) and closing.strip(marker[0]) == "":
                    break
                code.append(lines[index])
                index += 1
            css = f' class="language-{_esc(lang)}"' if lang else ""
            body = _esc("\n".join(code))
            blocks.append(f"<pre><code{css}>{body}</code></pre>")
        elif heading is not None:
            end_paragraph()
            level = len(heading.group(1))
            title = _heading_title(heading.group(2))
            blocks.append(f"<h{level}>{_inline(title)}</h{level}>")
        elif _BULLET.fullmatch(line) or _ORDERED.fullmatch(line):
            end_paragraph()
            pattern = _BULLET if _BULLET.fullmatch(line) else _ORDERED
            tag = "ul" if pattern is _BULLET else "ol"
            items: list[str] = []
            while index < len(lines):
                item = pattern.fullmatch(lines[index])
                if item is None:
                    break
                items.append(f"<li>{_inline(item.group(1))}</li>")
                index += 1
            blocks.append(f"<{tag}>{''.join(items)}</{tag}>")
            continue
        elif not line.strip():
            end_paragraph()
        else:
            paragraph.append(line)
        index += 1
    end_paragraph()
    return f'<div class="jido-md">{"".join(blocks)}</div>'


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
    role = _esc(message.role)
    note = ""
    if streaming:
        note = ' <span class="jido-note">streaming\u2026</span>'
    elif message.interrupted:
        note = ' <span class="jido-note">interrupted</span>'
    if message.role == "assistant" and not streaming:
        body = markdown_html(message.content)
    else:
        cursor = '<span class="jido-cursor">\u258d</span>' if streaming else ""
        body = f'<div class="jido-text">{_esc(message.content)}{cursor}</div>'
    return (
        f'<div class="jido-msg jido-role-{role}"><div class="jido-role">{role}{note}</div>'
        f"{body}</div>"
    )


def messages_text(
    messages: Sequence[Message], *, streaming: Message | None = None, limit: int | None = None
) -> str:
    hidden, shown = _tail(messages, limit)
    lines = [f"({_plural(hidden, 'earlier message')} not shown)"] if hidden else []
    lines += [message_text(message) for message in shown]
    if streaming is not None:
        lines.append(message_text(streaming, streaming=True))
    return "\n".join(lines) if lines else "No messages."


def messages_html(
    messages: Sequence[Message], *, streaming: Message | None = None, limit: int | None = None
) -> str:
    hidden, shown = _tail(messages, limit)
    parts = [_more_html(hidden, "message")] if hidden else []
    parts += [message_html(message) for message in shown]
    if streaming is not None:
        parts.append(message_html(streaming, streaming=True))
    return "".join(parts) if parts else '<div class="jido-empty">No messages.</div>'


def message_bundle(message: Message) -> Bundle:
    return _bundle("message", message_text(message), message_html(message))


def stream_bundle(message: Message | None, *, live: bool) -> Bundle:
    """The streaming message alone (``live``), or the message it became, or a placeholder."""
    if message is None:
        return _bundle(
            "stream",
            "No message is streaming.",
            '<div class="jido-empty">No message is streaming.</div>',
        )
    return _bundle(
        "stream",
        message_text(message, streaming=live),
        message_html(message, streaming=live),
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
    items = "".join(f'<li><div class="jido-text">{_esc(step.content)}</div></li>' for step in shown)
    more = _more_html(hidden, "step") if hidden else ""
    return f'{more}<ol class="jido-reasoning" start="{hidden + 1}">{items}</ol>'


def _signature(call: ToolCall) -> str:
    arguments = ", ".join(
        f"{key}={_clip(repr(value), 40)}" for key, value in call.arguments.items()
    )
    return f"{call.name}({arguments})"


def _duration(milliseconds: float) -> str:
    if milliseconds < 1000:
        return f"{milliseconds:.0f} ms"
    return f"{milliseconds / 1000:.2f} s"


def tool_call_text(call: ToolCall) -> str:
    """``name(arg=value) — status`` and the first line of the result (no duration)."""
    line = f"{_signature(call)} \u2014 {call.status}"
    if call.result:
        first, *rest = call.result.splitlines() or [""]
        line += "\n  \u2192 " + _clip(first, 80) + (" \u2026" if rest else "")
    return line


def tool_call_html(call: ToolCall) -> str:
    status = _esc(call.status)
    duration = (
        f' <span class="jido-duration">{_duration(call.duration_ms)}</span>'
        if call.duration_ms is not None
        else ""
    )
    result = ""
    if call.result is not None:
        shown = call.result[:_RESULT_HTML_CHARS]
        more = len(call.result) - len(shown)
        tail = f"\n\u2026 ({_plural(more, 'more character')})" if more else ""
        opened = " open" if call.status == "error" else ""
        result = (
            f'<details class="jido-result"{opened}><summary>result</summary>'
            f"<pre>{_esc(shown + tail)}</pre></details>"
        )
    return (
        f'<div class="jido-tool jido-status-{status}"><span class="jido-badge">{status}</span> '
        f"<code>{_esc(_signature(call))}</code>{duration}{result}</div>"
    )


def tool_calls_text(calls: Sequence[ToolCall], *, limit: int | None = None) -> str:
    hidden, shown = _tail(calls, limit)
    lines = [f"({_plural(hidden, 'earlier tool call')} not shown)"] if hidden else []
    lines += [tool_call_text(call) for call in shown]
    return "\n".join(lines) if lines else "No tool calls."


def tool_calls_html(calls: Sequence[ToolCall], *, limit: int | None = None) -> str:
    if not calls:
        return '<div class="jido-empty">No tool calls.</div>'
    hidden, shown = _tail(calls, limit)
    more = _more_html(hidden, "tool call") if hidden else ""
    return more + "".join(tool_call_html(call) for call in shown)


def _todo_label(todo: Todo) -> str:
    if todo.status == "in_progress" and todo.active_form:
        return todo.active_form
    return todo.content


def todos_text(todos: Sequence[Todo]) -> str:
    """A checklist: ``[x]`` completed, ``[~]`` in progress, ``[ ]`` pending."""
    if not todos:
        return "No todos."
    return "\n".join(f"{_TODO_MARKS[todo.status]} {_todo_label(todo)}" for todo in todos)


def todos_html(todos: Sequence[Todo]) -> str:
    if not todos:
        return '<div class="jido-empty">No todos.</div>'
    items = "".join(
        f'<li class="jido-todo jido-todo-{_esc(todo.status)}">'
        f'<span class="jido-check">{_TODO_ICONS[todo.status]}</span>{_esc(_todo_label(todo))}</li>'
        for todo in todos
    )
    return f'<ul class="jido-todos">{items}</ul>'


def reasoning_bundle(steps: Sequence[ReasoningStep], *, limit: int | None = None) -> Bundle:
    return _bundle(
        "reasoning", reasoning_text(steps, limit=limit), reasoning_html(steps, limit=limit)
    )


def tool_calls_bundle(calls: Sequence[ToolCall], *, limit: int | None = None) -> Bundle:
    return _bundle(
        "tool_calls", tool_calls_text(calls, limit=limit), tool_calls_html(calls, limit=limit)
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
        f'<details class="jido-section" open><summary>{title}</summary>{body}</details>'
        for title, body in sections
    )


def part_bundle(
    snapshot: StateSnapshot,
    part: str,
    *,
    limit: int | None = None,
    stream_text: bool = True,
    last_stream: Message | None = None,
) -> Bundle:
    """The mimebundle of one ``part`` of a snapshot (one of :data:`PARTS`).

    ``limit`` keeps the most recent items of long lists. Without ``stream_text`` the
    history parts show that a message is streaming but not its text (live views of the
    history are not redrawn on every chunk). The ``stream`` part shows the streaming
    message, else ``last_stream`` (the message the stream became), else a placeholder.
    """
    streaming = snapshot.streaming
    if streaming is not None and not stream_text:
        streaming = replace(streaming, content="")
    if part == "stream":
        if snapshot.streaming is not None:
            return stream_bundle(snapshot.streaming, live=True)
        return stream_bundle(last_stream, live=False)
    if part == "messages":
        return _bundle(
            "messages",
            messages_text(snapshot.messages, streaming=streaming, limit=limit),
            messages_html(snapshot.messages, streaming=streaming, limit=limit),
        )
    if part == "reasoning":
        return reasoning_bundle(snapshot.reasoning_steps, limit=limit)
    if part == "tool_calls":
        return tool_calls_bundle(snapshot.tool_calls, limit=limit)
    if part == "todos":
        return todos_bundle(snapshot.todos)
    if part == "state":
        if streaming is not snapshot.streaming:
            snapshot = replace(snapshot, streaming=streaming)
        return _bundle(
            "state", state_text(snapshot, limit=limit), state_html(snapshot, limit=limit)
        )
    raise ValueError(f"unknown part {part!r}")
