"""Session magics: ``%session`` (show, list, new, switch, close, rename, and the saved
state: resume, saved, forget, export) and ``%project_root``."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from jido_kernel import persistence
from jido_kernel.display.reprs import SessionList
from jido_kernel.magics.arguments import help_requested, parse
from jido_kernel.magics.state import show_streams_live
from jido_kernel.persistence import export as exporting
from jido_kernel.persistence.restore import restore
from jido_kernel.persistence.store import SavedSummary
from jido_kernel.session import Session, close_session, current_session, open_session, registry
from jido_kernel.session.lifecycle import origin
from jido_kernel.text import terminal_safe

_COMMANDS = ("show", "list", "new", "switch", "close", "rename", "resume", "saved", "forget", "export")
_NEEDS_VALUE = ("new", "switch", "rename", "export")
_noted: set[str] = set()


def origin_notes(session: Session) -> tuple[str, ...]:
    """What the notebook's own session could not learn from a gateway (see :mod:`~jido_kernel.session.origin`)."""
    located = origin()
    if located is None or located.session_id != session.id:
        return ()
    return located.notes


def note_origin_once(info: Any = None) -> None:
    """``pre_run_cell`` hook: in the first Lua cell, say what a gateway left unknown."""
    cell = getattr(info, "raw_cell", "") or ""
    if not cell.lstrip().startswith(("%%lua", "%lua")):
        return
    session = registry().current
    if session is None or session.id in _noted:
        return
    _noted.add(session.id)
    for note in origin_notes(session):
        print(f"Note: {note}", file=sys.stderr)


class SavedList(list[SavedSummary]):
    """``%session saved``: one line per saved session."""

    def _rows(self) -> list[str]:
        rows = []
        for number, row in enumerate(self, start=1):
            counts = row.counts
            when = datetime.fromtimestamp(row.updated).strftime("%Y-%m-%d %H:%M")
            rows.append(
                f"{number:>3}  {row.name or '?'}  {row.project_root}  {counts['message']} messages, "
                f"{counts['reasoning']} reasoning, {counts['tool_call']} tool calls  {when}  {row.session_id}"
            )
        return rows

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(terminal_safe("\n".join(self._rows()) if self else "No saved sessions."))


def _saved_key(key: str) -> str:
    """The saved session's id for KEY: its number in ``%session saved``, id, or name."""
    rows = persistence.summaries()
    if key.isdigit() and 1 <= int(key) <= len(rows):
        return rows[int(key) - 1].session_id
    matches = [row.session_id for row in rows if key in (row.session_id, row.name)]
    if len(matches) != 1:
        problem = "matches several saved sessions" if matches else "is no saved session"
        raise UsageError(f"{key!r} {problem}: give its number or id from %session saved")
    return matches[0]


@magics_class
class SessionMagics(Magics):
    """Sessions of this kernel: each notebook is one; more can be opened."""

    @magic_arguments()
    @argument(
        "command",
        nargs="?",
        default="show",
        choices=_COMMANDS,
        help="show (default), list, new PATH, switch KEY, close [KEY], rename NAME, "
        "resume, saved, forget [KEY], export PATH",
    )
    @argument("value", nargs="?", help="PATH for new/export, KEY for switch/close/forget, NAME for rename")
    @argument("--name", help="name of the new session (default: the directory's name)")
    @argument("--format", choices=exporting.FORMATS, default="md", help="export format (default md)")
    @argument("--force", action="store_true", help="export: replace an existing file")
    @line_magic
    def session(self, line: str) -> Any:
        """%session [show | list | new PATH | switch KEY | close [KEY] | rename NAME |
        resume | saved | forget [KEY] | export PATH [--format json|md] [--force]]

        Show the current session (id, name, project root, model config, state counts,
        Lua sandbox limits and confinement), or manage several sessions in one kernel.
        KEY is a session's number in ``%session list``, its id, name or project path.

        The state (messages, reasoning, tool calls, todos; not the Lua globals) is saved
        as it changes under ``$JIDO_CODE_HOME/sessions/``. ``resume`` brings this
        notebook's saved state back after a restart or crash (never automatically);
        ``saved`` lists saved sessions; ``forget [KEY]`` deletes one (default: this
        one; KEY is a number or id from ``saved``); ``export PATH`` writes the saved
        conversation to PATH, the owner's own path like ``open()`` in a Python cell
        (not confined to the project; an existing file needs ``--force``).

        Examples
        --------
        ::

            %session
            %session new /home/me/other-project --name other
            %session switch other
            %session resume
            %session export chat.md
        """
        if help_requested(self.session, line):
            return None
        args = parse(self.session, line)
        command, value = args.command, args.value
        if command in _NEEDS_VALUE and not value:
            raise UsageError(f"%session {command} needs an argument: see %session --help")
        if command in ("show", "list", "new", "switch", "close", "rename"):
            return self._manage(command, value, args.name)
        if command == "saved":
            return SavedList(persistence.summaries())
        if command == "forget":
            session_id = _saved_key(value) if value else current_session().id
            persistence.forget(session_id)
            print(f"Forgot the saved state of session {session_id}.")
            return None
        session = current_session()
        saved = persistence.saved(session.id)
        if command == "resume":
            owner = persistence.persister(session.id)
            if owner is None:
                counts = restore(session.state, saved)
            else:
                with owner.muted():
                    counts = restore(session.state, saved)
            print(
                f"Resumed {counts['message']} messages, {counts['reasoning']} reasoning steps, "
                f"{counts['tool_call']} tool calls and {counts['todos']} todos"
                + (f" ({counts['skipped']} refused by the state's bounds)" if counts["skipped"] else "")
                + ". The Lua state is not saved: run your %%lua setup cells again."
            )
            return None
        try:
            path = exporting.write(value, exporting.render(saved, args.format), force=args.force)
        except OSError as error:
            raise UsageError(f"%session export: {error}") from None
        print(f"Exported session {session.name!r} to {path}")
        return None

    def _manage(self, command: str, value: str | None, name: str | None) -> Session | SessionList | None:
        if command == "show":
            session = current_session()
            for note in origin_notes(session):
                print(f"Note: {note}", file=sys.stderr)
            print(f"Saved state: {persistence.status(session.id)}")
            return session
        if command == "list":
            return SessionList(registry().list(), current=registry().current)
        if command == "new":
            session = open_session(value, name=name, parent=self.shell)
            show_streams_live(self.shell, session)
            registry().switch(session.id)
            print(f"Opened session {session.name!r} at {session.project_root}; it is now current.")
            return None
        if command == "switch":
            assert value is not None
            session = registry().switch(registry().find(value).id)
            print(f"Current session: {session.name!r} at {session.project_root}")
            return None
        if command == "close":
            session = registry().find(value) if value else current_session()
            close_session(session)
            now = registry().current
            after = f"; current session: {now.name!r}" if now else "; no session is open now"
            print(f"Closed session {session.name!r}{after}")
            return None
        session = current_session()
        assert value is not None  # _NEEDS_VALUE
        session.rename(value)
        owner = persistence.persister(session.id)
        if owner is not None:
            owner.rename(session.name)
        print(f"Session renamed to {session.name!r}")
        return None

    @line_magic
    def project_root(self, line: str) -> str | None:
        """%project_root

        The current session's project root: every path in the file magics and in Lua is
        confined to it.
        """
        if help_requested(SessionMagics.project_root, line):
            return None
        if line.strip():
            raise UsageError("%project_root takes no arguments (use %session new PATH to open another root)")
        return str(current_session().project_root)
