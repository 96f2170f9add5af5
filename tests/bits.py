"""Bit equality of result columns, shared by the frozen-result tests (tests/test_frozen.py,
tests/test_frozen_generic.py): the metric columns they compare and ``same_bits``."""
from __future__ import annotations

import numpy as np
import pyarrow.compute as pc

#: The result columns a frozen matrix pins, bit for bit (by run_index).
METRICS = ("seed", "epochs_run", "final_loss", "final_mse", "final_accuracy", "min_loss",
           "converged", "convergence_epoch", "epoch_acc75", "epoch_acc100", "epoch_fahlman",
           "epoch_tss", "epoch_loss", "diverged", "final_params", "final_outputs")


def same_bits(a, b) -> bool:
    """Bit equality of two pyarrow columns (NaN equal to NaN of the same bits, nulls aligned)."""
    a, b = a.combine_chunks(), b.combine_chunks()
    if a.type != b.type and not (str(a.type).startswith("list") and str(b.type).startswith("list")):
        return False
    if str(a.type).startswith("list"):
        if pc.list_value_length(a).to_pylist() != pc.list_value_length(b).to_pylist():
            return False
        a, b = pc.list_flatten(a), pc.list_flatten(b)
    if a.null_count or b.null_count:
        if a.is_null().to_pylist() != b.is_null().to_pylist():
            return False
        a, b = a.drop_null(), b.drop_null()
    va, vb = a.to_numpy(zero_copy_only=False), b.to_numpy(zero_copy_only=False)
    if va.dtype.kind == "f":
        return va.dtype == vb.dtype and np.array_equal(va.view(np.uint64 if va.itemsize == 8 else np.uint32),
                                                       vb.view(np.uint64 if vb.itemsize == 8 else np.uint32))
    return np.array_equal(va, vb)
