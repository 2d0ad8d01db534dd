#!/usr/bin/env bash
# The logic of the GitHub Action (action.yml at the repository root), kept in a file so that it
# can be linted (ShellCheck) and run here by tests/action.rs. Every input arrives through the
# environment, never through `${{ }}` templating, so an input cannot turn into shell code.
#
#   action.sh install   put a verified blueprint binary in place; prints bin=PATH to $GITHUB_OUTPUT
#   action.sh run       run the check (or diff), write the summary; exits with blueprint's code
#
# install reads:
#   BLUEPRINT_BIN           an existing binary to use as is (tests, self-built binaries)
#   INPUT_VERSION           release tag to install (v1.2.3 or 1.2.3); empty: the action's own
#   ACTION_REF              github.action_ref (composite actions only get it through `env:`)
#   ACTION_REPOSITORY       github.action_repository, e.g. blueprint-rs/blueprint
#   GITHUB_ACTION_PATH      the action's checkout: its Cargo.toml names its version, and it is
#                           the source to build when no release binary fits
#   BLUEPRINT_DOWNLOAD_URL  base URL of the release assets (default: the GitHub release)
#   RUNNER_OS, RUNNER_ARCH, RUNNER_TEMP, GITHUB_OUTPUT, GITHUB_PATH (set by the runner)
# run reads:
#   BLUEPRINT_BIN           the binary (default: blueprint on PATH)
#   INPUT_BLUEPRINT         the blueprint file (default blueprint.yaml)
#   INPUT_OUT               output root (default: the blueprint's directory)
#   INPUT_MODE              check (default) or diff
#   GITHUB_STEP_SUMMARY     Markdown summary file, appended to (skipped when unset)
#   GITHUB_ACTIONS          `true` makes blueprint print ::error annotations

# The backticks in single-quoted printf formats are Markdown code spans, not command substitution.
# shellcheck disable=SC2016
set -euo pipefail

# Exit codes, as blueprint's own: 1 drift, 2 anything else that went wrong.
readonly EXIT_ERROR=2
# GitHub caps a step summary at 1 MiB; a huge diff is cut well below that.
readonly SUMMARY_DIFF_BYTES=600000

log() { printf '%s\n' "$*" >&2; }

# An error: an annotation under GitHub Actions, a plain line elsewhere.
fail() {
  if [[ "${GITHUB_ACTIONS:-}" == "true" ]]; then
    printf '::error title=blueprint action::%s\n' "$*"
  else
    log "error: $*"
  fi
  exit "$EXIT_ERROR"
}

# The Rust target triple of a release binary that runs here, or nothing.
target_triple() {
  local os="${RUNNER_OS:-$(uname -s)}" arch="${RUNNER_ARCH:-$(uname -m)}"
  case "$os/$arch" in
    Linux/X64 | Linux/x86_64) echo x86_64-unknown-linux-gnu ;;
    Linux/ARM64 | Linux/aarch64 | Linux/arm64) echo aarch64-unknown-linux-gnu ;;
    macOS/X64 | Darwin/x86_64) echo x86_64-apple-darwin ;;
    macOS/ARM64 | Darwin/arm64 | Darwin/aarch64) echo aarch64-apple-darwin ;;
    *) ;;
  esac
}

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

# The version in the action checkout's Cargo.toml (the first `version =` is the package's).
action_version() {
  local manifest="${GITHUB_ACTION_PATH:-}/Cargo.toml"
  [[ -n "${GITHUB_ACTION_PATH:-}" && -f "$manifest" ]] || return 0
  sed -n 's/^version = "\([^"]*\)".*/\1/p' "$manifest" | head -n 1
}

# owner/name of the action: from github.action_repository, else from the runner's checkout
# path (.../_actions/OWNER/NAME/REF), since the former is empty in some composite contexts.
action_repository() {
  if [[ -n "${ACTION_REPOSITORY:-}" ]]; then
    echo "$ACTION_REPOSITORY"
  elif [[ "${GITHUB_ACTION_PATH:-}" == */_actions/*/*/* ]]; then
    local rest="${GITHUB_ACTION_PATH#*/_actions/}"
    local owner="${rest%%/*}"
    rest="${rest#*/}"
    echo "$owner/${rest%%/*}"
  fi
}

# Downloads the release archive for $1 (target) of $2 (tag) into $3 (dir), verifies it
# against the release's SHA256SUMS and unpacks it. Returns 1 when the release has no such
# binary (then the caller builds from source); exits when the checksum does not match, since
# that is tampering or corruption, not a missing binary.
download() {
  local target="$1" tag="$2" dir="$3" repo="$4"
  local base="${BLUEPRINT_DOWNLOAD_URL:-https://github.com/$repo/releases/download/$tag}"
  local asset="blueprint-$target.tar.gz"
  local curl=(curl --fail --silent --show-error --location --retry 3 --proto '=https,file' --proto-redir '=https')
  log "downloading $base/$asset"
  if ! "${curl[@]}" --output "$dir/$asset" "$base/$asset"; then
    log "no release binary $asset for $tag"
    return 1
  fi
  if ! "${curl[@]}" --output "$dir/SHA256SUMS" "$base/SHA256SUMS"; then
    log "the release $tag has no SHA256SUMS; not using an unverified binary"
    return 1
  fi
  local expected actual
  expected="$(awk -v name="$asset" '$2 == name || $2 == "*" name { print $1; exit }' "$dir/SHA256SUMS")"
  actual="$(sha256_of "$dir/$asset")"
  if [[ -z "$expected" ]]; then
    log "SHA256SUMS of $tag does not list $asset; not using an unverified binary"
    return 1
  fi
  if [[ "$expected" != "$actual" ]]; then
    fail "checksum mismatch for $asset of $tag: SHA256SUMS says $expected, the download is $actual"
  fi
  log "sha256 verified: $actual  $asset"
  mkdir -p "$dir/bin"
  tar -xzf "$dir/$asset" -C "$dir/bin" blueprint || return 1
  chmod +x "$dir/bin/blueprint"
}

install() {
  local bin
  if [[ -n "${BLUEPRINT_BIN:-}" ]]; then
    bin="$BLUEPRINT_BIN"
    [[ -x "$bin" ]] || fail "BLUEPRINT_BIN=$bin is not an executable file"
  else
    local explicit="${INPUT_VERSION:-}" tag repo target dir
    repo="$(action_repository)"
    if [[ -n "$explicit" ]]; then
      tag="v${explicit#v}"
    elif [[ "${ACTION_REF:-}" =~ ^v[0-9]+\.[0-9]+\.[0-9]+ ]]; then
      tag="$ACTION_REF"
    else
      # A moving ref (@v1, @main, a commit): the version its checkout declares.
      tag="$(action_version)"
      tag="${tag:+v$tag}"
    fi
    dir="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/blueprint-action"
    rm -rf "${dir:?}"
    mkdir -p "$dir"
    target="$(target_triple)"
    bin="$dir/bin/blueprint"
    log "blueprint ${tag:-(version unknown)} for ${target:-(no release binary for this runner)}"
    if [[ -n "$target" && -n "$tag" && ( -n "$repo" || -n "${BLUEPRINT_DOWNLOAD_URL:-}" ) ]] \
      && download "$target" "$tag" "$dir" "$repo" \
      && "$bin" --version >/dev/null 2>&1; then
      :
    else
      [[ -z "$target" ]] && log "no release binary is built for ${RUNNER_OS:-$(uname -s)}/${RUNNER_ARCH:-$(uname -m)}"
      command -v cargo >/dev/null 2>&1 || fail "no release binary fits this runner and cargo is not installed to build one"
      rm -rf "${dir:?}/bin"
      # Outside $dir, which each install empties: a second use of the action in the same job
      # (another blueprint, or check then diff) reuses this build instead of starting over.
      export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${RUNNER_TEMP:-${TMPDIR:-/tmp}}/blueprint-build}"
      if [[ -z "$explicit" && -f "${GITHUB_ACTION_PATH:-}/Cargo.toml" ]]; then
        # The action's own checkout is exactly the source of the version asked for.
        log "building blueprint from the action's source with cargo"
        cargo install --locked --root "$dir" --path "$GITHUB_ACTION_PATH"
      else
        [[ -n "$repo" && -n "$tag" ]] || fail "cannot tell which blueprint to build: set the version input"
        log "building blueprint $tag with cargo"
        cargo install --locked --root "$dir" --git "https://github.com/$repo" --tag "$tag" blueprint
      fi
      if [[ "${RUNNER_OS:-}" == "Windows" ]]; then
        bin="$dir/bin/blueprint.exe"
      fi
    fi
    [[ -n "${GITHUB_PATH:-}" ]] && echo "$dir/bin" >>"$GITHUB_PATH"
  fi
  "$bin" --version >&2 || fail "$bin does not run"
  if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
    echo "bin=$bin" >>"$GITHUB_OUTPUT"
  fi
  echo "$bin"
}

# Appends stdin to the step summary, when there is one.
summary() {
  if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
    cat >>"$GITHUB_STEP_SUMMARY"
  else
    cat >/dev/null
  fi
}

run() {
  local bin="${BLUEPRINT_BIN:-blueprint}"
  local file="${INPUT_BLUEPRINT:-blueprint.yaml}" out="${INPUT_OUT:-}" mode="${INPUT_MODE:-check}"
  [[ -f "$file" ]] || fail "blueprint file not found: $file (set the blueprint input)"
  # Options first and `--` before the file, so a path that starts with `-` stays a path.
  # (`${a[@]+"${a[@]}"}` expands an empty array under `set -u` in macOS's bash 3.2 too.)
  local out_args=()
  [[ -n "$out" ]] && out_args=(--out "$out")
  local fix="blueprint render $file${out:+ --out $out}"
  local code=0
  # Global, not local: the EXIT trap runs after this function has returned.
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT

  case "$mode" in
    check)
      # For the log and, under GitHub Actions, the ::error annotations on each drifted file.
      "$bin" check ${out_args[@]+"${out_args[@]}"} -- "$file" || code=$?
      if ((code <= 1)); then
        # The Markdown report: the same check, read from disk again; it only reads.
        "$bin" check --format markdown ${out_args[@]+"${out_args[@]}"} -- "$file" >"$tmp/summary.md" 2>/dev/null || true
        summary <"$tmp/summary.md"
      fi
      ;;
    diff)
      NO_COLOR=1 "$bin" diff ${out_args[@]+"${out_args[@]}"} -- "$file" >"$tmp/diff" || code=$?
      cat "$tmp/diff"
      if ((code == 0)); then
        printf '### :white_check_mark: blueprint: generated files are up to date\n\n`blueprint diff %s` found no differences.\n' "$file" | summary
      elif ((code == 1)); then
        if [[ "${GITHUB_ACTIONS:-}" == "true" ]]; then
          printf '::error file=%s,title=blueprint drift::Generated files differ from %s. Run `%s` and commit the result.\n' "$file" "$file" "$fix"
        fi
        {
          printf '### :x: blueprint: generated files differ from `%s`\n\n' "$file"
          printf 'Fix: run this, review the result and commit it:\n\n```sh\n%s\n```\n\n' "$fix"
          printf '<details><summary>What would change</summary>\n\n```diff\n'
          head -c "$SUMMARY_DIFF_BYTES" "$tmp/diff"
          if (($(wc -c <"$tmp/diff") > SUMMARY_DIFF_BYTES)); then
            printf '\n... (cut; the whole diff is in the log)'
          fi
          printf '\n```\n\n</details>\n'
        } | summary
      fi
      ;;
    *) fail "mode must be check or diff, not '$mode'" ;;
  esac
  if ((code >= EXIT_ERROR)); then
    printf '### :warning: blueprint could not check `%s`\n\nSee the step log for the error.\n' "$file" | summary
  fi
  return "$code"
}

case "${1:-}" in
  install) install ;;
  run) run ;;
  *)
    log "usage: $0 install|run"
    exit "$EXIT_ERROR"
    ;;
esac
