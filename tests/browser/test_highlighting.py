"""In a real browser: the jido extension edits ``%%lua`` cells as Lua, in JupyterLab 4 and Notebook 7.

JupyterLab and Notebook 7 (both in the ``lab`` extra) run with their own configuration,
data, runtime, settings and workspace directories; its data directory holds the extension as built into the
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
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from browser import lab
from browser.lab import serve, skip_without_chromium, write_settings
from nbformat.v4 import new_code_cell, new_notebook

import jido_kernel

pytestmark = pytest.mark.browser

BUILT = Path(jido_kernel.__file__).parent / "labextension"
EXTENSION = "jido-kernel-lua"
TIMEOUT_MS = 60_000
LUA, PYTHON = "text/x-lua", "text/x-ipython"

skip_without_chromium()
if not (BUILT / "package.json").exists():
    pytest.skip(f"the JupyterLab extension is not built ({BUILT}): run make", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (it is in the `test` extra)")


PAGES = {"jupyterlab": "lab/tree/cells.ipynb", "notebook": "notebooks/cells.ipynb"}


@pytest.fixture(params=sorted(PAGES))
def front_end(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """JupyterLab 4 or Notebook 7 with the built extension, on a folder holding
    ``cells.ipynb``; yields the notebook's URL."""
    root = tmp_path / "root"
    root.mkdir()
    notebook = new_notebook(
        cells=[new_code_cell("%%lua\nlocal t = {1, 2} -- a Lua comment\nreturn #t"), new_code_cell("x = [1, 2]\nx")],
        metadata={"kernelspec": {"name": "jido", "display_name": "Jido (Python + Lua)", "language": "python"}},
    )
    nbformat.write(notebook, root / "cells.ipynb")

    def prepare(dirs: dict[str, Path]) -> None:
        shutil.copytree(BUILT, dirs["data"] / "labextensions" / EXTENSION)
        write_settings(dirs["settings"], {"@jupyterlab/apputils-extension/notification": {"fetchNews": "false"}})

    app: str = request.param
    if app == "notebook":
        pytest.importorskip("notebook", reason="Notebook 7 is not installed (it is in the `lab` extra)")
    with serve(tmp_path, root, prepare, app=app) as url:
        yield f"{url}/{PAGES[app]}"


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


def test_lua_cells_are_edited_as_lua(front_end: str, tmp_path: Path) -> None:
    with lab.page(tmp_path, width=1100, height=700, timeout_ms=TIMEOUT_MS) as page:
        page.goto(front_end)
        page.wait_for_function(_READY)
        # On opening: the %%lua cell is Lua, the Python cell is not.
        assert _languages(page, [[LUA, "lua"], [PYTHON, "python"]]) == [[LUA, "lua"], [PYTHON, "python"]]
        page.evaluate("() => window.jupyterapp.shell.collapseLeft && window.jupyterapp.shell.collapseLeft()")
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
