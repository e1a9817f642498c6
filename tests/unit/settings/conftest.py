"""Fixtures of the settings tests: a private global settings home and a project root."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``$JIDO_CODE_HOME`` in the test's tmp dir (created on first save)."""
    home = tmp_path / "home"
    monkeypatch.setenv("JIDO_CODE_HOME", str(home))
    return home


@pytest.fixture
def root(tmp_path: Path, home: Path) -> Path:
    """An empty project root, with ``home`` in place."""
    root = tmp_path / "project"
    root.mkdir()
    return root
