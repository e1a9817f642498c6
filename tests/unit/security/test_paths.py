"""Path validation: jido_code's cases, symlinks at every component, limits,
logging and counting, and property tests against the operating system's resolution.

Every test runs twice: with ``openat2`` (when the kernel has it) and with the
component-by-component walk.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jido_kernel.errors import JidoError
from jido_kernel.security import (
    FileNotFound,
    PermissionDenied,
    SecurityError,
    openat2,
    validate_path,
    violation_count,
)

pytestmark = pytest.mark.usefixtures("resolution")  # every test with openat2 and with the walk


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project (jido_code's test tree) beside an ``outside`` directory."""
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "lib" / "nested").mkdir(parents=True)
    (root / "file.txt").write_text("test")
    (root / "src" / "main.ex").write_text("defmodule Main do end")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("SECRET")
    return root


def reason_of(path: object, root: Path | str) -> str:
    with pytest.raises(SecurityError) as info:
        validate_path(path, root, log_violations=False)  # type: ignore[arg-type]
    return info.value.reason


# --- jido_code's cases -----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("src/main.ex", "src/main.ex"),
        ("lib/nested/file.ex", "lib/nested/file.ex"),
        ("./src/main.ex", "src/main.ex"),
        ("src/../file.txt", "file.txt"),
        ("src/../lib/x", "lib/x"),
        ("nonexistent/path.ex", "nonexistent/path.ex"),
        ("src/file with spaces.ex", "src/file with spaces.ex"),
        ("src/ファイル.ex", "src/ファイル.ex"),
        ("🎉/party 🎈.txt", "🎉/party 🎈.txt"),
        ("file%2dname", "file%2dname"),
    ],
)
def test_accepts_paths_inside(project: Path, path: str, expected: str) -> None:
    assert validate_path(path, project) == project / expected


@pytest.mark.parametrize("path", ["", ".", "./", "src/..", "src/./.."])
def test_root_itself(project: Path, path: str) -> None:
    assert validate_path(path, project) == project


def test_returns_resolved_absolute_pathlib_path(project: Path) -> None:
    result = validate_path("src/main.ex", str(project))
    assert isinstance(result, Path)
    assert result.is_absolute()
    assert result == project / "src" / "main.ex"


@pytest.mark.parametrize(
    "path",
    [
        "../../../etc/passwd",
        "../../../../../../../../etc/passwd",
        "src/../../etc/passwd",
        "src//../../etc/passwd",
        "src/./../../etc/passwd",
        "..",
        "../",
        "../proj2/x",
    ],
)
def test_traversal_escapes(project: Path, path: str) -> None:
    assert reason_of(path, project) == "path_escapes_boundary"


def test_traversal_message_is_the_originals(project: Path) -> None:
    with pytest.raises(SecurityError) as info:
        validate_path("../../../etc/passwd", project, log_violations=False)
    assert str(info.value) == "Security error: path escapes project boundary: ../../../etc/passwd"
    assert info.value.path == "../../../etc/passwd"
    assert isinstance(info.value, JidoError)


def test_absolute_inside_and_root(project: Path) -> None:
    assert validate_path(str(project / "src" / "main.ex"), project) == project / "src" / "main.ex"
    assert validate_path(str(project), project) == project
    assert validate_path(str(project) + "/", project) == project
    assert validate_path(str(project) + "//src/./main.ex", project) == project / "src" / "main.ex"


@pytest.mark.parametrize(
    "make",
    [
        lambda root: "/etc/passwd",
        lambda root: str(root.parent / "other_project"),
        lambda root: str(root) + "2",
        lambda root: str(root) + "2/file.txt",
        lambda root: str(root) + "_sibling",
        lambda root: str(root.parent),
        lambda root: "/",
        lambda root: str(root) + "/../outside/secret.txt",
    ],
)
def test_absolute_outside(project: Path, make: object) -> None:
    path = make(project)  # type: ignore[operator]
    assert reason_of(path, project) == "path_outside_boundary"


def test_outside_message_is_the_originals(project: Path) -> None:
    with pytest.raises(SecurityError) as info:
        validate_path("/etc/passwd", project, log_violations=False)
    assert str(info.value) == "Security error: path is outside project: /etc/passwd"


@pytest.mark.parametrize("path", [None, 123, 1.5, b"src/main.ex", ["src"], object()])
def test_non_string_is_invalid(project: Path, path: object) -> None:
    assert reason_of(path, project) == "invalid_path"


def test_pathlike_input_is_accepted(project: Path) -> None:
    assert validate_path(Path("src/main.ex"), project) == project / "src" / "main.ex"


@pytest.mark.parametrize(
    "path",
    [
        "%2e%2e%2fetc",
        "%2e%2e/etc",
        "..%2fetc",
        "%2e%2e\\etc",
        "..%5cetc",
        "%2e%2e%5cetc",
        "%252e%252e%252fetc",
        "%252e%252e/etc",
        "%2E%2E%2Fetc",
        "%2E%2e/etc",
        "src/%2e%2e%2fsecret",
        "%2e%2e/%2e%2e/etc/passwd",
    ],
)
def test_url_encoded_traversal(project: Path, path: str) -> None:
    assert reason_of(path, project) == "path_escapes_boundary"


def test_backslashes_and_tilde_are_literal(project: Path) -> None:
    assert validate_path("..\\..\\etc\\passwd", project) == project / "..\\..\\etc\\passwd"
    assert validate_path("src\\..\\..\\x", project) == project / "src\\..\\..\\x"
    assert validate_path("~/x", project) == project / "~" / "x"
    assert validate_path("~", project) == project / "~"
    assert validate_path("~root/.ssh", project) == project / "~root" / ".ssh"


@pytest.mark.parametrize("path", ["file.txt\x00/../../etc/passwd", "\x00", "src/\x00main.ex"])
def test_nul_byte_is_invalid(project: Path, path: str) -> None:
    assert reason_of(path, project) == "invalid_path"


def test_length_limits(project: Path) -> None:
    assert reason_of("a" * 4097, project) == "invalid_path"
    assert reason_of("a/" * 2049, project) == "invalid_path"
    assert reason_of("x" * 256, project) == "invalid_path"
    assert reason_of("src/" + "é" * 128, project) == "invalid_path"  # 256 bytes
    assert validate_path("x" * 255, project) == project / ("x" * 255)
    assert validate_path("/".join(["abcdefg"] * 512), project) == project.joinpath(*["abcdefg"] * 512)


def test_invalid_text_is_invalid(project: Path) -> None:
    assert reason_of("src/\ud800", project) == "invalid_path"


def test_invalid_path_message_names_the_rule(project: Path) -> None:
    with pytest.raises(SecurityError) as info:
        validate_path("a\x00b", project, log_violations=False)
    assert str(info.value) == "Security error: invalid path (contains a NUL byte): a\\x00b"


# --- Symlinks -----------------------------------------------------------------------


@pytest.fixture
def links(project: Path) -> Path:
    """jido_code's links plus links at every position."""
    outside = project.parent / "outside"
    (project / "internal_link").symlink_to(project / "file.txt")
    (project / "external_link").symlink_to("/etc/hosts")
    (project / "chain_link").symlink_to(project / "internal_link")
    (project / "chain_out").symlink_to(project / "external_link")
    (project / "relative_link").symlink_to("src/main.ex")
    (project / "dir_link").symlink_to("src")
    (project / "abs_dir_link").symlink_to(project / "src")
    (project / "etc_link").symlink_to("/etc")
    (project / "out_dir").symlink_to("../outside")
    (project / "src" / "up").symlink_to("..")
    (project / "src" / "deep_out").symlink_to("../../outside")
    (project / "src" / "sub_link").symlink_to("../lib/nested")
    (project / "via_parent").symlink_to("../proj/file.txt")
    (project / "loop_a").symlink_to("loop_b")
    (project / "loop_b").symlink_to("loop_a")
    (project / "self_loop").symlink_to("self_loop")
    (project / "dangling").symlink_to("not/yet/there.txt")
    (project / "dangling_out").symlink_to(outside / "not-there")
    return project


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("internal_link", "file.txt"),
        ("chain_link", "file.txt"),
        ("relative_link", "src/main.ex"),
        ("dir_link", "src"),
        ("dir_link/main.ex", "src/main.ex"),
        ("dir_link/new.ex", "src/new.ex"),
        ("abs_dir_link/main.ex", "src/main.ex"),
        ("src/up/file.txt", "file.txt"),
        ("src/up/src/up/src/main.ex", "src/main.ex"),
        ("src/sub_link", "lib/nested"),
        ("dir_link/sub_link/x", "lib/nested/x"),
        ("dangling", "not/yet/there.txt"),
    ],
)
def test_symlinks_inside_are_followed(links: Path, path: str, expected: str) -> None:
    assert validate_path(path, links) == links / expected


@pytest.mark.parametrize(
    "path",
    [
        "external_link",
        "chain_out",
        "etc_link",
        "etc_link/passwd",
        "out_dir",
        "out_dir/secret.txt",
        "out_dir/new_file",
        "src/deep_out/secret.txt",
        "dir_link/deep_out",
        "src/up/out_dir/secret.txt",
        "dangling_out",
        "via_parent",
    ],
)
def test_symlinks_leading_outside_are_refused(links: Path, path: str) -> None:
    assert reason_of(path, links) == "symlink_escapes_boundary"


def test_symlink_message_is_the_originals(links: Path) -> None:
    with pytest.raises(SecurityError) as info:
        validate_path("out_dir/secret.txt", links, log_violations=False)
    assert str(info.value) == "Security error: symlink points outside project: out_dir/secret.txt"


def test_absolute_path_through_outside_link(links: Path) -> None:
    assert reason_of(str(links / "out_dir" / "secret.txt"), links) == "symlink_escapes_boundary"


@pytest.mark.parametrize("path", ["loop_a", "loop_b", "self_loop", "loop_a/x", "src/../loop_b"])
def test_loops(links: Path, path: str) -> None:
    assert reason_of(path, links) == "symlink_loop"


def test_long_chains(project: Path) -> None:
    (project / "c0").symlink_to("file.txt")
    for index in range(1, 46):
        (project / f"c{index}").symlink_to(f"c{index - 1}")
    assert validate_path("c30", project) == project / "file.txt"
    assert reason_of("c45", project) == "symlink_loop"


def test_intermediate_links_swapped_between_calls(project: Path) -> None:
    """Each call resolves afresh: a directory replaced by a link outside is refused next time."""
    (project / "work").mkdir()
    assert validate_path("work/x", project) == project / "work" / "x"
    (project / "work").rmdir()
    (project / "work").symlink_to(project.parent / "outside")
    assert reason_of("work/x", project) == "symlink_escapes_boundary"


def test_settings_file_through_link_is_protected(project: Path) -> None:
    (project / ".jido_code").mkdir()
    (project / ".jido_code" / "settings.json").write_text("{}")
    (project / "innocent.json").symlink_to(".jido_code/settings.json")
    (project / "cfg").symlink_to(".jido_code")
    assert reason_of("innocent.json", project) == "protected_settings_file"
    assert reason_of("cfg/settings.json", project) == "protected_settings_file"


@pytest.mark.parametrize(
    "make",
    [
        lambda root: ".jido_code/settings.json",
        lambda root: str(root / ".jido_code" / "settings.json"),
        lambda root: "sub/deeper/.jido_code/settings.json",
        lambda root: "src/../.jido_code/settings.json",
        lambda root: "./.jido_code//settings.json",
    ],
)
def test_settings_file_is_protected(project: Path, make: object) -> None:
    assert reason_of(make(project), project) == "protected_settings_file"  # type: ignore[operator]


def test_other_jido_code_files_are_allowed(project: Path) -> None:
    assert validate_path(".jido_code/other.json", project) == project / ".jido_code" / "other.json"
    assert validate_path(".jido_code", project) == project / ".jido_code"
    assert validate_path("x.jido_code/settings.json", project) == project / "x.jido_code" / "settings.json"


def test_file_as_intermediate_component(project: Path) -> None:
    assert validate_path("file.txt/x", project) == project / "file.txt" / "x"


# --- Roots --------------------------------------------------------------------------


def test_root_given_through_a_symlink(project: Path) -> None:
    alias = project.parent / "alias"
    alias.symlink_to(project)
    assert validate_path("src/main.ex", alias) == project / "src" / "main.ex"
    assert validate_path(str(alias / "src" / "main.ex"), alias) == project / "src" / "main.ex"
    assert validate_path(str(project / "src" / "main.ex"), alias) == project / "src" / "main.ex"
    (project / "abs_alias_link").symlink_to(alias / "file.txt")
    assert validate_path("abs_alias_link", alias) == project / "file.txt"
    assert reason_of(str(alias) + "2/x", alias) == "path_outside_boundary"


def test_root_as_str_or_path(project: Path) -> None:
    assert validate_path("file.txt", str(project)) == validate_path("file.txt", project)


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(FileNotFound):
        validate_path("x", tmp_path / "missing")


def test_unsearchable_directory_is_permission_denied(tmp_path: Path) -> None:
    """Runs in a child with dropped privileges (DAC checks do not apply to root)."""
    import subprocess
    import sys

    base = Path(tempfile.mkdtemp(prefix="jido-perm-"))
    try:
        os.chmod(base, 0o755)
        (base / "locked").mkdir(mode=0o700)
        (base / "locked" / "x").write_text("x")
        script = (
            "import os, sys\n"
            "from jido_kernel.security import validate_path, PermissionDenied, openat2\n"
            f"openat2.ENABLED = {openat2.ENABLED!r}\n"
            "os.setgid(65534); os.setuid(65534)\n"
            "try:\n"
            f"    validate_path('locked/x', {str(base)!r})\n"
            "except PermissionDenied as e:\n"
            "    print('denied', e)\n"
        )
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
        assert out.stdout.strip() == "denied Permission denied: locked/x", out.stderr
        assert issubclass(PermissionDenied, PermissionError)
    finally:
        import shutil

        shutil.rmtree(base)


# --- Logging and counting -----------------------------------------------------------


def test_violations_are_logged(project: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="jido_kernel.security")
    with pytest.raises(SecurityError):
        validate_path("../x", project)
    with pytest.raises(SecurityError):
        validate_path("/etc/passwd", project)
    messages = [r.getMessage() for r in caplog.records if r.name == "jido_kernel.security"]
    assert messages == [
        "Security violation: path_escapes_boundary - attempted path: ../x",
        "Security violation: path_outside_boundary - attempted path: /etc/passwd",
    ]
    assert all(r.levelno == logging.WARNING for r in caplog.records)


def test_symlink_violation_is_logged(links: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="jido_kernel.security")
    with pytest.raises(SecurityError):
        validate_path("etc_link", links)
    assert "Security violation: symlink_escapes_boundary - attempted path: etc_link" in caplog.text


def test_long_paths_are_sanitised_in_the_log(project: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="jido_kernel.security")
    path = "../../../../etc/secret-credentials.txt"
    with pytest.raises(SecurityError):
        validate_path(path, project)
    assert f"attempted path: ../../.....ials.txt ({len(path)} chars)" in caplog.text  # first8...last8
    assert "secret-credentials" not in caplog.text


def test_log_violations_false_is_silent(project: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SecurityError):
        validate_path("../../../etc/passwd", project, log_violations=False)
    assert caplog.records == []


def test_violations_are_counted_per_root(project: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    before, before_other = violation_count(project), violation_count(other)
    for path in ["../x", "/etc", "\x00"]:
        with pytest.raises(SecurityError):
            validate_path(path, project, log_violations=False)
    validate_path("fine.txt", project)
    assert violation_count(project) == before + 3
    assert violation_count(str(project)) == before + 3
    assert violation_count(other) == before_other


# --- Properties ---------------------------------------------------------------------

TOKENS = ["a", "b", "..", ".", "", "in_file", "in_dir", "out_dir", "out_file", "abs_in", "loop",
          "up", "dangling", "file.txt", "~", "\\", "é", "%2e", " "]  # fmt: skip


def _tree(base: Path) -> Path:
    root = base / "proj"
    (root / "a" / "b").mkdir(parents=True)
    (root / "b").mkdir()
    (root / "file.txt").write_text("inside")
    (root / "a" / "file.txt").write_text("inside a")
    outside = base / "outside"
    outside.mkdir()
    (outside / "file.txt").write_text("OUTSIDE")
    for where in (root, root / "a", root / "a" / "b"):
        (where / "in_file").symlink_to("file.txt" if where == root else "../file.txt")
        (where / "in_dir").symlink_to(".." if where != root else "b")
        (where / "out_dir").symlink_to(outside)
        (where / "out_file").symlink_to(os.path.relpath(outside / "file.txt", where))
        (where / "abs_in").symlink_to(root / "a")
        (where / "loop").symlink_to("loop")
        (where / "up").symlink_to("..")
        (where / "dangling").symlink_to("nowhere/x")
    return root


@pytest.fixture(scope="module")
def property_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _tree(tmp_path_factory.mktemp("prop"))


def _both_modes(path: object, root: Path) -> tuple[object, object]:
    results = []
    for enabled in [True, False] if openat2.AVAILABLE else [False]:
        openat2.ENABLED = enabled
        try:
            results.append(validate_path(path, root, log_violations=False))  # type: ignore[arg-type]
        except SecurityError as exc:
            results.append(exc.reason)
    openat2.ENABLED = openat2.AVAILABLE
    return results[0], results[-1]


def _check_inside(result: object, root: Path, path: str) -> None:
    if isinstance(result, str):  # a refusal reason
        return
    assert isinstance(result, Path)
    text = str(result)
    assert text == str(root) or text.startswith(str(root) + "/"), (path, text)
    # ``..`` after a symlink is the parent of its target, as realpath (and the OS) has it
    assert os.path.realpath(os.path.join(root, path)) == text, (path, text)
    if os.path.lexists(text):
        assert os.path.realpath(text) == text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tokens=st.lists(st.sampled_from(TOKENS), max_size=8),
    absolute=st.booleans(),
)
def test_property_result_inside_and_agrees_with_realpath(
    property_tree: Path, resolution: str, tokens: list[str], absolute: bool
) -> None:
    path = "/".join(tokens)
    if absolute:
        path = str(property_tree) + "/" + path
    first, second = _both_modes(path, property_tree)
    assert first == second, (path, first, second)
    _check_inside(first, property_tree, path)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.text(alphabet=st.sampled_from("ab./\\~%2e\x00é"), max_size=24))
def test_property_arbitrary_text(property_tree: Path, resolution: str, path: str) -> None:
    first, second = _both_modes(path, property_tree)
    assert first == second
    _check_inside(first, property_tree, path) if "\x00" not in path else None
    if "\x00" in path:
        assert first == "invalid_path"


TARGETS = ["..", "../..", "d1", "d2/f", "f", "nope", "../../outside", "../outside/f", "ABS_ROOT/d1",
           "ABS_ROOT/../outside", "ABS_OUTSIDE/f", "l0", "l1", "l2", "l3", ".", "d1/../d2", "/"]  # fmt: skip
NAMES = ["l0", "l1", "l2", "l3"]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    links=st.lists(
        st.tuples(st.sampled_from(["", "d1/", "d2/"]), st.sampled_from(NAMES), st.sampled_from(TARGETS)),
        max_size=6,
    ),
    tokens=st.lists(st.sampled_from(["d1", "d2", "f", "..", ".", *NAMES]), max_size=6),
)
def test_property_random_symlink_graphs(resolution: str, links: list[tuple[str, str, str]], tokens: list[str]) -> None:
    """Random link graphs: accepted results lie inside and match the OS; nothing escapes."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(os.path.realpath(tmp))
        root = base / "proj"
        for d in ("d1", "d2"):
            (root / d).mkdir(parents=True)
            (root / d / "f").write_text(d)
        (root / "f").write_text("root")
        (base / "outside").mkdir()
        (base / "outside" / "f").write_text("OUTSIDE")
        for where, name, target in links:
            link = root / where / name
            if not os.path.lexists(link):
                link.symlink_to(target.replace("ABS_ROOT", str(root)).replace("ABS_OUTSIDE", str(base / "outside")))
        path = "/".join(tokens)
        first, second = _both_modes(path, root)
        assert first == second, (links, path, first, second)
        _check_inside(first, root, path)


def test_bad_root_types(project: Path) -> None:
    with pytest.raises(TypeError):
        validate_path("x", 42)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        validate_path("x", "")
    assert issubclass(PermissionDenied, JidoError)
