"""Terminal control sequences from untrusted text: only colours, newlines and tabs survive."""

from __future__ import annotations

import re
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from jido_kernel.display.reprs import DirListing, FileText
from jido_kernel.state import Message, SessionState
from jido_kernel.text import terminal_safe

SGR = re.compile(r"\x1b\[[0-9;:]{0,64}m")
PIECES = [
    "\x1b", "[", "]", "\x07", "\\", "m", "31", ";", "0", "H", "2J", "8;;https://x.org", "P", "\x9b",
    "\x9d", "\x9c", "\r", "\b", "\n", "\t", "\x00", "\x7f", "a", "\u00e9", "?25l", ":",
]  # fmt: skip
terminal_text = st.lists(st.sampled_from(PIECES), max_size=80).map("".join) | st.text(max_size=200)


def _no_control_but_colour(text: str) -> bool:
    rest = SGR.sub("", text)
    return not any((ord(ch) < 32 and ch not in "\n\t") or 127 <= ord(ch) < 160 for ch in rest)


@settings(max_examples=500, deadline=None)
@given(terminal_text)
def test_only_complete_colour_sequences_keep_an_escape(text: str) -> None:
    safe = terminal_safe(text)
    assert _no_control_but_colour(safe), repr(safe)
    assert terminal_safe(safe) == safe


def test_what_is_kept_and_what_goes() -> None:
    assert terminal_safe("a\x1b[1;31mred\x1b[0m\tb\nc") == "a\x1b[1;31mred\x1b[0m\tb\nc"
    assert terminal_safe("\x1b]8;;https://evil.example\x07click\x1b]8;;\x1b\\") == "click"
    assert terminal_safe("\x1b]0;title\x07x") == "x"
    assert terminal_safe("safe\x1b[2K\x1b[1A\x1b[Hover\rwrite\b") == "safeoverwrite"
    assert terminal_safe("\x1bP+q\x1b\\done\x9b2J") == "done2J"
    assert terminal_safe("\x1b[?1049h\x1bc") == ""


def test_linear_time() -> None:
    def timed(text: str) -> float:
        started = time.perf_counter()
        terminal_safe(text)
        return time.perf_counter() - started

    for unit in ("\x1b[", "\x1b]", "\x1b[1;", "\x1b[" + "1" * 70, "\x1bP"):
        small = min(timed(unit * (50_000 // len(unit))) for _ in range(3))
        large = min(timed(unit * (200_000 // len(unit))) for _ in range(3))
        assert large < 10 * small + 0.05, (unit, small, large)


def test_state_text_is_terminal_safe() -> None:
    state = SessionState("s")
    state.append_message("assistant", "hi \x1b]52;c;Y2xpcGJvYXJk\x07\x1b[31mred\x1b[0m\x1b[2J")
    state.update_todos([{"content": "todo \x1b[H"}])
    call = state.add_tool_call("shell", {"cmd": "\x1b[1Aup"})
    state.update_tool_call(call.id, status="completed", result="\x1b]0;pwned\x07ok")
    text = state._repr_mimebundle_()["text/plain"]
    assert "\x1b[31mred\x1b[0m" in text and _no_control_but_colour(text)
    assert "52;c" not in text and "pwned" not in text
    assert _no_control_but_colour(Message("m", "user", "\x1b[6n")._repr_mimebundle_()["text/plain"])


class _Printer:
    def __init__(self) -> None:
        self.out: list[str] = []

    def text(self, text: str) -> None:
        self.out.append(text)


def test_file_text_and_listings_are_terminal_safe() -> None:
    printer = _Printer()
    FileText("x", "     1\u2192\x1b]8;;http://x\x07link\x1b[32mgreen\x1b[0m")._repr_pretty_(printer, False)
    DirListing([{"name": "a\x1b[2Jb", "type": "file"}])._repr_pretty_(printer, False)
    assert printer.out == ["     1\u2192link\x1b[32mgreen\x1b[0m", "ab"]
