"""In a real browser: the jido JupyterLab extension edits ``%%lua`` cells as Lua.

JupyterLab (the ``lab`` extra) runs with its own configuration, data, runtime, settings
and workspace directories; its data directory holds the extension as built into the
package (``jido_kernel/labextension``, which ``make`` builds with npm), so the test
sees what ``pip install`` gives a user. Playwright drives Debian's ``chromium``. The
test opens a notebook on the ``jido`` kernel and checks each code cell's language —
the cell model's MIME type and the language CodeMirror runs — as the ``%%lua`` line is
added, removed and typed into a new cell; and that the jido output stylesheet is a
global style. Screenshots are saved in the test's tmp dir (``highlighting.png``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

import jido_kernel

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
BUILT = Path(jido_kernel.__file__).parent / "labextension"
EXTENSION = "jido-kernel-lua"
START_TIMEOUT = 90.0
TIMEOUT_MS = 60_000
LUA, PYTHON = "text/x-lua", "text/x-ipython"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

if not CHROMIUM.exists():
    pytest.skip(f"no browser: {CHROMIUM} is missing (Debian: apt-get install chromium)", allow_module_level=True)
if not (BUILT / "package.json").exists():
    pytest.skip(f"the JupyterLab extension is not built ({BUILT}): run make", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (it is in the `test` extra)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture
def jupyterlab(tmp_path: Path) -> Iterator[str]:
    """JupyterLab with the built extension, on a folder holding ``cells.ipynb``."""
    root = tmp_path / "root"
    root.mkdir()
    notebook = new_notebook(
        cells=[new_code_cell("%%lua\nlocal t = {1, 2} -- a Lua comment\nreturn #t"), new_code_cell("x = [1, 2]\nx")],
        metadata={"kernelspec": {"name": "jido", "display_name": "Jido (Python + Lua)", "language": "python"}},
    )
    nbformat.write(notebook, root / "cells.ipynb")
    dirs = {name: tmp_path / name for name in ("config", "data", "runtime", "settings", "workspaces", "ipython")}
    for path in dirs.values():
        path.mkdir()
    shutil.copytree(BUILT, dirs["data"] / "labextensions" / EXTENSION)
    setting = dirs["settings"] / "@jupyterlab/apputils-extension/notification.jupyterlab-settings"
    setting.parent.mkdir(parents=True)
    setting.write_text(json.dumps({"fetchNews": "false"}))
    env = {
        **os.environ,
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
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}",
        "--IdentityProvider.token=", "--PasswordIdentityProvider.hashed_password=",
        "--ServerApp.allow_root=True", "--LabApp.expose_app_in_browser=True",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    log_path = tmp_path / "jupyterlab.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterLab exited ({process.returncode}):\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/api/kernelspecs", timeout=5):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.3)
        yield url
    finally:
        _stop(process)


_READY = """
() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = panel && panel.sessionContext && panel.sessionContext.session
    && panel.sessionContext.session.kernel;
  return Boolean(kernel && kernel.status === 'idle' && panel.content.codeMimetype === 'text/x-ipython'
    && panel.content.widgets.length >= 2);
}
"""

# For each code cell: the model's MIME type and the language CodeMirror runs.
_LANGUAGES = """
() => window.jupyterapp.shell.currentWidget.content.widgets.map(cell => [
  cell.model.mimeType,
  cell.node.querySelector('.cm-content').getAttribute('data-language'),
])
"""


def _languages(page: Any, expected: list[list[str | None]]) -> list[list[str | None]]:
    """The cells' languages once they are ``expected`` (or what they are at the timeout)."""
    with contextlib.suppress(sync_api.TimeoutError):
        page.wait_for_function(
            f"() => JSON.stringify(({_LANGUAGES})()) === {json.dumps(json.dumps(expected, separators=(',', ':')))}",
            timeout=10_000,
        )
    return page.evaluate(_LANGUAGES)  # type: ignore[no-any-return]


def _set_source(page: Any, index: int, source: str) -> None:
    page.evaluate(
        "([index, source]) => window.jupyterapp.shell.currentWidget.content.widgets[index]"
        ".model.sharedModel.setSource(source)",
        [index, source],
    )


def test_lua_cells_are_edited_as_lua(jupyterlab: str, tmp_path: Path) -> None:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1100, "height": 700},
        )
        page = browser.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        try:
            page.goto(f"{jupyterlab}/lab/tree/cells.ipynb")
            page.wait_for_function(_READY)
            # On opening: the %%lua cell is Lua, the Python cell is not.
            assert _languages(page, [[LUA, "lua"], [PYTHON, "python"]]) == [[LUA, "lua"], [PYTHON, "python"]]
            page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
            page.screenshot(path=str(tmp_path / "highlighting.png"))

            # Edits: the magic added to the Python cell, removed from the Lua one.
            _set_source(page, 1, "%%lua\nreturn #{1, 2}")
            _set_source(page, 0, "local_t = 1  # now Python")
            assert _languages(page, [[PYTHON, "python"], [LUA, "lua"]]) == [[PYTHON, "python"], [LUA, "lua"]]

            # A new cell, typed into as a user does.
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:insert-cell-below')")
            page.wait_for_function("() => window.jupyterapp.shell.currentWidget.content.widgets.length === 3")
            page.keyboard.press("Enter")
            page.keyboard.type("%%lua\nprint('typed')")
            expected = [[PYTHON, "python"], [LUA, "lua"], [LUA, "lua"]]
            assert _languages(page, expected) == expected
            page.screenshot(path=str(tmp_path / "highlighting-edited.png"))

            # The jido output stylesheet is loaded as a global style.
            rules = page.evaluate(
                "() => [...document.styleSheets].flatMap(sheet => { try { return [...sheet.cssRules]; }"
                " catch (e) { return []; } }).map(rule => rule.selectorText || '')"
                ".filter(selector => selector.startsWith('.jido'))"
            )
            assert ".jido .jido-msg" in rules
        except BaseException:
            with contextlib.suppress(Exception):
                page.screenshot(path=str(tmp_path / "failure.png"))
            raise
        finally:
            browser.close()
