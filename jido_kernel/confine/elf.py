"""What the kernel must be allowed to execute to start a binary: its ELF program interpreter."""

from __future__ import annotations

import struct

_PT_INTERP = 3


def program_interpreter(path: str) -> str | None:
    """The ``PT_INTERP`` path of an ELF executable (its dynamic loader), else None.

    None for static binaries, scripts and anything unreadable or malformed.
    """
    try:
        with open(path, "rb") as f:
            header = f.read(64)
            if len(header) < 52 or header[:4] != b"\x7fELF" or header[4] not in (1, 2):
                return None
            order = "<" if header[5] == 1 else ">"
            if header[4] == 2:
                (phoff,) = struct.unpack_from(order + "Q", header, 32)
                phentsize, phnum = struct.unpack_from(order + "HH", header, 54)
                entry, offset_at, size_at = order + "IIQQQQQQ", 2, 5
            else:
                (phoff,) = struct.unpack_from(order + "I", header, 28)
                phentsize, phnum = struct.unpack_from(order + "HH", header, 42)
                entry, offset_at, size_at = order + "IIIIIIII", 1, 4
            f.seek(phoff)
            table = f.read(phentsize * phnum)
            for i in range(phnum):
                fields = struct.unpack_from(entry, table, i * phentsize)
                if fields[0] == _PT_INTERP:
                    f.seek(fields[offset_at])
                    return f.read(min(fields[size_at], 4096)).split(b"\0", 1)[0].decode() or None
    except (OSError, struct.error, UnicodeDecodeError):
        return None
    return None
