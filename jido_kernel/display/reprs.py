"""Small display types returned by magics: plain Python values that render nicely.

Their ``text/plain`` keeps no terminal control sequence but colours: file contents and
names may have been written by Lua.
"""

from __future__ import annotations

import json
from typing import Any, Self

from jido_kernel.display.html import esc, page, table
from jido_kernel.text import terminal_safe


def html_table(headers: list[str], rows: list[list[Any]]) -> str:
    """An escaped HTML table in a jido output (its look from ``jido.css``)."""
    return page("table", table(headers, rows))


class FileText(str):
    """A file's text (a plain ``str``) shown with line numbers.

    ``numbered`` is jido_code's agent format (``"     1→line"``).
    """

    numbered: str

    def __new__(cls, text: str, numbered: str) -> Self:
        obj = super().__new__(cls, text)
        obj.numbered = numbered
        return obj

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(terminal_safe(self.numbered))


class DirListing(list[dict[str, Any]]):
    """``list_dir`` entries (a plain list of ``{"name", "type"}`` dicts) shown as a table."""

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        if not self:
            p.text("(empty directory)")
            return
        p.text(terminal_safe("\n".join(f"{e['name']}{'/' if e['type'] == 'directory' else ''}" for e in self)))

    def _repr_html_(self) -> str:
        return html_table(["name", "type"], [[e["name"], e["type"]] for e in self])


class SettingsView:
    """``%settings``: each key's value in effect and its source, plus ignored problems."""

    def __init__(self, rows: dict[str, tuple[Any, str]], problems: tuple[str, ...] = ()) -> None:
        self.rows = rows
        self.problems = problems

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        width = max(map(len, self.rows))
        lines = [f"{key:<{width}}  {_json(value)}  ({source})" for key, (value, source) in self.rows.items()]
        lines += [f"! {problem}" for problem in self.problems]
        p.text(terminal_safe("\n".join(lines)))

    def _repr_html_(self) -> str:
        rows = table(["key", "value", "source"], [[k, _json(v), s] for k, (v, s) in self.rows.items()])
        warn = "".join(f'<div class="jido-warn">! {esc(p)}</div>' for p in self.problems)
        return page("table", rows + warn)


class SessionList(list[Any]):
    """``%session list``: the open sessions, the current one marked."""

    def __init__(self, sessions: list[Any], current: Any) -> None:
        super().__init__(sessions)
        self.current = current

    def _rows(self) -> list[list[str]]:
        return [
            [str(i), "*" if s is self.current else "", s.name, str(s.project_root), s.id] for i, s in enumerate(self, 1)
        ]

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(terminal_safe("\n".join(f"{n:>2} {mark:1} {name}  {root}" for n, mark, name, root, _ in self._rows())))

    def _repr_html_(self) -> str:
        return html_table(["#", "current", "name", "project root", "id"], self._rows())


def _json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def session_rows(session: Any) -> list[tuple[str, str]]:
    """What ``%session`` shows: identity, config, state counts, Lua limits, confinement."""
    state, limits = session.state, session.manager.limits
    config = session.config
    rows = [
        ("name", session.name),
        ("id", session.id),
        ("project root", str(session.project_root)),
        (
            "model",
            (
                f"{config['provider']} / {config['model']} "
                f"(temperature {config['temperature']}, max_tokens {config['max_tokens']})"
            ),
        ),
        (
            "state",
            ", ".join(
                _count(len(items), noun)
                for items, noun in (
                    (state.messages, "message"),
                    (state.reasoning_steps, "reasoning step"),
                    (state.tool_calls, "tool call"),
                    (state.todos, "todo"),
                )
            )
            + (" — streaming" if state.is_streaming else ""),
        ),
        (
            "lua limits",
            (
                f"time {limits.timeout:g} s ({limits.sources['timeout']}), "
                f"memory {limits.max_memory // (1024 * 1024)} MiB ({limits.sources['max_memory']})"
            ),
        ),
        (
            "shell",
            (
                f"time {limits.shell_timeout:g} s ({limits.sources['shell_timeout']}); "
                f"allowed: {' '.join(limits.shell_allowlist)} ({limits.sources['shell_allowlist']})"
            ),
        ),
        ("confinement", _confinement(session)),
    ]
    rows += [("settings problem", problem) for problem in (*session.settings.problems, *limits.notes)]
    return rows


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _confinement(session: Any) -> str:
    from jido_kernel.errors import JidoError

    try:
        report = session.manager.lua.confinement
    except JidoError as error:
        return f"Lua worker not running: {error}"
    if report["landlock_enforced"]:
        parts = [f"Landlock ABI {report['landlock_abi']}"]
        parts.append("no TCP" if report["network_restricted"] else "network not restricted")
    else:
        parts = ["user-space checks only (no Landlock)"]
    if report["git_read_only"]:
        parts.append(".git read-only")
    notes = " ".join(report.get("notes", ()))
    return ", ".join(parts) + (f". {notes}" if notes else "")


def session_text(session: Any, p: Any, cycle: bool) -> None:
    """``text/plain`` formatter for a :class:`~jido_kernel.session.Session`."""
    rows = session_rows(session)
    width = max(len(label) for label, _ in rows)
    p.text(terminal_safe("\n".join(f"{label:<{width}}  {value}" for label, value in rows)))


def session_html(session: Any) -> str:
    """``text/html`` formatter for a :class:`~jido_kernel.session.Session`."""
    return html_table(["session", ""], [list(row) for row in session_rows(session)])
