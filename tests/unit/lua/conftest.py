"""Fixtures of the Lua tests that play a misbehaving worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fake_worker import replaying


@pytest.fixture
def rogue(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A sandbox whose worker answers every request with the given raw lines."""
    with replaying(project, tmp_path, monkeypatch) as start:
        yield start
