"""End to end in a real browser: JupyterLab runs ``03-live-state`` on the ``jido`` kernel.

JupyterLab (the ``lab`` extra) serves a temporary copy of ``notebooks/`` on a free
local port, with its own configuration, data, runtime, settings and workspace
directories so nothing of the user's is read or written. Playwright drives Debian's
``chromium`` (browser downloads are impossible here, so ``executable_path`` points at
the system browser). The test runs every cell and checks what a user sees: the kernel's
name, the token stream growing in one output, the todo list's final state and the
refused ``%%lua`` cell's one-line error. A screenshot is saved in the test's tmp dir.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from browser import lab
from browser.lab import serve, skip_without_chromium, write_settings

pytestmark = pytest.mark.browser

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOK = "03-live-state.ipynb"
KERNEL_DISPLAY_NAME = "Jido (Python + Lua)"
RUN_TIMEOUT_MS = 120_000
# The final todo list, as the notebook's last update (the `todos-from-lua` cell) sets it.
FINAL_TODOS = [
    ("List the notebooks", "completed"),
    ("Summarise each one", "completed"),
    ("Suggest where to start", "in_progress"),
]

skip_without_chromium()
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (it is in the `test` extra)")


def _cell_source(cell_id: str) -> str:
    notebook = nbformat.read(NOTEBOOKS / NOTEBOOK, as_version=4)
    (cell,) = [cell for cell in notebook.cells if cell.get("id") == cell_id]
    return str(cell.source)


def _expected_answer() -> str:
    """The streamed answer, from the notebook's own `answer` cell (plain Python)."""
    namespace: dict[str, Any] = {"re": re}
    exec(_cell_source("answer"), namespace)
    return str(namespace["answer"])


@pytest.fixture
def jupyterlab(tmp_path: Path) -> Iterator[str]:
    """JupyterLab on a temporary copy of notebooks/ (every cell kept in the DOM, no news
    prompt over the notebook); yields its base URL."""
    root = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints", ".jido_code"))
    settings = {
        "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false"},
    }
    with serve(tmp_path, root, lambda dirs: write_settings(dirs["settings"], settings)) as url:
        yield url


# JavaScript run in the page ---------------------------------------------------------------

_HELPERS = """
() => {
  const cells = (needle) => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')].filter(
    cell => cell.querySelector('.jp-InputArea-editor').textContent.includes(needle));
  const texts = (cell, selector) => [...cell.querySelectorAll(selector)].map(e => e.innerText);
  const streamText = (cell) => {
    const body = cell.querySelector('.jido-stream .jido-text, .jido-stream .jido-md');
    return body ? body.textContent.replace('\\u258d', '') : null;
  };
  window.jidoTest = {
    cell: (needle) => cells(needle)[0],
    // Record every state the output area of the cell holding `needle` goes through.
    watch(needle) {
      const found = cells(needle);
      if (found.length !== 1) return found.length;
      const cell = found[0];
      const seen = window.jidoTest.seen = [];
      new MutationObserver(() => {
        const state = {children: cell.querySelectorAll('.jp-OutputArea-child').length, text: streamText(cell)};
        const last = seen[seen.length - 1];
        if (!last || last.children !== state.children || last.text !== state.text) seen.push(state);
      }).observe(cell, {childList: true, subtree: true, characterData: true});
      return 1;
    },
    // What the one code cell whose source contains `needle` shows.
    outputs(needle) {
      const found = cells(needle);
      if (found.length !== 1) return {cells: found.length};
      const cell = found[0];
      return {
        cells: 1,
        children: cell.querySelectorAll('.jp-OutputArea-child').length,
        stream: texts(cell, '.jido-stream .jido-text, .jido-stream .jido-md'),
        todos: [...cell.querySelectorAll('.jido-todos li')].map(li => [
          li.innerText.slice(li.querySelector('.jido-check').innerText.length).trim(),
          li.className.replace(/.*jido-todo-/, ''),
        ]),
        errors: texts(cell, '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'),
      };
    },
    prompts: () => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
      .map(prompt => prompt.textContent.trim()),
  };
}
"""

_KERNEL_READY = """
() => {
  const widget = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = widget && widget.sessionContext && widget.sessionContext.session
    && widget.sessionContext.session.kernel;
  return Boolean(kernel && kernel.status === 'idle' && widget.content.widgets.length > 0);
}
"""

_ALL_CELLS_RAN = """
() => {
  const prompts = window.jidoTest.prompts();
  const indicator = document.querySelector('.jp-Notebook-ExecutionIndicator');
  return prompts.length > 0 && prompts.every(p => /^\\[\\d+\\]:$/.test(p))
    && indicator !== null && indicator.dataset.status === 'idle';
}
"""


def _command(page: Any, command: str) -> None:
    """Start a JupyterLab command (without waiting for it: the test waits on the DOM)."""
    page.evaluate("(command) => { window.jupyterapp.commands.execute(command); }", command)


def _outputs(page: Any, needle: str) -> dict[str, Any]:
    """What the one code cell whose source contains ``needle`` shows (see ``_HELPERS``)."""
    return page.evaluate("(needle) => window.jidoTest.outputs(needle)", needle)


def test_live_state_notebook_in_jupyterlab(jupyterlab: str, tmp_path: Path) -> None:
    answer = _expected_answer()
    with lab.page(tmp_path, width=1280, height=5200, timeout_ms=RUN_TIMEOUT_MS) as page:
        page.goto(f"{jupyterlab}/lab/tree/{NOTEBOOK}")
        page.wait_for_function(_KERNEL_READY)
        page.evaluate(_HELPERS)
        kernel_name = page.locator(".jp-NotebookPanel .jp-Toolbar-kernelName").inner_text()
        assert kernel_name.strip() == KERNEL_DISPLAY_NAME

        # Start from a blank notebook, so everything checked below comes from this run.
        _command(page, "notebook:clear-all-cell-outputs")
        page.wait_for_function(
            "() => !document.querySelector('.jp-Notebook .jp-OutputArea-child')"
            " && window.jidoTest.prompts().every(p => !/\\d/.test(p))"
        )
        assert page.evaluate("(needle) => window.jidoTest.watch(needle)", "state.stream()") == 1
        _command(page, "notebook:run-all-cells")
        page.wait_for_function(_ALL_CELLS_RAN, polling=250)

        page.screenshot(path=str(tmp_path / "03-live-state-full.png"))
        page.set_viewport_size({"width": 1280, "height": 1100})
        page.evaluate(
            "() => { window.jupyterapp.shell.collapseLeft();"
            " const cell = window.jidoTest.cell('%messages'); cell.scrollIntoView({block: 'start'});"
            " cell.closest('.jp-WindowedPanel-outer')?.scrollBy(0, -24); }"
        )
        page.screenshot(path=str(tmp_path / "03-live-state.png"))

        # The stream grew in place: one output area, updated, ending with the full text.
        stream = _outputs(page, "state.stream()")
        assert stream["cells"] == 1 and stream["children"] == 1, stream
        assert [text.strip() for text in stream["stream"]] == [answer]
        history = page.evaluate("() => window.jidoTest.seen")
        shown = [state for state in history if state["children"]]
        assert {state["children"] for state in shown} == {1}, history
        texts = [state["text"] for state in shown if state["text"]]
        assert texts and texts[-1].strip() == answer, history
        assert all(answer.startswith(text) for text in texts), history
        assert any(len(text) < len(answer) for text in texts), f"never seen growing: {history}"
        assert page.locator(".jp-Notebook .jido-stream").count() == 1

        todos = _outputs(page, "%todos")
        assert [tuple(item) for item in todos["todos"]] == FINAL_TODOS, todos

        refused = _outputs(page, 'assert(jido.shell("python3"')
        (error,) = refused["errors"]
        assert len(error.strip().splitlines()) == 1, error
        assert error.startswith("LuaError:") and "interpreters are blocked (python3)" in error
