"""Session magics: ``%session`` (show, list, new, switch, close, rename) and
``%project_root``."""

from __future__ import annotations

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from jido_kernel.display.reprs import SessionList
from jido_kernel.magics.arguments import parse
from jido_kernel.magics.state import show_streams_live
from jido_kernel.session import Session, close_session, current_session, open_session, registry

_COMMANDS = ("show", "list", "new", "switch", "close", "rename")


@magics_class
class SessionMagics(Magics):
    """Sessions of this kernel: each notebook is one; more can be opened."""

    @magic_arguments()
    @argument(
        "command",
        nargs="?",
        default="show",
        choices=_COMMANDS,
        help="show (default), list, new PATH, switch KEY, close [KEY], rename NAME",
    )
    @argument("value", nargs="?", help="PATH for new, KEY for switch/close, NAME for rename")
    @argument("--name", help="name of the new session (default: the directory's name)")
    @line_magic
    def session(self, line: str) -> Session | SessionList | None:
        """%session [show | list | new PATH [--name N] | switch KEY | close [KEY] | rename NAME]

        Show the current session (id, name, project root, model config, state counts,
        Lua sandbox limits and confinement), or manage several sessions in one kernel.
        KEY is a session's number in ``%session list``, its id, name or project path.

        Examples
        --------
        ::

            %session
            %session new /home/me/other-project --name other
            %session switch other
            %session list
            %session close other
        """
        args = parse(self.session, line)
        command, value = args.command, args.value
        if command in ("new", "switch", "rename") and not value:
            raise UsageError(f"%session {command} needs an argument: see %session --help")
        if command == "show":
            return current_session()
        if command == "list":
            return SessionList(registry().list(), current=registry().current)
        if command == "new":
            session = open_session(value, name=args.name, parent=self.shell)
            show_streams_live(self.shell, session)
            registry().switch(session.id)
            print(f"Opened session {session.name!r} at {session.project_root}; it is now current.")
            return None
        if command == "switch":
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
        session.rename(value)
        print(f"Session renamed to {session.name!r}")
        return None

    @line_magic
    def project_root(self, line: str) -> str:
        """%project_root

        The current session's project root: every path in the file magics and in Lua is
        confined to it.
        """
        if line.strip():
            raise UsageError("%project_root takes no arguments (use %session new PATH to open another root)")
        return str(current_session().project_root)
