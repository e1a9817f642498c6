"""The worker imports every module it will ever need at start, before any Lua runs.

Lua may write files (``.py`` too) in the project root, and the package may sit inside
it: a module first imported after Lua ran could be one Lua wrote. A real worker (its
Lua state, bridge and confinement) is started in a fresh interpreter, then made to do
everything a session asks of it — runs that print, return, fail, time out and run out of
memory, every ``jido.*`` file function, refused paths, commands and git, push, pull,
names, reset — and no module may have been imported meanwhile. It is started as the kernel starts it (no ``site``, its
import folders pinned) and without the modules it does not need (``logging`` above all,
which costs every worker start; ``typing``, and ``pathlib`` with the ``urllib.parse`` and
``ipaddress`` it loads, which cost every worker 0.7 and 0.6 MB).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from jido_kernel.commands.allowlist import SEARCH_PATH
from jido_kernel.lua.limits import SandboxLimits
from jido_kernel.lua.transport import Worker

GIT = shutil.which("git", path=SEARCH_PATH)

DRIVER = r"""
import json, os, sys, threading

root, limits, messages = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
sys.path += sys.argv[4:]  # as the worker's own start does
from jido_kernel.lua.worker.main import Channel, Worker

started = set(sys.modules)
channel = Channel(os.open(messages, os.O_WRONLY | os.O_CREAT | os.O_TRUNC))
worker = Worker({"root": root, "limits": limits}, channel)
threading.Thread(target=worker.limiter.watch, daemon=True).start()
threading.Thread(target=worker.output.loop, daemon=True).start()
ready = set(sys.modules)

CELLS = [
    "print('hello', 1.5, {}) return 1, 'two', {a = {1, 2, 3}}, true",
    "return jido.write_file('a.txt', 'one\ntwo\n'), jido.mkdir_p('d/e'), jido.sleep(0.01)",
    "return jido.read_file('a.txt'), jido.read_file('a.txt', {raw = true, offset = 1, limit = 1})",
    "return jido.list_dir('.'), jido.list_dir('.', {ignore_patterns = {'*.md'}}), jido.glob('**/*.txt'),"
    "  jido.glob('*.txt', 'sub'), jido.file_exists('a.txt'), jido.is_dir('.'), jido.is_file('a.txt'),"
    "  jido.file_stat('a.txt')",
    "return jido.read_file('../outside'), jido.read_file('/etc/passwd'), jido.write_file('.git/x', 'x'),"
    "  jido.list_dir('..'), jido.glob('../*'), jido.delete_file('/tmp/x')",
    "return jido.read_file('missing.txt'), jido.list_dir('a.txt'), jido.read_file(42), jido.nope",
    "return jido.shell('ls', {'-la'}), jido.shell('cat', {'a.txt'}), jido.shell('ls', {'-l', '--', 'a.txt'}),"
    "  jido.shell('true', {}, {timeout = 5000}), jido.shell('sort', {'-o', '../x', 'a.txt'})",
    "return jido.shell('git', {'status'}), jido.shell('git', {'log', '--oneline'}), jido.shell('git', {'grep', 'x'}),"
    "  jido.shell('git', {'push'}), jido.shell('bash', {'-c', 'true'})",
    "return jido.shell('ls', {'--not-an-option'}), jido.shell('no-such-command'),"
    "  jido.shell('find', {'.', '-name', 'a*'})",
    "return jido.shell('sleep', {'5'}, {timeout = 100})",
    "return jido.delete_file('a.txt')",
    "error('failed on purpose')",
    "error({code = 1})",
    "local t = setmetatable({}, {__index = function() error('deep') end}) return t.x",
    "this is not Lua",
    "while true do end",
    "local t = {} for i = 1, 1e8 do t[i] = string.rep('x', 64) .. i end",
    "return coroutine.wrap(function() coroutine.yield(jido.read_file('nope')) end)()",
    "return jido.state.append_message('user', 'hi')",
    "return os.time(), os.date('%Y'), string.format('%5.2f', 1.5), math.floor(2.5), utf8.char(233)",
    "x = {1, 2, {y = 'z'}, 'ü', 1e300, -0.0}",
]


def serve(handler, message):
    try:
        handler(message)
    except Exception:  # the request loop answers these as errors
        pass


for number, code in enumerate(CELLS, 1):
    short = "while true" in code or "jido.state" in code
    run_limits = {**limits, "timeout": 1.0 if short else 10.0, "kernel_time": 0.5}
    serve(worker._run, {"type": "run", "id": number, "limits": run_limits, "code": code, "name": f"cell{number}",
                        "want_return": True, "inputs": {"pushed": 1}, "outputs": ["x"]})
serve(worker._push, {"type": "push", "id": 100, "name": "y", "value": [1, 2, 3]})
serve(worker._pull, {"type": "pull", "id": 101, "name": "x"})
serve(worker._pull, {"type": "pull", "id": 102, "name": "missing"})
serve(worker._names, {"type": "names", "id": 103, "path": ["jido"]})
serve(worker._reset, {"type": "reset", "id": 104})
serve(worker._run, {"type": "run", "id": 105, "limits": limits, "code": "return 1", "name": "after",
                    "want_return": True, "inputs": {}, "outputs": []})
print(json.dumps({"started": sorted(started), "ready": sorted(ready - started),
                  "late": sorted(set(sys.modules) - ready)}))
"""


def _drive(root: Path, messages: Path) -> dict[str, list[str]]:
    limits = SandboxLimits(max_memory=64 * 1024 * 1024, shell_timeout=10.0).to_wire()
    done = subprocess.run(
        [*Worker.command[:3], "-c", DRIVER, str(root), json.dumps(limits), str(messages), *Worker.command[5:]],
        capture_output=True, text=True, timeout=300, cwd="/", check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    loaded: dict[str, list[str]] = json.loads(done.stdout.splitlines()[-1])
    return loaded


@pytest.fixture(scope="module")
def messages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("messages") / "sent"


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory, messages: Path) -> dict[str, list[str]]:
    root = Path(os.path.realpath(tmp_path_factory.mktemp("project")))
    (root / "sub").mkdir()
    (root / "sub" / "b.txt").write_text("b\n")
    if GIT is not None:
        env = {"PATH": SEARCH_PATH, "HOME": str(root), "GIT_CONFIG_NOSYSTEM": "1"}
        subprocess.run([GIT, "init", "-q"], cwd=root, env=env, check=True)
    return _drive(root, messages)


def test_the_worker_did_all_of_it(loaded: dict[str, list[str]], messages: Path) -> None:
    sent = [json.loads(line) for line in messages.read_text(encoding="utf-8").splitlines()]
    kinds = {message["type"] for message in sent}
    assert {"result", "error", "stdout", "state_call", "value", "done"} <= kinds
    assert kinds & {"tool_call", "tool_calls"}
    errors = {message["error"]["type"] for message in sent if message["type"] == "error"}
    assert {"LuaError", "LuaSyntaxError", "LuaTimeoutError", "LuaMemoryError"} <= errors
    results = {message["id"] for message in sent if message["type"] == "result"}
    assert 105 in results


def test_no_module_is_imported_after_the_worker_is_ready(loaded: dict[str, list[str]]) -> None:
    assert loaded["late"] == []


def test_building_the_worker_imports_no_module_of_the_package(loaded: dict[str, list[str]]) -> None:
    """Its own modules are all imported with :mod:`jido_kernel.lua.worker.main`."""
    assert [name for name in loaded["ready"] if name.split(".")[0] == "jido_kernel"] == []


@pytest.mark.parametrize(
    "module",
    [
        "logging",
        "concurrent.futures",
        "shutil",
        "platform",
        "importlib.resources",
        "zipfile",
        "tempfile",
        "site",
        "typing",
        "pathlib",
        "urllib.parse",
        "ipaddress",
    ],
)
def test_the_worker_does_without(loaded: dict[str, list[str]], module: str) -> None:
    everything = loaded["started"] + loaded["ready"] + loaded["late"]
    assert module not in everything
