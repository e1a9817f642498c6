"""Whether a Lua chunk is finished: a linear-time tokenizer, not a parser.

Untrusted text is never compiled in the kernel process (a C parser has had
use-after-free bugs on crafted input). One left-to-right pass tracks strings, long
brackets, comments, brackets and block keywords: a chunk that ends inside an open
block, bracket, long string or comment, or after an operator, is ``incomplete`` (Lua
would say ``<eof>``); a closer without an opener or a short string cut by a newline is
``invalid``; anything else is ``complete`` and Lua itself reports other syntax errors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

OPENERS = frozenset({"function", "if", "do", "repeat"})
CLOSERS = {"end": ("function", "if", "do"), "until": ("repeat",)}
CONTINUATIONS = frozenset(
    {"and", "or", "not", "local", "=", ",", "+", "-", "*", "/", "//", "%", "^", "..", "==", "~=", "<",
     "<=", ">", ">=", "&", "|", "~", "<<", ">>", "#", ".", ":", "then", "else", "elseif", "while", "for", "in",
     "goto", "until"}
)  # fmt: skip
"""Tokens after which a chunk cannot end."""
BRACKETS = {"(": ")", "[": "]", "{": "}"}
OPERATORS = ("...", "..", "==", "~=", "<=", ">=", "//", "<<", ">>", "::")
INDENT = "  "


@dataclass
class Scan:
    """The tokenizer's state at the end of the text."""

    stack: list[str] = field(default_factory=list)
    """Open blocks and brackets, innermost last."""
    last: str = ""
    """The last token (``""`` at the start)."""
    open_text: str | None = None
    """``"string"``, ``"long"`` or ``"comment"`` when the text ends inside one."""
    error: str | None = None


def _long_level(text: str, i: int) -> int:
    """Level of a long bracket opening at ``text[i] == "["`` (``[==[`` → 2), or -1."""
    j = i + 1
    while j < len(text) and text[j] == "=":
        j += 1
    return j - i - 1 if j < len(text) and text[j] == "[" else -1


def scan(text: str) -> Scan:
    """Tokenize ``text`` once, left to right."""
    state = Scan()
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
        elif text.startswith("--", i):
            level = _long_level(text, i + 2) if text.startswith("[", i + 2) else -1
            if level >= 0:
                end = text.find("]" + "=" * level + "]", i + 4 + level)
                if end < 0:
                    state.open_text = "comment"
                    return state
                i = end + level + 2
            else:
                newline = text.find("\n", i)
                i = n if newline < 0 else newline + 1
        elif c == "[" and _long_level(text, i) >= 0:
            level = _long_level(text, i)
            end = text.find("]" + "=" * level + "]", i + 2 + level)
            if end < 0:
                state.open_text = "long"
                return state
            i, state.last = end + level + 2, "string"
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                if text[j] == "\\":
                    j += 1
                elif text[j] == "\n":
                    state.error = "unfinished string"
                    return state
                j += 1
            if j >= n:
                state.open_text = "string"
                return state
            i, state.last = j + 1, "string"
        elif c.isalpha() or c == "_":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            _word(state, text[i:j])
            if state.error:
                return state
            i = j
        elif c.isdigit():
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] in "._" or (text[j] in "+-" and text[j - 1] in "eEpP")):
                j += 1
            i, state.last = j, "number"
        else:
            token = next((op for op in OPERATORS if text.startswith(op, i)), c)
            _symbol(state, token)
            if state.error:
                return state
            i += len(token)
    return state


def _word(state: Scan, word: str) -> None:
    if word in OPENERS:
        # `while … do` and `for … do` open one block: the `do`; `if` opens one, `then` none
        state.stack.append(word)
    elif word in CLOSERS:
        if not state.stack or state.stack[-1] not in CLOSERS[word]:
            state.error = f"'{word}' without an open block"
            return
        state.stack.pop()
    state.last = word


def _symbol(state: Scan, token: str) -> None:
    if token in BRACKETS:
        state.stack.append(token)
    elif token in BRACKETS.values():
        if not state.stack or BRACKETS.get(state.stack[-1]) != token:
            state.error = f"'{token}' without an opening bracket"
            return
        state.stack.pop()
    state.last = token


def is_complete(code: str) -> tuple[str, str]:
    """``(status, indent)``: ``complete``, ``incomplete`` (with a Lua indent) or ``invalid``."""
    state = scan(code)
    if state.error:
        return "invalid", ""
    if state.open_text in ("long", "comment"):
        return "incomplete", ""
    if state.open_text == "string":
        return "invalid", ""
    if state.stack:
        return "incomplete", INDENT * len(state.stack)
    if state.last in CONTINUATIONS:
        return "incomplete", ""
    return "complete", ""


def inside_text(code: str) -> bool:
    """Whether ``code`` ends inside a string or comment (no completion there)."""
    state = scan(code)
    if state.open_text is not None:
        return True
    return _ends_in_line_comment(code[code.rfind("\n") + 1 :])


def _ends_in_line_comment(line: str) -> bool:
    """Whether a line's ``--`` comment (outside strings) runs to its end."""
    quote = ""
    for i, c in enumerate(line):
        if quote:
            if c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif line.startswith("--", i):
            return True
    return False
