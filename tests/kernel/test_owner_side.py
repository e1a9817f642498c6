"""The owner's side: after Lua cells tried to plant code in a virtual environment, in
``node_modules`` and in ``__pycache__``, the owner activates the environment, runs its
Python, imports the reviewed module and restarts the kernel — nothing Lua wrote runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from kernel_helpers import TIMEOUT, execute, jido_kernel, plain

pytestmark = pytest.mark.kernel


def test_nothing_lua_plants_in_installed_code_runs_for_the_owner(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    canary = tmp_path / "canary"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / ".venv")], check=True, timeout=120)
    (root / "linkenv").symlink_to(".venv")
    (root / "node_modules" / ".bin").mkdir(parents=True)
    (root / "mod.py").write_text("VALUE = 'reviewed'\n")
    site = next((root / ".venv" / "lib").glob("python3*/site-packages")).relative_to(root)
    shell_payload = f"touch {canary}\n"
    python_payload = f"import os; open({str(canary)!r}, 'w').close()\n"
    plants = {
        ".venv/bin/activate": shell_payload,
        "linkenv/bin/activate": shell_payload,
        "linkenv/bin/new/tool": shell_payload,
        ".venv/pyvenv.cfg": "home = /tmp/evil\n",
        f"{site}/evil.pth": python_payload,
        f"{str(site).replace('site-packages', 'Site-Packages')}/evil.pth": python_payload,
        "node_modules/.bin/tool": shell_payload,
        "__pycache__/mod.cpython-311.pyc": "not bytecode",
        "__PYCACHE__/mod.cpython-311.pyc": "not bytecode",
    }
    lua = "\n".join(
        f"print(select(2, jido.write_file({json.dumps(path)}, {json.dumps(body)})) ~= nil)"
        for path, body in plants.items()
    )
    with jido_kernel(root) as (km, kc):
        run = execute(kc, "%%lua\n" + lua)
        assert run.status == "ok", run.error
        assert run.stdout.split() == ["true"] * len(plants), run.stdout
        assert not (root / "__pycache__").exists() and not (root / "__PYCACHE__").exists()
        km.restart_kernel(now=True)
        kc.wait_for_ready(timeout=TIMEOUT)
        imported = execute(kc, f"import sys; sys.path.append({str(root)!r}); import mod; mod.VALUE")
    activate = subprocess.run(
        ["bash", "-c", f"source {root}/.venv/bin/activate && python -c 'import sys; print(sys.prefix)'"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert plain(imported) == "'reviewed'"
    assert activate.returncode == 0, activate.stderr
    assert activate.stdout.strip() == str(root / ".venv")
    assert not canary.exists()
    assert not (root / "node_modules" / ".bin" / "tool").exists()
    assert "evil" not in (root / ".venv" / "pyvenv.cfg").read_text()
