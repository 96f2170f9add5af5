"""Compile while training: the next groups' kernels compile in another process.

A grid with several kernel groups used to compile every group's specialised kernel before the
first chunk, so the wait before the first part was the sum of the compiles. ``CompileAhead``
warms the first group the pending chunks need in this process, and meanwhile a spawned helper
process compiles the other groups' cold kernels, in the order the chunks reach them, into the
on-disk kernel cache (``$MLP_SWEEP_CACHE`` and Numba's ``__pycache__`` next to it; both are
written atomically, so the two processes never see a partial file). When the sweep reaches a
later group it waits for the helper to report that group (usually long done) and loads the
kernel from the cache in a few tens of milliseconds; if the helper has not started that group
yet, the sweep claims it (a shared array of claims, under its lock) and compiles it itself while
the helper goes on with the next one. The wait before the first part is one compile. The helper
ends with the sweep, even one killed by ``kill -9`` (:func:`die_with_parent`).

Why a process and not a thread: Numba's compiler runs much of a compile (typing, lowering) in
Python, holding the GIL; a compile thread then delays every GIL-holding step of the training
thread (each chunk's columns, initial weights, Arrow tables) by up to a switch interval, so the
first part came 2-3 times later than the compile alone would explain (measured in
docs/specialised-kernels.md, "Compile while training"). The helper shares the CPU, not the GIL.

``expected_compile(plans)`` gives ``--dry-run`` the expected compile time per group, cold or
cached, without compiling anything.
"""
from __future__ import annotations

import multiprocessing
import time

from sweep.run.warmup import WarmReport, uses_init_kernel, warm_group, warm_groups

#: Cold compile time of a specialised kernel ~ A + B * (LLVM instructions of its lane body),
#: on one core of the shared 2-core machine (docs/specialised-kernels.md); cached loads
#: take about CACHED_S. The initial weights' kernel compiles once after an install (or into an
#: empty NUMBA_CACHE_DIR): measured on a 2-core Zen 3, 2.5 s.
COLD_BASE_S = 1.0
COLD_PER_INSTR_S = 4.5e-4
CACHED_S = 0.05
INIT_COLD_S = 2.5


def group_order(chunks) -> list[int]:
    """Plan indices in the order the chunks first need them."""
    seen: dict[int, None] = {}
    for c in chunks:
        seen.setdefault(c.group, None)
    return list(seen)


#: States of a group in the shared claim array: nobody has started it, the helper compiles it,
#: the sweep compiles it itself (it reached the group before the helper did).
FREE, HELPER, SWEEP = 0, 1, 2


def die_with_parent(parent_pid: int) -> None:
    """End this process as soon as ``parent_pid`` (the sweep) does, even by ``kill -9``: a helper
    that outlived it would go on compiling for tens of seconds. Linux: the kernel sends SIGKILL on
    the parent's death (``prctl(PR_SET_PDEATHSIG)``); elsewhere a daemon thread watches the parent pid.
    Either way, a parent already gone before this call (reparented child) ends the process now.
    (Linux sends the signal when the *thread* that started the helper ends: ``run_sweep``'s thread,
    which closes the helper before it returns anyway.)"""
    import os
    import sys

    armed = False
    if sys.platform.startswith("linux"):
        import ctypes
        try:
            armed = ctypes.CDLL(None, use_errno=True).prctl(1, 9, 0, 0, 0) == 0   # PR_SET_PDEATHSIG, SIGKILL
        except (OSError, AttributeError):
            armed = False
    if os.getppid() != parent_pid:
        os._exit(0)
    if not armed:
        import threading

        def watch() -> None:
            while os.getppid() == parent_pid:
                time.sleep(1.0)
            os._exit(0)
        threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def _helper_main(plans: dict, order: list, claims, conn, parent_pid: int | None = None, warm=warm_group) -> None:
    """The helper process: warm each group nobody claimed yet (filling the on-disk caches) and
    report it; it ends with the sweep (:func:`die_with_parent`)."""
    if parent_pid is not None:
        die_with_parent(parent_pid)
    for i in order:
        with claims.get_lock():
            if claims[i] != FREE:
                continue
            claims[i] = HELPER
        try:
            conn.send((i, warm(plans[i]), None))
        except Exception as exc:  # noqa: BLE001 - reported; the sweep's own call will raise it
            conn.send((i, 0.0, f"group {i}: {type(exc).__name__}: {exc}"))
    conn.close()


class CompileAhead:
    """``start``: warm the first group here and start the helper for the other cold groups;
    ``wait(group)``: before a group's first chunk, block until the helper has compiled it, or
    claim it if the helper has not started it (the sweep then compiles it in parallel with the
    helper's next one); ``close``: stop the helper. ``background=False`` warms every group here, in order
    (the behaviour before compile-ahead)."""

    def __init__(self, plans, chunks, background: bool = True, stream=None):
        self.plans = plans
        self.stream = stream   # where to say what compiles here (None: say nothing)
        self.order = group_order(chunks)
        self.background = background
        self.report = WarmReport()
        self.sync_s = 0.0      # seconds the caller waited in start()
        self.waited_s = 0.0    # seconds the caller waited in wait()
        self.ahead_s = 0.0     # seconds the helper spent compiling
        self._pending: set[int] = set()
        self._proc = None
        self._conn = None
        self._claims = None

    def start(self) -> "CompileAhead":
        t0 = time.perf_counter()
        first, rest = self.order[:1], self.order[1:]
        if not self.background:
            self._warm_here(self.order)
            self.sync_s = time.perf_counter() - t0
            return self
        cold = [i for i in rest if _is_cold(self.plans[i])]
        if cold:
            try:
                self._spawn(cold)
            except (OSError, RuntimeError, ValueError):  # no helper: each group compiles when reached
                self._pending.clear()
        self._warm_here(first)
        self.sync_s = time.perf_counter() - t0
        return self

    def _warm_here(self, order: list[int]) -> None:
        """Warm ``order`` in this process; a cold kernel gets one line on ``stream`` while it
        compiles (seconds of a blank terminal otherwise): ``compiling the specialised kernel for
        2-2-1 sigmoid, sgd, full batch (float64)... 7.9 s``."""
        for i in order:
            what = compiling_text(self.plans[i]) if self.stream is not None else None
            if what:
                print(f"{what}... ", end="", file=self.stream, flush=True)
            rep = warm_groups(self.plans, [i])
            if what:
                print(f"{rep.seconds[i]:.1f} s" if i in rep.seconds else "failed", file=self.stream, flush=True)
            self._merge(rep)

    def _spawn(self, order: list[int], warm=None) -> None:
        """Start the helper (``warm``: :func:`warm_group`, or a test's stand-in)."""
        import os
        ctx = multiprocessing.get_context("spawn")  # a fresh interpreter: no forked threads or locks
        self._conn, child = ctx.Pipe(duplex=False)
        self._claims = ctx.Array("b", len(self.plans))
        self._proc = ctx.Process(target=_helper_main, daemon=True, name="mlp-sweep-compile-ahead",
                                 args=({i: self.plans[i] for i in order}, order, self._claims, child, os.getpid(),
                                       warm or warm_group))
        self._proc.start()
        child.close()
        self._pending = set(order)

    def wait(self, group: int) -> None:
        """Return once ``group``'s kernels are compiled (or the helper gave up on them), or at once
        if the helper has not started them: then the sweep compiles them itself, in parallel with
        the helper's next group."""
        if group not in self._pending:
            return
        with self._claims.get_lock():
            if self._claims[group] == FREE:
                self._claims[group] = SWEEP
                self._pending.discard(group)
                return
        t0 = time.perf_counter()
        while group in self._pending:
            try:
                i, seconds, error = self._conn.recv()
            except (EOFError, OSError):  # the helper is gone: the sweep compiles what is left
                self._pending.clear()
                break
            self._pending.discard(i)
            self.report.seconds[i] = seconds
            self.ahead_s += seconds
            if error:
                self.report.errors.append(error)
        self.waited_s += time.perf_counter() - t0

    def _merge(self, rep: WarmReport) -> None:
        self.report.seconds.update(rep.seconds)
        self.report.errors.extend(rep.errors)

    def close(self) -> None:
        """Stop the helper (its cache files are written atomically, so stopping it anywhere is safe)."""
        if self._proc is not None:
            if self._proc.is_alive():
                self._proc.terminate()
            self._proc.join(10)
            self._conn.close()
            self._proc = self._conn = None
        self._pending.clear()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


def _is_cold(plan) -> bool:
    """Whether the helper should compile ``plan``'s kernel: a cold one."""
    try:
        info = kernel_info(plan)
    except Exception:  # noqa: BLE001 - a bad group fails in its own chunks
        return False
    return not info["cached"]


def compiling_text(plan) -> str | None:
    """``compiling the specialised kernel for 2-2-1 sigmoid, sgd, full batch (float64)``, or None
    when ``plan``'s kernels are cached (a load of well under a second: nothing to say)."""
    try:
        info = kernel_info(plan)
        cold_init = uses_init_kernel(plan) and init_cold()
    except Exception:  # noqa: BLE001 - a bad group fails in its own chunks
        return None
    if info["cached"] and not cold_init:
        return None
    cfg = plan.config
    acts = cfg.get("model.activation")
    acts = "/".join(acts) if isinstance(acts, list) else acts
    net = "-".join(str(n) for n in plan.network.sizes)
    schedule = {"full": "full batch", "online": "online"}.get(cfg.get("train.schedule"),
                                                              f"minibatch {cfg.get('train.batch_size')}")
    what = f"the {info['kind']} kernel" if not info["cached"] else "the initial weights' kernel"
    return (f"compiling {what} for {net} {acts if len(plan.network.sizes) > 2 else ''}".rstrip()
            + f", {cfg.get('train.optimizer')}, {schedule} ({cfg.get('train.dtype')})")


def kernel_info(plan) -> dict:
    """What loading ``plan``'s training kernel costs: ``cached`` (compiled code on disk),
    ``instructions``, ``expected_s`` and ``name`` (``kernels.codegen.cache_state``)."""
    from kernels import call_static
    from kernels.codegen import cache_state

    net, opts = plan.network, plan.options
    st = call_static(net, opts, plan.X, plan.T)
    info = cache_state(net, st, plan.X.shape[0], opts.dtype, n_test=0 if plan.X_test is None else plan.X_test.shape[0])
    info["expected_s"] = CACHED_S if info["cached"] else COLD_BASE_S + COLD_PER_INSTR_S * info["instructions"]
    return info


def init_cold() -> bool:
    """Whether the initial weights' kernel (``kernels.init.init_runs``) would compile cold."""
    from kernels.init import init_runs
    from kernels.numba_cache import is_cached
    return not is_cached(init_runs)


def expected_compile(plans, chunks=None) -> dict:
    """Expected compile/load seconds: per group (a kernel another group already compiles counts
    as a load), the total, the wait before the first part with compile-ahead (the first group's,
    plus the initial weights' kernel if that is cold: ``init_s``) and the later groups compiled
    ahead (``ahead``)."""
    order = group_order(chunks) if chunks is not None else list(range(len(plans)))
    per, seen = {}, set()
    for i in order:
        info = kernel_info(plans[i])
        if info["name"] in seen and not info["cached"]:
            info.update(cached=True, expected_s=CACHED_S, shared=True)
        seen.add(info["name"])
        per[i] = info
    init_s = INIT_COLD_S if any(uses_init_kernel(plans[i]) for i in order) and init_cold() else 0.0
    total = sum(v["expected_s"] for v in per.values()) + init_s
    first = per[order[0]]["expected_s"] + init_s if order else 0.0
    rest = [per[i] for i in order[1:] if not per[i]["cached"]]
    return {"groups": per, "total_s": total, "first_s": first, "init_s": init_s,
            "cold": sum(1 for v in per.values() if not v["cached"]),
            "ahead": len(rest)}


