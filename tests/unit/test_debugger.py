"""What stands in for ipykernel's debugger module until a debug request (the protocol
side, a real debug session, is in ``tests/kernel/test_debugger.py``)."""

from __future__ import annotations

import importlib
import sys

import pytest

from jido_kernel.debugger import MODULE, DeferredDebugger, debugpy_installed, stand_in


@pytest.mark.parametrize("available", [True, False])
def test_ipykernel_lookups_meet_the_stand_in_only_inside_the_block(
    available: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(sys.modules, MODULE, raising=False)
    with stand_in(available):
        from ipykernel.debugger import Debugger, _is_debugpy_available  # type: ignore[attr-defined]

        assert _is_debugpy_available is available and Debugger is DeferredDebugger
    assert MODULE not in sys.modules


def test_the_real_module_once_loaded_is_never_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, MODULE, raising=False)
    real = importlib.import_module(MODULE)
    with stand_in(False):
        assert sys.modules[MODULE] is real
    assert sys.modules[MODULE] is real


def test_the_deferred_debugger_builds_nothing_for_private_lookups() -> None:
    deferred = DeferredDebugger("arguments", "never", used=True)
    assert not hasattr(deferred, "_anything")
    assert deferred._debugger is None


def test_debugpy_is_found_without_being_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "debugpy", raising=False)
    assert debugpy_installed()  # a test dependency through ipykernel
    assert "debugpy" not in sys.modules
    monkeypatch.setattr(sys, "path", [])
    monkeypatch.setattr(sys, "path_importer_cache", {})
    assert not debugpy_installed()
