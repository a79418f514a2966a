#!/usr/bin/env bash
# Builds the benchmarks (release) and runs them; --small runs them briefly, as CI does.
set -euo pipefail
cd "$(dirname "$0")/.."
size=full; [ "${1:-}" = "--small" ] && size=small
for bench in gather-bench spawn-bench journal-bench watch-bench; do
  swift build -c release --product "$bench" 2>&1 | grep -Ev "^\[[0-9]+/[0-9]+\]" || true
  echo "== $bench ($size)"
  ".build/release/$bench" "--$size"
done
# executor: slurm against local, per task (docs/slurm.md); without root or a
# Slurm cluster (scripts/setup-slurm.sh) it measures local only and says why.
echo "== slurm-bench ($size)"
if [ "$size" = small ]; then Benchmarks/slurm-bench.sh --small; else Benchmarks/slurm-bench.sh; fi
# gatherd as a whole against the tools users would pick instead (issue 10);
# the full run (scripts/compare-bench.sh, no argument) writes docs/BENCHMARKS.md.
echo "== compare-bench (small)"
scripts/compare-bench.sh --small
