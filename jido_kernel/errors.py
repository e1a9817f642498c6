"""Typed, user-facing errors.

Every expected failure in jido_kernel is a :class:`JidoError`: it carries a
machine-readable ``reason`` and a sentence that names what was wrong and what to do.
IPython shows it as one line (``_render_traceback_``) instead of a traceback dump.
Messages are terminal-safe from the start (:func:`jido_kernel.text.terminal_safe`): they
may quote untrusted text (Lua's errors, file names), and every client (``evalue``, the
reply, logs) sees the same safe sentence.
"""

from __future__ import annotations

import re

from jido_kernel.text import terminal_safe


class JidoError(Exception):
    """Base class of the errors users are expected to meet.

    ``reason`` is a stable snake_case identifier (``"path_escapes_boundary"``) for
    programs; ``str(error)`` is the human sentence.
    """

    reason: str = "error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(terminal_safe(message) if isinstance(message, str) else message)
        if reason is not None:
            self.reason = reason

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def _render_traceback_(self) -> list[str]:
        """One line for IPython instead of a Python traceback."""
        name = type(self).__name__
        message = self.message
        # "SecurityError: Security error: …" says it twice: the name is enough.
        spoken = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).capitalize()
        if message.lower().startswith(spoken.lower() + ": "):
            message = message[len(spoken) + 2 :]
        return [f"\x1b[0;31m{name}\x1b[0m: {message}"]
