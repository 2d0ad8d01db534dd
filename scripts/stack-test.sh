#!/usr/bin/env bash
# The stack harness (tests/stack): installs what it boots stacks with, then runs its scenarios in
# a private network namespace. Arguments go to pytest (e.g. -k data-platform-dev). As root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-stack.sh
STATE=${STACK_STATE_DIR:-/var/cache/blueprint-stack}
exec "$STATE/venv/bin/python" tests/stack/stack.py test "$@"
