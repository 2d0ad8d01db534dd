#!/bin/sh
set -eu

: "${APP_DIR:=/app}"

if [ -f "${APP_DIR}/migrate" ]; then
    "${APP_DIR}/migrate" --yes
fi

exec "$@"
