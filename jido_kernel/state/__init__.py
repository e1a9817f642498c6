"""Session state as plain data: messages, streaming, reasoning, tool calls and todos.

``SessionState`` holds them within :class:`StateLimits` and tells observers of every
change. Renderings and live views live in :mod:`jido_kernel.display`; records render
through it lazily (``_repr_mimebundle_``), so importing this package does not import
IPython.
"""

from jido_kernel import _logging  # noqa: F401  (the library's NullHandler)
from jido_kernel.state.limits import StateLimitError, StateLimits
from jido_kernel.state.model import (
    MAX_MESSAGES,
    MAX_REASONING_STEPS,
    MAX_TOOL_CALLS,
    SessionState,
    StateSnapshot,
    StreamWriter,
)
from jido_kernel.state.records import (
    Message,
    ReasoningStep,
    StateError,
    StateEvent,
    Todo,
    ToolCall,
)

__all__ = [
    "MAX_MESSAGES",
    "MAX_REASONING_STEPS",
    "MAX_TOOL_CALLS",
    "Message",
    "ReasoningStep",
    "SessionState",
    "StateError",
    "StateEvent",
    "StateLimitError",
    "StateLimits",
    "StateSnapshot",
    "StreamWriter",
    "Todo",
    "ToolCall",
]
