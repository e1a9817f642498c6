"""A JupyterLab server for the browser tests, isolated from the user's own Jupyter files.

:func:`serve` runs JupyterLab (the ``lab`` extra) on a free loopback port with its own
configuration, data, runtime, settings and workspace directories, so nothing of the
user's is read or written, and stops its whole process group afterwards. Playwright
drives Debian's ``chromium`` (browser downloads are impossible here, so
``executable_path`` points at the system browser, started with :data:`CHROMIUM_ARGS`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
START_TIMEOUT = 90.0
DIRECTORIES = ("config", "data", "runtime", "settings", "workspaces", "ipython")


def skip_without_chromium() -> None:
    """Skip the calling test module when the system browser is missing."""
    if not CHROMIUM.exists():
        pytest.skip(
            f"no browser: {CHROMIUM} is missing (Debian: apt-get install chromium; .ci/run installs it)",
            allow_module_level=True,
        )


@contextmanager
def page(tmp_path: Path, *, width: int, height: int, timeout_ms: float) -> Iterator[Any]:
    """A page in headless Debian chromium with its own profile; on a failure its
    screenshot is saved as ``failure.png`` in ``tmp_path``."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the `test` extra)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": width, "height": height},
        )
        opened = browser.new_page()
        opened.set_default_timeout(timeout_ms)
        try:
            yield opened
        except BaseException:
            with suppress(Exception):
                opened.screenshot(path=str(tmp_path / "failure.png"))
            raise
        finally:
            browser.close()


def write_settings(settings_dir: Path, plugins: dict[str, dict[str, object]]) -> None:
    """JupyterLab user settings, one file per plugin."""
    for plugin, values in plugins.items():
        path = settings_dir / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


APPS = {
    "jupyterlab": [
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ],
    "notebook": ["--JupyterNotebookApp.expose_app_in_browser=True"],
}
"""The front ends a test can serve (JupyterLab 4, Notebook 7), with the flags that expose
``window.jupyterapp`` to the page."""


@contextmanager
def serve(
    tmp_path: Path,
    root: Path,
    prepare: Callable[[dict[str, Path]], None] | None = None,
    *,
    app: str = "jupyterlab",
) -> Iterator[str]:
    """JupyterLab (or Notebook 7, ``app="notebook"``) serving ``root``; yields its base URL.

    ``prepare`` receives the server's own directories (``config``, ``data``, ``settings``…)
    before it starts, to add settings or extensions.
    """
    dirs = {name: tmp_path / name for name in DIRECTORIES}
    for path in dirs.values():
        path.mkdir()
    if prepare is not None:
        prepare(dirs)
    env = {
        **os.environ,  # JUPYTER_PATH holds the test run's kernelspecs (conftest)
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
        "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
        "IPYTHONDIR": str(dirs["ipython"]),
    }
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", app, "--no-browser", "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}",
        "--IdentityProvider.token=", "--PasswordIdentityProvider.hashed_password=",
        "--ServerApp.allow_root=True", *APPS[app],
    ]  # fmt: skip
    log_path = tmp_path / f"{app}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_until_serving(url, process, log_path)
        yield url
    finally:
        _stop(process)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_serving(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"JupyterLab exited ({process.returncode}):\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/kernelspecs", timeout=5) as response:
                specs = json.load(response)["kernelspecs"]
            assert "jido" in specs, f"JupyterLab does not see the jido kernelspec: {sorted(specs)}"
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    pytest.fail(f"JupyterLab did not answer within {START_TIMEOUT:g} s:\n{log_path.read_text()[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop JupyterLab's process group: politely (it shuts its kernels down), then for sure."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
