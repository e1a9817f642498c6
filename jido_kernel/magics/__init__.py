"""IPython magics, one module per area; the extension registers :data:`MAGIC_CLASSES`."""

from __future__ import annotations

from jido_kernel import _logging  # noqa: F401  (the library's NullHandler)
from jido_kernel.magics.files import FileMagics
from jido_kernel.magics.lua import LuaMagics
from jido_kernel.magics.session import SessionMagics
from jido_kernel.magics.settings import SettingsMagics
from jido_kernel.magics.state import StateMagics

MAGIC_CLASSES: list[type] = [SessionMagics, FileMagics, LuaMagics, SettingsMagics, StateMagics]
