"""IPython magics, one module per area; the extension registers :data:`MAGIC_CLASSES`."""

from __future__ import annotations

from .files import FileMagics
from .lua import LuaMagics
from .session import SessionMagics
from .settings import SettingsMagics
from .state import StateMagics

MAGIC_CLASSES: list[type] = [SessionMagics, FileMagics, LuaMagics, SettingsMagics, StateMagics]
