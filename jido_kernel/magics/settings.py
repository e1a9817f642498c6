"""``%settings``: the session's effective settings, and changing them."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments

from jido_kernel import settings as settings_mod
from jido_kernel.display.reprs import SettingsView
from jido_kernel.magics.arguments import help_requested, parse
from jido_kernel.session import current_session, reload_settings
from jido_kernel.settings import SCHEMA, SettingsWarning
from jido_kernel.settings.paths import DIR_NAME
from jido_kernel.settings.schema import unknown_key
from jido_kernel.settings.store import Scope

_noted: set[tuple[str, str]] = set()
_gitignore_noted: set[Path] = set()
_COMMANDS = ("show", "get", "set", "unset", "reload", "path")


def parse_value(text: str) -> Any:
    """A JSON value (``5``, ``true``, ``["ls", "cat"]``); anything else is a string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


@magics_class
class SettingsMagics(Magics):
    """Global and project settings of the current session."""

    @magic_arguments()
    @argument(
        "command",
        nargs="?",
        default="show",
        choices=_COMMANDS,
        help="show (default), get KEY, set KEY VALUE, unset KEY, reload, path",
    )
    @argument("key", nargs="?", help="a settings key (see %%settings for the list)")
    @argument("value", nargs="*", help='a JSON value (5, true, ["ls"]); other text is a string')
    @argument("--global", dest="is_global", action="store_true", help="change the global file instead of the project's")
    @argument("--force", action="store_true", help="overwrite a malformed settings file (its content is lost)")
    @line_magic
    @no_var_expand  # keys and JSON values are taken literally
    def settings(self, line: str) -> Any:
        """%settings [get KEY | set KEY VALUE [--global] [--force] | unset KEY [--global] | reload | path]

        Settings come from the global file ``$JIDO_CODE_HOME/settings.json`` (default
        ``~/.jido_code/settings.json``) with the project's ``<root>/.jido_code/settings.json``
        over it. ``%settings`` shows every key's value in effect and where it came from
        (default, global or local). ``set`` validates the value, writes the file atomically
        and applies the new limits to the session at once. A malformed file is never
        overwritten unless you pass ``--force``.

        Examples
        --------
        ::

            %settings
            %settings set lua_timeout 5
            %settings set shell_allowlist '["ls", "cat", "grep"]' --global
            %settings get model
            %settings path
        """
        if help_requested(self.settings, line):
            return None
        args = parse(self.settings, line)
        session = current_session()
        if args.command in ("get", "set", "unset") and not args.key:
            raise UsageError(f"%settings {args.command} needs a KEY: see %settings --help")
        if args.command == "set" and not args.value:
            raise UsageError("%settings set needs a VALUE: %settings set KEY VALUE")
        scope: Scope = "global" if args.is_global else "local"
        root = session.project_root
        if args.command == "get":
            if args.key not in SCHEMA:
                raise unknown_key(args.key)
            return settings_rows(session)[args.key][0]
        if args.command == "path":
            print(f"global: {settings_mod.global_path()}\nlocal:  {settings_mod.local_path(root)}")
            return None
        if args.command == "set":
            value = parse_value(" ".join(args.value))
            path = settings_mod.set(root, args.key, value, scope=scope, force=args.force)
            print(f"{args.key} = {json.dumps(value)} saved in {path}")
            if scope == "local" and path not in _gitignore_noted:
                _gitignore_noted.add(path)
                print(
                    f"(the project's own settings: add {DIR_NAME}/ to .gitignore to keep them out "
                    "of version control; --global saves for every project)"
                )
        elif args.command == "unset":
            path = settings_mod.unset(root, args.key, scope=scope, force=args.force)
            print(f"{args.key} removed from {path}")
        if args.command == "show":
            return SettingsView(settings_rows(session), settings_problems(session))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SettingsWarning)  # printed below instead
            reload_settings(session)
        if args.command == "reload":
            print(f"Settings reloaded for session {session.name!r}")
        note_problems(session)
        return None


def note_problems(session: Any) -> None:
    """Print each of the session's settings problems once (``Note: …`` on stderr)."""
    for problem in settings_problems(session):
        if (session.id, problem) not in _noted:
            _noted.add((session.id, problem))
            print(f"Note: {problem}", file=sys.stderr)


def settings_problems(session: Any) -> tuple[str, ...]:
    """What the session's settings files ask for that is not in effect, and why."""
    return (*session.settings.problems, *session.manager.limits.notes)


def settings_rows(session: Any) -> dict[str, tuple[Any, str]]:
    """Every schema key's value in effect for ``session`` and where it came from.

    The sandbox limits show what the session's Lua sandbox uses: a value from
    traitlets configuration (or its default) has the source ``config``.
    """
    limits = session.manager.limits.as_settings()
    rows: dict[str, tuple[Any, str]] = {}
    for key in SCHEMA:
        if key in limits:
            rows[key] = limits[key]
        else:
            value, source = session.settings.effective(key)
            rows[key] = (value, source.scope)
    return rows
