"""Lua magics: ``%%lua`` / ``%lua`` and ``%lua_reset``, modelled on rpy2's ``%%R``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class, needs_local_scope, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments

from jido_kernel.display.live import LiveView
from jido_kernel.display.lua import display_value
from jido_kernel.lua import LuaSyntaxError
from jido_kernel.magics.arguments import parse
from jido_kernel.magics.state import supports_live_updates
from jido_kernel.session import Session, current_session


def _pairs(specs: list[str], flag: str) -> list[tuple[str, str]]:
    """``NAME`` or ``NAME=OTHER`` specs as (left, right) pairs."""
    pairs = []
    for spec in specs:
        for item in filter(None, spec.split(",")):
            left, _, right = item.partition("=")
            if not left.strip() or (_ and not right.strip()):
                raise UsageError(f"{flag} expects NAME or NAME=OTHER, got {item!r}")
            pairs.append((left.strip(), (right or left).strip()))
    return pairs


@magics_class
class LuaMagics(Magics):
    """Run Lua in the session's sandboxed, persistent Lua 5.4 state."""

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self._confinement_noted: set[str] = set()

    @magic_arguments()
    @argument(
        "-i",
        "--input",
        action="append",
        default=[],
        metavar="VAR[=LUANAME]",
        help="push Python variable VAR into Lua (as LUANAME); repeatable or comma-separated",
    )
    @argument(
        "-o",
        "--output",
        action="append",
        default=[],
        metavar="LUANAME[=VAR]",
        help="after the cell, pull Lua global LUANAME into Python (as VAR); repeatable",
    )
    @argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="time limit of this cell in seconds (default: the session's lua_timeout)",
    )
    @argument("--no-return", action="store_true", help="do not show the chunk's return values")
    @needs_local_scope
    @no_var_expand
    @line_cell_magic
    def lua(self, line: str, cell: str | None = None, local_ns: dict[str, Any] | None = None) -> Any:
        """%%lua [-i VAR[=LUANAME] ...] [-o LUANAME[=VAR] ...] [--timeout S] [--no-return]
        %lua EXPR

        Run the cell as Lua in the session's sandboxed Lua 5.4 state. Globals persist
        between cells; ``print`` writes to the cell's output as it runs; the chunk's
        return values are the cell's result (tables shown as tables). The ``jido`` table
        reaches the project: ``jido.read_file``, ``write_file``, ``list_dir``, ``glob``,
        ``file_exists``, ``is_file``, ``is_dir``, ``file_stat``, ``delete_file``,
        ``mkdir_p``, ``shell`` and ``jido.state.*``; each call is shown live in the
        cell's output and recorded as a tool call. A refused call returns
        ``nil, message``. The time limit, memory limit and the kernel's interrupt stop a
        running script and keep the Lua state.

        ``%lua EXPR`` evaluates one line: an expression's value, or a statement.

        Examples
        --------
        ::

            %%lua -i numbers -o total
            total = 0
            for _, n in ipairs(numbers) do total = total + n end
            return total

            %lua #jido.list_dir()
            %%lua --timeout 2
            while true do end   -- LuaTimeoutError after 2 s; the state survives
        """
        session = current_session()
        if cell is None:
            return self._line(session, line)
        args = parse(self.lua, line)
        assert self.shell is not None  # magics are registered with their shell
        namespace = {**self.shell.user_ns, **(local_ns or {})}
        inputs = {}
        for python_name, lua_name in _pairs(args.input, "-i/--input"):
            if python_name not in namespace:
                raise UsageError(f"-i {python_name}: there is no Python variable named {python_name!r}")
            inputs[lua_name] = namespace[python_name]
        outputs = _pairs(args.output, "-o/--output")
        # The %%lua line is line 1, so Lua's line numbers are the cell's.
        result = self._run(
            session, "\n" + cell, timeout=args.timeout, inputs=inputs, outputs=[lua for lua, _ in outputs],
            want_return=not args.no_return,
        )  # fmt: skip
        for lua_name, python_name in outputs:
            self.shell.user_ns[python_name] = result.outputs.get(lua_name)
        return None if args.no_return else display_value(result.values)

    def _line(self, session: Session, line: str) -> Any:
        code = line.strip()
        if not code:
            raise UsageError("%lua needs Lua code: %lua EXPR (or use %%lua for a cell)")
        try:
            result = self._run(session, f"return {code}")
        except LuaSyntaxError:
            result = self._run(session, code)
        return display_value(result.values)

    def _run(self, session: Session, code: str, **options: Any) -> Any:
        self._note_confinement(session)
        try:
            with self._live_tool_calls(session):
                assert self.shell is not None  # magics are registered with their shell
                name = f"<cell {self.shell.displayhook.prompt_count}>"
                return session.manager.run_lua(code, name=name, **options)
        except KeyboardInterrupt as interrupt:
            # Still a KeyboardInterrupt (the reply's ename), shown as one line: the
            # sandbox's message says whether the Lua state survived.
            message = str(interrupt) or "Lua execution interrupted."
            interrupt._render_traceback_ = lambda: [f"\x1b[0;31mKeyboardInterrupt\x1b[0m: {message}"]  # type: ignore[attr-defined]
            raise

    def _note_confinement(self, session: Session) -> None:
        """Say once per session what the OS does not enforce (e.g. no Landlock)."""
        if session.id in self._confinement_noted:
            return
        self._confinement_noted.add(session.id)
        for note in session.manager.lua.confinement.get("notes", ()):
            print(f"Note: {note}", file=sys.stderr)

    @contextmanager
    def _live_tool_calls(self, session: Session) -> Iterator[None]:
        """Show the cell's own tool calls live, from the first one on."""
        if not supports_live_updates(self.shell):
            yield
            return
        state = session.state
        before = [call.id for call in state.tool_calls]
        views: list[LiveView] = []

        def first_call(_event: object) -> None:
            if not views:
                views.append(LiveView(state, "tool_calls", hidden=before))

        unsubscribe = state.subscribe(first_call, kinds=("tool_call_added",))
        try:
            yield
        finally:
            unsubscribe()
            for view in views:
                view.close()

    @line_magic
    def lua_reset(self, line: str) -> None:
        """%lua_reset

        Replace the session's Lua state with a fresh one: every global is gone, the
        sandbox and its limits stay.
        """
        if line.strip():
            raise UsageError("%lua_reset takes no arguments")
        session = current_session()
        session.manager.lua.reset()
        print(f"Lua state of session {session.name!r} reset: all globals are gone.")
