#!/usr/bin/env bash
# Benchmarks the engine on a 1.6 MP and a 10 MP photo: per-stage times, end-to-end time, the ONNX session run alone
# measured in the same loop, their ratio, PNG size and peak RSS. One process per photo size, so each peak RSS is that
# of a process doing only that work. Usage: build/bench/engine.sh [runs per size, default 5]
#   BACKLESS_BENCH_ARENA=1  measure with ONNX Runtime's arena and memory patterns on (its defaults), for comparison
#   BACKLESS_LOW_MEMORY=true  measure the low-memory setting (no layout optimisation)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
bin=$(mktemp -d)/segment.test
trap 'rm -rf "$(dirname "$bin")"' EXIT
go test -c -o "$bin" ./shared/segment
cd shared/segment
printf '%-6s %9s %7s %9s %8s %9s %9s %11s %8s %8s %12s\n' size decode pre inference post encode e2e run-alone e2e/run png-MB peak-RSS-MB
for size in 1.6MP 10MP; do
  "$bin" -test.run '^$' -test.bench "Pipeline/$size\$" -test.benchtime "${runs}x" | awk -v size="$size" '
    /^BenchmarkPipeline/ {
      for (i = 3; i < NF; i += 2) m[$(i+1)] = $i
      printf "%-6s %9.0f %7.0f %9.0f %8.0f %9.0f %9.0f %11.0f %8.3f %8.2f %12.0f\n", size, m["decode-ms"], m["pre-ms"],
        m["infer-ms"], m["post-ms"], m["encode-ms"], m["e2e-ms"], m["run-alone-ms"], m["e2e/run"], m["png-MB"], m["peak-RSS-MB"]
    }'
done
echo "(times in ms, mean of $runs runs; e2e/run = end-to-end wall time / ONNX session run alone, same loop)"
