"""Sandbox limits: settings applied over the session's traitlets configuration."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from jido_kernel.lua.limits import SandboxLimits
from jido_kernel.settings.loading import Settings

MIB = 1024 * 1024

# SandboxLimits field -> conversion from the settings value
_FROM_SETTINGS: dict[str, Callable[[Any], Any]] = {
    "timeout": float,
    "max_memory": lambda mib: mib * MIB,
    "shell_timeout": float,
    "shell_allowlist": tuple,
}


def sandbox_limits(settings: Settings, **configured: Any) -> SandboxLimits:
    """The configured limits with the global and local settings applied over them.

    ``configured`` are :class:`SandboxLimits` fields from traitlets (a trait's default
    or the user's ``c.LuaSandbox.*`` config; fields left out take their defaults):
    ``timeout`` and ``shell_timeout`` in seconds, ``max_memory`` in bytes. A key set in
    a settings file wins (``lua_max_memory_mb`` is converted to bytes), except that the
    project's own file can only tighten: it may lower a numeric limit and remove
    commands, never raise or add (a cloned repository may ship one); what it asks
    beyond that is left out with a note.
    """
    base = SandboxLimits(**configured)
    config = base.values
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, convert in _FROM_SETTINGS.items():
        key = SandboxLimits.SETTINGS_KEYS[name]
        if key in settings.sources:
            values[name] = convert(settings.get(key))
            sources[name] = settings.sources[key].scope
    notes: list[str] = []
    for name in _NUMERIC:
        if sources.get(name) == "local":
            notes += _lowered(name, values, sources, settings, config)
    if sources.get("shell_allowlist") == "local":
        values["shell_allowlist"], narrowed = _narrowed(values["shell_allowlist"], settings, config)
        notes += narrowed
    return base.replace(**values, sources=MappingProxyType(sources), notes=tuple(notes))


_NUMERIC = ("timeout", "max_memory", "shell_timeout")


def _lowered(
    name: str, values: dict[str, Any], sources: dict[str, str], settings: Settings, configured: Mapping[str, Any]
) -> list[str]:
    """A project's own numeric limit may only lower the value below it (the global
    settings, else the configuration): a raising value is replaced by that value, with
    a note naming the key, the file and the value in effect."""
    key, convert = SandboxLimits.SETTINGS_KEYS[name], _FROM_SETTINGS[name]
    layer = settings.global_values
    below, scope = (convert(layer[key]), "global") if key in layer else (configured[name], "config")
    if values[name] <= below:
        return []
    values[name], sources[name] = below, scope
    shown = below // MIB if name == "max_memory" else below
    where = "the global settings" if scope == "global" else "the configuration"
    note = (
        f"{key}: {settings.get(key)} in {settings.sources[key].path} ignored — a project's settings can only "
        f"lower limits; in effect: {shown} (from {where})"
    )
    return [note]


def _narrowed(
    local: tuple[str, ...], settings: Settings, configured: Mapping[str, Any]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A project's own allow-list may only remove commands from the one below it.

    The project's settings file travels with the project (a cloned repository may
    ship one), so it must not grant itself commands that the user's global settings
    or configuration do not allow. Returns the list in effect and a note on what was
    left out.
    """
    below = settings.global_values.get("shell_allowlist", configured["shell_allowlist"])
    kept = tuple(command for command in local if command in below)
    dropped = [command for command in local if command not in below]
    if not dropped:
        return kept, ()
    note = (
        f"shell_allowlist: {', '.join(dropped)} not allowed — a project's settings can only "
        "remove commands; add them to the global settings (%settings set shell_allowlist ... --global)"
    )
    return kept, (note,)
