#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs the ecosystem validators the tests call
# (idempotent, seconds when already installed), then formatting, lints, every test, the stack
# harness (every rendered Compose environment booted and exercised), and a short run of each
# fuzz target (FUZZ_SECONDS each, default 60).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-validators.sh

echo "==> cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml --all -- --check

echo "==> cargo clippy (warnings are errors)"
cargo clippy --all-targets --locked -- -D warnings

echo "==> cargo test"
# With CI set, a validator that is missing fails its test instead of being skipped.
export CI="${CI:-true}"
export INSTA_UPDATE=no
cargo test --locked --all-targets

echo "==> stack harness (tests/stack)"
# Installs what it boots stacks with (scripts/install-stack.sh), then its scenarios: as root,
# in a private network namespace.
bash scripts/stack-test.sh -q

echo "==> fuzzing, ${FUZZ_SECONDS:-60}s per target"
# A short bounded run; `bash scripts/fuzz.sh 3600` runs longer. Fails on any crash.
bash scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
