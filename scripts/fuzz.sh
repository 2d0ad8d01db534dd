#!/usr/bin/env bash
# Builds the cargo-fuzz targets in fuzz/ and runs each for SECONDS (default: $FUZZ_SECONDS, or
# 60): `parse_validate` (raw bytes through what `blueprint validate` does) and `render`
# (structure-aware blueprints through validation, the model and every generator, in memory).
# Fails on any crash, timeout or out-of-memory; the input that did it is saved under
# fuzz/artifacts/<target>/ and can be replayed with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz <target> fuzz/artifacts/<target>/<file>
# Corpora grow in fuzz/corpus/<target>/ (gitignored), seeded from the examples
# (blueprints/<name>/blueprint.yaml) and tests/invalid/.
#
# cargo-fuzz comes from scripts/install-validators.sh (.validators/cargo). Only a stable
# toolchain is needed: RUSTC_BOOTSTRAP=1 lets it take the `-Z` flags cargo-fuzz passes for
# coverage instrumentation and AddressSanitizer. FUZZ_SANITIZER=none runs without ASan.
# Without cargo-fuzz the run is skipped, except under CI (CI set), where that is a failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SECONDS_PER_TARGET=${1:-${FUZZ_SECONDS:-60}}
SANITIZER=${FUZZ_SANITIZER:-address}
VDIR=${BLUEPRINT_VALIDATORS_DIR:-$ROOT/.validators}
TARGETS=(parse_validate render)

fail() { printf 'fuzz: %s\n' "$*" >&2; exit 1; }

case $SECONDS_PER_TARGET in
    '' | *[!0-9]*) fail "SECONDS must be a whole number, not '$SECONDS_PER_TARGET'" ;;
esac

export PATH="$VDIR/cargo/bin:$PATH"
if ! cargo fuzz --version >/dev/null 2>&1; then
    if [ -n "${CI:-}" ]; then
        fail "cargo-fuzz is not installed (run scripts/install-validators.sh)"
    fi
    echo "fuzz: cargo-fuzz is not installed (scripts/install-validators.sh installs it); skipped" >&2
    exit 0
fi
export RUSTC_BOOTSTRAP=1

echo "==> cargo fuzz build (sanitizer: $SANITIZER)"
cargo fuzz build --fuzz-dir fuzz -s "$SANITIZER"

# libFuzzer reads a seed directory whole, and the examples' folders hold their application
# sources too: the blueprints alone are gathered into one, by example name.
examples=$(mktemp -d)
trap 'rm -rf "$examples"' EXIT
for file in blueprints/*/blueprint.yaml; do
    cp "$file" "$examples/$(basename "$(dirname "$file")").yaml"
done

status=0
for target in "${TARGETS[@]}"; do
    corpus=fuzz/corpus/$target
    mkdir -p "$corpus" "fuzz/artifacts/$target"
    seeds=()
    options=()
    if [ "$target" = parse_validate ]; then
        seeds=("$examples" tests/invalid)
    else
        # Blueprints built from arbitrary bytes need a few hundred of them from the start.
        options=(-max_len=2048 -len_control=0)
    fi
    echo "==> cargo fuzz run $target for ${SECONDS_PER_TARGET}s"
    log=fuzz/artifacts/$target/last-run.log
    # libFuzzer: the first directory is the corpus it adds to, the others are only read.
    if cargo fuzz run --fuzz-dir fuzz -s "$SANITIZER" "$target" "$corpus" "${seeds[@]}" -- \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -timeout=10 \
        -dict=fuzz/blueprint.dict -print_final_stats=1 "${options[@]}" >"$log" 2>&1; then
        # The final line of libFuzzer's progress and its totals.
        grep -E '^#[0-9]+.*(DONE|pulse)|stat::number_of_executed_units|stat::peak_rss_mb' "$log" |
            tail -n 3 | sed "s/^/  $target: /"
    else
        status=1
        tail -n 60 "$log" >&2
        echo "fuzz: $target failed; the input is under fuzz/artifacts/$target/ (log: $log)" >&2
    fi
done
exit "$status"
