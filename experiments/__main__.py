"""Regenerate every shipped findings document, report and figure, or check that they are current.

    python -m experiments regenerate                 # every study, full size, into experiments/
    python -m experiments regenerate fahlman1988     # one study (names: python -m experiments list)
    python -m experiments regenerate --quick         # every study at 20 seeds a cell, into a temporary
                                                     # folder: a check that every script still runs
    python -m experiments check                      # exit 1 if a shipped document was made by other
                                                     # report code or other numerics than today's

Each study script runs its grid with the tool (resuming ``--runs``/NAME), reads the runs back and
writes every number of its document (``experiments/_study.py``). A document ends with the
fingerprint of the code that made it (its script, ``experiments/_*.py`` and ``results/*.py``) and
the numerics version of the runs, which ``check`` (and ``tests/test_studies.py``) compares with
today's.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import _study as S  # noqa: E402

#: study name -> (its script, the documents it writes); its sweep goes to RUNS/NAME (RUNS/OUT_NAME)
STUDIES = {
    "xor169": ("xor169_study.py", ("xor-169.md", "xor-169_report/report.md")),
    "xor169_sequential": ("xor169_sequential.py", ("xor-169-sequential.md",)),
    "rhw1986": ("rhw1986_study.py", ("rhw1986.md",)),
    "kolen_pollack1990": ("kolen_pollack1990_study.py", ("kolen_pollack1990.md",)),
    "schmidhuber_guessing": ("schmidhuber_guessing_study.py", ("schmidhuber_guessing.md",)),
    "fahlman1988": ("fahlman1988_study.py", ("fahlman1988.md",)),
    "spirals": ("spirals_study.py", ("spirals.md",)),
    "moons_generalisation": ("moons_generalisation_study.py", ("moons_generalisation.md",)),
}
QUICK_SEEDS = 20
OUT_NAME = {"xor169": "xor-169", "xor169_sequential": "xor-169-sequential"}


def stale(docs_dir: Path = HERE) -> list[str]:
    """The documents under ``docs_dir`` whose recorded report code or numerics version is not
    today's (a missing record counts as stale), each with the reason."""
    from kernels.config import NUMERICS_VERSION

    out = []
    for name, (script, docs) in STUDIES.items():
        want = S.code_fingerprint(script)
        for doc in docs:
            path = docs_dir / doc
            found = S.FINGERPRINT_RE.findall(path.read_text()) if path.exists() else []
            if not found:
                out.append(f"{doc}: no record of the code that made it (regenerate {name})")
                continue
            code, numerics = found[-1]
            if code != want:
                out.append(f"{doc}: made by report code {code}, today's is {want} (regenerate {name})")
            elif int(numerics) != NUMERICS_VERSION:
                out.append(f"{doc}: runs of numerics version {numerics}, today's is {NUMERICS_VERSION} "
                           f"(regenerate {name} into a new --runs folder)")
    return out


def regenerate(names, runs: str, quick: bool) -> int:
    docs = None
    if quick:
        docs = tempfile.mkdtemp(prefix="mlp-sweep-quick-docs-")
        os.environ[S.QUICK_SEEDS_ENV] = str(QUICK_SEEDS)
        os.environ[S.DOCS_ENV] = docs
    for name in names:
        script, _ = STUDIES[name]
        module = importlib.import_module(Path(script).stem)
        out = f"{runs}/{OUT_NAME.get(name, name)}"
        print(f"== {name}: experiments/{script} --out {out}", flush=True)
        code = module.main(["--out", out])
        if code:
            print(f"error: {name} failed (exit {code})", file=sys.stderr)
            return code
    if docs:
        print(f"quick documents (not the shipped ones) are in {docs}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m experiments", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    reg = sub.add_parser("regenerate", help="run the studies and rewrite their documents")
    reg.add_argument("names", nargs="*", metavar="NAME", help=f"studies (default: all): {', '.join(STUDIES)}")
    reg.add_argument("--runs", default=None, help="folder of the studies' sweeps (default: runs/, "
                                                  "or a temporary folder with --quick)")
    reg.add_argument("--quick", action="store_true",
                     help=f"{QUICK_SEEDS} seeds a cell, documents into a temporary folder")
    sub.add_parser("check", help="exit 1 if a shipped document is older than today's code")
    sub.add_parser("list", help="the studies and their documents")
    args = ap.parse_args(argv)
    if args.command == "list":
        for name, (script, docs) in STUDIES.items():
            print(f"{name:22} experiments/{script:32} {', '.join(docs)}")
        return 0
    if args.command == "check":
        problems = stale()
        for p in problems:
            print(p)
        print("every shipped document is current" if not problems else
              f"{len(problems)} stale: python -m experiments regenerate NAME ...")
        return 1 if problems else 0
    unknown = [n for n in args.names if n not in STUDIES]
    if unknown:
        print(f"error: no study {', '.join(unknown)}; the studies are {', '.join(STUDIES)}", file=sys.stderr)
        return 2
    runs = args.runs or (tempfile.mkdtemp(prefix="mlp-sweep-quick-runs-") if args.quick else "runs")
    return regenerate(args.names or list(STUDIES), runs, args.quick)


if __name__ == "__main__":
    sys.exit(main())
