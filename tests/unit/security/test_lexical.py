"""The lexical stage: what a text path names under a root, remembered or not."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jido_kernel.security.errors import Refusal
from jido_kernel.security.lexical import _parts_under, parts_under
from jido_kernel.security.roots import get_root

ROOT = get_root("/srv/project")
names = st.sampled_from(["a", "b", ".", "..", "", "src", "%2e%2e%2f", "x\0", "é", "n" * 256])
paths = st.lists(names, max_size=8).map("/".join) | st.lists(names, max_size=8).map(
    lambda p: "/srv/project/" + "/".join(p)
)


def outcome(path: str) -> list[str] | str:
    try:
        return _parts_under(path, ROOT)
    except Refusal as refusal:
        return refusal.reason


@settings(max_examples=300)
@given(paths)
def test_a_remembered_path_names_what_it_named_the_first_time(path: str) -> None:
    for _ in range(2):
        try:
            assert parts_under(path, ROOT) == outcome(path)
        except Refusal as refusal:
            assert refusal.reason == outcome(path)


def test_callers_get_their_own_list_and_other_roots_their_own_parts(tmp_path: Path) -> None:
    first = parts_under("a/b", ROOT)
    first.append("changed")
    assert parts_under("a/b", ROOT) == ["a", "b"]
    assert parts_under("/srv/project/a", ROOT) == ["a"]
    other = get_root(tmp_path)
    with pytest.raises(Refusal):
        parts_under("/srv/project/a", other)
    assert parts_under(f"{tmp_path}/a", other) == ["a"]
