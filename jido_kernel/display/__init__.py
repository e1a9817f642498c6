"""Everything that becomes a mimebundle or a display update.

:mod:`.state` renders session state (markdown by markdown-it-py, raw HTML off);
:mod:`.live` keeps displayed views up to date in place (``display_id``) within a rate
and a byte budget; :mod:`.lua` renders Lua values; :mod:`.reprs` renders files,
listings, settings and sessions.
"""

from jido_kernel import _logging  # noqa: F401  (the library's NullHandler)
