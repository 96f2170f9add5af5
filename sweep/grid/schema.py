"""The grid-file vocabulary: every configurable key, its type, default and allowed values.

This table is the one contract shared by grid parsing (``sweep.grid.load``), the runner
(``sweep.run.runner``) and the Parquet schema (``results.schema``). Each key is a dotted
path ``section.name``; every run carries a value for every key (``None`` where the key
does not apply to that run, e.g. ``train.momentum`` under plain SGD), and each key
becomes one Parquet column of the same name.

``role`` says how a key reaches the kernels:

- ``"group"``: changes the kernel's shapes, code path or shared data. Runs that differ
  in it go to different kernel calls.
- ``"lane"``: a per-run scalar; runs that differ only in lane keys share a call.
- ``"init"``: used only to draw the initial parameters.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kernels.bundles import SCHEDULES
from kernels.init import INIT_SCHEMES
from kernels.ops import ACTIVATIONS as _ACT, HYPER, LOSSES as _LOSS, MILESTONES as _MS, OPTIMIZERS as _OPT
from kernels.ops import RPROP_VARIANTS as _RPROP

# Allowed values come from the kernels' op registries (kernels.ops): one list per op family.
ACTIVATIONS = _ACT.names()
LOSSES = _LOSS.names()
#: ``rprop`` is one grid choice; its variant (train.rprop_variant) picks the kernel op.
OPTIMIZERS = tuple(n for n in _OPT.names() if n not in _RPROP) + ("rprop",)
RPROP_VARIANTS = tuple(_RPROP)
#: Grid optimizer choice -> the kernel ops it may select (``rprop``: one per variant).
OPTIMIZER_OPS = {name: tuple(_RPROP) if name == "rprop" else (name,) for name in OPTIMIZERS}
#: Grid optimizer choice -> the hyper-parameters its ops declare (``hyper``), in declaration order.
OPTIMIZER_HYPER = {name: tuple(dict.fromkeys(h for op in ops for h in _OPT[op].hyper))
                   for name, ops in OPTIMIZER_OPS.items()}
#: Rules that need the full-batch gradient (their ops say ``full_batch``: steps follow its sign changes).
FULL_BATCH_OPTIMIZERS = tuple(name for name, ops in OPTIMIZER_OPS.items()
                              if all(getattr(_OPT[op], "full_batch", False) for op in ops))
INITS = (*INIT_SCHEMES, "numpy_legacy", "explicit")
#: Tasks drawn from ``task.data_seed`` (``sweep.grid.datasets``); the others are fixed tables or a file.
GENERATED_TASKS = ("spirals", "moons", "circles", "blobs", "xor_noisy", "teacher", "sine")
TASKS = ("xor", "and", "or", "nand", "parity", "encoder", "csv", *GENERATED_TASKS)
#: Generated tasks that draw a held-out set of ``task.n_test`` patterns (``datasets.HELD_OUT_TASKS``).
HELD_OUT_TASKS = ("moons", "circles", "blobs", "xor_noisy", "teacher", "sine")
TARGETS = ("binary", "onehot", "regression", "sign")
#: task.targets allowed per task (teacher: its output as the target, or its sign as a class).
TASK_TARGETS = {"teacher": ("sign", "regression")}
#: Tasks whose targets are a class in {0, 1}: binary (one output) or onehot ([1-t, t]).
BINARY_TASKS = ("xor", "and", "or", "nand", "parity", "spirals", "moons", "circles", "xor_noisy")
#: Per-task defaults of keys whose Param default is None (filled by ``sweep.grid.groups.normalise``).
TASK_DEFAULTS = {
    "task.targets": {**{t: "binary" for t in BINARY_TASKS}, "teacher": "sign"},
    "task.noise": {"spirals": 0.0, "moons": 0.1, "circles": 0.05, "blobs": 1.0, "xor_noisy": 0.2,
                   "teacher": 0.0, "sine": 0.1},
}
#: Milestones on the training set, then the same on the held-out set (``test_<name>``).
CRITERIA = _MS.names()
TEST_CRITERIA = tuple(f"test_{name}" for name in CRITERIA)
ACCURACY_RULES = ("auto", "argmax", "side")      # kernels.api.ACCURACY_RULES
DTYPES = ("float64", "float32")

#: Milestone name -> result column holding its first epoch.
MILESTONE_COLUMNS = {name: f"epoch_{name}" for name in CRITERIA + TEST_CRITERIA}


NOT_IN_IDENTITY = object()  # marker: the key always contributes to run_id


@dataclass(frozen=True)
class Param:
    """One configurable key.

    kind: ``"int" | "float" | "bool" | "str" | "int_list" | "str_or_list" | "matrix_list" | "vector_list"``.
    choices: allowed strings for ``str`` kinds (and for each item of ``str_or_list``).
    minimum/maximum: inclusive numeric bounds (``exclusive_min`` makes the lower bound strict).
    applies: ``(key, values)``: the key only applies when ``key`` has one of ``values``;
        otherwise the run's value is normalised to ``None``.
    neutral: for keys added after run identities were fixed: at this value (or ``None``) the key
        adds nothing to ``run_id`` (``sweep.grid.hashing.value_hash``), so grids that do not use it keep
        their run ids.
    """

    key: str
    kind: str
    default: Any
    role: str
    doc: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    exclusive_min: bool = False
    applies: tuple[str, tuple] | None = None
    neutral: Any = NOT_IN_IDENTITY


def used_by(hyper: str) -> tuple[str, tuple[str, ...]]:
    """The ``applies`` rule of an optimizer hyper-parameter: the optimizers whose ops declare it."""
    return ("train.optimizer", tuple(name for name, h in OPTIMIZER_HYPER.items() if hyper in h))


P = Param
_PARAMS: tuple[Param, ...] = (
    # --- task: the dataset -------------------------------------------------------
    P("task.name", "str", "xor", "group", "dataset", choices=TASKS),
    P("task.bits", "int", 4, "group", "N for N-bit parity", minimum=1, maximum=16,
      applies=("task.name", ("parity",))),
    P("task.size", "int", 8, "group", "N for the N-M-N encoder (one-hot in, one-hot out)",
      minimum=2, maximum=256, applies=("task.name", ("encoder",))),
    P("task.targets", "str", None, "group",
      "binary: one output in {0,1}; onehot: one output per class (seed 000 uses 2); teacher: sign "
      "(its output's sign as a class, the default) or regression (its output)",
      choices=TARGETS, applies=("task.name", (*BINARY_TASKS, "teacher"))),
    P("task.path", "str", "", "group", "CSV file: input columns then target columns; relative to the grid file",
      applies=("task.name", ("csv",))),
    P("task.n_outputs", "int", 1, "group", "number of trailing target columns in the CSV",
      minimum=1, applies=("task.name", ("csv",))),
    # generated tasks (added later: neutral=None keeps every older run id)
    P("task.data_seed", "int", 0, "group", "which dataset: a generated task is a pure function of its keys "
      "(csv: the seed of the task.test_fraction split)",
      minimum=0, maximum=2**63 - 1, applies=("task.name", (*GENERATED_TASKS, "csv")), neutral=None),
    P("task.n_train", "int", 200, "group", "training patterns", minimum=1, maximum=100_000,
      applies=("task.name", ("moons", "circles", "blobs", "xor_noisy", "teacher", "sine")), neutral=None),
    P("task.noise", "float", None, "group", "standard deviation of the Gaussian noise (default per task: "
      + ", ".join(f"{t} {v:g}" for t, v in TASK_DEFAULTS["task.noise"].items()) + ")",
      minimum=0.0, applies=("task.name", GENERATED_TASKS), neutral=None),
    P("task.density", "int", 1, "group", "spirals: multiplies the points per turn (Lang & Witbrock: 1)",
      minimum=1, maximum=16, applies=("task.name", ("spirals",)), neutral=None),
    P("task.classes", "int", 3, "group", "blobs: number of Gaussian classes (one-hot targets)",
      minimum=2, maximum=256, applies=("task.name", ("blobs",)), neutral=None),
    P("task.n_inputs", "int", 2, "group", "blobs, teacher: input dimensions", minimum=1, maximum=1024,
      applies=("task.name", ("blobs", "teacher")), neutral=None),
    P("task.teacher_hidden", "int_list", [4], "group", "teacher: the teacher MLP's hidden widths",
      applies=("task.name", ("teacher",)), neutral=None),
    P("task.teacher_activation", "str", "tanh", "group", "teacher: the teacher's hidden activation",
      choices=ACTIVATIONS, applies=("task.name", ("teacher",)), neutral=None),
    # held-out sets (added later: at 0 / "" they add nothing to run_id)
    P("task.n_test", "int", 0, "group", "held-out patterns: a second draw from the task's distribution (fresh "
      "inputs and noise; the same classes, blob centres and teacher), evaluated every epoch; 0 = none",
      minimum=0, maximum=100_000, applies=("task.name", HELD_OUT_TASKS), neutral=0),
    P("task.test_path", "str", "", "group", "csv: a second CSV file with the same columns, held out (relative "
      "to the grid file)", applies=("task.name", ("csv",)), neutral=""),
    P("task.test_fraction", "float", 0.0, "group", "csv: hold out this fraction of the file's rows, a split "
      "drawn from task.data_seed", minimum=0.0, maximum=0.95, applies=("task.name", ("csv",)), neutral=0.0),
    # --- model: the network ------------------------------------------------------
    P("model.hidden", "int_list", [2], "group", "hidden layer widths; [] = no hidden layer"),
    P("model.activation", "str_or_list", "sigmoid", "group",
      "hidden activation: one name for all hidden layers, or a list with one per layer",
      choices=ACTIVATIONS),
    P("model.output", "str", "sigmoid", "group", "output activation", choices=ACTIVATIONS),
    P("model.bias", "bool", True, "group", "a bias on every unit"),
    P("model.shortcut", "bool", False, "group", "direct input-to-output connections (RHW 1986 2-1-1 XOR)"),
    P("model.dense", "bool", False, "group", "every layer connected to every later layer (Lang & Witbrock 1988's "
      "two-spirals net); with one hidden layer it is the shortcut", neutral=False),
    P("model.leaky_slope", "float", HYPER["leaky_slope"], "lane", "negative-side slope of leaky_relu", minimum=0.0),
    # --- init: initial parameters ------------------------------------------------
    P("init.scheme", "str", "torch_default", "group", "how initial parameters are drawn", choices=INITS),
    P("init.low", "float", 0.0, "init", "uniform: lower bound (inclusive)", applies=("init.scheme", ("uniform", "numpy_legacy"))),
    P("init.high", "float", 1.0, "init", "uniform: upper bound (exclusive)", applies=("init.scheme", ("uniform", "numpy_legacy"))),
    P("init.std", "float", 1.0, "init", "normal: standard deviation", minimum=0.0, applies=("init.scheme", ("normal",))),
    P("init.scale", "float", 1.0, "init", "multiplies every drawn initial value (not explicit)"),
    P("init.weights", "matrix_list", None, "group",
      "explicit: one matrix per layer, shape [out][in]", applies=("init.scheme", ("explicit",))),
    P("init.biases", "vector_list", None, "group",
      "explicit: one vector per layer", applies=("init.scheme", ("explicit",))),
    P("init.shortcut_weights", "matrix_list", None, "group",
      "explicit: shortcut matrix [out][in], when model.shortcut", applies=("init.scheme", ("explicit",))),
    # --- train ----------------------------------------------------------------------
    P("train.loss", "str", "mse", "group", "loss function", choices=LOSSES),
    P("train.optimizer", "str", "sgd", "group", "update rule", choices=OPTIMIZERS),
    P("train.lr", "float", HYPER["lr"], "lane", "learning rate (quickprop: Fahlman's epsilon; not used by rprop)",
      minimum=0.0, exclusive_min=True, applies=used_by("lr")),
    P("train.momentum", "float", HYPER["momentum"], "lane", "momentum coefficient", minimum=0.0, maximum=1.0,
      applies=used_by("momentum")),
    P("train.beta1", "float", HYPER["beta1"], "lane", "Adam first-moment decay", minimum=0.0, maximum=1.0,
      applies=used_by("beta1")),
    P("train.beta2", "float", HYPER["beta2"], "lane", "Adam second-moment decay", minimum=0.0, maximum=1.0,
      applies=used_by("beta2")),
    P("train.eps", "float", HYPER["eps"], "lane", "Adam denominator epsilon", minimum=0.0, exclusive_min=True,
      applies=used_by("eps")),
    P("train.rprop_variant", "str", "irprop+", "group",
      "Igel & Huesken 2000 variant: + backtracks, i zeroes the gradient after a sign change "
      "(torch.optim.Rprop = irprop-)", choices=RPROP_VARIANTS, applies=("train.optimizer", ("rprop",)), neutral=None),
    P("train.eta_plus", "float", HYPER["eta_plus"], "lane", "rprop: step growth factor", minimum=1.0,
      applies=used_by("eta_plus"), neutral=None),
    P("train.eta_minus", "float", HYPER["eta_minus"], "lane", "rprop: step shrink factor", minimum=0.0,
      maximum=1.0, exclusive_min=True, applies=used_by("eta_minus"), neutral=None),
    P("train.step_init", "float", HYPER["step_init"], "lane", "rprop: initial step size (torch: lr)",
      minimum=0.0, exclusive_min=True, applies=used_by("step_init"), neutral=None),
    P("train.step_min", "float", HYPER["step_min"], "lane", "rprop: smallest step size", minimum=0.0,
      applies=used_by("step_min"), neutral=None),
    P("train.step_max", "float", HYPER["step_max"], "lane", "rprop: largest step size", minimum=0.0,
      exclusive_min=True, applies=used_by("step_max"), neutral=None),
    P("train.quickprop_mu", "float", HYPER["quickprop_mu"], "lane", "quickprop: maximum growth factor mu",
      minimum=0.0, exclusive_min=True, applies=used_by("quickprop_mu"), neutral=None),
    P("train.flat_spot", "float", HYPER["flat_spot"], "group",
      "Fahlman's flat-spot offset added to every activation derivative in the backward pass (0.1 in 1988)",
      minimum=0.0, neutral=0.0),
    P("train.weight_decay", "float", HYPER["weight_decay"], "group",
      "L2 weight decay added to the gradient, g + weight_decay * w, for every optimizer", minimum=0.0,
      neutral=0.0),
    P("train.schedule", "str", "full", "group", "full batch, online (one pattern per update), or minibatch",
      choices=SCHEDULES),
    P("train.batch_size", "int", 2, "group", "minibatch size", minimum=1,
      applies=("train.schedule", ("minibatch",))),
    P("train.shuffle", "bool", False, "group", "reshuffle pattern order every epoch (per-run stream)",
      applies=("train.schedule", ("online", "minibatch"))),
    P("train.epochs", "int", 1000, "lane", "number of training epochs", minimum=0, maximum=10**9),
    P("train.early_stop", "bool", False, "lane", "stop a run once the main criterion is met"),
    P("train.dtype", "str", "float64", "group", "floating-point precision", choices=DTYPES),
    # --- criteria: convergence milestones -----------------------------------------
    P("criteria.main", "str", "acc100", "lane", "the milestone that defines 'converged' (test_<name>: on the "
      "held-out set)", choices=CRITERIA + TEST_CRITERIA),
    P("criteria.accuracy", "str", "auto", "group", "which outputs are right: side = every output on its "
      "target's side of 0.5 (the 1986-1993 papers), argmax = the largest output at the target's largest "
      "(several outputs); auto = argmax for one-hot targets of several outputs, else side",
      choices=ACCURACY_RULES, neutral="auto"),
    P("criteria.tss_below", "float", HYPER["tss_below"], "lane", "tss milestone: total squared error below this", minimum=0.0),
    P("criteria.loss_below", "float", HYPER["loss_below"], "lane", "loss milestone: loss below this", minimum=0.0),
    # --- record: optional outputs -------------------------------------------------
    P("record.curve_points", "int", 0, "group", "loss curve at this many log-spaced epochs (0 = off)",
      minimum=0, maximum=10000),
    P("record.initial_params", "bool", False, "group", "store initial parameters (list column)"),
    P("record.final_params", "bool", False, "group", "store final parameters (list column)"),
    P("record.final_outputs", "bool", False, "group", "store final outputs per pattern (list column)"),
)

#: A hyper-parameter an optimizer op declares with no line above gets a plain ``train.<name>`` key
#: (its default from ``kernels.ops.hyper``; ``neutral=None`` keeps every older run id). A line above
#: adds a doc and bounds.
PARAMS: tuple[Param, ...] = _PARAMS + tuple(
    P(f"train.{name}", "float", HYPER[name], "lane", f"{', '.join(used_by(name)[1])}: {name}",
      applies=used_by(name), neutral=None)
    for name in dict.fromkeys(h for hs in OPTIMIZER_HYPER.values() for h in hs)
    if not any(p.key.endswith(f".{name}") for p in _PARAMS))
PARAM_BY_KEY: dict[str, Param] = {p.key: p for p in PARAMS}
SECTIONS = ("task", "model", "init", "train", "criteria", "record")

#: Top-level keys and sections that are not run parameters.
META_KEYS = ("name", "description")
OUTPUT_KEYS = {"dir": "str", "chunk_size": "int"}
EXECUTION_KEYS = {"backend": "str", "threads": "int", "scheduler": "str", "dask_local": "int", "retries": "int"}
BACKENDS = ("local", "dask")


#: Kernel hyper-parameter name (``kernels.ops.hyper.HYPER``) -> the grid key that sets it (the key
#: named after it, in any section: ``lr`` -> ``train.lr``, ``leaky_slope`` -> ``model.leaky_slope``).
HYPER_KEYS = {name: next(p.key for p in PARAMS if p.key.split(".", 1)[1] == name) for name in HYPER}
# An optimizer hyper-parameter's key applies exactly where an op declares it (no hand-kept list).
assert all(PARAM_BY_KEY[HYPER_KEYS[h]].applies == used_by(h) for hs in OPTIMIZER_HYPER.values() for h in hs)


def group_keys() -> tuple[str, ...]:
    """Keys whose values split runs into separate kernel calls."""
    return tuple(p.key for p in PARAMS if p.role == "group")
