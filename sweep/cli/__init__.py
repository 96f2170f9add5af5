"""Command line: ``python -m sweep <command> ...`` (also the ``sweep`` console script).

Each command lives in its own module with ``register(subparsers)``, which adds a parser
whose ``func(args) -> int`` runs it. ``main(argv)`` parses an explicit list so tests can
call it directly; expected failures (``SweepError``) become one clean line and exit code 2.
Commands that set ``accepts_overrides`` take Hydra-style ``KEY=VALUE`` words; an unknown
flag gets "did you mean" (``sweep.grid.overrides``).
"""
from __future__ import annotations

import argparse
import difflib
import importlib
import sys

from sweep.errors import SweepError

COMMAND_MODULES = (
    "sweep.cli.run",
    "sweep.cli.bench",
    "sweep.cli.report",
    "sweep.cli.ls",
    "sweep.cli.info",
    "sweep.cli.compare",
)


def version_text() -> str:
    """``mlp-sweep X (python Y, numpy Z, numba W, pyarrow V)`` without importing the heavy packages."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from sweep import __version__
    deps = []
    for name in ("numpy", "numba", "pyarrow", "pandas", "scipy"):
        try:
            deps.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            deps.append(f"{name} missing")
    return f"mlp-sweep {__version__} (python {platform.python_version()}, {', '.join(deps)})"


class _Version(argparse.Action):
    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, help="print the version (and its main dependencies) and exit")

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_text())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sweep", description="Train tiny MLPs many times over a grid and analyse convergence.")
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from sweep.__main__ import raise_if_interrupted
    try:
        parser = build_parser()
        args, extra = parser.parse_known_args(argv)
        raise_if_interrupted()   # a Ctrl-C during the command modules' imports that a fallback swallowed
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    except KeyboardInterrupt:  # while importing the command modules
        print("\ninterrupted", file=sys.stderr)
        return 130
    if extra:
        code = _extra_words(parser, args, extra)
        if code:
            return code
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


def _extra_words(parser: argparse.ArgumentParser, args, extra: list[str]) -> int:
    """Hydra-style overrides into ``args.overrides``; anything else is a usage error with a hint."""
    from sweep.grid.overrides import split_words

    overrides, rest = split_words(extra) if getattr(args, "accepts_overrides", False) else ([], extra)
    if rest:
        sub = parser._subparsers._group_actions[0].choices.get(args.command) if args.command else parser
        flags = [o for a in sub._actions for o in a.option_strings]
        hints = []
        for word in rest:
            close = difflib.get_close_matches(word.split("=")[0], flags, n=1, cutoff=0.6) if word.startswith("-") else []
            hints.append(f"{word} (did you mean {close[0]}?)" if close else word)
        tip = "; overrides are KEY=VALUE" if getattr(args, "accepts_overrides", False) else ""
        print(f"{sub.format_usage().rstrip()}\n{sub.prog}: error: unrecognized arguments: "
              f"{', '.join(hints)}{tip}", file=sys.stderr)
        return 2
    args.overrides = list(getattr(args, "overrides", [])) + overrides
    args.override_words = overrides      # typed without --set: messages name them so
    return 0


def entrypoint() -> None:
    from sweep.__main__ import exit_interrupted, sigint_received
    try:
        code = main(sys.argv[1:])
    except KeyboardInterrupt:  # a second Ctrl-C while the first one's message is printed
        code = 130
    except Exception:
        if not sigint_received():   # e.g. ImportError: an extension's initialisation interrupted
            raise
        print("\ninterrupted", file=sys.stderr)
        code = 130
    if code != 130 and sigint_received():   # a Ctrl-C swallowed where no check saw it: still 130
        if code != 2:                        # (2: an error's one line already ended it)
            print("\ninterrupted", file=sys.stderr)
        code = 130
    exit_interrupted(code)
