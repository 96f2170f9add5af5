"""The machine description and the Markdown table of ``sweep bench`` (see ``sweep.bench.suite``)."""
from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine_info() -> dict:
    import numba

    import kernels
    from sweep import __version__
    from sweep.bench.refs import jax_version

    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet
        layer = None
    try:
        load = os.getloadavg()[0]
    except (OSError, AttributeError):
        load = None
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "numba_threads": numba.get_num_threads(),
            "numba_max_threads": numba.config.NUMBA_NUM_THREADS, "threading_layer": layer,
            "lanes": kernels.LANES, "os": platform.platform(terse=True), "load_avg_1min": load,
            "versions": {"mlp_sweep": __version__, "python": platform.python_version(),
                         "numpy": np.__version__, "numba": numba.__version__, "jax": jax_version()}}


# ----------------------------------------------------------------------------------------------
# the table
# ----------------------------------------------------------------------------------------------
def fmt_rate(x: float | None) -> str:
    if x is None or not np.isfinite(x):
        return "—"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= scale:
            return f"{x / scale:.3g} {unit}"
    return f"{x:.3g}"


def fmt_ratio(a, b) -> str:
    return f"{a / b:.2f}×" if a and b else "—"


def _size(fig: dict | None) -> str:
    return f"{fig['n_runs']:,}×{fig['epochs']:,}" if fig else "—"


def _pipes(lm: dict) -> str:
    adds = lm.get("add_pipes", 0)
    pipes = f"{lm['fma_pipes']} FMA + {adds} FADD pipes" if adds else f"{lm['fma_pipes']} FMA pipes"
    rate = lm.get("fp_rate", {}).get("float64")
    return f"{rate:.2f} measured vector ops per cycle (at most {pipes})" if rate else pipes


def markdown(report: dict) -> str:
    m = report["machine"]
    v = m["versions"]
    jax_v = v["jax"] or "not installed (`pip install mlp-sweep[bench]`)"
    load = report.get("load_avg_1min") or {}
    lm = m.get("limit_model")
    isa_line = (f"**ISA**: {lm['isa_text']}; measured clock {lm['clock_hz'] / 1e9:.2f} GHz; the kernels' vectorised"
                f" sigmoid {lm['sigmoid_cycles']['float64']:.2f} (float64) / {lm['sigmoid_cycles']['float32']:.2f}"
                f" (float32) cycles per lane (at its cheapest width)"
                + (f", tanh {lm['tanh_cycles']['float64']:.2f} / {lm['tanh_cycles']['float32']:.2f}"
                   if "tanh_cycles" in lm else "")
                + f"; limit = threads × clock / (sigmoids × those cycles + other flops /"
                f" ({lm['doubles_per_register']} doubles × {_pipes(lm)})) per network-epoch"
                f" (sweep/bench/limit.py)") if lm else "**ISA**: not measured"
    lines = [
        isa_line,
        f"**Machine**: {m['cpu']}, {m['cores']} cores; Numba {m['numba_threads']} thread(s)"
        f" (layer {m['threading_layer'] or '?'}), LANES = {m['lanes']}; {m['os']}",
        f"**Versions**: mlp-sweep {v['mlp_sweep']}, Python {v['python']}, NumPy {v['numpy']},"
        f" Numba {v['numba']}, JAX {jax_v}",
        f"**Method**: `sweep bench{report['flags']}`, best of {report['repeats']} repeat(s);"
        f" throughput in network-epochs/s (runs × epochs / s), sizes as runs×epochs;"
        f" sigmoid MLPs (tanh hidden units where a row says so), mse, plain SGD, lr 0.5, float64 unless noted; ratio = mlp-sweep / reference."
        f" NumPy runs on one thread. 1-min load average {load.get('start', '?')} → {load.get('end', '?')}.",
        "",
        "| Workload | mlp-sweep | NumPy vectorised | ratio | JAX | ratio | limit (est.) | of limit | notes |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for key, r in report["workloads"].items():
        kind = r["kind"]
        if kind == "throughput":
            k, n, j = r["kernel"], r["numpy"], r.get("jax")
            kr = k["network_epochs_per_s"]
            nr = n["network_epochs_per_s"]
            jr = j["network_epochs_per_s"] if j else None
            notes = f"mlp-sweep {_size(k)}; NumPy {_size(n)}" + (f"; JAX {_size(j)}" if j else "")
            lim = r.get("limit")
            share = f"{100 * kr / lim:.0f}%" if lim else "—"
            lines.append(f"| {r['label']} | {fmt_rate(kr)} | {fmt_rate(nr)} | {fmt_ratio(kr, nr)} | "
                         f"{fmt_rate(jr)} | {fmt_ratio(kr, jr) if jr else '—'} | {fmt_rate(lim)} | {share} | {notes} |")
        elif kind == "scaling":
            if r.get("skipped"):
                lines.append(f"| {r['label']} | — | — | — | — | — | — | — | skipped: {r['skipped']} |")
                continue
            lo, hi = r["threads"]
            rates = r["network_epochs_per_s"]
            lines.append(f"| {r['label']}, {lo} → {hi} threads | {r['speedup']:.2f}× | — | — | — | — | — | — | "
                         f"{fmt_rate(rates[0])} → {fmt_rate(rates[1])} network-epochs/s, "
                         f"{r['n_runs']:,}×{r['epochs']:,} |")
        elif kind == "seconds":
            if r.get("skipped"):
                lines.append(f"| {r['label']} | — | — | — | — | — | — | — | skipped: {r['skipped']} |")
                continue
            lines.append(f"| {r['label']} | {r['seconds']:.2f} s | — | — | — | — | — | — | {r['notes']} |")
        elif kind == "sweep":
            lines.append(
                f"| {r['label']} | {fmt_rate(r['network_epochs_per_s'])} | — | — | — | — | — | — | "
                f"{r['n_runs']:,} runs × {r['epochs']:,} epochs: {r['runs_per_s']:,.0f} runs/s, "
                f"{r['wall_s']:.1f} s wall ({r['warm_s']:.2f} s kernel load), {100 * r['outside_kernels_share']:.1f}% of it "
                f"outside the kernels and their load |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# main
# ----------------------------------------------------------------------------------------------


def load_average():
    """The 1-minute load average (None where the OS has none): a benchmark says how busy it was."""
    import os
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def json_default(o):
    """``json.dumps`` of numpy values in a benchmark report."""
    import numpy as np
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
