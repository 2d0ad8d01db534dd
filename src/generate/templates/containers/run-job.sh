#!/bin/sh
# Runs one scheduled job:  run-job.sh JOB_NAME TIMEOUT_SECONDS -- COMMAND [ARGUMENT...]
#
# The command runs under `timeout`: SIGTERM at the timeout, SIGKILL 30 seconds later, exit code
# 124 when it was stopped. Its outcome then goes to the Pushgateway at
# $BLUEPRINT_PUSHGATEWAY_URL (unset: nothing is pushed) as gauges grouped under job=JOB_NAME:
# the exit code, the duration, and the time of this success or failure. Prometheus alerts on
# them. The push uses python3 or node, whichever the image has (slim images have no curl), and a
# failed push is logged without changing the job's own exit code.
set -u

if [ "$#" -lt 4 ] || [ "$3" != "--" ]; then
    echo "usage: run-job.sh JOB_NAME TIMEOUT_SECONDS -- COMMAND [ARGUMENT...]" >&2
    exit 64
fi
job=$1
timeout_seconds=$2
shift 3

started=$(date +%s)
timeout -k 30 "$timeout_seconds" "$@"
status=$?
finished=$(date +%s)

if [ "$status" -eq 0 ]; then
    outcome=success
else
    outcome=failure
    echo "run-job: ${job} failed with exit code ${status}" >&2
fi

pushgateway=${BLUEPRINT_PUSHGATEWAY_URL:-}
if [ -z "$pushgateway" ]; then
    exit "$status"
fi
url="${pushgateway%/}/metrics/job/${job}"
metrics="# TYPE blueprint_job_last_exit_code gauge
blueprint_job_last_exit_code ${status}
# TYPE blueprint_job_duration_seconds gauge
blueprint_job_duration_seconds $((finished - started))
# TYPE blueprint_job_last_${outcome}_timestamp_seconds gauge
blueprint_job_last_${outcome}_timestamp_seconds ${finished}
"

# POST replaces only the gauges sent: the last success survives a failure, and the other way round.
push() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import sys, urllib.request
request = urllib.request.Request(sys.argv[1], data=sys.stdin.buffer.read(), method="POST",
                                 headers={"Content-Type": "text/plain; version=0.0.4"})
urllib.request.urlopen(request, timeout=10)' "$url"
    elif command -v node >/dev/null 2>&1; then
        node -e 'const body = require("fs").readFileSync(0);
fetch(process.argv[1], { method: "POST", body, headers: { "Content-Type": "text/plain; version=0.0.4" },
                         signal: AbortSignal.timeout(10000) })
    .then((response) => process.exit(response.ok ? 0 : 1), () => process.exit(1));' "$url"
    else
        echo "run-job: neither python3 nor node is installed" >&2
        return 1
    fi
}

if ! printf '%s' "$metrics" | push; then
    echo "run-job: could not push the outcome of ${job} to ${url}" >&2
fi
exit "$status"
