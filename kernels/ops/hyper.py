"""Per-run hyper-parameters: the rows of the kernels' ``hyper (n_blocks, N_HYPER, LANES)`` array,
each with its default (the published one). The grid schema takes its defaults from here."""
from __future__ import annotations

#: name -> default. Row order is the kernels' row index; append only.
HYPER = {
    "lr": 0.1,
    "momentum": 0.9,
    "beta1": 0.9,
    "beta2": 0.999,
    "eps": 1e-8,
    "leaky_slope": 0.01,
    "tss_below": 0.04,
    "loss_below": 0.01,
    "flat_spot": 0.0,        # Fahlman 1988 used 0.1
    "weight_decay": 0.0,     # Fahlman's quickprop used 1e-4
    "eta_plus": 1.2,         # Riedmiller & Braun 1993
    "eta_minus": 0.5,
    "step_init": 0.1,
    "step_min": 1e-6,
    "step_max": 50.0,
    "quickprop_mu": 1.75,    # Fahlman 1988
}
ROW = {name: i for i, name in enumerate(HYPER)}
N_HYPER = len(HYPER)

#: Per-run integer settings: rows of ``lane_int (n_blocks, N_LANE_INT, LANES)``.
LANE_INT = ("epochs", "main", "early_stop")
IROW = {name: i for i, name in enumerate(LANE_INT)}
N_LANE_INT = len(LANE_INT)
