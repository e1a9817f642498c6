"""Recording of security violations: a warning on the ``jido_kernel.security`` logger
(path sanitised) and a count per project root.

The warning goes through :mod:`logging` when the process has loaded it (the kernel side
always has). The Lua worker does not load it: its violations reach the kernel as the
errors of the calls, and a logged line would only go to its stderr.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter

from jido_kernel.security.errors import SecurityError, display_path

LOGGER = "jido_kernel.security"

_counts: Counter[str] = Counter()
_lock = threading.Lock()


def sanitise(path: object) -> str:
    """A loggable form of ``path``: over 20 characters it becomes ``first8...last8 (N chars)``."""
    text = display_path(path) if not isinstance(path, str) else path
    if len(text) > 20:
        text = f"{text[:8]}...{text[-8:]} ({len(text)} chars)"
    return display_path(text)


def refuse(reason: str, path: object, root: str, *, log: bool = True, detail: str | None = None) -> SecurityError:
    """Count a violation against ``root``, log it unless ``log`` is false, return the error."""
    with _lock:
        _counts[root] += 1
    logging = sys.modules.get("logging")
    if log and logging is not None:
        logging.getLogger(LOGGER).warning("Security violation: %s - attempted path: %s", reason, sanitise(path))
    return SecurityError(reason, path, detail=detail)


def count(root: str) -> int:
    """Violations recorded against the resolved root ``root``."""
    with _lock:
        return _counts[root]
