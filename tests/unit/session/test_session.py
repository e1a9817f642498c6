"""``Session``: jido_code's validation of the project path and of every field."""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from privileges import in_child

from jido_kernel.session import Session, SessionError, SessionValidationError
from jido_kernel.session.origin import locate, notebook_path
from jido_kernel.session.session import DEFAULT_CONFIG, UUID_RE, stable_id, validate_project_path


def reason_of(call, *args, **kwargs) -> str:
    with pytest.raises(SessionError) as info:
        call(*args, **kwargs)
    return info.value.reason


def test_new_session_has_defaults(project: Path) -> None:
    session = Session.new(project)
    assert session.project_root == project
    assert session.name == project.name
    assert session.config == DEFAULT_CONFIG
    assert session.created_at <= session.updated_at


def test_id_is_uuid_v4_lowercase(project: Path) -> None:
    session_id = Session.new(project).id
    parsed = uuid.UUID(session_id)
    assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
    assert session_id == session_id.lower() and UUID_RE.match(session_id)


def test_custom_name_and_config(project: Path) -> None:
    session = Session.new(project, name="work", config={"provider": "openai", "temperature": 0})
    assert session.name == "work"
    assert session.config["provider"] == "openai" and session.config["temperature"] == 0
    assert session.config["model"] == DEFAULT_CONFIG["model"]


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (None, "missing_project_path"),
        ("", "missing_project_path"),
        (123, "invalid_project_path"),
        ("/tmp/a\x00b", "invalid_project_path"),
        ("/" + "a" * 4096, "path_too_long"),
        ("/tmp/../etc", "path_traversal_detected"),
        ("relative/dir", "path_not_absolute"),
        ("/does/not/exist/anywhere", "path_not_found"),
    ],
)
def test_project_path_errors_in_the_original_order(path: object, reason: str) -> None:
    assert reason_of(Session.new, path) == reason


def test_a_file_is_not_a_directory(project: Path) -> None:
    (project / "f.txt").write_text("x")
    assert reason_of(Session.new, project / "f.txt") == "path_not_directory"


def test_symlinked_root_is_resolved(project: Path, tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(project)
    assert Session.new(link).project_root == project


def test_symlink_errors(project: Path, tmp_path: Path) -> None:
    (tmp_path / "dangling").symlink_to(tmp_path / "missing")
    (project / "f.txt").write_text("x")
    (tmp_path / "to-file").symlink_to(project / "f.txt")
    (tmp_path / "dotted").symlink_to(Path("..") / tmp_path.name / "project")
    assert reason_of(Session.new, tmp_path / "dangling") == "path_not_found"
    assert reason_of(Session.new, tmp_path / "to-file") == "path_not_directory"
    assert reason_of(Session.new, tmp_path / "dotted") == "symlink_escape"


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to another user")
def test_unwritable_root_is_permission_denied(tmp_path: Path) -> None:
    readonly = tmp_path / "readonly"
    readonly.mkdir(mode=0o755)
    for p in (tmp_path, *tmp_path.parents):
        if p != Path("/"):
            p.chmod(p.stat().st_mode | 0o111)
    assert in_child(lambda: Session.new(readonly)).startswith("SessionError:path_permission_denied:")
    assert not list(readonly.iterdir()), "the write probe must not be left behind"


def test_no_probe_file_is_left_behind(project: Path) -> None:
    Session.new(project)
    assert list(project.iterdir()) == []


@pytest.mark.parametrize(
    ("changes", "reasons"),
    [
        ({"name": ""}, ["invalid_name"]),
        ({"name": "x" * 51}, ["name_too_long"]),
        ({"id": "nope"}, ["invalid_id"]),
        ({"config": {**DEFAULT_CONFIG, "temperature": 2.5}}, ["invalid_temperature"]),
        ({"config": {**DEFAULT_CONFIG, "temperature": None}}, ["invalid_temperature"]),
        ({"config": {**DEFAULT_CONFIG, "max_tokens": 0}}, ["invalid_max_tokens"]),
        ({"config": {**DEFAULT_CONFIG, "provider": ""}}, ["invalid_provider"]),
        ({"config": {**DEFAULT_CONFIG, "model": ""}}, ["invalid_model"]),
        ({"config": "x"}, ["invalid_config"]),
        (
            {"id": "x", "name": "", "config": {**DEFAULT_CONFIG, "max_tokens": -1}},
            ["invalid_id", "invalid_name", "invalid_max_tokens"],
        ),
    ],
)
def test_validate_collects_errors_in_field_order(project: Path, changes: dict, reasons: list[str]) -> None:
    session = Session.new(project)
    for key, value in changes.items():
        setattr(session, key, value)
    with pytest.raises(SessionError) as info:
        session.validate()
    found = info.value.reasons if isinstance(info.value, SessionValidationError) else [info.value.reason]
    assert found == reasons


@pytest.mark.parametrize("temperature", [0, 2, 0.0, 2.0, 1])
def test_temperature_bounds_accept_int_and_float(project: Path, temperature: float) -> None:
    Session.new(project, config={"temperature": temperature}).validate()


def test_model_none_is_allowed(project: Path) -> None:
    Session.new(project, config={"model": None}).validate()


def test_rename(project: Path) -> None:
    session = Session.new(project)
    before = session.updated_at
    session.rename("renamed")
    assert session.name == "renamed" and session.updated_at >= before
    assert reason_of(session.rename, "") == "invalid_name"
    assert reason_of(session.rename, "n" * 51) == "name_too_long"
    assert session.name == "renamed"


def test_update_config_merges_only_known_keys_and_falsy_wins(project: Path) -> None:
    session = Session.new(project)
    session.update_config({"temperature": 0, "model": "m", "other": 1})
    assert session.config == {**DEFAULT_CONFIG, "temperature": 0, "model": "m"}
    assert reason_of(session.update_config, {"max_tokens": "many"}) == "invalid_max_tokens"
    assert session.config["max_tokens"] == DEFAULT_CONFIG["max_tokens"]


@given(st.text(min_size=1, max_size=80))
def test_names_validate_by_length(name: str) -> None:
    problem_free = bool(name.strip()) and len(name) <= 50
    session = Session(id=str(uuid.uuid4()), name=name, project_root=Path("/"), config=dict(DEFAULT_CONFIG))
    if problem_free:
        session.validate()
    else:
        with pytest.raises(SessionError):
            session.validate()


# -- where the notebook's session comes from ------------------------------------------


def test_root_precedence_env_then_config_then_notebook_then_cwd(tmp_path: Path) -> None:
    nb = tmp_path / "nbdir" / "analysis.ipynb"
    env = {"JPY_SESSION_NAME": str(nb)}
    assert locate("", env=env, cwd=tmp_path).project_root == str(nb.parent)
    assert locate("", env=env, cwd=tmp_path).root_source == "notebook"
    assert locate("/cfg", env=env, cwd=tmp_path).project_root == "/cfg"
    assert locate("/cfg", env={**env, "JIDO_PROJECT_ROOT": "/env"}, cwd=tmp_path).project_root == "/env"
    fallback = locate("", env={}, cwd=tmp_path)
    assert (fallback.project_root, fallback.root_source, fallback.notebook) == (
        str(tmp_path),
        "working directory",
        None,
    )


def test_notebook_name_and_stable_id(tmp_path: Path) -> None:
    env = {"JPY_SESSION_NAME": str(tmp_path / "My Notebook.ipynb")}
    first, again = locate("", env=env, cwd=tmp_path), locate("", env=env, cwd=tmp_path)
    assert first.name == "My Notebook"
    assert first.session_id == again.session_id and UUID_RE.match(first.session_id)
    other = locate("", env={"JPY_SESSION_NAME": str(tmp_path / "other.ipynb")}, cwd=tmp_path)
    assert other.session_id != first.session_id


def test_relative_notebook_path_resolves_against_the_kernel_cwd(tmp_path: Path) -> None:
    assert notebook_path({"JPY_SESSION_NAME": "sub/dir/nb.ipynb"}, tmp_path) == tmp_path / "nb.ipynb"
    assert notebook_path({}, tmp_path) is None


def test_name_falls_back_to_root_basename_and_is_capped(tmp_path: Path) -> None:
    assert locate("", env={}, cwd=tmp_path).name == tmp_path.name
    long_nb = {"JPY_SESSION_NAME": str(tmp_path / ("n" * 80 + ".ipynb"))}
    assert len(locate("", env=long_nb, cwd=tmp_path).name) == 50


def test_stable_id_is_deterministic() -> None:
    assert stable_id("a") == stable_id("a") != stable_id("b")
    assert re.fullmatch(r"[0-9a-f-]{36}", stable_id("a"))


def test_validate_project_path_returns_resolved(project: Path) -> None:
    assert validate_project_path(str(project) + "/") == project
