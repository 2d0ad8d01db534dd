#!/usr/bin/env bash
# Release packaging, shared by .github/workflows/release.yml and tests/action.rs (which
# installs what this packs through scripts/action.sh, as the GitHub Action does).
#
#   release-package.sh archive TARGET BINARY DIST [GENERATOR]
#       DIST/blueprint-TARGET.tar.gz: the binary, shell completions and man pages at the top
#       level. GENERATOR (default BINARY) is a blueprint that runs on this machine, for when
#       BINARY was cross-compiled; completions and man pages do not depend on the target.
#   release-package.sh checksums DIST
#       DIST/SHA256SUMS over every other file in DIST, in `sha256sum` format.
set -euo pipefail

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum -- "$@"
  else
    shasum -a 256 -- "$@"
  fi
}

case "${1:-}" in
  archive)
    [[ $# -ge 4 ]] || { echo "usage: $0 archive TARGET BINARY DIST [GENERATOR]" >&2; exit 2; }
    target="$2" bin="$3" dist="$4" gen="${5:-$3}"
    stage="$(mktemp -d)"
    trap 'rm -rf "$stage"' EXIT
    cp "$bin" "$stage/blueprint"
    chmod 755 "$stage/blueprint"
    mkdir -p "$stage/completions" "$stage/man" "$dist"
    for shell in bash zsh fish powershell elvish; do
      "$gen" completions "$shell" >"$stage/completions/blueprint.$shell"
    done
    "$gen" man --dir "$stage/man"
    # Member names without a leading ./, so `tar -xzf ARCHIVE blueprint` finds the binary.
    tar -czf "$dist/blueprint-$target.tar.gz" -C "$stage" blueprint completions man
    echo "$dist/blueprint-$target.tar.gz"
    ;;
  checksums)
    [[ $# -eq 2 ]] || { echo "usage: $0 checksums DIST" >&2; exit 2; }
    cd "$2"
    rm -f SHA256SUMS
    files=()
    for f in *; do
      [[ -f "$f" ]] && files+=("$f")
    done
    sha256 "${files[@]}" >SHA256SUMS.tmp
    mv SHA256SUMS.tmp SHA256SUMS
    cat SHA256SUMS
    ;;
  *)
    echo "usage: $0 archive TARGET BINARY DIST [GENERATOR] | checksums DIST" >&2
    exit 2
    ;;
esac
