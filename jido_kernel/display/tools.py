"""Renderings of tool calls: one row per call, consecutive calls of one function grouped.

A call reads as Lua wrote it (``read_file("a.txt", {limit=3})``). In HTML the calls are a
table (status, call, time, result) that reads well without a stylesheet; a run of at
least :data:`GROUP_MIN` consecutive calls of the same function is one expandable row
(``111 × file_stat · 0 errors · 3 ms``). A running call shows its elapsed time in HTML;
``text/plain`` keeps no times, so notebooks diff cleanly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from jido_kernel.display.html import esc
from jido_kernel.display.lua import lua_repr, scalar_repr

if TYPE_CHECKING:
    from jido_kernel.state.records import ToolCall

GROUP_MIN = 3
"""Consecutive calls of one function shown as one summary row from this many on."""
_RESULT_HTML_CHARS = 2000
_ARGUMENT_CHARS = 40


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def signature(call: ToolCall) -> str:
    """``name(arg=value, …)``, each value as Lua writes it (``options={limit=3}``)."""
    arguments = ", ".join(f"{key}={_argument(value)}" for key, value in call.arguments.items())
    return f"{call.name}({arguments})"


def _argument(value: object) -> str:
    text = scalar_repr(value) if isinstance(value, str) else " ".join(lua_repr(value).split())
    return _clip(text, _ARGUMENT_CHARS)


def duration_text(milliseconds: float) -> str:
    if milliseconds < 1000:
        return f"{milliseconds:.0f} ms"
    return f"{milliseconds / 1000:.2f} s"


def groups(calls: Sequence[ToolCall]) -> Iterator[Sequence[ToolCall]]:
    """``calls`` cut into runs of consecutive calls of the same function."""
    start = 0
    for index in range(1, len(calls) + 1):
        if index == len(calls) or calls[index].name != calls[start].name:
            yield calls[start:index]
            start = index


def _summary(run: Sequence[ToolCall], *, times: bool) -> str:
    errors = sum(call.status == "error" for call in run)
    running = sum(call.status in ("running", "pending") for call in run)
    parts = [f"{len(run)} \u00d7 {run[0].name}", _plural(errors, "error")]
    if running:
        parts.append(f"{running} running")
    if times:
        parts.append(duration_text(sum(call.duration_ms or 0.0 for call in run)))
    return " \u00b7 ".join(parts)


# -- text/plain ---------------------------------------------------------------------------


def tool_call_text(call: ToolCall) -> str:
    """``name(args) — status`` and the first line of the result (no duration)."""
    line = f"{signature(call)} \u2014 {call.status}"
    if call.result:
        first, *rest = call.result.splitlines() or [""]
        line += "\n  \u2192 " + _clip(first, 80) + (" \u2026" if rest else "")
    return line


def tool_calls_text(calls: Sequence[ToolCall]) -> list[str]:
    """One entry per call, a run of :data:`GROUP_MIN` or more as its summary line (and
    the errors in it)."""
    lines: list[str] = []
    for run in groups(calls):
        if len(run) < GROUP_MIN:
            lines += [tool_call_text(call) for call in run]
            continue
        lines.append(_summary(run, times=False))
        lines += ["  " + tool_call_text(call).replace("\n", "\n  ") for call in run if call.status == "error"]
    return lines


# -- text/html ----------------------------------------------------------------------------


def _elapsed(call: ToolCall, now: datetime) -> str:
    if call.duration_ms is not None:
        return duration_text(call.duration_ms)
    if call.status == "running":
        seconds = max(0.0, (now - call.timestamp).total_seconds())
        return f"{seconds:.0f} s\u2026" if seconds >= 1 else ""
    return ""


def tool_call_row(call: ToolCall, now: datetime) -> str:
    status = esc(call.status)
    result = ""
    if call.result is not None:
        shown = call.result[:_RESULT_HTML_CHARS]
        more = len(call.result) - len(shown)
        tail = f"\n\u2026 ({_plural(more, 'more character')})" if more else ""
        opened = " open" if call.status == "error" else ""
        result = (
            f'<details class="jido-result"{opened}><summary>result</summary><pre>{esc(shown + tail)}</pre></details>'
        )
    elapsed = _elapsed(call, now)
    time = f'<td class="jido-duration">{elapsed}</td>' if elapsed else "<td></td>"
    return (
        f'<tr class="jido-tool jido-status-{status}"><td class="jido-badge">{status}</td>'
        f"<td><code>{esc(signature(call))}</code></td>{time}<td>{result}</td></tr>"
    )


def tool_call_html(call: ToolCall) -> str:
    """One call as a one-row table."""
    return _table(tool_call_row(call, datetime.now(UTC)))


def _table(rows: str) -> str:
    head = "<thead><tr><th>status</th><th>call</th><th>time</th><th>result</th></tr></thead>"
    return f'<table class="jido-tools">{head}<tbody>{rows}</tbody></table>'


def tool_calls_html(calls: Sequence[ToolCall]) -> str:
    """The calls as a table; a run of :data:`GROUP_MIN` or more is one expandable row."""
    now = datetime.now(UTC)
    rows: list[str] = []
    for run in groups(calls):
        if len(run) < GROUP_MIN:
            rows += [tool_call_row(call, now) for call in run]
            continue
        worst = "error" if any(c.status == "error" for c in run) else run[-1].status
        inner = _table("".join(tool_call_row(call, now) for call in run))
        opened = " open" if worst == "error" else ""
        rows.append(
            f'<tr class="jido-tool jido-status-{esc(worst)}"><td colspan="4"><details class="jido-group"{opened}>'
            f"<summary>{esc(_summary(run, times=True))}</summary>{inner}</details></td></tr>"
        )
    return _table("".join(rows))
