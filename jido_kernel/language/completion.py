"""Completion of Lua text: keywords, the sandbox's globals, ``jido.*``, library members,
string methods after ``s:``, and the user's own names read from the live Lua state.

:func:`complete` is pure (the live names come through a callable); :func:`lua_matcher`
makes it an IPython Matcher (API v2) that sees the whole cell and suppresses Jedi in Lua.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from IPython.core.completer import CompletionContext, SimpleCompletion, SimpleMatcherResult, context_matcher

from jido_kernel.language.cells import lua_text
from jido_kernel.language.completeness import inside_text
from jido_kernel.lua.contract import FUNCTIONS, KEYWORDS, members

LiveNames = Callable[[tuple[str, ...]], dict[str, str] | None]
"""``path → {name: Lua type}`` of a table in the live state (``()``: the globals), or None."""

MAX_SCAN = 256
"""Characters before the cursor read to find the name being completed."""
MAX_MATCHES = 500
PRIORITY = 100
"""Above IPython's own matchers: the Lua matcher runs first."""


def _is_name_char(c: str) -> bool:
    return c.isalnum() or c == "_"


def target(before: str) -> tuple[tuple[str, ...], str, str]:
    """``(path, separator, prefix)`` of the name ending ``before``: ``jido.state.up`` →
    (("jido", "state"), ".", "up"); ``s:up`` → (("s",), ":", "up"); ``pri`` → ((), "", "pri")."""
    text = before[-MAX_SCAN:]
    i = len(text)
    while i > 0 and _is_name_char(text[i - 1]):
        i -= 1
    prefix = text[i:]
    if i == 0 or text[i - 1] not in ".:":
        return (), "", prefix
    separator = text[i - 1]
    path: list[str] = []
    j = i - 1
    while True:
        k = j
        while k > 0 and _is_name_char(text[k - 1]):
            k -= 1
        if k == j or text[k].isdigit():
            return (), "?", prefix  # `(f()).x`, `1.5`: not a name
        path.insert(0, text[k:j])
        if k > 0 and text[k - 1] == ".":
            j = k - 1
            continue
        return tuple(path), separator, prefix


def _kind(name: str, lua_type: str | None = None) -> str:
    if lua_type is not None:
        return {"function": "function", "table": "module"}.get(lua_type, "instance")
    if name in FUNCTIONS:
        return "function"
    return "module" if members(name) else "instance"


def complete(before: str, live: LiveNames | None = None) -> tuple[str, list[tuple[str, str]]]:
    """``(prefix, [(text, type), …])`` completing the Lua text ``before`` the cursor."""
    if inside_text(before):
        return "", []
    path, separator, prefix = target(before)
    if separator == "?":
        return prefix, []
    found: dict[str, str] = {}
    if separator == "":
        found.update((word, "keyword") for word in KEYWORDS)
        found.update((name, _kind(name)) for name in members(""))
    dotted = ".".join(path)
    if separator == ".":
        found.update((name, _kind(f"{dotted}.{name}")) for name in members(dotted))
    names = live(path) if live is not None else None
    if names:
        for name, lua_type in names.items():
            if separator != ":" or lua_type == "function":
                found.setdefault(name, _kind(name, lua_type))
    if separator == ":" and not names:
        found.update((name, "function") for name in members("string"))
    matches = sorted((name, kind) for name, kind in found.items() if name.startswith(prefix))
    return prefix, matches[:MAX_MATCHES]


def _python_completion(completer: Any, on: bool) -> None:
    """Turn Jedi and IPython's Python matcher off for Lua text, and back on after (only
    those this module turned off). The Lua matcher runs first, so the change holds for
    the request being answered."""
    turned_off: set[str] = completer.__dict__.setdefault("_jido_lua_turned_off", set())
    if on:
        for identifier in turned_off:
            if identifier in completer.disable_matchers:
                completer.disable_matchers.remove(identifier)
        turned_off.clear()
        return
    for matcher in (completer._jedi_matcher, completer.python_matcher):
        identifier = getattr(matcher, "matcher_identifier", matcher.__qualname__)
        if identifier not in completer.disable_matchers:
            completer.disable_matchers.append(identifier)
            turned_off.add(identifier)


def restore_python_completion(completer: Any) -> None:
    """Give IPython back the Python matchers the Lua matcher turned off."""
    _python_completion(completer, on=True)


def lua_matcher(shell: Any, live: Callable[[], LiveNames | None]) -> Callable[[CompletionContext], SimpleMatcherResult]:
    """An IPython Matcher (API v2) for Lua text; ``live()`` gives the live names or None."""

    @context_matcher(priority=PRIORITY)  # type: ignore[untyped-decorator, unused-ignore]
    def jido_lua_matcher(context: CompletionContext) -> SimpleMatcherResult:
        lines = context.full_text.split("\n")
        cursor = sum(len(line) + 1 for line in lines[: context.cursor_line]) + context.cursor_position
        kernel = getattr(shell, "kernel", None)
        region = lua_text(context.full_text, cursor, lua_first=bool(getattr(kernel, "lua_first", False)))
        _python_completion(shell.Completer, on=region is None)
        if region is None:
            return {"completions": [], "suppress": False}
        prefix, matches = complete(context.full_text[region.offset : cursor], live())
        return {
            "completions": [SimpleCompletion(text, type=kind) for text, kind in matches],
            "matched_fragment": prefix,
            "suppress": True,
            "ordered": True,
        }

    return jido_lua_matcher
