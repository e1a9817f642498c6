"""Project roots: resolved once, and a resolved root is itself a root argument."""

from __future__ import annotations

import os
from pathlib import Path

from jido_kernel.security import read_file
from jido_kernel.security.roots import get_root


def test_a_resolved_root_stands_for_itself_and_names_the_root_as_given(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "real" / "a.txt").write_text("a\n")
    root = get_root(tmp_path / "link")
    assert get_root(root) is root and os.fspath(root) == str(tmp_path / "link")
    assert (root.real, root.given) == (str(tmp_path / "real"), str(tmp_path / "link"))
    assert read_file("a.txt", root) == read_file("a.txt", tmp_path / "link") == "a\n"
    assert read_file(f"{tmp_path}/link/a.txt", root) == read_file(f"{tmp_path}/real/a.txt", root) == "a\n"


def test_equal_roots_hash_alike_and_other_forms_differ(tmp_path: Path) -> None:
    first, again = get_root(str(tmp_path)), get_root(f"{tmp_path}/.")
    assert first == again and hash(first) == hash(again)
    assert len({first, again, get_root(tmp_path / "x")}) == 2
