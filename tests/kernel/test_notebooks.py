"""The example notebooks, executed the way Jupyter front ends run them.

nbval (``pytest --nbval-lax notebooks/``) runs every cell but ignores
``update_display_data``, so it never sees what a live view ends up showing. nbclient
applies those updates to the outputs by display id, as JupyterLab does; these tests
check the final outputs: the token stream of ``03-live-state`` is one output holding
the whole text, the todo list and the tool calls show their final state, and no
notebook is left showing a call still running or a message still streaming.
"""

from __future__ import annotations

import html
import re
import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat import NotebookNode

pytestmark = pytest.mark.kernel

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
LIVE_STATE = "03-live-state.ipynb"
EXAMPLES = sorted(path.name for path in NOTEBOOKS.glob("0[1-9]-*.ipynb"))


@pytest.fixture(scope="module")
def notebook_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of notebooks/: the project root of the notebooks' own sessions."""
    root = tmp_path_factory.mktemp("example-notebooks") / "notebooks"
    shutil.copytree(NOTEBOOKS, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints", ".jido_code"))
    return root


def execute(root: Path, name: str) -> NotebookNode:
    """Run notebook ``name`` of ``root`` top to bottom on the jido kernel; return it with outputs."""
    notebook = nbformat.read(root / name, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name=notebook.metadata.get("kernelspec", {}).get("name", "jido"),
        timeout=120,
        resources={"metadata": {"path": str(root)}},
    )
    client.execute()  # cells tagged raises-exception may fail; any other error fails here
    return notebook


@pytest.fixture(scope="module")
def live_state(notebook_dir: Path) -> NotebookNode:
    return execute(notebook_dir, LIVE_STATE)


def cell(notebook: NotebookNode, cell_id: str) -> NotebookNode:
    (found,) = [c for c in notebook.cells if c.get("id") == cell_id]
    return found


def displays(code_cell: NotebookNode) -> list[dict[str, Any]]:
    """The cell's displays, without the emptied live outputs that precede final ones."""
    shown = [out["data"] for out in code_cell.outputs if out["output_type"] == "display_data"]
    return [data for data in shown if data != {"text/plain": ""}]


def the_answer(notebook: NotebookNode) -> str:
    """The text the notebook streams, from its own `answer` cell (plain Python)."""
    namespace: dict[str, Any] = {"re": re}
    exec(cell(notebook, "answer").source, namespace)
    return str(namespace["answer"])


def test_the_token_stream_ends_as_one_output_holding_the_whole_text(live_state: NotebookNode) -> None:
    answer = the_answer(live_state)
    stream = cell(live_state, "stream")
    assert len(stream.outputs) == 1, "the stream grows in one output, updated in place"
    (shown,) = displays(stream)
    assert shown["text/plain"] == f"assistant: {answer}"
    assert html.escape(answer) in shown["text/html"] and "streaming" not in shown["text/html"]


def test_the_messages_view_ends_with_the_whole_conversation(live_state: NotebookNode) -> None:
    (shown,) = displays(cell(live_state, "messages-view"))
    lines = shown["text/plain"].splitlines()
    assert [line.split(":", 1)[0] for line in lines] == ["user", "assistant", "assistant"]
    assert lines[-1] == f"assistant: {the_answer(live_state)}"


def test_the_todo_list_shows_its_final_state(live_state: NotebookNode) -> None:
    (shown,) = displays(cell(live_state, "todos-view"))
    assert shown["text/plain"].splitlines() == [
        "[x] List the notebooks",
        "[x] Summarise each one",
        "[~] Suggest where to start",
    ]
    assert shown["text/html"].count('class="jido-todo jido-todo-completed"') == 2


def test_the_bridge_calls_are_shown_completed(live_state: NotebookNode, notebook_dir: Path) -> None:
    notebooks = sorted(path.name for path in notebook_dir.glob("*.ipynb"))
    (own,) = displays(cell(live_state, "tool-calls-from-lua"))
    calls = [line for line in own["text/plain"].splitlines() if not line.startswith("  →")]
    assert calls == ['glob(pattern="*.ipynb") — completed', f"{len(notebooks)} × file_stat · 0 errors"]
    (everything,) = displays(cell(live_state, "tool-calls-view"))
    lines = everything["text/plain"].splitlines()
    statuses = [line.rsplit(" — ", 1)[1] for line in lines if " — " in line and not line.startswith("  ")]
    assert f"{len(notebooks)} × file_stat · 0 errors" in lines
    assert statuses == ["completed", "error"], "the refused call last, as an error"


def test_a_refused_lua_call_ends_the_cell_with_one_line(live_state: NotebookNode) -> None:
    (error,) = [out for out in cell(live_state, "refused").outputs if out["output_type"] == "error"]
    assert error["ename"] == "LuaError"
    assert "shell interpreters are blocked (python3)" in error["evalue"]
    assert len(error["traceback"]) == 1


@pytest.mark.parametrize("name", EXAMPLES)
def test_no_live_view_is_left_unfinished(request: pytest.FixtureRequest, notebook_dir: Path, name: str) -> None:
    notebook = request.getfixturevalue("live_state") if name == LIVE_STATE else execute(notebook_dir, name)
    unfinished = [
        (code_cell.get("id"), data["text/plain"])
        for code_cell in notebook.cells
        if code_cell.cell_type == "code"
        for data in displays(code_cell)
        if re.search(r" — (pending|running)$|\(streaming\)", data.get("text/plain", ""), re.MULTILINE)
    ]
    assert not unfinished
