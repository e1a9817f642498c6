"""Install the ``jido`` and ``jido-lua`` kernelspecs.

``python -m jido_kernel install [--user | --sys-prefix | --prefix P] [--kernel K]
[--name N] [--display-name D]`` copies ``kernelspec/jido`` and ``kernelspec/jido-lua``
(shipped inside the package) with the installing interpreter in ``argv``, so the kernel
runs in the environment it was installed from. The wheel also ships the specs as shared
data with a portable ``"python"`` argv.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from jupyter_client.kernelspec import KernelSpecManager

KERNEL_NAME = "jido"
DISPLAY_NAME = "Jido (Python + Lua)"
LUA_KERNEL_NAME = "jido-lua"
LUA_DISPLAY_NAME = "Lua 5.4 (sandboxed)"
DISPLAY_NAMES = {KERNEL_NAME: DISPLAY_NAME, LUA_KERNEL_NAME: LUA_DISPLAY_NAME}
_PACKAGED = {KERNEL_NAME: "kernelspec", LUA_KERNEL_NAME: "kernelspec-lua"}


def spec_source_dir(kernel: str = KERNEL_NAME) -> Path:
    """Directory holding ``kernel.json`` and the logos (in a checkout or an install)."""
    packaged = Path(__file__).parent / "resources" / _PACKAGED[kernel]
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "kernelspec" / kernel


def kernel_json(
    *, kernel: str = KERNEL_NAME, executable: str = sys.executable, display_name: str | None = None
) -> dict[str, object]:
    """The kernel.json content for an install that runs with ``executable``."""
    spec = json.loads((spec_source_dir(kernel) / "kernel.json").read_text(encoding="utf-8"))
    spec["argv"] = [executable, *spec["argv"][1:]]
    spec["display_name"] = display_name or DISPLAY_NAMES[kernel]
    return spec


def write_spec(
    target: Path, *, kernel: str = KERNEL_NAME, executable: str = sys.executable, display_name: str | None = None
) -> Path:
    """Write a complete kernelspec directory (kernel.json and logos) into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for logo in spec_source_dir(kernel).glob("logo-*"):
        shutil.copyfile(logo, target / logo.name)
    spec = kernel_json(kernel=kernel, executable=executable, display_name=display_name)
    (target / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
    return target


def install(
    *,
    user: bool = False,
    prefix: str | None = None,
    kernel: str = KERNEL_NAME,
    name: str | None = None,
    display_name: str | None = None,
    executable: str = sys.executable,
) -> str:
    """Install kernelspec ``kernel`` (as ``name``); return the directory it was installed to."""
    name = name or kernel
    with tempfile.TemporaryDirectory() as tmp:
        source = write_spec(Path(tmp) / name, kernel=kernel, executable=executable, display_name=display_name)
        return KernelSpecManager().install_kernel_spec(str(source), kernel_name=name, user=user, prefix=prefix)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m jido_kernel install",
        description="Install the jido and jido-lua kernelspecs so Jupyter can start the kernels.",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="install for the current user")
    where.add_argument(
        "--sys-prefix",
        action="store_true",
        help=f"install into this Python environment ({sys.prefix})",
    )
    where.add_argument("--prefix", metavar="PREFIX", help="install under PREFIX/share/jupyter")
    parser.add_argument(
        "--kernel",
        choices=sorted(DISPLAY_NAMES),
        help="install only this kernelspec (default: both; jido when --name or --display-name is given)",
    )
    parser.add_argument("--name", help="kernelspec name (default: the kernel's own)")
    parser.add_argument("--display-name", help="name shown in Jupyter (default: the kernel's own)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point of ``python -m jido_kernel install``."""
    args = _parser().parse_args(argv)
    prefix = sys.prefix if args.sys_prefix else args.prefix
    renamed = args.name is not None or args.display_name is not None
    kernels = [args.kernel or KERNEL_NAME] if args.kernel or renamed else list(DISPLAY_NAMES)
    try:
        for kernel in kernels:
            dest = install(kernel=kernel, user=args.user, prefix=prefix, name=args.name, display_name=args.display_name)
            print(f"Installed kernelspec {args.name or kernel!r} in {dest}")
    except PermissionError as error:
        where = error.filename or "the system kernelspec directory"
        print(
            f"Permission denied writing to {where}: "
            "install with --user or --sys-prefix, or run with the rights to write there.",
            file=sys.stderr,
        )
        return 1
    return 0
