"""The settings schema: one declarative table of keys, their types and defaults.

``SCHEMA`` maps each key to a :class:`Setting` (type, description, default); docs and
``%settings`` list it, and :func:`validate` / :func:`validate_value` enforce it. Every
number has bounds: values a file could use to disable a limit (``1e300``, ``10**13``,
``NaN``, infinities, booleans) are settings errors, never values in effect.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from jido_kernel.security.errors import display_path
from jido_kernel.settings.errors import SettingsError

_TYPE = "invalid_type"
_VALUE = "invalid_value"


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else _TYPE


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_in(low: int, high: int) -> Callable[[Any], str | None]:
    """An integer from ``low`` to ``high`` (booleans are not integers here)."""

    def check(value: Any) -> str | None:
        if not _is_int(value):
            return _TYPE
        return None if low <= value <= high else _VALUE

    return check


def _seconds_in(low: float, high: float) -> Callable[[Any], str | None]:
    """A finite number of seconds from ``low`` to ``high``."""

    def check(value: Any) -> str | None:
        if not (_is_int(value) or isinstance(value, float)):
            return _TYPE
        return None if math.isfinite(value) and low <= value <= high else _VALUE

    return check


MAX_VERSION = 1000
MIN_SECONDS = 0.001
MAX_SECONDS = 3600
MAX_MEMORY_MB = 16384
MAX_RETENTION_DAYS = 3650
MAX_SESSION_MB = 1024


def _string_list(value: Any) -> str | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return _TYPE
    return None


def _models(value: Any) -> str | None:
    if not isinstance(value, dict):
        return _TYPE
    ok = all(isinstance(k, str) and _string_list(v) is None for k, v in value.items())
    return None if ok else _TYPE


def _command_names(value: Any) -> str | None:
    if _string_list(value) is not None:
        return _TYPE
    for name in value:
        if not name or name in (".", "..") or "/" in name or "\x00" in name:
            return _VALUE
    return None


@dataclass(frozen=True)
class Setting:
    """One row of the schema.

    ``type`` is the human description used in messages ("a string"); ``default`` is
    the value in effect when no settings file sets the key (``None``: no default here,
    the session's own configuration decides).
    """

    key: str
    type: str
    description: str
    default: Any
    check: Callable[[Any], str | None]


def _table(*rows: Setting) -> MappingProxyType[str, Setting]:
    return MappingProxyType({row.key: row for row in rows})


SCHEMA: MappingProxyType[str, Setting] = _table(
    Setting(
        "version",
        f"a positive integer (at most {MAX_VERSION})",
        "Format version of the settings file.",
        None,
        _int_in(1, MAX_VERSION),
    ),
    Setting("provider", "a string", "LLM provider of new sessions.", None, _string),
    Setting("model", "a string", "LLM model of new sessions.", None, _string),
    Setting("theme", "a string", "Display theme name.", None, _string),
    Setting("providers", "a list of strings", "Providers offered for selection.", None, _string_list),
    Setting(
        "models",
        "an object mapping provider names to lists of strings",
        "Models offered for each provider.",
        None,
        _models,
    ),
    Setting(
        "lua_timeout",
        f"a positive number of seconds ({MIN_SECONDS} to {MAX_SECONDS})",
        "Time limit of one Lua cell or script.",
        30,
        _seconds_in(MIN_SECONDS, MAX_SECONDS),
    ),
    Setting(
        "lua_max_memory_mb",
        f"a positive integer (MiB, at most {MAX_MEMORY_MB})",
        "Memory limit of a session's Lua state.",
        256,
        _int_in(1, MAX_MEMORY_MB),
    ),
    Setting(
        "shell_allowlist",
        "a list of command names (non-empty, without '/')",
        "Commands jido.shell may run; replaces the built-in allow-list (a project's "
        "own file can only remove commands from the list below it).",
        None,
        _command_names,
    ),
    Setting(
        "shell_timeout",
        f"a positive number of seconds ({MIN_SECONDS} to {MAX_SECONDS})",
        "Time limit of one jido.shell command.",
        25,
        _seconds_in(MIN_SECONDS, MAX_SECONDS),
    ),
    Setting(
        "session_keep_days",
        f"a positive integer (days, at most {MAX_RETENTION_DAYS})",
        "Saved session state unchanged for this long is deleted when a kernel starts "
        "(a project's own file can only shorten it).",
        30,
        _int_in(1, MAX_RETENTION_DAYS),
    ),
    Setting(
        "session_max_mb",
        f"a positive integer (MB, at most {MAX_SESSION_MB})",
        "Saved state of one session; past it the oldest records are dropped (a project's own file can only lower it).",
        10,
        _int_in(1, MAX_SESSION_MB),
    ),
)


def _shown(value: Any, limit: int = 80) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def unknown_key(key: Any) -> SettingsError:
    """The error for a key that is not in :data:`SCHEMA`."""
    return SettingsError(
        f"unknown key: {display_path(key)} (known keys: {', '.join(SCHEMA)})", reason="unknown_key", key=str(key)
    )


def validate_value(key: Any, value: Any) -> None:
    """Raise :class:`SettingsError` unless ``key`` is a known key and ``value`` fits it."""
    setting = SCHEMA.get(key) if isinstance(key, str) else None
    if setting is None:
        raise unknown_key(key)
    problem = setting.check(value)
    if problem is not None:
        raise SettingsError(f"{key} must be {setting.type}, got: {_shown(value)}", reason=problem, key=key)


def validate(settings: Any) -> None:
    """Raise :class:`SettingsError` for the first unknown key or wrong value in ``settings``."""
    if not isinstance(settings, dict):
        raise SettingsError(
            f"settings must be a JSON object (a dict), got: {_shown(settings)}",
            reason="invalid_type",
        )
    for key, value in settings.items():
        validate_value(key, value)
