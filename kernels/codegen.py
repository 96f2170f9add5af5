"""The training kernels: one per static configuration, generated, written to disk, cached.

``specialised_train_blocks(...)`` returns ``train_blocks(data, net, st, runs, curve_epochs,
out)`` (the arrays of ``kernels.bundles``) for one static configuration (architecture, loss,
optimizer, schedule, accuracy rule, number of patterns, dtype, output recording): every
configuration has one. Its plan (``codegen_tuning.plan``: the register schedules, or the memory
schedule for bodies over ``MAX_BODY``) depends on that configuration only, never on the number
of runs, so a run's results never depend on how it was batched. The returned function
runs ranges of blocks (the generated ``train_range``, which releases the GIL) on
``numba.get_num_threads()`` threads.

The source (``kernels.codegen_emit``) goes to ``$MLP_SWEEP_CACHE`` (default
``~/.cache/mlp-sweep/kernels``) under a name that hashes the configuration, the generator's
own source and the Numba version; Numba caches the compiled code in ``__pycache__`` next to
it (``cache=True``). A file is published with an atomic hard link, so concurrent processes
(Dask workers) never see a partial file and never rewrite one another's (rewriting would
change its time stamp and invalidate Numba's cache). Each kernel is imported once per process.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import importlib.util
import os
import sys
import tempfile
import threading
from pathlib import Path

import llvmlite.binding as ll
import numba

from kernels.codegen_emit import FULL, Spec, emit_module
from kernels.codegen_tuning import blocks_per_group, llvm_options, plan, size
from kernels.config import LANES
from kernels.driver import block_driver
from kernels.numba_cache import cache_dir as numba_cache_dir

#: Bump when the generated code changes meaning (the source hash below catches most edits).
GENERATOR_VERSION = 4


_DEPENDENCIES = ("codegen.py", "codegen_emit.py", "codegen_ir.py", "codegen_llvm.py", "codegen_epoch.py", "codegen_tiles.py", "codegen_heldout.py",
                 "codegen_plan.py", "codegen_size.py", "codegen_state.py", "codegen_tuning.py", "codegen_registers.py",
                 "rng.py", "config.py", "isa.py", "bundles.py", "network.py", *(f"ops/{p.name}" for p in sorted(
                     (Path(__file__).parent / "ops").glob("*.py"))))
_lock = threading.Lock()
_options_lock = threading.Lock()
_loaded: dict[Spec, object] = {}


def _source_fingerprint() -> str:
    h = hashlib.sha256()
    here = Path(__file__).parent
    for name in _DEPENDENCIES:
        h.update(name.encode())
        h.update((here / name).read_bytes())
    return h.hexdigest()


_FINGERPRINT = _source_fingerprint()


def cache_dir() -> Path:
    """Where generated kernels live: ``$MLP_SWEEP_CACHE`` or ``~/.cache/mlp-sweep/kernels``."""
    env = os.environ.get("MLP_SWEEP_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "mlp-sweep" / "kernels"


def make_spec(net, st, n_patterns: int, dtype: str, memory: bool = False, n_test: int = 0) -> Spec:
    """The static configuration of a call (``st``: its ``kernels.bundles.Static``), normalised so
    equivalent calls share one kernel; ``memory``: the memory schedule whatever the size (also
    with ``$MLP_SWEEP_SPECIALISE=0``); ``n_test``: the held-out set's patterns."""
    # dense over two hidden levels or more has skips into hidden levels, which only the memory
    # schedule renders; over one it is the shortcut, over none nothing (``network.skip_pairs``)
    dense = net.dense and len(net.sizes) > 3
    shortcut = (net.shortcut or net.dense and len(net.sizes) == 3) and not dense
    memory = memory or dense or os.environ.get("MLP_SWEEP_SPECIALISE", "1") == "0"
    full = st.schedule == FULL
    spec = Spec(
        sizes=tuple(int(s) for s in net.sizes), acts=tuple(int(a) for a in net.layout["acts"]),
        bias=bool(net.bias), shortcut=bool(shortcut), dense=bool(dense), loss=int(st.loss), opt=int(st.opt),
        schedule=int(st.schedule),
        batch_size=int(n_patterns) if full else max(1, min(int(st.batch_size), int(n_patterns))),
        shuffle=bool(st.shuffle) and not full, acc_mode=int(st.acc_mode), n_patterns=int(n_patterns),
        dtype=str(dtype), rec_out=bool(st.rec_out), lanes=LANES, flat=bool(st.flat), decay=bool(st.decay),
        memory=bool(memory), n_test=int(n_test))
    return dataclasses.replace(spec, lanes=LANES * blocks_per_group(spec))


def kernel_name(spec: Spec) -> str:
    """The module name of ``spec``'s kernel: a hash of everything its compiled code depends on,
    its plan (``codegen_tuning.plan``: ISA, configuration or override) included."""
    p = plan(spec)
    layout = (p.width, p.group, *p.loops())
    h = hashlib.sha256(repr((GENERATOR_VERSION, spec, layout, numba.__version__, _FINGERPRINT)).encode())
    return f"mlpk_{h.hexdigest()[:24]}"


def eligible(spec: Spec) -> bool:
    """Whether ``spec`` compiles to a specialised kernel: every configuration with patterns does
    (the memory schedule, ``kernels.codegen_epoch``, holds any size)."""
    return spec.n_patterns >= 1


def specialised_train_blocks(net, st, n_patterns, dtype, memory=False, n_test=0):
    """The ``train_blocks`` generated for this configuration (``memory``: in the memory schedule
    whatever its size, the rendering with every loop kept; ``n_test``: held-out patterns)."""
    spec = make_spec(net, st, n_patterns, dtype, memory, n_test)
    if not eligible(spec):
        raise ValueError("a dataset needs at least one pattern")
    return block_driver(load(spec).train_range, functools.partial(_llvm_options, spec))


@contextlib.contextmanager
def _llvm_options(spec):
    """LLVM's command-line options of ``spec``'s compile (``codegen_tuning.llvm_options``), set
    for its duration. They are process-wide: a compile in another thread meanwhile gets them
    too, which changes its speed, never its results (they only choose a schedule)."""
    opts = llvm_options(spec)
    if not opts:
        yield
        return
    with _options_lock:
        for name, value in opts.items():
            ll.set_option("", f"-{name}={'true' if value else 'false'}")
        try:
            yield
        finally:
            for name, value in opts.items():
                ll.set_option("", f"-{name}={'false' if value else 'true'}")


def load(spec: Spec):
    """The generated module of ``spec`` (generated and written on first use)."""
    mod = _loaded.get(spec)
    if mod is not None:
        return mod
    with _lock:
        mod = _loaded.get(spec)
        if mod is None:
            name = kernel_name(spec)
            path = _publish(name, spec)
            mod = _import(name, path)
            _loaded[spec] = mod
    return mod


def _folders():
    return cache_dir(), Path(tempfile.gettempdir()) / f"mlp-sweep-kernels-{os.getuid()}"


def _existing(name: str):
    for folder in _folders():
        path = folder / f"{name}.py"
        if path.exists():
            return path
    return None


def _publish(name: str, spec: Spec) -> Path:
    """Write the module's source unless it exists (in the cache directory, or in the temporary
    directory when that is not writable); returns its path."""
    path = _existing(name)
    if path is not None:
        return path
    for folder in _folders():
        path = folder / f"{name}.py"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            header = f"# Generated by kernels.codegen (v{GENERATOR_VERSION}); do not edit.\n# {spec!r}\n"
            text = emit_module(spec, plan(spec), header)
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
            try:
                with os.fdopen(fd, "w") as f:
                    f.write(text)
                try:
                    os.link(tmp, path)          # atomic; fails if another process won the race
                except FileExistsError:
                    pass
                except OSError:                 # no hard links here: rename (also atomic)
                    if not path.exists():
                        os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            return path
        except OSError:
            continue
    raise OSError(f"cannot write generated kernels to {cache_dir()} nor to the temporary directory")


def _import(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def cache_state(net, st, n_patterns, dtype, n_test=0) -> dict:
    """Compile-ahead planning, without compiling: ``name`` (configurations with one name share
    one compile), whether its compiled code is already on disk (``cached``: the generated module
    and Numba's index of it exist, or it is loaded in this process), the size of its lane body
    (``instructions``, what its cold compile grows with) and ``kind`` ("specialised": every
    configuration has its own kernel)."""
    spec = make_spec(net, st, n_patterns, dtype, n_test=n_test)
    name = kernel_name(spec)
    path = _existing(name)
    folder = numba_cache_dir(path) if path is not None else None   # where Numba caches it (NUMBA_CACHE_DIR...)
    cached = spec in _loaded or (folder is not None and any(folder.glob(f"{name}.*.nbi")))
    return {"kind": "specialised", "cached": bool(cached), "instructions": int(size(spec)), "name": name}
