"""The kernel's debugger: advertised at start, built by the first debug request (real
kernel, real debugpy, over the control channel)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import ipykernel
import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from kernel_helpers import TIMEOUT, execute
from kernel_helpers import jido_kernel as start_jido

pytestmark = pytest.mark.kernel

_sequence = itertools.count(1)

INITIALIZE = {
    "clientID": "jido-tests",
    "clientName": "jido tests",
    "adapterID": "",
    "pathFormat": "path",
    "linesStartAt1": True,
    "columnsStartAt1": True,
    "supportsVariableType": True,
    "supportsVariablePaging": True,
    "supportsRunInTerminalRequest": True,
    "locale": "en",
}

CODE = """def f(a, b):
    c = a + b
    return c

f(2, 3)"""


def debug(kc: BlockingKernelClient, command: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
    """Send one debug request on the control channel; its reply's content."""
    request = {"type": "request", "seq": next(_sequence), "command": command, "arguments": arguments or {}}
    message = kc.session.msg("debug_request", request)
    kc.control_channel.send(message)
    while True:
        reply = kc.control_channel.get_msg(timeout=TIMEOUT)
        if reply["parent_header"].get("msg_id") == message["header"]["msg_id"]:
            content: dict[str, Any] = reply["content"]
            return content


def debugpy_loaded(kc: BlockingKernelClient) -> bool:
    run = execute(kc, "import sys; 'debugpy' in sys.modules")
    assert run.result is not None
    return run.result["text/plain"] == "True"


def breakpoint_hook(kc: BlockingKernelClient) -> str:
    run = execute(kc, "import sys; sys.breakpointhook.__module__")
    assert run.result is not None
    return str(run.result["text/plain"])


def test_the_debugger_is_advertised_and_built_by_the_first_debug_request(tmp_path: Path) -> None:
    """Until then ``breakpoint()`` opens the kernel's pdb; from then on, as in ipykernel,
    it stops in the front end's debugger (and does nothing when none is attached)."""
    with start_jido(tmp_path) as (_, kc):
        kc.kernel_info()
        info = kc.get_shell_msg(timeout=TIMEOUT)["content"]
        assert not debugpy_loaded(kc)
        hook_before = breakpoint_hook(kc)
        initialized = debug(kc, "initialize", INITIALIZE)
        assert debugpy_loaded(kc)
        hook_after = breakpoint_hook(kc)
        attached = debug(kc, "attach")
        debug(kc, "disconnect", {"restart": False, "terminateDebuggee": True})
    if ipykernel.version_info >= (7,):  # 6.x advertises it in the kernelspec instead
        assert "debugger" in info["supported_features"]
    assert initialized["success"] and attached["success"]
    assert hook_before == "'jido_kernel.importpath'" and "pydevd" in hook_after


def test_the_lua_kernel_has_no_python_debugger(tmp_path: Path) -> None:
    with start_jido(tmp_path, kernel_name="jido-lua") as (_, kc):
        kc.kernel_info()
        info = kc.get_shell_msg(timeout=TIMEOUT)["content"]
        initialized = debug(kc, "initialize", INITIALIZE)
        loaded = execute(kc, "%%python\nimport sys; 'debugpy' in sys.modules")
    assert "debugger" not in info.get("supported_features", [])
    assert not initialized  # no reply content, as from an IPython kernel without debugpy
    assert loaded.result == {"text/plain": "False"}


def test_a_breakpoint_stops_the_cell_and_the_front_end_is_told(tmp_path: Path) -> None:
    with start_jido(tmp_path) as (_, kc):
        debug(kc, "initialize", INITIALIZE)
        debug(kc, "attach")
        source = debug(kc, "dumpCell", {"code": CODE})["body"]["sourcePath"]
        breakpoints = debug(
            kc, "setBreakpoints", {"breakpoints": [{"line": 2}], "source": {"path": source}, "sourceModified": False}
        )
        debug(kc, "configurationDone")
        msg_id = kc.execute(CODE)
        stopped = kc.get_iopub_msg(timeout=TIMEOUT)
        while stopped["msg_type"] != "debug_event" or stopped["content"].get("event") != "stopped":
            stopped = kc.get_iopub_msg(timeout=TIMEOUT)
        thread = stopped["content"]["body"]["threadId"]
        frames = debug(kc, "stackTrace", {"threadId": thread})["body"]["stackFrames"]
        resumed = debug(kc, "continue", {"threadId": thread})
        reply = kc.get_shell_msg(timeout=TIMEOUT)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = kc.get_shell_msg(timeout=TIMEOUT)
        debug(kc, "disconnect", {"restart": False, "terminateDebuggee": True})
    assert breakpoints["body"]["breakpoints"][0]["verified"]
    assert stopped["content"]["body"]["reason"] == "breakpoint"
    assert frames[0]["name"] == "f" and frames[0]["line"] == 2
    assert resumed["success"] and reply["content"]["status"] == "ok"
