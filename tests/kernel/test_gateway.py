"""A ``jido`` kernel behind a real Jupyter Kernel Gateway, launched as remote launchers do.

The gateway (``jupyter_kernel_gateway`` from PyPI) runs on 127.0.0.1 with a free port and
a kernelspec that starts ``python -P -m ipykernel_launcher
--IPKernelApp.kernel_class=jido_kernel.kernel.JidoKernel``, as Enterprise Gateway and
gateway_provisioners do. Kernels are created over its REST API with ``KERNEL_``
variables in the request body and driven over its websocket.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

websocket = pytest.importorskip("websocket")
pytest.importorskip("kernel_gateway")

pytestmark = pytest.mark.kernel

KERNEL_CLASS = "--IPKernelApp.kernel_class=jido_kernel.kernel.JidoKernel"
TIMEOUT = 60


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Gateway:
    """REST and websocket access to a running gateway."""

    def __init__(self, port: int) -> None:
        self.base = f"127.0.0.1:{port}"

    def rest(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"http://{self.base}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            text = response.read()
        return json.loads(text) if text else None

    def start_kernel(self, env: dict[str, str]) -> str:
        return str(self.rest("POST", "/api/kernels", {"name": "jido-remote", "env": env})["id"])

    def connect(self, kernel_id: str) -> Any:
        return websocket.create_connection(f"ws://{self.base}/api/kernels/{kernel_id}/channels", timeout=TIMEOUT)


def send(ws: Any, msg_type: str, content: dict[str, Any]) -> str:
    msg_id = uuid.uuid4().hex
    header = {
        "msg_id": msg_id,
        "msg_type": msg_type,
        "username": "test",
        "session": "gateway-test",
        "version": "5.3",
        "date": datetime.now(UTC).isoformat(),
    }
    ws.send(json.dumps({"header": header, "parent_header": {}, "metadata": {}, "content": content, "channel": "shell"}))
    return msg_id


def run(ws: Any, code: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Execute ``code``; the reply content and the cell's IOPub messages."""
    msg_id = send(ws, "execute_request", {"code": code, "silent": False, "store_history": True})
    reply: dict[str, Any] | None = None
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + TIMEOUT
    idle = False
    while not (idle and reply is not None):
        assert time.monotonic() < deadline, f"no reply to {code!r}"
        msg = json.loads(ws.recv())
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "execute_reply":
            reply = msg["content"]
        elif msg["msg_type"] == "status":
            idle = msg["content"]["execution_state"] == "idle"
        else:
            messages.append(msg)
    return reply, messages


def stream(messages: list[dict[str, Any]], name: str) -> str:
    return "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream" and m["content"]["name"] == name)


def result(messages: list[dict[str, Any]]) -> str:
    (shown,) = [m["content"]["data"]["text/plain"] for m in messages if m["msg_type"] == "execute_result"]
    return str(shown)


@pytest.fixture
def gateway(tmp_path: Path, jido_home: Path) -> Iterator[Gateway]:
    spec_dir = tmp_path / "jupyter" / "kernels" / "jido-remote"
    spec_dir.mkdir(parents=True)
    argv = [sys.executable, "-P", "-m", "ipykernel_launcher", KERNEL_CLASS, "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": "Jido (remote launch)", "language": "python", "interrupt_mode": "signal"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    served = tmp_path / "gateway_cwd"
    served.mkdir()
    port = _free_port()
    env = {**os.environ, "JUPYTER_PATH": os.pathsep.join([str(tmp_path / "jupyter"), os.environ["JUPYTER_PATH"]])}
    log = tmp_path / "gateway.log"
    with log.open("wb") as sink:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "kernelgateway", "--ip=127.0.0.1", f"--port={port}",
             "--port_retries=0", "--KernelGatewayApp.default_kernel_name=jido-remote"],
            cwd=served, env=env, stdout=subprocess.DEVNULL, stderr=sink,
        )  # fmt: skip
    gateway = Gateway(port)
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                gateway.rest("GET", "/api")
                break
            except OSError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the gateway did not start"
                time.sleep(0.2)
        yield gateway
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_two_gateway_kernels_get_their_own_root_session_stream_and_interrupt(gateway: Gateway, tmp_path: Path) -> None:
    roots = [(tmp_path / name).resolve() for name in ("alpha", "beta")]
    for root in roots:
        root.mkdir()
    kernels = [
        gateway.start_kernel({"KERNEL_JIDO_PROJECT_ROOT": str(root), "KERNEL_JIDO_SESSION_NAME": "notes.ipynb"})
        for root in roots
    ]
    seen = []
    for kernel_id, root in zip(kernels, roots, strict=True):
        ws = gateway.connect(kernel_id)
        try:
            info_id = send(ws, "kernel_info_request", {})
            info = json.loads(ws.recv())
            while info.get("parent_header", {}).get("msg_id") != info_id or info["msg_type"] != "kernel_info_reply":
                info = json.loads(ws.recv())
            lua_reply, lua = run(
                ws,
                "%%lua\nfor i = 1, 3 do print('line ' .. i) end\n"
                f"jido.write_file('where.txt', '{root.name}')\nreturn 7",
            )
            _, session = run(
                ws,
                "import jido_kernel, sys\ns = jido_kernel.current_session()\n"
                "(str(s.project_root), s.id, s.name, '' in sys.path, str(s.project_root) in sys.path)",
            )
            shown_reply, shown = run(ws, "%session")
            busy = send(ws, "execute_request", {"code": "%%lua\nwhile true do end", "silent": False})
            time.sleep(1.0)
            gateway.rest("POST", f"/api/kernels/{kernel_id}/interrupt")
            interrupted = json.loads(ws.recv())
            while (
                interrupted.get("parent_header", {}).get("msg_id") != busy or interrupted["msg_type"] != "execute_reply"
            ):
                interrupted = json.loads(ws.recv())
            after_reply, after = run(ws, "%lua 1 + 1")
        finally:
            ws.close()
        assert info["content"]["implementation"] == "jido_kernel"
        assert "Jido (Python + Lua)" in info["content"]["banner"] and str(root) in info["content"]["banner"]
        assert lua_reply["status"] == "ok" and stream(lua, "stdout") == "line 1\nline 2\nline 3\n"
        assert result(lua) == "7"
        assert (root / "where.txt").read_text() == root.name
        root_text, session_id, name, empty_on_path, root_on_path = eval(result(session))
        assert (root_text, name, empty_on_path, root_on_path) == (str(root), "notes", False, False)
        assert shown_reply["status"] == "ok" and "gateway" not in stream(shown, "stderr")
        assert interrupted["content"]["status"] == "error" and interrupted["content"]["ename"] == "KeyboardInterrupt"
        assert after_reply["status"] == "ok" and result(after) == "2"
        seen.append(session_id)
    assert seen[0] != seen[1]
    assert not (tmp_path / "gateway_cwd" / "where.txt").exists()


def test_a_gateway_kernel_without_a_root_says_how_to_set_it(gateway: Gateway, tmp_path: Path) -> None:
    ws = gateway.connect(gateway.start_kernel({}))
    try:
        shown_reply, shown = run(ws, "%session")
        first_reply, first = run(ws, "%%lua\nreturn 1")
        second_reply, second = run(ws, "%%lua\nreturn 2")
    finally:
        ws.close()
    assert shown_reply["status"] == first_reply["status"] == second_reply["status"] == "ok"
    for text in (stream(shown, "stderr"), stream(first, "stderr")):
        assert "fell back to its working directory" in text and "KERNEL_JIDO_PROJECT_ROOT" in text
        assert str((tmp_path / "gateway_cwd").resolve()) in text
        assert "KERNEL_JIDO_SESSION_NAME" in text
    assert "gateway" not in stream(second, "stderr")
