"""Build hook: compile the sandbox's C library (``jido_kernel/lua/worker/native.c``).

It needs only a C compiler (``$CC``, else ``cc``) and the Lua 5.4 headers in
``native/lua-5.4``; the library takes the Lua API from the installed lupa at run time.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = "jido_kernel/lua/worker/native.c"
LIBRARY = "jido_kernel/lua/worker/libnative.so"
HEADERS = "native/lua-5.4"


class NativeBuildHook(BuildHookInterface):
    """Compiles the library into the package, for wheels and editable installs alike."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        command = [
            *shlex.split(os.environ.get("CC", "cc")),
            "-O2", "-fPIC", "-shared", "-std=c11", "-Wall", "-Wextra",
            "-I", str(root / HEADERS),
            "-o", str(root / LIBRARY),
            str(root / SOURCE),
            "-ldl", "-lpthread",
        ]  # fmt: skip
        try:
            subprocess.run(command, check=True)
        except (OSError, subprocess.CalledProcessError) as error:
            raise RuntimeError(f"building {LIBRARY} needs a C compiler ({shlex.join(command)}): {error}") from error
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
