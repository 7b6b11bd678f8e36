#!/usr/bin/env bash
# Run the libFuzzer targets under fuzz/ (cargo-fuzz, nightly toolchain) for a fixed time each.
#
#   scripts/fuzz.sh [-t SECONDS] [-j JOBS] [TARGET...]     (default: 20 s, 1 at a time, all)
#
# Each target starts from its committed seeds (fuzz/corpus/<target>/, read only) and grows a
# scratch corpus outside the repository ($FUZZ_WORK, default $TMPDIR/attune-fuzz/<target>), so a
# run never adds thousands of generated inputs to the work tree. A crash input is written to
# fuzz/artifacts/<target>/ (git-ignored) and the script exits 1; the last line prints, per
# target, libFuzzer's final counts: executions, coverage (cov: edges, ft: features), corpus.
#
# Everything runs at the lowest priority (nice 19, and SCHED_IDLE where chrt exists): the
# machine is shared, and a fuzzer would otherwise take every idle core from a benchmark.
# Install cargo-fuzz first if it is missing (crates.io, `cargo install cargo-fuzz --locked`).
set -euo pipefail

cd "$(dirname "$0")/.."

seconds=20
jobs=1
while getopts "t:j:" opt; do
    case "$opt" in
        t) seconds=$OPTARG ;;
        j) jobs=$OPTARG ;;
        *) echo "usage: $0 [-t SECONDS] [-j JOBS] [TARGET...]" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))

log() { printf '==> %s\n' "$*" >&2; }

low=(nice -n 19)
if command -v chrt >/dev/null && chrt --idle 0 true 2>/dev/null; then
    low+=(chrt --idle 0)
fi

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    log "installing cargo-fuzz"
    "${low[@]}" cargo install cargo-fuzz --locked
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cd fuzz && cargo +nightly fuzz list)
fi

work=${FUZZ_WORK:-${TMPDIR:-/tmp}/attune-fuzz}
logs="$work/logs"
mkdir -p "$logs"

# No sanitizer: the targets are safe Rust apart from the SIMD kernels, and without ASan the
# whole tree builds in about half the time and runs about twice as fast (docs/operations.md).
# `--sanitizer address` on the command line of a long run adds it back.
sanitizer=${FUZZ_SANITIZER:-none}
# cargo-fuzz builds into fuzz/target unless told otherwise; honour CARGO_TARGET_DIR.
build_opts=(--sanitizer "$sanitizer")
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
    build_opts+=(--target-dir "$CARGO_TARGET_DIR")
fi

log "building ${#targets[@]} fuzz targets (sanitizer: $sanitizer)"
build_start=$SECONDS
(cd fuzz && "${low[@]}" cargo +nightly fuzz build "${build_opts[@]}")
log "built in $((SECONDS - build_start)) s"

run_one() {
    local t=$1
    mkdir -p "$work/$t"
    # A missing seed directory is not an error for libFuzzer, but it is for us.
    [ -d "fuzz/corpus/$t" ] || { echo "$t: no seed corpus fuzz/corpus/$t" >&2; return 1; }
    (cd fuzz && "${low[@]}" cargo +nightly fuzz run "${build_opts[@]}" "$t" \
        "$work/$t" "corpus/$t" -- \
        -max_total_time="$seconds" -timeout=120 -rss_limit_mb=4096 -print_final_stats=1) \
        >"$logs/$t.log" 2>&1
}

failed=()
running=()
for t in "${targets[@]}"; do
    log "fuzzing $t for ${seconds} s"
    run_one "$t" &
    running+=("$!:$t")
    if [ ${#running[@]} -ge "$jobs" ]; then
        entry=${running[0]}
        running=("${running[@]:1}")
        wait "${entry%%:*}" || failed+=("${entry#*:}")
    fi
done
for entry in "${running[@]}"; do
    wait "${entry%%:*}" || failed+=("${entry#*:}")
done

for t in "${targets[@]}"; do
    # libFuzzer's last status line, e.g. "#123456 DONE cov: 2345 ft: 6789 corp: 321/45Kb ...".
    last=$(grep -E '^#[0-9]+' "$logs/$t.log" | tail -n 1 || true)
    execs=$(grep -E '^stat::number_of_executed_units' "$logs/$t.log" | awk '{print $2}' || true)
    printf '%-14s execs=%s  %s\n' "$t" "${execs:-?}" "${last:-no status line}"
done

if [ ${#failed[@]} -gt 0 ]; then
    for t in "${failed[@]}"; do
        log "$t FAILED; its log:"
        tail -n 60 "$logs/$t.log" >&2
    done
    log "crash inputs are in fuzz/artifacts/"
    exit 1
fi
log "fuzzing passed: ${targets[*]}"
