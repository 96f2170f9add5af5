"""Command line: ``python -m sweep <command> ...`` (also the ``sweep`` console script).

Each command lives in its own module with ``register(subparsers)``, which adds a parser
whose ``func(args) -> int`` runs it. ``main(argv)`` parses an explicit list so tests can
call it directly; expected failures (``SweepError``) become one clean line and exit code 2.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from sweep.errors import SweepError

COMMAND_MODULES = (
    "sweep.cmd_run",
    "sweep.cmd_bench",
    "sweep.cmd_report",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sweep", description="Train tiny MLPs many times over a grid and analyse convergence.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    except KeyboardInterrupt:  # while importing the command modules
        print("\ninterrupted", file=sys.stderr)
        return 130
    try:
        return int(args.func(args) or 0)
    except SweepError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `sweep run ... | head`: the reader left; not an error of ours
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def entrypoint() -> None:
    try:
        code = main(sys.argv[1:])
    except KeyboardInterrupt:  # a second Ctrl-C while the first one's message is printed
        code = 130
    sys.exit(code)
