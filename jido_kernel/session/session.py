"""The ``Session`` record: identity, project root and model configuration.

Validation follows jido_code's ``Session.new/1`` and ``Session.validate/1``:
the project path must be an absolute, existing, readable and writable directory with
no ``..`` component and at most 4096 bytes; a symlinked root is resolved. Every
failure is a :class:`SessionError` whose ``reason`` is jido_code's atom.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jido_kernel.session.errors import SessionError, SessionValidationError

MAX_PATH_BYTES = 4096
MAX_NAME_LENGTH = 50
CONFIG_KEYS = ("provider", "model", "temperature", "max_tokens")
DEFAULT_CONFIG: dict[str, Any] = {
    "provider": "anthropic",
    "model": "claude-3-5-sonnet-20241022",
    "temperature": 0.7,
    "max_tokens": 4096,
}
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_NOTEBOOK_NAMESPACE = uuid.UUID("4a1d0c0d-6a69-4b1e-9c6f-6a69646f6b72")


def _now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    """A random UUID v4, lowercase 8-4-4-4-12."""
    return str(uuid.uuid4())


def stable_id(key: str) -> str:
    """A UUID that is the same every time for ``key`` (a notebook path)."""
    return str(uuid.uuid5(_NOTEBOOK_NAMESPACE, key))


def validate_project_path(project_path: object) -> Path:
    """Check a project path as jido_code does; return it resolved."""
    if project_path is None or project_path == "":
        raise SessionError(
            "A project path is required: give the directory of your project.",
            reason="missing_project_path",
        )
    if not isinstance(project_path, (str, os.PathLike)):
        raise SessionError(
            f"Project path must be a string or path, got {type(project_path).__name__}.",
            reason="invalid_project_path",
        )
    text = os.fspath(project_path)
    if not isinstance(text, str) or "\x00" in text:
        raise SessionError(
            f"Project path contains a NUL byte or is not text: {text!r}.",
            reason="invalid_project_path",
        )
    if len(text.encode("utf-8", "surrogateescape")) > MAX_PATH_BYTES:
        raise SessionError(f"Project path is longer than {MAX_PATH_BYTES} bytes.", reason="path_too_long")
    if ".." in Path(text).parts:
        raise SessionError(
            f"Project path must not contain '..': {text}. Give the resolved directory.",
            reason="path_traversal_detected",
        )
    if not os.path.isabs(text):
        raise SessionError(f"Project path must be absolute: {text}.", reason="path_not_absolute")
    path = Path(text)
    if path.is_symlink():
        if ".." in Path(os.readlink(path)).parts:
            raise SessionError(
                f"Project path is a symlink whose target contains '..': {text}. Give the resolved directory.",
                reason="symlink_escape",
            )
        return _check_directory(text, Path(os.path.realpath(text)), symlink=True)
    return _check_directory(text, Path(os.path.normpath(text)), symlink=False)


def _check_directory(given: str, path: Path, *, symlink: bool) -> Path:
    if not path.exists():
        missing = "is a symlink to a directory that does not exist" if symlink else "does not exist"
        raise SessionError(f"Project path {given} {missing}.", reason="path_not_found")
    if not path.is_dir():
        what = "is a symlink to something that is not a directory" if symlink else "is not a directory"
        raise SessionError(f"Project path {given} {what}.", reason="path_not_directory")
    resolved = Path(os.path.realpath(path))
    _check_permissions(given, resolved)
    return resolved


def _check_permissions(given: str, path: Path) -> None:
    try:
        os.listdir(path)
    except OSError as error:
        raise SessionError(
            f"Cannot read the project directory {given}: {error.strerror}.",
            reason="path_permission_denied",
        ) from None
    probe = path / f".jido_code_permission_check_{secrets.token_hex(4)}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        if error.errno == errno.ENOSPC:
            raise SessionError(
                f"No space left on the device of the project directory {given}.",
                reason="path_no_space",
            ) from None
        raise SessionError(
            f"Cannot write in the project directory {given}: {error.strerror}. "
            "A session needs a writable project root.",
            reason="path_permission_denied",
        ) from None


def _config_problems(config: object) -> list[tuple[str, str]]:
    if not isinstance(config, Mapping):
        return [("invalid_config", f"config must be a mapping, got {type(config).__name__}")]
    problems = []
    provider, model = config.get("provider"), config.get("model")
    temperature, max_tokens = config.get("temperature"), config.get("max_tokens")
    if not isinstance(provider, str) or not provider:
        problems.append(("invalid_provider", f"provider must be a non-empty string, got {provider!r}"))
    if model is not None and (not isinstance(model, str) or not model):
        problems.append(("invalid_model", f"model must be a non-empty string or None, got {model!r}"))
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2:
        problems.append(("invalid_temperature", f"temperature must be a number from 0 to 2, got {temperature!r}"))
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens <= 0:
        problems.append(("invalid_max_tokens", f"max_tokens must be a positive integer, got {max_tokens!r}"))
    return problems


def _name_problem(name: object) -> tuple[str, str] | None:
    if not isinstance(name, str) or not name.strip():
        return ("invalid_name", f"name must be a non-empty string, got {name!r}")
    if len(name) > MAX_NAME_LENGTH:
        return ("name_too_long", f"name must be at most {MAX_NAME_LENGTH} characters, got {len(name)}")
    return None


def _raise_for(problems: list[tuple[str, str]]) -> None:
    if len(problems) == 1:
        reason, detail = problems[0]
        raise SessionError(f"Invalid session: {detail}.", reason=reason)
    if problems:
        raise SessionValidationError([r for r, _ in problems], [d for _, d in problems])


def normalise_config(config: Mapping[str, Any] | None, base: Mapping[str, Any] = DEFAULT_CONFIG) -> dict[str, Any]:
    """The four config keys from ``config`` (atom-like or string keys) over ``base``."""
    merged = dict(base)
    for key, value in (config or {}).items():
        if str(key) in CONFIG_KEYS:
            merged[str(key)] = value
    return merged


@dataclass
class Session:
    """A notebook's session: id, name, validated project root and model config.

    ``manager``, ``state`` and ``settings`` are attached when the session is opened
    (:func:`jido_kernel.session.open_session`).
    """

    id: str
    name: str
    project_root: Path
    config: dict[str, Any]
    created_at: datetime = field(default_factory=_now)
    updated_at: datetime = field(default_factory=_now)
    manager: Any = field(default=None, repr=False, compare=False)
    state: Any = field(default=None, repr=False, compare=False)
    settings: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def new(
        cls,
        project_root: object,
        *,
        name: str | None = None,
        config: Mapping[str, Any] | None = None,
        id: str | None = None,
    ) -> Session:
        """Create a validated session (jido_code's ``Session.new/1``)."""
        root = validate_project_path(project_root)
        session = cls(
            id=id or new_id(),
            name=name if name is not None else root.name or str(root),
            project_root=root,
            config=normalise_config(config),
        )
        session.validate()
        return session

    def validate(self) -> None:
        """Raise if any field is invalid (errors collected in field order)."""
        problems: list[tuple[str, str]] = []
        if not isinstance(self.id, str) or not UUID_RE.match(self.id):
            problems.append(("invalid_id", f"id must be a UUID, got {self.id!r}"))
        if (name_problem := _name_problem(self.name)) is not None:
            problems.append(name_problem)
        problems += _config_problems(self.config)
        _raise_for(problems)

    def rename(self, name: str) -> None:
        """Give the session a new name (1 to 50 characters)."""
        if (problem := _name_problem(name)) is not None:
            _raise_for([problem])
        self.name = name
        self.updated_at = _now()

    # -- Lua: the magics' one way to the session's sandbox ----------------------------------

    def run_lua(self, code: str, **options: Any) -> Any:
        """Run ``code`` in the session's Lua state (see ``SessionManager.run_lua``)."""
        return self.manager.run_lua(code, **options)

    def reset_lua(self) -> None:
        """Replace the session's Lua state with a fresh one."""
        self.manager.reset_lua()

    def lua_notes(self) -> tuple[str, ...]:
        """What the OS does not enforce for this session's Lua worker (e.g. no Landlock)."""
        return self.manager.confinement_notes()

    def lua_names(self, path: Sequence[str] = (), *, wait: float = 0.2) -> dict[str, str] | None:
        """``{name: Lua type}`` of a table in the live Lua state, read raw; None when a run
        is in progress or the worker does not answer within ``wait`` s."""
        return self.manager.lua_names(path, wait=wait)

    def update_config(self, changes: Mapping[str, Any]) -> None:
        """Merge the four config keys of ``changes``; a present key wins even when falsy."""
        merged = normalise_config(changes, base=self.config)
        _raise_for(_config_problems(merged))
        self.config = merged
        self.updated_at = _now()
