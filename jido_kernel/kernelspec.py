"""Install the ``jido`` kernelspec.

``python -m jido_kernel install [--user | --sys-prefix | --prefix P] [--name N]
[--display-name D]`` copies ``kernelspec/jido`` (shipped inside the package) with the
installing interpreter in ``argv``, so the kernel runs in the environment it was
installed from. The wheel also ships the spec as shared data with a portable
``"python"`` argv.
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


def spec_source_dir() -> Path:
    """Directory holding ``kernel.json`` and the logos (in a checkout or an install)."""
    packaged = Path(__file__).parent / "resources" / "kernelspec"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "kernelspec" / KERNEL_NAME


def kernel_json(*, executable: str = sys.executable, display_name: str = DISPLAY_NAME) -> dict[str, object]:
    """The kernel.json content for an install that runs with ``executable``."""
    spec = json.loads((spec_source_dir() / "kernel.json").read_text(encoding="utf-8"))
    spec["argv"] = [executable, *spec["argv"][1:]]
    spec["display_name"] = display_name
    return spec


def write_spec(target: Path, *, executable: str = sys.executable, display_name: str = DISPLAY_NAME) -> Path:
    """Write a complete kernelspec directory (kernel.json and logos) into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for logo in spec_source_dir().glob("logo-*"):
        shutil.copyfile(logo, target / logo.name)
    spec = kernel_json(executable=executable, display_name=display_name)
    (target / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
    return target


def install(
    *,
    user: bool = False,
    prefix: str | None = None,
    name: str = KERNEL_NAME,
    display_name: str = DISPLAY_NAME,
    executable: str = sys.executable,
) -> str:
    """Install the kernelspec; return the directory it was installed to."""
    with tempfile.TemporaryDirectory() as tmp:
        source = write_spec(Path(tmp) / name, executable=executable, display_name=display_name)
        return KernelSpecManager().install_kernel_spec(str(source), kernel_name=name, user=user, prefix=prefix)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m jido_kernel install",
        description="Install the jido kernelspec so Jupyter can start the kernel.",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="install for the current user")
    where.add_argument(
        "--sys-prefix",
        action="store_true",
        help=f"install into this Python environment ({sys.prefix})",
    )
    where.add_argument("--prefix", metavar="PREFIX", help="install under PREFIX/share/jupyter")
    parser.add_argument("--name", default=KERNEL_NAME, help="kernelspec name (default: %(default)s)")
    parser.add_argument("--display-name", default=DISPLAY_NAME, help="name shown in Jupyter (default: %(default)s)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point of ``python -m jido_kernel install``."""
    args = _parser().parse_args(argv)
    prefix = sys.prefix if args.sys_prefix else args.prefix
    try:
        dest = install(user=args.user, prefix=prefix, name=args.name, display_name=args.display_name)
    except PermissionError as error:
        where = error.filename or "the system kernelspec directory"
        print(
            f"Permission denied writing to {where}: "
            "install with --user or --sys-prefix, or run with the rights to write there.",
            file=sys.stderr,
        )
        return 1
    print(f"Installed kernelspec {args.name!r} in {dest}")
    return 0
