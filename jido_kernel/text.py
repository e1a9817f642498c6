"""Text from untrusted sources, made safe to hold and to show: clipping and terminal control.

:func:`clip` bounds a text with a visible marker; :func:`terminal_safe` keeps only the
colour sequences of a text meant for a terminal-like ``text/plain`` output. Both run in
linear time.
"""

from __future__ import annotations

import re

_UNITS = ((1 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "kB"))

# A complete SGR (colour) sequence is kept; any other escape or control sequence goes:
# CSI (cursor movement, erasing…), OSC (titles, hyperlinks, clipboard) and the other
# string controls up to their terminator, two-character escapes, lone ESC, C0 controls
# other than newline and tab, DEL and the C1 controls.
_TERMINAL = re.compile(
    r"(\x1b\[[0-9;:]{0,64}m)"
    r"|\x1b\[[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -~]?"
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
)


def size_text(count: int) -> str:
    """``count`` bytes or characters as a short human size (``3.2 MB``)."""
    for unit, name in _UNITS:
        if count >= unit:
            return f"{count / unit:.1f} {name}"
    return f"{count} B"


def clip_marker(more: int) -> str:
    """The visible note that replaces ``more`` characters clipped from a text."""
    return f"\u2026 [clipped: {size_text(more)} more]"


def clip(text: str, limit: int) -> str:
    """``text`` if it has at most ``limit`` characters, else its start and a marker.

    The result never exceeds ``limit`` characters when ``limit`` leaves room for the marker.
    """
    if len(text) <= limit:
        return text
    keep = max(0, limit - len(clip_marker(len(text))))
    return text[:keep] + clip_marker(len(text) - keep)


def clip_utf8(text: str, limit: int) -> str:
    """``text`` clipped so that its UTF-8 encoding has at most ``limit`` bytes (with a marker)."""
    if 4 * len(text) <= limit:
        return text
    data = text.encode("utf-8", "surrogatepass")
    if len(data) <= limit:
        return text
    marker = clip_marker(len(data)).encode("utf-8")
    keep = max(0, limit - len(marker) - 8)
    head = data[:keep].decode("utf-8", "ignore")
    return head + clip_marker(len(data) - len(head.encode("utf-8", "surrogatepass")))


def _keep_colour(match: re.Match[str]) -> str:
    return match.group(1) or ""


def terminal_safe(text: str) -> str:
    """``text`` without terminal control: only SGR colour sequences, newlines and tabs stay.

    Carriage returns, backspaces, cursor movement, screen clearing, titles and hyperlinks
    (OSC), device controls and C1 controls are removed. Idempotent, linear time.
    """
    return _TERMINAL.sub(_keep_colour, text)
