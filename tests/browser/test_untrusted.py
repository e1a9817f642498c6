"""A shared, not-yet-run tour notebook in JupyterLab: untrusted outputs keep their meaning.

JupyterLab sanitises the outputs of an untrusted notebook (one it has not signed, such
as a fresh copy): inline ``<style>`` elements are dropped. The views' markup carries
their meaning without the stylesheet: tool calls are a table, completed todos are
struck through (``<s>``), roles and statuses are words. The test opens a copy of
``03-live-state`` without running it, checks what a reader sees, and saves a screenshot
(``03-live-state-untrusted.png``) in its tmp dir.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser import lab
from browser.test_lab import NOTEBOOK, RUN_TIMEOUT_MS, jupyterlab

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (it is in the `test` extra)")

__all__ = ["jupyterlab"]  # the fixture, imported for this module's test

_SHOWN = """
() => {
  const outputs = [...document.querySelectorAll('.jp-Notebook .jp-OutputArea-output')];
  const jido = outputs.filter(output => output.querySelector('.jido'));
  const struck = [...document.querySelectorAll('.jp-Notebook .jido-todos li s')];
  return {
    rendered: jido.length,
    styles: document.querySelectorAll('.jp-Notebook .jido style').length,
    toolTables: document.querySelectorAll('.jp-Notebook table.jido-tools').length,
    struck: struck.map(s => [s.innerText, getComputedStyle(s).textDecorationLine]),
    roles: [...document.querySelectorAll('.jp-Notebook .jido-role')].map(role => role.innerText.trim()),
    statuses: [...document.querySelectorAll('.jp-Notebook .jido-tools td.jido-badge')].map(td => td.innerText.trim()),
  };
}
"""


def test_an_untrusted_tour_notebook_reads_well(jupyterlab: str, tmp_path: Path) -> None:
    with lab.page(tmp_path, width=1280, height=5200, timeout_ms=RUN_TIMEOUT_MS) as page:
        page.goto(f"{jupyterlab}/lab/tree/{NOTEBOOK}")
        page.wait_for_function("() => document.querySelectorAll('.jp-Notebook .jido').length > 3")
        shown: dict[str, Any] = page.evaluate(_SHOWN)
        page.screenshot(path=str(tmp_path / "03-live-state-untrusted.png"), full_page=True)
        assert shown["styles"] == 0, "an untrusted notebook's inline styles are dropped"
        assert shown["toolTables"] >= 2, shown
        assert shown["struck"] and all(line == "line-through" for _, line in shown["struck"]), shown
        assert {"user", "assistant"} <= {role.lower() for role in shown["roles"]}, shown
        assert {"completed", "error"} <= {status.lower() for status in shown["statuses"]}, shown
