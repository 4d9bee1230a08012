#!/usr/bin/env bash
# The fuzz targets (fuzz/, README "Fuzzing"): build every target once, run each for
# FUZZ_SECONDS (default 30) from its seeds, two at a time (the machine has 2 cores),
# and fail when any target crashes or breaks its property, printing the reproducer.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${FUZZ_SECONDS:-30}"
parallel="${FUZZ_JOBS:-2}"
# No AddressSanitizer: the parsers under test are safe Rust, where ASan finds nothing
# the panics do not, and it makes the build and every run slower. 16 codegen units:
# the build (the crate's whole dependency tree, instrumented) takes a fraction of
# the time for a slightly slower fuzzer.
flags=(-s none --codegen-units 16)

# cargo-fuzz passes -Z flags, so it needs nightly; stable accepts them with
# RUSTC_BOOTSTRAP=1 (the same compiler, its nightly features unlocked).
if rustup run nightly rustc --version >/dev/null 2>&1; then
  cargo=(cargo +nightly)
else
  echo "fuzz: no nightly toolchain here; using stable with RUSTC_BOOTSTRAP=1" >&2
  export RUSTC_BOOTSTRAP=1
  cargo=(cargo)
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz from crates.io" >&2
  if ! cargo install cargo-fuzz --locked; then
    echo "fuzz: FAILED to install cargo-fuzz (cargo install cargo-fuzz --locked)" >&2
    exit 1
  fi
fi

targets=$("${cargo[@]}" fuzz list)
if [[ -z "$targets" ]]; then
  echo "fuzz: FAILED: cargo fuzz list shows no targets" >&2
  exit 1
fi

start=$SECONDS
"${cargo[@]}" fuzz build "${flags[@]}"
echo "fuzz: built $(wc -w <<<"$targets") targets in $((SECONDS - start)) s"

logs=target/fuzz-logs
mkdir -p "$logs"
run_one() {
  local target=$1
  mkdir -p "corpus/$target" "artifacts/$target"
  # The first corpus directory takes what the run finds (not kept: CI starts clean);
  # the seeds are read only. -timeout: an input that hangs for 10 s is a finding.
  if "${cargo[@]}" fuzz run "${flags[@]}" "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$logs/$target.log" 2>&1; then
    echo "fuzz: $target ok: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$logs/$target.log" | grep -o '[0-9]*$') execs in ${seconds} s"
  else
    echo "fuzz: $target FAILED"
    return 1
  fi
}
export -f run_one
export seconds logs
export FUZZ_CARGO="${cargo[*]}" FUZZ_FLAGS="${flags[*]}"

start=$SECONDS
status=0
# shellcheck disable=SC2016
xargs -n1 -P "$parallel" bash -c 'cargo=($FUZZ_CARGO); flags=($FUZZ_FLAGS); run_one "$0"' <<<"$targets" || status=$?
echo "fuzz: ran every target in $((SECONDS - start)) s"

if ((status != 0)); then
  for target in $targets; do
    for crash in artifacts/"$target"/*; do
      [[ -e "$crash" ]] || continue
      echo "fuzz: $target: reproducer fuzz/$crash"
      echo "      replay: (cd fuzz && cargo +nightly fuzz run ${flags[*]} $target $crash)"
      echo "      keep it: copy it to fuzz/regressions/$target/ (tests/suite/fuzz_regressions.rs runs it)"
    done
    if grep -q 'FAILED\|panicked\|ERROR' "$logs/$target.log" 2>/dev/null; then
      echo "----- $target (last lines of its log) -----"
      tail -n 30 "$logs/$target.log"
    fi
  done
  exit 1
fi
