"""Entry point. Each `archsim/cli/cmd_*.py` defines `register(subparsers)` that adds one
subcommand and sets `func(args) -> int`. Any ArchsimError becomes one line and exit 2."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from archsim import __version__
from archsim.errors import ArchsimError


class _Parser(argparse.ArgumentParser):
    """argparse's parser with its errors on one line (it prints the whole usage block first);
    subcommand parsers are made of the same class."""

    def error(self, message):
        self.exit(2, f"archsim: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="archsim", description="Cycle-level simulator of LLM-inference hardware.")
    parser.add_argument("--version", action="version", version=f"archsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    import archsim.cli as pkg
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("cmd_"):
            importlib.import_module(f"archsim.cli.{info.name}").register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:       # argparse's --help, --version and usage errors
        return exc.code if isinstance(exc.code, int) else 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ArchsimError as exc:
        print(f"archsim: error: {exc.one_line()}", file=sys.stderr)
        return 2
    except MemoryError:
        # a size no check caught (each component bounds its own): still one line, exit 2
        print("archsim: error: out of memory: the run's sizes need more memory than this "
              "machine has; use smaller sizes", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("archsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (`archsim ... | head`): stop quietly, as Unix tools do; stdout
        # points at devnull so that the interpreter's final flush does not fail again
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
