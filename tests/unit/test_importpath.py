"""Taking a folder off the import path, in every spelling of it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from jido_kernel.importpath import remove_folders


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A project folder (the working directory), a symlink to it, and a sibling folder."""
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    other = tmp_path / "other"
    other.mkdir()
    (tmp_path / "link").symlink_to(project, target_is_directory=True)
    monkeypatch.chdir(project)
    return project, other


def test_every_spelling_of_the_folder_leaves_the_path_and_the_finder_cache(
    layout: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    project, other = layout
    spellings = ["", ".", str(project), f"{project}/", str(project.parent / "link"), "sub/..", "../project"]
    kept = [str(other), str(project / "sub"), str(project.parent / "missing"), f"{project}/archive.zip"]
    monkeypatch.setattr(sys, "path", [*spellings, *kept])
    monkeypatch.setattr(sys, "path_importer_cache", {entry: None for entry in [*spellings, *kept]})

    removed = remove_folders([project])

    assert removed == spellings
    assert sys.path == kept
    assert list(sys.path_importer_cache) == kept


def test_a_folder_named_through_a_symlink_removes_its_target(
    layout: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    project, other = layout
    monkeypatch.setattr(sys, "path", [str(project), str(other)])
    monkeypatch.setattr(sys, "path_importer_cache", {})

    assert remove_folders([project.parent / "link"]) == [str(project)]
    assert sys.path == [str(other)]


def test_folders_that_do_not_exist_compare_by_their_resolved_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "missing"
    monkeypatch.setattr(sys, "path", [f"{missing}/", str(missing / "deeper"), str(tmp_path)])
    monkeypatch.setattr(sys, "path_importer_cache", {})

    assert remove_folders([missing]) == [f"{missing}/"]
    assert sys.path == [str(missing / "deeper"), str(tmp_path)]


def test_an_entry_through_a_folder_not_made_yet_is_taken_off_by_where_it_leads(
    layout: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``<root>/absent/..`` names the root once ``absent`` exists (Lua may make it)."""
    project, other = layout
    monkeypatch.setattr(sys, "path", [f"{project}/absent/..", "absent/..", str(other)])
    monkeypatch.setattr(sys, "path_importer_cache", {})

    assert remove_folders([project]) == [f"{project}/absent/..", "absent/.."]
    assert sys.path == [str(other)]


def test_an_entry_that_cannot_name_a_folder_is_kept(layout: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    project, _ = layout
    monkeypatch.setattr(sys, "path", ["bad\0entry", os.fspath(project)])
    monkeypatch.setattr(sys, "path_importer_cache", {})

    assert remove_folders([project]) == [os.fspath(project)]
    assert sys.path == ["bad\0entry"]
