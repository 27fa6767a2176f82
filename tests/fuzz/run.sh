#!/bin/sh
# Builds the libFuzzer targets (clang, ASan + UBSan) and runs each for SECONDS, all in
# parallel under nice, in fork mode (a crash is saved and fuzzing goes on).
#   sh tests/fuzz/run.sh SECONDS [TARGET...]      (targets: idx image csv safetensors recipe session)
# Build folder: $FUZZ_BUILD (default build-fuzz). Corpora grow in $FUZZ_BUILD/fuzz-corpus/<t>/
# (seeded by make-corpus from small valid files the engine writes, and the project's recipes);
# crashes, leaks, timeouts and over-limit allocations land in $FUZZ_BUILD/fuzz-out/<t>/ as
# crash-*/leak-*/timeout-*/oom-* files (slow-unit-* ones are reported, not counted: on a loaded
# machine they are noise): copy each into tests/fuzz/regressions/<t>/ once fixed.
# Prints per target: executions, coverage, corpus size and the number of findings.
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-idx image csv safetensors recipe session}
b=${FUZZ_BUILD:-build-fuzz}
export LANG=C.UTF-8 OPENBLAS_NUM_THREADS=1 G_SLICE=always-malloc

if [ ! -f "$b/build.ninja" ]; then
  CC="${FUZZ_CC:-clang}" meson setup "$b" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false
fi
ninja -C "$b" >/dev/null

ASAN_OPTIONS=detect_leaks=0 "$b/tests/fuzz/make-corpus" "$b/fuzz-seeds" .
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
for t in $targets; do
  mkdir -p "$b/fuzz-corpus/$t" "$b/fuzz-out/$t"
  cp -n "$b/fuzz-seeds/$t/"* "$b/fuzz-corpus/$t/" 2>/dev/null || true
  # earlier findings stay in the corpus so that fixed ones keep being exercised
  [ -d "tests/fuzz/regressions/$t" ] && cp -n "tests/fuzz/regressions/$t/"* "$b/fuzz-corpus/$t/" 2>/dev/null || true
  # one scratch folder per target (not one per fork child under /dev/shm)
  mkdir -p "$b/fuzz-tmp/$t"
  FW_FUZZ_DIR="$(cd "$b/fuzz-tmp/$t" && pwd)" nice -n 10 "$b/tests/fuzz/fuzz-$t" -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 \
    -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -malloc_limit_mb=1100 -max_len=8192 \
    -artifact_prefix="$b/fuzz-out/$t/" "$b/fuzz-corpus/$t" >"$b/fuzz-out/$t.log" 2>&1 &
done
wait
printf '%-12s %12s %8s %8s %9s\n' target executions cov corpus findings
for t in $targets; do
  last=$(grep -aE '^#[0-9]+' "$b/fuzz-out/$t.log" | tail -1)
  execs=$(echo "$last" | sed -E 's/^#([0-9]+).*/\1/')
  cov=$(echo "$last" | sed -E 's/.*cov: ([0-9]+).*/\1/')
  corp=$(ls "$b/fuzz-corpus/$t" | wc -l)
  found=$(ls "$b/fuzz-out/$t" | grep -cE '^(crash|leak|timeout|oom)-' || true)
  printf '%-12s %12s %8s %8s %9s\n' "$t" "${execs:-?}" "${cov:-?}" "$corp" "$found"
done
