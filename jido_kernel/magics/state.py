"""State magics: ``%state``, ``%messages``, ``%todos``, ``%tool_calls``, ``%reasoning``.

Each shows a part of the current session's state as a *live view*: one output that
keeps its display id and updates in place whenever the state changes — from a later
cell, a ``%%lua`` bridge call or a background thread. ``--static`` shows a snapshot.
``%state clear [PART]`` empties parts of the state (re-running a notebook then starts
from a clean state).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from IPython.display import display

from jido_kernel.display.live import LiveView, follow_streams
from jido_kernel.display.state import part_bundle
from jido_kernel.magics.arguments import help_requested, parse
from jido_kernel.session import current_session

CLEARABLE = ("messages", "reasoning", "tool_calls", "todos", "all")


def clear_state(state: Any, part: str) -> str:
    """Empty ``part`` of ``state`` (one of :data:`CLEARABLE`); what was cleared, in words."""
    parts = CLEARABLE[:-1] if part == "all" else (part,)
    if "messages" in parts:
        state.clear_messages()
    if "reasoning" in parts:
        state.clear_reasoning_steps()
    if "tool_calls" in parts:
        state.clear_tool_calls()
    if "todos" in parts:
        state.update_todos([])
    return ", ".join(name.replace("_", " ") for name in parts)


def _state_view_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options every state magic takes."""
    func = argument("--static", action="store_true", help="show a snapshot that does not update")(func)
    return magic_arguments()(func)


def supports_live_updates(shell: Any) -> bool:
    """Whether the shell's front end can update a display in place (a Jupyter kernel)."""
    return getattr(shell, "kernel", None) is not None


def show_streams_live(shell: Any, session: Any) -> None:
    """In a kernel, show each of the session's streams growing in place where it starts."""
    if supports_live_updates(shell):
        follow_streams(session.state)


@magics_class
class StateMagics(Magics):
    """Live views of the session's messages, streaming, reasoning, tool calls and todos."""

    def _show(self, magic: Callable[..., Any], part: str, line: str) -> None:
        if help_requested(magic, line):
            return
        args = parse(magic, line)
        state = current_session().state
        if args.static or not supports_live_updates(self.shell):
            display(part_bundle(state.get_state(), part), raw=True)
        else:
            LiveView(state, part)

    @magic_arguments()
    @argument("command", nargs="?", choices=("clear",), help="clear: empty a part of the state")
    @argument("part", nargs="?", choices=CLEARABLE, help="what clear empties (default: all)")
    @argument("--static", action="store_true", help="show a snapshot that does not update")
    @line_magic
    def state(self, line: str) -> None:
        """%state [--static] | %state clear [messages|reasoning|tool_calls|todos|all]

        The whole session state — messages (with the message being streamed), reasoning
        steps, tool calls and todos — as a live view that updates in place.
        ``%state clear`` empties the state (or one part of it), for example at the top
        of a notebook that is run again.

        Examples
        --------
        ::

            %state
            %state --static
            %state clear tool_calls
            %state clear
        """
        if help_requested(self.state, line):
            return
        args = parse(self.state, line)
        if args.command is None:
            if args.part is not None:
                raise UsageError(f"%state {args.part}: did you mean %state clear {args.part}?")
            self._show(self.state, "state", line)
            return
        if args.static:
            raise UsageError("%state clear takes no --static")
        cleared = clear_state(current_session().state, args.part or "all")
        print(f"Cleared: {cleared}.")

    @_state_view_options
    @line_magic
    def messages(self, line: str) -> None:
        """%messages [--static]

        The conversation (user, assistant, system and tool messages), updating in place;
        a message being streamed grows token by token.
        """
        self._show(self.messages, "messages", line)

    @_state_view_options
    @line_magic
    def todos(self, line: str) -> None:
        """%todos [--static]

        The todo list as a checklist (pending, in progress, completed), updating in place.
        """
        self._show(self.todos, "todos", line)

    @_state_view_options
    @line_magic
    def tool_calls(self, line: str) -> None:
        """%tool_calls [--static]

        Tool calls (every ``jido.*`` bridge call among them) with arguments, status,
        result and duration, updating in place.
        """
        self._show(self.tool_calls, "tool_calls", line)

    @_state_view_options
    @line_magic
    def reasoning(self, line: str) -> None:
        """%reasoning [--static]

        The reasoning steps, updating in place.
        """
        self._show(self.reasoning, "reasoning", line)
