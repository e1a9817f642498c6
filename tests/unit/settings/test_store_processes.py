"""Settings under several processes, crashes and OS failures."""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from privileges import in_child

from jido_kernel import settings
from jido_kernel.settings import (
    ReadResult,
    load,
    local_dir,
    local_path,
    read_file,
    save,
)

# --- concurrency ---------------------------------------------------------------------

WORKER = """
import sys, time
from pathlib import Path
from jido_kernel import settings

root, name, go = sys.argv[1], sys.argv[2], Path(sys.argv[3])
Path(f"{go}.{name}").touch()
while not go.exists():
    time.sleep(0.001)
for i in range(50):
    key = f"{name}{i}"
    settings.update(root, lambda s: {**s, "models": {**s.get("models", {}), key: [str(i)]}})
    settings.set(root, "provider" if name == "a" else "model", key)
"""


def test_concurrent_writers_lose_no_update(root: Path, tmp_path: Path) -> None:
    go = tmp_path / "go"
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(root), name, str(go)]) for name in "ab"]
    try:
        deadline = time.monotonic() + 120
        while not all(Path(f"{go}.{name}").exists() for name in "ab"):
            assert time.monotonic() < deadline, "workers did not start"
            assert all(w.poll() is None for w in workers), "a worker died"
            time.sleep(0.01)
        go.touch()
        assert [w.wait(timeout=240) for w in workers] == [0, 0]
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
    data = read_file(local_path(root)).data
    assert sorted(data["models"]) == sorted(f"{n}{i}" for n in "ab" for i in range(50))
    assert all(data["models"][k] == [k[1:]] for k in data["models"])
    assert (data["provider"], data["model"]) == ("a49", "b49")


# --- crashes -------------------------------------------------------------------------


def test_a_save_killed_at_any_point_leaves_old_or_new_content(root: Path) -> None:
    big = [f"provider-{i:06d}" for i in range(40_000)]
    contents = [{"providers": big, "theme": theme} for theme in ("first", "second")]
    save(root, {"theme": "initial"})
    allowed = [{"theme": "initial"}, *contents]

    def check(result: ReadResult) -> None:
        assert result.status == "ok", result.error
        assert result.data in allowed

    rng = random.Random()
    for _ in range(12):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            try:
                for i in range(10**9):
                    save(root, contents[i % 2])
            finally:
                os._exit(1)
        deadline = time.monotonic() + rng.uniform(0, 0.3)
        while time.monotonic() < deadline:  # readers meanwhile see whole files only
            check(read_file(local_path(root)))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        check(read_file(local_path(root)))
    # The lock died with its holder; leftover temporary files are ignored.
    settings.set(root, "theme", "after")
    assert read_file(local_path(root)).data["theme"] == "after"


def test_a_failed_write_removes_its_temp_file_and_keeps_the_old_file(root: Path) -> None:
    save(root, {"theme": "old"})
    before = local_path(root).read_bytes()

    def save_with_a_small_file_size_limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        save(root, {"theme": "new", "providers": ["x" * 100] * 1000})

    outcome = in_child(save_with_a_small_file_size_limit, nobody=False)
    assert outcome.startswith("SettingsError:write_failed:cannot write settings at ")
    assert "File too large" in outcome
    assert sorted(os.listdir(local_dir(root))) == ["settings.json"]  # its lock lives outside the project
    assert local_path(root).read_bytes() == before


# --- permissions (need a privilege drop) -------------------------------------------------


@pytest.fixture
def shared(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A root-owned directory that uid 65534 can traverse but not write."""
    if os.geteuid() != 0:
        pytest.skip("needs root to drop privileges to uid 65534 in a child")
    directory = Path(tempfile.mkdtemp(prefix="jido-settings-"))
    directory.chmod(0o755)
    monkeypatch.setenv("JIDO_CODE_HOME", str(directory / "home"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory)


def test_a_read_only_project_is_a_typed_error(shared: Path) -> None:
    root = shared / "project"
    root.mkdir(mode=0o755)
    outcome = in_child(lambda: save(root, {"theme": "x"}), nobody=True)
    assert outcome.startswith(f"SettingsError:write_failed:cannot write settings at {root}/")
    assert "Permission denied" in outcome and "writable" in outcome
    assert not local_dir(root).exists()


def test_a_read_only_settings_dir_keeps_the_file(shared: Path) -> None:
    root = shared / "project"
    root.mkdir(mode=0o755)
    save(root, {"theme": "old"})
    local_dir(root).chmod(0o755)
    before = local_path(root).read_bytes()
    outcome = in_child(lambda: settings.set(root, "theme", "new", force=True), nobody=True)
    assert outcome.startswith("SettingsError:write_failed:") and "Permission denied" in outcome
    assert local_path(root).read_bytes() == before
    assert sorted(os.listdir(local_dir(root))) == ["settings.json"]  # its lock lives outside the project


def test_an_unreadable_file_is_not_overwritten_without_force(shared: Path) -> None:
    root = shared / "project"
    (root / ".jido_code").mkdir(parents=True)
    (root / ".jido_code").chmod(0o777)
    local_path(root).write_text(json.dumps({"theme": "secret"}))
    local_path(root).chmod(0o600)

    loaded = in_child(lambda: load(root).problems, nobody=True)
    assert "unreadable settings file" in loaded and "Permission denied" in loaded
    refused = in_child(lambda: settings.set(root, "model", "m"), nobody=True)
    assert refused.startswith("SettingsError:unreadable_file:refusing to overwrite")
    assert "force=True (%settings set ... --force)" in refused
    assert read_file(local_path(root)).data == {"theme": "secret"}
    forced = in_child(lambda: settings.set(root, "model", "m", force=True), nobody=True)
    assert forced.startswith("ok:")
    assert read_file(local_path(root)).data == {"model": "m"}
    assert local_path(root).stat().st_mode & 0o777 == 0o600
