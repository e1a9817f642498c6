"""Finding allow-listed commands on the search path (what ``shutil.which`` answered)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from jido_kernel.commands.allowlist import DEFAULT_ALLOWLIST, SEARCH_PATH, find_command


@pytest.mark.parametrize("name", [*DEFAULT_ALLOWLIST, "python3", "no-such-command-here", "", ".", "bin"])
def test_find_command_answers_as_shutil_which(name: str) -> None:
    assert find_command(name) == shutil.which(name, path=SEARCH_PATH)


def test_a_path_is_checked_itself(tmp_path: Path) -> None:
    script = tmp_path / "tool"
    script.write_text("#!/bin/sh\n")
    assert find_command(str(script)) is None  # not executable
    os.chmod(script, 0o755)
    assert find_command(str(script)) == str(script)
    assert find_command(str(tmp_path)) is None  # a directory
