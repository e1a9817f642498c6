"""Test-session set-up shared by every test.

Each run installs the ``jido`` kernelspec (pointing at this interpreter) into a private
``JUPYTER_PATH`` entry and points ``JIDO_CODE_HOME`` at an empty directory, so kernels
started by tests — and the notebooks nbval runs — use this checkout's code and never
read or write the user's real settings.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell

_RUN_DIR = tempfile.TemporaryDirectory(prefix="jido-tests-")


def pytest_configure(config: pytest.Config) -> None:
    from jido_kernel.kernelspec import write_spec

    run_dir = Path(_RUN_DIR.name)
    write_spec(run_dir / "jupyter" / "kernels" / "jido")
    write_spec(run_dir / "jupyter" / "kernels" / "jido-lua", kernel="jido-lua")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(
        filter(None, [str(run_dir / "jupyter"), os.environ.get("JUPYTER_PATH")])
    )
    home = run_dir / "jido_code_home"
    home.mkdir()
    os.environ["JIDO_CODE_HOME"] = str(home)
    os.environ.pop("JIDO_PROJECT_ROOT", None)
    os.environ.pop("JPY_SESSION_NAME", None)


def pytest_unconfigure(config: pytest.Config) -> None:
    _RUN_DIR.cleanup()


@pytest.fixture
def jido_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty ``JIDO_CODE_HOME`` for this test."""
    home = tmp_path / "jido_home"
    home.mkdir()
    monkeypatch.setenv("JIDO_CODE_HOME", str(home))
    return home


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project root (resolved)."""
    root = tmp_path / "project"
    root.mkdir()
    return root.resolve()


@pytest.fixture
def shell(project: Path, monkeypatch: pytest.MonkeyPatch, jido_home: Path) -> Iterator[InteractiveShell]:
    """An in-process IPython shell with the extension loaded on ``project``."""
    monkeypatch.setenv("JIDO_PROJECT_ROOT", str(project))
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "jido_kernel")
    yield ip
    ip.run_line_magic("unload_ext", "jido_kernel")


@pytest.fixture(params=["openat2", "walk"])
def resolution(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The security library's path resolution: ``openat2`` (when the running kernel has
    it) or the ``O_NOFOLLOW`` walk; tests using it run once with each."""
    from jido_kernel.security import openat2

    if request.param == "openat2" and not openat2.AVAILABLE:
        pytest.skip("openat2 with RESOLVE_BENEATH is not available on this kernel")
    monkeypatch.setattr(openat2, "ENABLED", request.param == "openat2")
    return str(request.param)
