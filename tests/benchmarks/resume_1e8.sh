#!/usr/bin/env bash
# Resume of a 10^8-run grid (XOR, 25,000,000 seeds x 4 learning rates, chunk 4096) after a few
# hundred parts, measured with /usr/bin/time -v (peak memory) and a poll for the first new part.
#
#   bash tests/benchmarks/resume_1e8.sh [WORKDIR] [PARTS]     (defaults: /tmp/resume_1e8, 300)
#
# 1. a fresh sweep runs until PARTS parts exist, then is killed with kill -9 (the worst case: its
#    manifest does not list the parts it wrote; the journal DIR.sweep/verified.jsonl does, so the
#    resume checks none of them; NO_JOURNAL=1 deletes the journal first, so it checks every one,
#    as before the journal);
# 2. the resume runs under /usr/bin/time -v; the script prints the seconds until its first new
#    part, lets it write a few more, then stops it with Ctrl-C (SIGINT) and prints the peak RSS.
# Targets: first new part within 5 s at 2,000 parts (issue 29; 10 s at 300 in issue 12), peak memory under 1 GB.
set -euo pipefail
set -m  # job control: background jobs get SIGINT (a non-interactive shell would make them ignore it)
cd "$(dirname "$0")/../.."
WORK=${1:-/tmp/resume_1e8}
PARTS=${2:-300}
export PYTHONPATH=$PWD NUMBA_NUM_THREADS=${NUMBA_NUM_THREADS:-1}
rm -rf "$WORK" && mkdir -p "$WORK"
cat > "$WORK/grid.toml" <<'TOML'
name = "resume-1e8"
[task]
name = "xor"
[train]
loss = "bce"
epochs = 0
[sweep]
seeds = 25000000
"train.lr" = [0.25, 0.5, 1.0, 2.0]
[output]
chunk_size = 4096
TOML
OUT=$WORK/out
count() { find "$OUT" -maxdepth 1 -name 'part-*.parquet' 2>/dev/null | wc -l; }

python -m sweep run "$WORK/grid.toml" --out "$OUT" --no-progress > "$WORK/first.log" 2>&1 &
PID=$!
while [ "$(count)" -lt "$PARTS" ]; do sleep 0.05; done
kill -9 $PID; wait $PID 2>/dev/null || true
BEFORE=$(count)
echo "killed the first sweep (kill -9) with $BEFORE parts ($((BEFORE * 4096)) runs) on disk"
echo "journal: $(($(wc -l < "$OUT.sweep/verified.jsonl") - 1)) parts listed"
if [ "${NO_JOURNAL:-0}" = 1 ]; then rm "$OUT.sweep/verified.jsonl"; echo "journal deleted (NO_JOURNAL=1)"; fi

START=$(date +%s.%N)
/usr/bin/time -v python -m sweep run "$WORK/grid.toml" --out "$OUT" --no-progress > "$WORK/resume.log" 2> "$WORK/resume.err" &
TPID=$!
while [ "$(count)" -le "$BEFORE" ]; do sleep 0.02; done
FIRST=$(echo "$(date +%s.%N) - $START" | bc)
echo "resume: first new part after ${FIRST} s (target: < 5 s)"
while [ "$(count)" -lt $((BEFORE + 50)) ]; do sleep 0.05; done
kill -INT "$(pgrep -P $TPID)" || true   # Ctrl-C to the sweep (the child of time)
wait $TPID || true
grep -E "interrupted|warning" "$WORK/resume.err" | head -5
RSS=$(grep "Maximum resident set size" "$WORK/resume.err" | awk '{print $NF}')
echo "resume: peak memory ${RSS} kB = $((RSS / 1024)) MiB (target: < 1024 MiB); $(count) parts now"
