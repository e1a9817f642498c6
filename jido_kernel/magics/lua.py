"""Lua magics: ``%%lua`` / ``%lua`` and ``%lua_reset``, modelled on rpy2's ``%%R``."""

from __future__ import annotations

import argparse
import functools
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from IPython.core.error import UsageError
from IPython.core.inputtransformer2 import TransformerManager, leading_empty_lines
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class, needs_local_scope, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments

from jido_kernel.display.cell import CellToolCalls
from jido_kernel.display.lua import display_value
from jido_kernel.language.inspection import help_bundle, help_query
from jido_kernel.lua import LuaError, LuaSyntaxError
from jido_kernel.lua.contract import bridge_summary
from jido_kernel.magics.arguments import help_requested, parse
from jido_kernel.magics.state import supports_live_updates
from jido_kernel.session import Session, current_session

F = TypeVar("F", bound=Callable[..., Any])


def _documented(doc: str) -> Callable[[F], F]:
    """Give a magic its docstring (built at import, before magic_arguments reads it)."""

    def decorate(function: F) -> F:
        function.__doc__ = doc
        return function

    return decorate


LUA_DOC = f"""%%lua [-i VAR[=LUANAME] ...] [-o LUANAME[=VAR] ...] [--timeout S] [--no-return]
        [--quiet] [--traceback | --no-traceback]
        %lua EXPR

        Run the cell as Lua in the session's sandboxed Lua 5.4 state. Globals persist
        between cells; ``print`` writes to the cell's output as it runs; the chunk's
        return values are the cell's result (tables shown as tables). Each ``jido`` call
        is shown live in the cell's output and recorded as a tool call; a refused call
        returns ``nil, message``. The time limit, memory limit and the kernel's
        interrupt stop a running script and keep the Lua state. An error shows its
        message, then the chain of the cells' Lua frames (``--traceback``, the default
        when there is more than one; ``--no-traceback`` shows the message alone).

        ``%lua EXPR`` evaluates one line: an expression's value, or a statement.
        ``%lua help(jido.read_file)`` or a cell ``jido.read_file?`` shows a function's
        signature and doc.

        The jido bridge::

{bridge_summary(" " * 12)}

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


_LUA_CELL = re.compile(r"%%lua(?:\s|$)")


def lua_cell_source(lines: list[str]) -> list[str]:
    """An input transformer: a ``%%lua`` cell becomes its magic call as IPython writes it,
    before IPython's dedent and prompt strippers run, so they never edit Lua source (a
    whitespace-only line of a Lua string keeps its spaces, a line starting ``>>>`` or
    ``In [1]:`` stays as it is). Other cells pass through."""
    if not lines or not _LUA_CELL.match(lines[0]):
        return lines
    magic, _, line = lines[0][2:].rstrip().partition(" ")
    return [f"get_ipython().run_cell_magic({magic!r}, {line!r}, {''.join(lines[1:])!r})\n"]


def _with_lua_source(transforms: list[Any]) -> list[Any]:
    """``transforms`` (cleanup transformers) with :func:`lua_cell_source` right after
    IPython's removal of leading blank lines (first, when that is missing)."""
    placed = [transform for transform in transforms if transform is not lua_cell_source]
    index = placed.index(leading_empty_lines) + 1 if leading_empty_lines in placed else 0
    placed.insert(index, lua_cell_source)
    return placed


@functools.cache
def _default_transforms() -> tuple[list[Any], list[Any], list[Any]]:
    """IPython's default static input transformers, with :func:`lua_cell_source` placed as
    :func:`keep_lua_source` places it."""
    manager = TransformerManager()
    return _with_lua_source(manager.cleanup_transforms), manager.line_transforms, manager.token_transformers


def lua_call(manager: TransformerManager, raw_cell: str) -> str | None:
    """What ``manager.transform_cell(raw_cell)`` returns for a ``%%lua`` cell, made without
    running IPython's tokenizer over the cell: the cleanup transformers up to
    :func:`lua_cell_source` run as in the manager, giving the magic call, which IPython's
    other default transformers leave as it is. None for any other cell, or when
    ``manager``'s transformers are not IPython's defaults and :func:`lua_cell_source`
    (then only ``manager`` can say)."""
    if not _LUA_CELL.match(raw_cell):
        return None
    defaults = _default_transforms()
    if (manager.cleanup_transforms, manager.line_transforms, manager.token_transformers) != defaults:
        return None
    cleanup: list[Any] = defaults[0]
    if not raw_cell.endswith("\n"):
        raw_cell += "\n"  # as the manager does
    lines = raw_cell.splitlines(keepends=True)
    for transform in cleanup[: cleanup.index(lua_cell_source) + 1]:
        lines = transform(lines)
    if len(lines) != 1 or not lines[0].startswith("get_ipython().run_cell_magic("):
        return None  # the earlier transformers left no %%lua first line: the manager decides
    return lines[0]


def keep_lua_source(shell: Any, keep: bool = True) -> None:
    """Put :func:`lua_cell_source` among ``shell``'s cleanup transformers, right after
    leading blank lines are dropped (before IPython's dedent and prompt strippers), or
    take it out."""
    transforms = shell.input_transformers_cleanup
    transforms[:] = _with_lua_source(transforms) if keep else [t for t in transforms if t is not lua_cell_source]


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
    @argument("--quiet", action="store_true", help="do not show the cell's tool calls (they are still recorded)")
    @argument(
        "--traceback",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show the Lua frames under an error (default: when there is more than one)",
    )
    @needs_local_scope
    @no_var_expand
    @line_cell_magic
    @_documented(LUA_DOC)
    def lua(self, line: str, cell: str | None = None, local_ns: dict[str, Any] | None = None) -> Any:
        if help_requested(self.lua, line):
            return None
        session = current_session()
        if cell is None:
            return self._line(session, line)
        args = parse(self.lua, line)
        if (name := help_query(cell)) is not None:
            print(help_bundle(name)["text/plain"])
            return None
        assert self.shell is not None  # magics are registered with their shell
        inputs = {}
        for python_name, lua_name in _pairs(args.input, "-i/--input"):
            for namespace in (local_ns or {}, self.shell.user_ns):
                if python_name in namespace:
                    inputs[lua_name] = namespace[python_name]
                    break
            else:
                raise UsageError(f"-i {python_name}: there is no Python variable named {python_name!r}")
        outputs = _pairs(args.output, "-o/--output")
        # The %%lua line is line 1, so Lua's line numbers are the cell's.
        result = self._run(
            session,
            "\n" + cell,
            traceback=args.traceback,
            quiet=args.quiet,
            timeout=args.timeout,
            inputs=inputs,
            outputs=[lua for lua, _ in outputs],
            want_return=not args.no_return,  # no values are converted or sent
        )
        self.shell.push({python_name: result.outputs.get(lua_name) for lua_name, python_name in outputs})
        return None if args.no_return else display_value(result.values)

    def run_lua_cell(self, code: str) -> Any:
        """Run a whole cell of the Lua-first kernel (its first line is line 1)."""
        if (name := help_query(code)) is not None:
            print(help_bundle(name)["text/plain"])
            return None
        return display_value(self._run(current_session(), code).values)

    def _line(self, session: Session, line: str) -> Any:
        code = line.strip()
        if not code:
            raise UsageError("%lua needs Lua code: %lua EXPR (or use %%lua for a cell)")
        if (name := help_query(code)) is not None:
            print(help_bundle(name)["text/plain"])
            return None
        try:
            result = self._run(session, f"return {code}")
        except LuaSyntaxError:
            result = self._run(session, code)
        return display_value(result.values)

    def _run(
        self, session: Session, code: str, *, traceback: bool | None = None, quiet: bool = False, **options: Any
    ) -> Any:
        self._note_confinement(session)
        try:
            with self._live_tool_calls(session, quiet) as on_stdout:
                assert self.shell is not None  # magics are registered with their shell
                name = f"<cell {self.shell.displayhook.prompt_count}>"
                return session.run_lua(code, name=name, on_stdout=on_stdout, **options)
        except LuaError as error:
            error.show_traceback = traceback
            raise
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
        for note in session.lua_notes():
            print(f"Note: {note}", file=sys.stderr)

    @contextmanager
    def _live_tool_calls(self, session: Session, quiet: bool) -> Iterator[Callable[[str], None] | None]:
        """Show the cell's own tool calls live, in order with its prints (unless ``quiet``);
        yields the run's ``on_stdout``."""
        if quiet or not supports_live_updates(self.shell):
            yield None
            return
        with CellToolCalls(session.state) as calls:
            yield calls.write

    @line_magic
    def lua_reset(self, line: str) -> None:
        """%lua_reset

        Replace the session's Lua state with a fresh one: every global is gone, the
        sandbox and its limits stay.
        """
        if help_requested(LuaMagics.lua_reset, line):
            return
        if line.strip():
            raise UsageError("%lua_reset takes no arguments")
        session = current_session()
        session.reset_lua()
        print(f"Lua state of session {session.name!r} reset: all globals are gone.")
