"""Session state: the model, its renderings and live views in the notebook.

``SessionState`` holds messages, streaming, reasoning steps, tool calls, todos and the
scroll offset within :class:`StateLimits`; records render as ``text/plain`` and
``text/html``; ``LiveView`` keeps a displayed part of the state up to date. Importing this
package does not import IPython.
"""

from jido_kernel.state.limits import StateLimitError, StateLimits
from jido_kernel.state.live import LiveDisplay, LiveView, flush_all, follow_streams
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
from jido_kernel.state.render import PARTS

__all__ = [
    "MAX_MESSAGES",
    "MAX_REASONING_STEPS",
    "MAX_TOOL_CALLS",
    "PARTS",
    "LiveDisplay",
    "LiveView",
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
    "flush_all",
    "follow_streams",
]
