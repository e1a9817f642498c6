"""HTML building blocks shared by every view: the one stylesheet, the wrapper, tables.

Every jido output is ``<div class="jido …"><style>…</style>…</div>``: the stylesheet
(``jido.css``) travels inline with trusted outputs, and JupyterLab's extension installs
the same file globally, so untrusted notebooks (whose inline styles are dropped) keep
their look. The markup reads well without any style: tables, ``<s>``, labelled roles.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from importlib.resources import files

STYLESHEET = "jido.css"


def _load_css() -> str:
    """``jido.css`` without its comments and line breaks."""
    text = files("jido_kernel.display").joinpath(STYLESHEET).read_text(encoding="utf-8")
    rules = []
    depth = 0
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("/*"):
            depth += 1
        if depth == 0 and stripped:
            rules.append(stripped)
        if stripped.endswith("*/"):
            depth = max(0, depth - 1)
    return "".join(rules)


CSS = _load_css()


def esc(text: str) -> str:
    """``text`` escaped for HTML content and attribute values."""
    return html.escape(text, quote=True)


def page(kind: str, body: str) -> str:
    """An output's HTML: ``body`` in the ``jido`` wrapper with the stylesheet inline."""
    return f'<div class="jido jido-{esc(kind)}"><style>{CSS}</style>{body}</div>'


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, kind: str = "table") -> str:
    """An escaped HTML table of class ``jido-{kind}``; cells are shown as ``str``."""
    head = "".join(f"<th>{esc(header)}</th>" for header in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(str(cell))}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<table class="jido-{esc(kind)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
