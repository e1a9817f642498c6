"""Running test code as an unprivileged user.

Tests run as root here, and root ignores file permissions, so permission cases run in a
forked child of this interpreter that drops to uid/gid 65534 (``nobody``). Forking
matters: the interpreter and the modules already imported need not be readable by
that user (the venv may live under a private home directory).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable

NOBODY = 65534


def in_child(action: Callable[[], object], *, nobody: bool = True) -> str:
    """Run ``action`` in a forked child, as uid/gid 65534 when ``nobody`` and root.

    Returns ``"ok:<result>"`` or ``"<ExceptionType>:<reason>:<message>"``. The child is
    another user's process: pytest's warnings-as-errors filter does not apply to it.
    """
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            os.close(read_end)
            warnings.resetwarnings()
            if nobody and os.geteuid() == 0:
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            try:
                result = f"ok:{action()}"
            except Exception as error:
                result = f"{type(error).__name__}:{getattr(error, 'reason', '')}:{error}"
            os.write(write_end, result.encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        output = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, output
    return output
