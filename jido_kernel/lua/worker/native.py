"""The sandbox's C library (``native.c``, built with the package as ``libnative.so``).

It takes the Lua API from the loaded ``lupa.lua54`` module, so it always works on the
same Lua that holds the state. :func:`library` loads and binds it once per process.
"""

from __future__ import annotations

import ctypes
import functools
import os

import lupa.lua54

LIBRARY = os.path.join(os.path.dirname(__file__), "libnative.so")


class NativeLibraryError(RuntimeError):
    """The C library is missing or does not fit the installed lupa."""


@functools.cache
def library() -> ctypes.CDLL:
    """The loaded and bound library, its functions typed."""
    if not os.path.isfile(LIBRARY):
        raise NativeLibraryError(
            f"{LIBRARY} is missing: jido_kernel was installed without building its C part; "
            "reinstall it with a C compiler available (pip install -e . or make)"
        )
    lib = ctypes.CDLL(LIBRARY)
    state = ctypes.c_void_p
    for name, argtypes, restype in (
        ("jido_bind", [ctypes.c_char_p], ctypes.c_int),
        ("jido_stopper_new", [], ctypes.c_void_p),
        ("jido_stopper_begin", [ctypes.c_void_p, state], None),
        ("jido_stopper_end", [ctypes.c_void_p], None),
        ("jido_stopper_trip", [ctypes.c_void_p, ctypes.c_int], ctypes.c_int),
        ("jido_stopper_reason", [ctypes.c_void_p], ctypes.c_int),
        ("jido_stopper_where", [ctypes.c_void_p], ctypes.c_char_p),
        ("jido_stopper_allocation_failed", [ctypes.c_void_p], ctypes.c_int),
        ("jido_hooked", [state], ctypes.c_int),
        ("jido_install", [state, ctypes.c_void_p], ctypes.c_void_p),
        ("jido_memory_max", [ctypes.c_void_p, ctypes.c_size_t], None),
        ("jido_memory_limit", [ctypes.c_void_p, ctypes.c_int], None),
        ("jido_memory_used", [ctypes.c_void_p], ctypes.c_size_t),
    ):
        function = getattr(lib, name)
        function.argtypes = argtypes
        function.restype = restype
    missing = lib.jido_bind(lupa.lua54.__file__.encode())
    if missing != 0:
        raise NativeLibraryError(f"{LIBRARY} cannot use the Lua of {lupa.lua54.__file__} (code {missing})")
    return lib
