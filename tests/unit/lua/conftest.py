"""Fixtures of the Lua tests that play a misbehaving worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jido_kernel.lua import LuaSandbox
from tests.fake_worker import replaying


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LuaSandbox]:
    """One real sandbox per module, its ``jido.state`` calls answered with their arguments
    (a test module may define its own)."""
    root = tmp_path_factory.mktemp("project").resolve()
    sandbox = LuaSandbox(root, timeout=30, on_state_call=lambda op, args: args)
    yield sandbox
    sandbox.close()


@pytest.fixture
def rogue(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A sandbox whose worker answers every request with the given raw lines."""
    with replaying(project, tmp_path, monkeypatch) as start:
        yield start
