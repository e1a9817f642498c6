"""Files Lua writes are data: nothing in the project root is ever imported by the kernel.

Lua writes Python modules into the project root, each creating a canary file when
imported; the owner then presses Tab, raises a Python error, restarts the kernel and
runs cells — through our kernelspec and through the launch remote launchers use
(``IPKernelApp`` with ``--IPKernelApp.kernel_class``) — and no canary ever appears.
"""

from __future__ import annotations

import ast
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import KernelManager
from kernel_helpers import TIMEOUT, execute, failure, jido_kernel, plain

pytestmark = pytest.mark.kernel

KERNEL_CLASS = "--IPKernelApp.kernel_class=jido_kernel.kernel.JidoKernel"

# Imported lazily by IPython and ipykernel after start-up: on Tab (jedi), on a
# traceback (stack_data and its helpers), or probed as optional and not installed here.
LAZY_MODULES = ["jedi.py", "stack_data.py", "executing.py", "astroid.py", "colorama.py"]
# Imported at start-up by any launch that puts the working directory on sys.path.
STARTUP_MODULES = [
    "jido_kernel/__init__.py",
    "jido_kernel/__main__.py",
    "IPython/__init__.py",
    "ipykernel/__init__.py",
    "sitecustomize.py",
    "usercustomize.py",
]


def _plant(kc: BlockingKernelClient, names: list[str], canaries: Path) -> None:
    """Lua writes each module; importing it would create ``canaries/<name>``."""
    for name in names:
        canary = canaries / name.replace("/", "_")
        code = f"open({str(canary)!r}, 'w').close()\n"
        run = execute(kc, f"%%lua\nassert(jido.write_file({json.dumps(name)}, {json.dumps(code)}))")
        assert run.status == "ok", run.error


def _owner_actions(kc: BlockingKernelClient) -> None:
    """Tab completion, a Python traceback, a Lua cell and a Python cell."""
    kc.complete("import js", 9)
    assert kc.get_shell_msg(timeout=TIMEOUT)["content"]["status"] == "ok"
    kc.complete("os.pa", 5)
    kc.get_shell_msg(timeout=TIMEOUT)
    failed = execute(kc, "import os\ndef f():\n    raise ValueError('owner error')\nf()")
    assert failed.status == "error" and failure(failed)["ename"] == "ValueError"
    assert execute(kc, "%lua return 1 + 1").status == "ok"


def _python_path(kc: BlockingKernelClient) -> list[str]:
    run = execute(kc, "import sys; print(__import__('json').dumps(sys.path))")
    assert run.status == "ok", run.error
    return list(json.loads(run.stdout))


def _assert_off_path(path: list[str], root: Path) -> None:
    forms = {"", ".", str(root), os.path.realpath(root)}
    assert not forms & set(path), path


@pytest.fixture
def canaries(tmp_path: Path) -> Path:
    folder = tmp_path / "canaries"
    folder.mkdir()
    return folder


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


@contextmanager
def launched(argv: list[str], cwd: Path) -> Iterator[BlockingKernelClient]:
    """A kernel started with ``argv`` (``{connection_file}`` filled in) in ``cwd``."""
    km = KernelManager()
    km._kernel_spec = KernelSpec(argv=argv, language="python", display_name="remote", interrupt_mode="signal")
    km.start_kernel(cwd=str(cwd), env={**os.environ})
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=TIMEOUT)
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_lua_written_modules_never_run_in_our_kernel(root: Path, canaries: Path) -> None:
    with jido_kernel(root) as (km, kc):
        _plant(kc, LAZY_MODULES + STARTUP_MODULES, canaries)
        _owner_actions(kc)
        km.restart_kernel(now=True)
        kc.wait_for_ready(timeout=TIMEOUT)
        _owner_actions(kc)
        path = _python_path(kc)
    assert sorted(p.name for p in canaries.iterdir()) == []
    _assert_off_path(path, root)


def test_the_kernel_launched_by_module_as_remote_launchers_do(root: Path, canaries: Path) -> None:
    """``python -m ipykernel_launcher --IPKernelApp.kernel_class=…`` in the notebook folder:
    Python puts the folder first on sys.path; the kernel class takes it off before any
    lazy import."""
    with jido_kernel(root) as (_, kc):
        _plant(kc, LAZY_MODULES, canaries)
    argv = [sys.executable, "-m", "ipykernel_launcher", KERNEL_CLASS, "-f", "{connection_file}"]
    with launched(argv, root) as kc:
        _owner_actions(kc)
        path = _python_path(kc)
    assert sorted(p.name for p in canaries.iterdir()) == []
    _assert_off_path(path, root)


def test_the_kernel_launched_by_a_launcher_script(root: Path, canaries: Path, tmp_path: Path) -> None:
    """A launcher script elsewhere (as gateway provisioners ship): IPython's ``init_path``
    would add ``''`` ahead of site-packages; the kernel class forbids it."""
    with jido_kernel(root) as (_, kc):
        _plant(kc, LAZY_MODULES, canaries)
    script = tmp_path / "launcher" / "launch_ipykernel.py"
    script.parent.mkdir()
    script.write_text("from ipykernel import kernelapp\nkernelapp.launch_new_instance()\n")
    with launched([sys.executable, str(script), KERNEL_CLASS, "-f", "{connection_file}"], root) as kc:
        _owner_actions(kc)
        path = _python_path(kc)
    assert sorted(p.name for p in canaries.iterdir()) == []
    _assert_off_path(path, root)


def test_an_owner_loads_one_reviewed_file_by_its_path(root: Path) -> None:
    """The documented way to use one's own module: load that file, the root stays off the path."""
    (root / "mymod.py").write_text("VALUE = 42\n")
    (root / "json.py").write_text("raise SystemExit('shadowed')\n")
    load = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('mymod', {str(root / 'mymod.py')!r})\n"
        "mymod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mymod)\n"
        "importlib.reload(__import__('json')); mymod.VALUE"
    )
    with jido_kernel(root) as (_, kc):
        missing = execute(kc, "import mymod")
        found = execute(kc, load)
    assert missing.status == "error" and failure(missing)["ename"] == "ModuleNotFoundError"
    assert found.status == "ok", found.error
    assert plain(found) == "42"


def test_the_lua_worker_runs_isolated_outside_the_root(root: Path) -> None:
    """The worker is ``python -I -S`` in ``/`` with pinned import folders: neither the root
    nor PYTHON* variables reach it."""
    with jido_kernel(root, env={"PYTHONPATH": str(root), "PYTHONSTARTUP": str(root / "x.py")}) as (_, kc):
        execute(kc, "%lua return 1")
        run = execute(
            kc,
            "import os, jido_kernel\n"
            "pid = jido_kernel.current_session().manager.lua.pid\n"
            "print(open(f'/proc/{pid}/cmdline', 'rb').read().split(b'\\0')[1:-1])\n"
            "print(os.readlink(f'/proc/{pid}/cwd'))\n"
            "print(b'PYTHONPATH' in open(f'/proc/{pid}/environ', 'rb').read())",
        )
    assert run.status == "ok", run.error
    argv, cwd, has_pythonpath = run.stdout.splitlines()
    arguments = ast.literal_eval(argv)
    assert arguments[:3] == [b"-I", b"-S", b"-c"]
    code, *folders = arguments[3:]
    assert code.endswith(b"import jido_kernel.lua.worker.__main__")
    assert folders and all(not folder.startswith(str(root).encode()) for folder in folders)
    assert cwd == "/"
    assert has_pythonpath == "False"


def test_load_ext_in_plain_ipython_takes_the_root_off_and_says_so(
    project: Path, jido_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    monkeypatch.setenv("JIDO_PROJECT_ROOT", str(project))
    monkeypatch.setattr(sys, "path", [str(project), *sys.path, f"{project}/."])
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "jido_kernel")
    try:
        out = capsys.readouterr().out
        assert not {str(project), f"{project}/."} & set(sys.path)
    finally:
        ip.run_line_magic("unload_ext", "jido_kernel")
    lines = [line for line in out.splitlines() if "sys.path" in line]
    assert len(lines) == 1 and "spec_from_file_location" in lines[0] and "sys.path.append" not in lines[0]
