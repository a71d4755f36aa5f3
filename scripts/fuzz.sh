#!/usr/bin/env bash
# Builds the libFuzzer harnesses of fuzz/ with clang, ASan and UBSan in build-fuzz/ and runs each
# over its committed seed corpus (fuzz/corpus/<harness>) plus what earlier runs found
# (build-fuzz/corpus/<harness>).
#   bash scripts/fuzz.sh                   60 s per harness
#   bash scripts/fuzz.sh 600 fuzz_npy      600 s, one harness
#   TG_FUZZ_RUNS=1000000 bash scripts/fuzz.sh   a fixed number of executions per harness
#   TG_FUZZ_SEED=1 bash scripts/fuzz.sh          the same input sequence every time (CI)
# A crash, sanitizer report, leak, hang (> 10 s per input), a single allocation over 1 GiB or an
# RSS over 2 GiB is a finding: the input lands in build-fuzz/findings/<harness>/ and the script
# fails. Each harness ends with a line "fuzz <harness>: <N> executions, ...".
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -eq 0 ] && harnesses=(fuzz_idx fuzz_npy fuzz_model_file fuzz_weights_file fuzz_json)

bash scripts/setup.sh || exit 1
if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang CXX=clang++ meson setup build-fuzz --buildtype=debugoptimized -Dfuzz=true \
    -Db_sanitize=address,undefined -Db_lundef=false -Donednn=disabled -Dopencl=disabled \
    >/dev/null || exit 1
fi
targets=()
for h in "${harnesses[@]}"; do targets+=("fuzz/$h"); done
ninja -C build-fuzz "${targets[@]}" || exit 1

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
limit=(-max_total_time="$seconds")
[ -n "${TG_FUZZ_RUNS:-}" ] && limit=(-runs="$TG_FUZZ_RUNS")
[ -n "${TG_FUZZ_SEED:-}" ] && limit+=(-seed="$TG_FUZZ_SEED")
status=0
for h in "${harnesses[@]}"; do
  mkdir -p "build-fuzz/corpus/$h" "build-fuzz/findings/$h"
  log="build-fuzz/findings/$h.log"
  "build-fuzz/fuzz/$h" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
    -print_final_stats=1 -artifact_prefix="build-fuzz/findings/$h/" \
    "build-fuzz/corpus/$h" "fuzz/corpus/$h" >"$log" 2>&1
  rc=$?
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -n 1)
  if [ "$rc" -eq 0 ]; then
    echo "fuzz $h: ${runs:-?} executions, no finding (corpus $(ls "build-fuzz/corpus/$h" | wc -l) new inputs)"
  else
    echo "fuzz $h: FINDING after ${runs:-?} executions (exit $rc); log $log:"
    grep -E 'ERROR|SUMMARY|==[0-9]+==|artifact|#0 |#1 |#2 |#3 ' "$log" | head -n 30
    status=1
  fi
done
exit $status
