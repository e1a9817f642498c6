"""Installing the ``jido`` kernelspec, and starting a kernel from the installed spec."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from kernel_helpers import execute
from privileges import in_child

from jido_kernel.kernelspec import DISPLAY_NAME, KERNEL_NAME

REPO = Path(__file__).resolve().parents[2]


def install(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jido_kernel", "install", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_install_into_a_prefix_writes_spec_and_logos(tmp_path: Path) -> None:
    done = install("--prefix", str(tmp_path))
    assert done.returncode == 0, done.stderr
    spec_dir = tmp_path / "share" / "jupyter" / "kernels" / KERNEL_NAME
    spec = json.loads((spec_dir / "kernel.json").read_text())
    assert spec["argv"] == [sys.executable, "-P", "-m", "jido_kernel", "-f", "{connection_file}"]
    assert spec["display_name"] == DISPLAY_NAME
    assert spec["interrupt_mode"] == "signal"
    assert spec["language"] == "python"
    assert "jido_kernel" in spec["metadata"]
    assert {p.name for p in spec_dir.iterdir()} >= {"logo-32x32.png", "logo-64x64.png", "logo-svg.svg"}
    assert (spec_dir / "logo-64x64.png").read_bytes().startswith(b"\x89PNG")
    assert str(spec_dir) in done.stdout


def test_install_user_goes_to_home_with_name_and_display_name(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "JUPYTER_DATA_DIR": ""}
    done = install("--user", "--name", "jido-test", "--display-name", "Jido test", env=env)
    assert done.returncode == 0, done.stderr
    spec_file = next(tmp_path.rglob("kernels/jido-test/kernel.json"))
    assert json.loads(spec_file.read_text())["display_name"] == "Jido test"


def _main_as_unprivileged(argv: list[str]) -> tuple[int, str]:
    """The install CLI's exit code and stderr, run as a user who cannot write there."""
    from jido_kernel.kernelspec import main

    def install() -> str:
        stderr = io.StringIO()
        with contextlib.redirect_stderr(stderr):
            code = main(argv)
        return f"{code}\n{stderr.getvalue()}"

    result = in_child(install)
    assert result.startswith("ok:"), result
    code, _, stderr = result[3:].partition("\n")
    return int(code), stderr


def test_permission_error_is_one_line_hint(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    code, stderr = _main_as_unprivileged(["--prefix", str(locked / "prefix")])
    assert code == 1, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Permission denied writing to") and "--user" in lines[0]


def test_installed_spec_starts_a_kernel(tmp_path: Path) -> None:
    assert install("--prefix", str(tmp_path / "prefix")).returncode == 0
    ksm = KernelSpecManager(kernel_dirs=[str(tmp_path / "prefix" / "share" / "jupyter" / "kernels")])
    km = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=ksm)
    km.start_kernel(cwd=str(tmp_path))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        run = execute(kc, "import sys\nprint(sys.executable)\n%project_root")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    assert run.status == "ok"
    assert sys.executable in run.stdout
    assert run.result is not None and str(tmp_path.resolve()) in run.result["text/plain"]


def test_wheel_ships_a_portable_spec(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0 and "No matching distribution found for hatchling" in done.stderr:
        pytest.skip("hatchling cannot be fetched to build the wheel here")
    assert done.returncode == 0, done.stderr
    wheel = next(tmp_path.glob("jido_kernel-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        shared = next(n for n in names if n.endswith("share/jupyter/kernels/jido/kernel.json"))
        spec = json.loads(zf.read(shared))
        assert "jido_kernel/resources/kernelspec/kernel.json" in names
        assert "jido_kernel/lua/worker/prelude.lua" in names
    assert ".data/data/share/jupyter/kernels/jido/" in shared
    assert spec["argv"][:3] == ["python", "-P", "-m"]
    assert any(n.endswith("kernels/jido/logo-64x64.png") for n in names)
