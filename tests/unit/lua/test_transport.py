"""How the kernel starts a worker: isolated, without ``site``, from pinned folders."""

from __future__ import annotations

import os
import site
import sys

from jido_kernel.lua.transport import Worker, _import_folders


def test_the_worker_runs_isolated_without_site() -> None:
    assert Worker.command[:4] == (sys.executable, "-I", "-S", "-c")
    assert Worker.command[5:] == _import_folders()


def test_the_import_folders_are_the_package_and_lupa_where_site_would_find_them() -> None:
    package, *rest = _import_folders()
    assert os.path.isfile(os.path.join(package, "jido_kernel", "__init__.py"))
    lupa = rest[0] if rest else package
    assert os.path.isdir(os.path.join(lupa, "lupa"))
    assert lupa in [os.path.abspath(folder) for folder in site.getsitepackages()] or lupa == package
    assert all(os.path.isabs(folder) for folder in _import_folders())
    assert len(set(rest)) == len(rest)
