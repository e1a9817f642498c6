"""Help on Lua names: the signature and doc line of ``jido.*`` and the kept library, from
:mod:`jido_kernel.lua.contract` (Shift+Tab, ``name?`` and ``help(name)``)."""

from __future__ import annotations

import re

from jido_kernel.language.completion import LiveNames, target
from jido_kernel.lua.contract import FUNCTIONS, LIBRARY_TABLES, members

HELP_QUERY = re.compile(r"\s*(?:help\(\s*([A-Za-z_][\w.:]*)\s*\)|([A-Za-z_][\w.:]*)\s*\?\??)\s*")
"""``help(jido.read_file)`` or ``jido.read_file?`` (the whole text)."""

MANUAL = "https://www.lua.org/manual/5.4/manual.html"


def name_at(code: str, cursor: int) -> str:
    """The dotted name under (or just before) ``cursor``: ``jido.read_file`` in
    ``jido.read_file(`` with the cursor after ``(``; ``s:upper`` gives ``string.upper``."""
    end = cursor
    while end < len(code) and (code[end].isalnum() or code[end] == "_"):
        end += 1
    before = code[max(0, end - 256) : end]
    if not before or not (before[-1].isalnum() or before[-1] == "_"):
        # the cursor is in a call's arguments: the function being called
        depth = 0
        for i in range(len(before) - 1, -1, -1):
            c = before[i]
            if c == ")":
                depth += 1
            elif c == "(":
                if depth == 0:
                    before = before[:i].rstrip()
                    break
                depth -= 1
        else:
            return ""
    path, separator, prefix = target(before)
    if separator == "?":
        return ""
    if separator == ":":
        return f"string.{prefix}"
    return ".".join((*path, prefix))


def lookup(name: str) -> str | None:
    """Help text for a Lua name of the contract, or None."""
    name = name.replace(":", ".")
    function = FUNCTIONS.get(name)
    if function is not None:
        return f"{function.signature}\n\n{function.doc}"
    if name in ("jido", "jido.state", *LIBRARY_TABLES):
        fields = ", ".join(members(name))
        what = "the jido bridge" if name.startswith("jido") else f"Lua's {name} library ({MANUAL})"
        return f"{name}: {what}\n\nFields: {fields}"
    return None


def help_query(text: str) -> str | None:
    """The name asked about when ``text`` is ``help(NAME)`` or ``NAME?``, else None."""
    match = HELP_QUERY.fullmatch(text)
    return (match.group(1) or match.group(2)) if match else None


def help_bundle(name: str) -> dict[str, str]:
    """A ``text/plain`` bundle of help for ``name`` (saying so when there is none)."""
    return {"text/plain": lookup(name) or f"No help for {name!r}: not a jido or Lua library function."}


def inspect_lua(code: str, cursor: int, live: LiveNames | None = None) -> dict[str, str] | None:
    """A ``text/plain`` bundle on the Lua name at ``cursor`` in ``code``, or None: the
    contract's signature and doc, else the live value's type (and fields of a table)."""
    name = name_at(code, cursor)
    if not name:
        return None
    text = lookup(name)
    if text is None and live is not None and ":" not in name:
        *path, last = name.split(".")
        names = live(tuple(path))
        if names and last in names:
            text = f"{name}: a Lua {names[last]}"
            if names[last] == "table":
                fields = sorted(live((*path, last)) or ())
                shown = ", ".join(fields[:MAX_FIELDS]) + (", …" if len(fields) > MAX_FIELDS else "")
                text += f"\n\nFields: {shown}" if fields else " (no named fields)"
    return {"text/plain": text} if text else None


MAX_FIELDS = 50
