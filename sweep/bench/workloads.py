"""The rows of ``sweep bench`` (``sweep.bench.suite``): each a task, an architecture, a schedule
and the sizes each side trains, and the thread-scaling rows."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Workload:
    """One table row: a task, an architecture and a schedule, with full-mode sizes
    ``(n_runs, epochs)`` for the kernels and for each reference. ``activation`` is the hidden
    units' (the output is always a sigmoid); ``batch_size`` is the minibatch schedule's."""

    key: str
    label: str
    task: tuple  # (("task.name", "xor"), ...): sweep.grid.tasks.make_task's config
    hidden: tuple[int, ...]
    schedule: str = "full"
    dtype: str = "float64"
    lr: float = 0.5
    kernel: tuple[int, int] = (10_000, 2_000)
    numpy: tuple[int, int] = (1_000, 1_000)
    jax: tuple[int, int] = (1_000, 5_000)
    activation: str = "sigmoid"
    batch_size: int = 1


XOR = (("task.name", "xor"),)
PARITY4 = (("task.name", "parity"), ("task.bits", 4))
ENCODER8 = (("task.name", "encoder"), ("task.size", 8))
SPIRALS = (("task.name", "spirals"), ("task.density", 1), ("task.noise", 0.0))        # 194 patterns
MOONS1000 = (("task.name", "moons"), ("task.n_train", 1000))                          # 1,000 patterns
TEACHER50 = (("task.name", "teacher"), ("task.n_inputs", 50))                         # 200 patterns

WORKLOADS = (
    Workload("xor_2_2_1_full", "XOR 2-2-1, full batch", XOR, (2,), "full",
             kernel=(10_000, 2_000), numpy=(1_000, 1_000), jax=(1_000, 5_000)),
    Workload("xor_2_2_1_full_f32", "XOR 2-2-1, full batch, float32", XOR, (2,), "full", "float32",
             kernel=(10_000, 8_000), numpy=(1_000, 1_000), jax=(1_000, 10_000)),
    Workload("xor_2_2_1_online", "XOR 2-2-1, online", XOR, (2,), "online",
             kernel=(10_000, 2_000), numpy=(1_000, 1_000), jax=(1_000, 5_000)),
    Workload("xor_2_16_1_full", "XOR 2-16-1, full batch", XOR, (16,), "full",
             kernel=(10_000, 1_000), numpy=(1_000, 500), jax=(1_000, 1_000)),
    Workload("xor_2_16_1_online", "XOR 2-16-1, online", XOR, (16,), "online",
             kernel=(4_000, 1_000), numpy=(1_000, 200), jax=(1_000, 300)),
    Workload("xor_2_64_1_full", "XOR 2-64-1, full batch", XOR, (64,), "full",
             kernel=(2_000, 500), numpy=(1_000, 200), jax=(1_000, 200)),
    Workload("xor_2_64_1_online", "XOR 2-64-1, online", XOR, (64,), "online",
             kernel=(2_000, 300), numpy=(1_000, 50), jax=(1_000, 100)),
    Workload("parity4_4_4_1_full", "4-bit parity 4-4-1, full batch", PARITY4, (4,), "full",
             kernel=(4_000, 1_000), numpy=(1_000, 300), jax=(1_000, 2_000)),
    Workload("encoder_8_3_8_full", "8-3-8 encoder, full batch, one-hot targets", ENCODER8, (3,), "full",
             kernel=(4_000, 1_000), numpy=(1_000, 600), jax=(1_000, 1_000)),
    # the memory schedule (kernels/codegen_epoch.py): what the generic kernel ran before
    Workload("xor_2_40_40_40_1_online", "XOR 2-40-40-40-1, online", XOR, (40, 40, 40), "online",
             kernel=(1_000, 200), numpy=(1_000, 10), jax=(1_000, 30)),
    Workload("parity4_4_64_64_1_full", "4-bit parity 4-64-64-1, full batch", PARITY4, (64, 64), "full",
             kernel=(1_000, 200), numpy=(1_000, 30), jax=(1_000, 60)),
    # generated datasets of hundreds of patterns (issue 27 item 5), all on the memory schedule
    Workload("spirals_2_20_20_1_full", "two spirals (194 patterns) 2-20-20-1 tanh, full batch", SPIRALS,
             (20, 20), "full", kernel=(1_000, 40), numpy=(1_000, 5), jax=(1_000, 10),
             activation="tanh"),
    Workload("moons1000_2_32_1_mb32", "moons (1,000 patterns) 2-32-1, minibatch 32", MOONS1000, (32,),
             "minibatch", kernel=(1_000, 15), numpy=(1_000, 2), jax=(1_000, 3), batch_size=32),
    Workload("teacher50_50_4_1_online", "teacher (200 patterns) 50-4-1, online", TEACHER50, (4,), "online",
             kernel=(1_000, 40), numpy=(1_000, 3), jax=(1_000, 3)),
)

#: thread scaling 1 -> N on these (full batch): (key, label, hidden, (n_runs, epochs))
SCALING = (
    ("threads_xor_2_2_1", "Thread scaling, XOR 2-2-1", (2,), (10_000, 2_000)),
    ("threads_xor_2_16_1", "Thread scaling, XOR 2-16-1", (16,), (4_000, 1_000)),
)


def scaled(size: tuple[int, int], mode: str, ref: bool = False) -> tuple[int, int]:
    """Full-mode ``(n_runs, epochs)`` shrunk for --quick / --tiny."""
    n, ep = size
    if mode == "quick":
        return (max(256, n // 2), max(5, ep // 5)) if ref else (max(256, n // 2), max(10, ep // 4))
    if mode == "tiny":
        return (16, 2) if ref else (48, 3)
    return n, ep
