#!/usr/bin/env bash
# 20,000,000 zero-epoch XOR runs end to end (planning, init, kernels, Parquet, summary):
#   bash tests/benchmarks/trivial_20m.sh [WORKDIR]        (target, issue 12: >= 1,000,000 runs/s)
set -euo pipefail
cd "$(dirname "$0")/../.."
WORK=${1:-/tmp/trivial_20m}
export PYTHONPATH=$PWD NUMBA_NUM_THREADS=${NUMBA_NUM_THREADS:-1}  # 1: the other core writes Parquet
rm -rf "$WORK" && mkdir -p "$WORK"
cat > "$WORK/grid.toml" <<'TOML'
name = "trivial-20m"
[task]
name = "xor"
[train]
epochs = 0
[sweep]
seeds = 5000000
"train.lr" = [0.25, 0.5, 1.0, 2.0]
TOML
python -m sweep run "$WORK/grid.toml" --out "$WORK/warm" --no-progress --set sweep.seeds=10 > /dev/null  # compile once
START=$(date +%s.%N)
/usr/bin/time -f "%e s wall, %U s user + %S s system CPU, %M kB peak" -o "$WORK/time.txt" python -m sweep run "$WORK/grid.toml" --out "$WORK/out" --no-progress
END=$(date +%s.%N)
cat "$WORK/time.txt"
CPU=$(awk '{print $4 + $8}' "$WORK/time.txt")
echo "CPU time per run: $(echo "scale=3; $CPU * 1000000 / 20000000" | bc) us (on N free cores, runs/s ~ N / that)"
echo "end to end (process start to exit): $(echo "$END - $START" | bc) s = $(echo "20000000 / ($END - $START)" | bc) runs/s"
