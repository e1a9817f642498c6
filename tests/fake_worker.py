"""Stand-ins for the Lua worker that speak the protocol as a test tells them: the
untrusted side of the pipe, for tests of a kernel that must survive a misbehaving worker.

:data:`PREAMBLE` is the start of such a program (``send``, ``receive`` and ``ready``);
:func:`workers` runs sandboxes on one, and :data:`REPLAY` is one that answers every
request with the lines a test gives (``RID`` in them becomes the request's id, ``PRID``
and ``NRID`` the ids before and after it).
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from jido_kernel.lua import LuaSandbox, transport

PREAMBLE = textwrap.dedent(
    """
    import base64, json, os, sys, time

    def send(message):
        data = ((message if isinstance(message, str) else json.dumps(message)) + "\\n").encode()
        while data:
            data = data[os.write(1, data):]

    inbox = os.fdopen(0, "rb")
    def receive():
        return json.loads(inbox.readline())

    def ready(notes=()):
        receive()  # config
        send({"type": "ready", "lua": "Lua 5.4", "confinement": {"landlock_abi": None,
              "landlock_enforced": False, "network_restricted": False, "git_read_only": False,
              "notes": list(notes)}})
    """
)

REPLAY = PREAMBLE + textwrap.dedent(
    """
    ready()
    while True:
        rid = receive()["id"]
        for line in open(sys.argv[1]).read().split("\\n\\n"):
            send(line.replace("PRID", str(rid - 1)).replace("NRID", str(rid + 1)).replace("RID", str(rid)))
    """
)


@contextmanager
def workers(
    program: str, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **options: Any
) -> Iterator[Callable[..., LuaSandbox]]:
    """``start(*argv, **more)``: a :class:`LuaSandbox` on ``project`` whose worker is
    ``program`` run with ``argv`` (``options`` and ``more`` go to the sandbox); every
    sandbox started is closed at the end."""
    script = tmp_path / "fake_worker.py"
    script.write_text(program)
    sandboxes: list[LuaSandbox] = []

    def start(*argv: str, **more: Any) -> LuaSandbox:
        monkeypatch.setattr(transport.Worker, "command", (sys.executable, str(script), *argv))
        sandbox = LuaSandbox(project, **{"timeout": 30, **options, **more})
        sandboxes.append(sandbox)
        return sandbox

    try:
        yield start
    finally:
        for sandbox in sandboxes:
            sandbox.close()


@contextmanager
def replaying(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **options: Any
) -> Iterator[Callable[..., LuaSandbox]]:
    """``start(*messages, **more)``: a sandbox whose worker answers every request with
    ``messages`` (lines of JSON, or values written as JSON)."""
    lines = tmp_path / "lines.txt"
    with workers(REPLAY, project, tmp_path, monkeypatch, **options) as start_worker:

        def start(*messages: Any, **more: Any) -> LuaSandbox:
            lines.write_text("\n\n".join(m if isinstance(m, str) else json.dumps(m) for m in messages))
            return start_worker(str(lines), **more)

        yield start


def result(values: str, outputs: str = "{}") -> str:
    """A ``result`` line of the replayed run (``values`` and ``outputs`` as JSON text)."""
    return f'{{"type": "result", "id": RID, "values": {values}, "outputs": {outputs}, "duration": 0.0}}'
