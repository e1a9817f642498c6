"""The project root and notebook precedence, gateway variables included, and the notes a
kernel behind a gateway gives when it could not learn them."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jido_kernel.session.origin import locate

SOURCES = [
    ("JIDO_PROJECT_ROOT", "/env", "JIDO_PROJECT_ROOT"),
    ("config", "/cfg", "config"),
    ("JPY_SESSION_NAME", "/jpy/nb.ipynb", "notebook"),
    ("KERNEL_JIDO_PROJECT_ROOT", "/kroot", "KERNEL_JIDO_PROJECT_ROOT"),
    ("KERNEL_JIDO_SESSION_NAME", "/knb/nb.ipynb", "notebook"),
    ("KERNEL_WORKING_DIR", "/kwd", "KERNEL_WORKING_DIR"),
]
EXPECTED_ROOT = {"/jpy/nb.ipynb": "/jpy", "/knb/nb.ipynb": "/knb"}


@given(st.sets(st.sampled_from(range(len(SOURCES)))))
def test_the_first_source_given_wins_in_the_documented_order(given_sources: set[int]) -> None:
    env = {SOURCES[i][0]: SOURCES[i][1] for i in given_sources if SOURCES[i][0] != "config"}
    configured = "/cfg" if 1 in given_sources else ""
    origin = locate(configured, env=env, cwd=Path("/cwd"))
    if not given_sources:
        assert (origin.project_root, origin.root_source) == ("/cwd", "working directory")
        return
    _, value, source = SOURCES[min(given_sources)]
    assert origin.project_root == EXPECTED_ROOT.get(value, value)
    assert origin.root_source == source


def test_the_notebook_comes_from_jpy_session_name_then_the_gateway_variable() -> None:
    both = {"JPY_SESSION_NAME": "/a/one.ipynb", "KERNEL_JIDO_SESSION_NAME": "/b/two.ipynb"}
    assert locate("", env=both, cwd=Path("/c")).notebook == Path("/a/one.ipynb")
    gateway = {"KERNEL_JIDO_SESSION_NAME": "work/two.ipynb", "KERNEL_JIDO_PROJECT_ROOT": "/proj"}
    origin = locate("", env=gateway, cwd=Path("/c"))
    assert origin.notebook == Path("/proj/work/two.ipynb") and origin.name == "two"
    assert origin.project_root == "/proj"
    other = locate("", env={**gateway, "KERNEL_JIDO_SESSION_NAME": "work/three.ipynb"}, cwd=Path("/c"))
    assert other.session_id != origin.session_id
    assert locate("", env=dict(gateway), cwd=Path("/elsewhere")).session_id == origin.session_id
    working = locate("", env={"KERNEL_JIDO_SESSION_NAME": "n.ipynb", "KERNEL_WORKING_DIR": "/w"}, cwd=Path("/c"))
    assert working.notebook == Path("/w/n.ipynb") and working.project_root == "/w"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, []),
        ({"JPY_SESSION_NAME": "/a/nb.ipynb"}, []),
        ({"KERNEL_GATEWAY": "1"}, ["KERNEL_JIDO_PROJECT_ROOT", "KERNEL_JIDO_SESSION_NAME"]),
        ({"KERNEL_ID": "x", "KERNEL_JIDO_PROJECT_ROOT": "/p"}, ["KERNEL_JIDO_SESSION_NAME"]),
        ({"KERNEL_ID": "x", "KERNEL_JIDO_SESSION_NAME": "/p/nb.ipynb"}, []),
        ({"KERNEL_ID": "x", "KERNEL_WORKING_DIR": "/w"}, ["KERNEL_JIDO_SESSION_NAME"]),
    ],
)
def test_a_kernel_behind_a_gateway_says_what_to_set(env: dict[str, str], expected: list[str]) -> None:
    notes = locate("", env=env, cwd=Path("/c")).notes
    assert len(notes) == len(expected)
    for note, variable in zip(notes, expected, strict=True):
        assert variable in note and "gateway" in note
    if expected and expected[0] == "KERNEL_JIDO_PROJECT_ROOT":
        assert "fell back to its working directory (/c)" in notes[0]
