"""Renderings of session state: deterministic ``text/plain`` and themed ``text/html``.

Pure functions of records and snapshots. ``text/plain`` holds no ids, clock times or
durations, so notebooks diff and test cleanly. ``text/html`` escapes every piece of
content before adding markup, uses JupyterLab CSS variables (light and dark themes) and
only ``jido-`` scoped class names.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from jido_kernel.text import clip, clip_utf8, size_text, terminal_safe

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

_RESULT_HTML_CHARS = 2000
MARKDOWN_MAX_CHARS = 32 * 1024
MAX_ITEM_CHARS = 256 * 1024
MAX_BUNDLE_BYTES = 512 * 1024
_MIN_ITEM_CHARS = 1024
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
        body = f'<div class="jido-more">{_esc(note)}</div>{body}'
    plain = terminal_safe(clip_utf8(text, max_bytes // 3))
    page = _wrap(part, body)
    html_bytes = max_bytes - max_bytes // 3
    if 4 * len(page) > html_bytes and len(page.encode("utf-8", "surrogatepass")) > html_bytes:
        shown = clip_utf8(plain, (html_bytes - len(_CSS) - 500) // 6)
        page = _wrap(
            part,
            f'<div class="jido-more">too large for HTML: shown as text</div><div class="jido-text">{_esc(shown)}</div>',
        )
    return {"text/plain": plain, "text/html": page}


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


def _more_html(hidden: int, noun: str) -> str:
    return f'<div class="jido-more">{_plural(hidden, "earlier " + noun)} not shown</div>'


# -- markdown -------------------------------------------------------------------------

_SAFE_LINK = re.compile(r"(?:https?://|mailto:)", re.IGNORECASE)
_ALIGN = re.compile(r"text-align:(left|right|center)")


def _validate_link(url: str) -> bool:
    return _SAFE_LINK.match(url) is not None


def _link_open(
    renderer: RendererHTML,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    token = tokens[idx]
    token.attrSet("target", "_blank")
    token.attrSet("rel", "noopener noreferrer")
    return renderer.renderToken(tokens, idx, options, env)


def _cell_open(
    renderer: RendererHTML,
    tokens: Sequence[Token],
    idx: int,
    options: OptionsDict,
    env: EnvType,
) -> str:
    token = tokens[idx]
    align = _ALIGN.fullmatch(str(token.attrGet("style") or ""))
    token.attrs.pop("style", None)
    if align is not None:
        token.attrSet("class", f"jido-align-{align.group(1)}")
    return renderer.renderToken(tokens, idx, options, env)


def _markdown() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False, "breaks": True, "xhtmlOut": False})
    parser.enable(["table", "strikethrough"]).disable(["image"])
    parser.validateLink = _validate_link  # type: ignore[method-assign]
    parser.add_render_rule("link_open", _link_open)
    parser.add_render_rule("th_open", _cell_open)
    parser.add_render_rule("td_open", _cell_open)
    return parser


_MARKDOWN = _markdown()


@functools.lru_cache(maxsize=64)
def markdown_html(text: str) -> str:
    """HTML of CommonMark with tables and strikethrough, by markdown-it-py.

    Raw HTML in ``text`` is shown as text, images are not loaded, links must be http(s) or
    mailto. Text longer than :data:`MARKDOWN_MAX_CHARS` is shown as plain text (clipped
    to :data:`MAX_ITEM_CHARS`): rendering time stays small and linear.
    """
    if len(text) > MARKDOWN_MAX_CHARS:
        note = f'<div class="jido-more">longer than {size_text(MARKDOWN_MAX_CHARS)}: shown as plain text</div>'
        return f'<div class="jido-md">{note}<div class="jido-text">{_esc(clip(text, MAX_ITEM_CHARS))}</div></div>'
    return f'<div class="jido-md">{_MARKDOWN.render(text).rstrip()}</div>'


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
    return f'<div class="jido-msg jido-role-{role}"><div class="jido-role">{role}{note}</div>{body}</div>'


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
    items = "".join(f'<li><div class="jido-text">{_esc(step.content)}</div></li>' for step in shown)
    more = _more_html(hidden, "step") if hidden else ""
    return f'{more}<ol class="jido-reasoning" start="{hidden + 1}">{items}</ol>'


def _signature(call: ToolCall) -> str:
    arguments = ", ".join(f"{key}={_clip(repr(value), 40)}" for key, value in call.arguments.items())
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
        f' <span class="jido-duration">{_duration(call.duration_ms)}</span>' if call.duration_ms is not None else ""
    )
    result = ""
    if call.result is not None:
        shown = call.result[:_RESULT_HTML_CHARS]
        more = len(call.result) - len(shown)
        tail = f"\n\u2026 ({_plural(more, 'more character')})" if more else ""
        opened = " open" if call.status == "error" else ""
        result = (
            f'<details class="jido-result"{opened}><summary>result</summary><pre>{_esc(shown + tail)}</pre></details>'
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
) -> Bundle:
    """The mimebundle of one ``part`` of a snapshot (one of :data:`PARTS`).

    ``limit`` keeps the most recent items of long lists. Without ``stream_text`` the
    history parts show that a message is streaming but not its text (live views of the
    history are not redrawn on every chunk). The ``stream`` part shows the streaming
    message, else ``last_stream`` (the message the stream became), else a placeholder.
    Content is clipped before rendering so the bundle stays within ``max_bytes``; ``note``
    is shown above the content.
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
    return _bundle(part, text, body, max_bytes=max_bytes, note=note)
