"""The library's logging, set up by the kernel side's packages as they load.

A library logs, the application decides where it goes: the ``jido_kernel`` logger has a
:class:`logging.NullHandler`, so no record reaches stderr (in a kernel, the notebook)
unless the application configures logging. Security violations are reported to the
caller as errors anyway. The packages the Lua worker shares with the kernel side
(:mod:`jido_kernel`, :mod:`jido_kernel.lua`, :mod:`jido_kernel.security`…) do not
import :mod:`logging`: the worker never loads it.
"""

from __future__ import annotations

import logging

logging.getLogger("jido_kernel").addHandler(logging.NullHandler())
