#!/usr/bin/env bash
# Builds tapegrad and runs every test suite, the four consumer builds and a short seeded run of
# each fuzz harness; ends with "N passed, N failed" (Catch2 test cases, consumers, harnesses).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
[ -f build/build.ninja ] || meson setup build --buildtype=release || exit 1
ninja -C build || exit 1

passed=0
failed=0
skipped=0
for exe in build/tests/test_*; do
  [ -x "$exe" ] && [ -f "$exe" ] || continue
  name=$(basename "$exe")
  echo "=== $name"
  out=$("$exe" 2>&1)
  rc=$?
  printf '%s\n' "$out" | tail -n 40
  if [ "$rc" -eq 77 ]; then
    echo "--- $name skipped (device missing)"
    skipped=$((skipped + 1))
    continue
  fi
  summary=$(printf '%s\n' "$out" | grep -E '^(All tests passed|test cases:)' | tail -n 1)
  if [[ "$summary" == All\ tests\ passed* ]]; then
    n=$(sed -E 's/.* in ([0-9]+) test case.*/\1/' <<<"$summary")
    passed=$((passed + n))
  elif [[ "$summary" == test\ cases:* ]]; then
    p=$(grep -oE '[0-9]+ passed' <<<"$summary" | grep -oE '[0-9]+' || echo 0)
    f=$(grep -oE '[0-9]+ failed' <<<"$summary" | grep -oE '[0-9]+' || echo 0)
    passed=$((passed + ${p:-0}))
    failed=$((failed + ${f:-0}))
  else
    echo "--- $name ended without a Catch2 summary (exit $rc): counted as 1 failed"
    failed=$((failed + 1))
  fi
  if [ "$rc" -ne 0 ] && [ -z "$summary" ]; then :; fi
done

# The installed library as its users consume it (pkg-config, CMake, meson subproject, static
# link): one test each.
echo "=== consumers (tests/consumers/run.sh)"
consumers=$(bash tests/consumers/run.sh build 2>&1)
printf '%s\n' "$consumers" | tail -n 40
cp=$(grep -cE '^consumer [a-z]+: passed$' <<<"$consumers")
cf=$(grep -cE '^consumer [a-z]+: failed' <<<"$consumers")
passed=$((passed + cp))
failed=$((failed + cf))
if [ $((cp + cf)) -ne 4 ]; then
  echo "--- consumers: expected 4 results, got $((cp + cf)): counted as 1 failed"
  failed=$((failed + 1))
fi

# Each fuzz harness over its seed corpus for a short, seeded run (clang, ASan + UBSan build in
# build-fuzz/; docs/reliability.md): one result per harness.
echo "=== fuzz (scripts/fuzz.sh ${TG_FUZZ_SECONDS:-60})"
fuzz=$(TG_FUZZ_SEED=1 bash scripts/fuzz.sh "${TG_FUZZ_SECONDS:-60}" 2>&1)
printf '%s\n' "$fuzz" | tail -n 40
fp=$(grep -cE '^fuzz [a-z_]+: [0-9]+ executions, no finding' <<<"$fuzz")
ff=$(grep -cE '^fuzz [a-z_]+: FINDING' <<<"$fuzz")
passed=$((passed + fp))
failed=$((failed + ff))
if [ $((fp + ff)) -ne 5 ]; then
  echo "--- fuzz: expected 5 results, got $((fp + ff)): counted as 1 failed"
  failed=$((failed + 1))
fi

echo
if [ "$skipped" -gt 0 ]; then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
