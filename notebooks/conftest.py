"""nbval runs a notebook written for the Lua-first ``jido-lua`` kernel on that kernel, even
when ``--nbval-kernel-name jido`` names the kernel for all the others."""

from __future__ import annotations

import pytest

OWN_KERNEL = frozenset({"jido-lua"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for notebook in {item.parent for item in items if item.parent is not None and hasattr(item.parent, "nb")}:
        kernel = notebook.nb.metadata.get("kernelspec", {}).get("name")  # type: ignore[attr-defined]
        if kernel in OWN_KERNEL:
            notebook.setup = _on_kernel(notebook, kernel)  # type: ignore[method-assign]


def _on_kernel(notebook: pytest.Collector, kernel: str):  # type: ignore[no-untyped-def]
    """``notebook.setup`` starting ``kernel`` whatever --nbval-kernel-name says."""
    setup = notebook.setup

    def setup_on_kernel() -> None:
        option = notebook.config.option
        chosen, option.nbval_kernel_name = option.nbval_kernel_name, kernel
        try:
            setup()
        finally:
            option.nbval_kernel_name = chosen

    return setup_on_kernel
