#!/bin/sh
# Runs one scheduled job:  run-job.sh JOB_NAME TIMEOUT_SECONDS -- COMMAND [ARGUMENT...]
#
# The command runs under `timeout`: SIGTERM at the timeout, SIGKILL 30 seconds later, exit code
# 124 when it was stopped. Its outcome then goes to the Pushgateway at
# $BLUEPRINT_PUSHGATEWAY_URL (unset: nothing is pushed) as gauges grouped under job=JOB_NAME
# (and namespace=$BLUEPRINT_NAMESPACE when set, as in a cluster):
# the exit code, the duration, and the time of this success or failure, plus any metrics the
# command wrote to the file $BLUEPRINT_JOB_METRICS names (the backup job's dump sizes).
# Prometheus alerts on them. The push uses python3, node or perl, whichever the image has (slim
# images have no curl; perl-base is in every Debian image), and a failed push is logged without
# changing the job's own exit code.
set -u

if [ "$#" -lt 4 ] || [ "$3" != "--" ]; then
    echo "usage: run-job.sh JOB_NAME TIMEOUT_SECONDS -- COMMAND [ARGUMENT...]" >&2
    exit 64
fi
job=$1
timeout_seconds=$2
shift 3

BLUEPRINT_JOB_METRICS="${TMPDIR:-/tmp}/blueprint-job-${job}.prom"
export BLUEPRINT_JOB_METRICS
rm -f "$BLUEPRINT_JOB_METRICS"

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
# In a cluster the namespace joins the grouping key: two environments sharing a Pushgateway
# keep their own groups, and the pushed series carry the `namespace` label the rules group by.
if [ -n "${BLUEPRINT_NAMESPACE:-}" ]; then
    url="${url}/namespace/${BLUEPRINT_NAMESPACE}"
fi
metrics="# TYPE blueprint_job_last_exit_code gauge
blueprint_job_last_exit_code ${status}
# TYPE blueprint_job_duration_seconds gauge
blueprint_job_duration_seconds $((finished - started))
# TYPE blueprint_job_last_${outcome}_timestamp_seconds gauge
blueprint_job_last_${outcome}_timestamp_seconds ${finished}
"
if [ -s "$BLUEPRINT_JOB_METRICS" ]; then
    metrics="${metrics}$(cat "$BLUEPRINT_JOB_METRICS")
"
fi

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
    elif command -v perl >/dev/null 2>&1; then
        perl -MIO::Socket::INET -e 'my ($host, $port, $path) = $ARGV[0] =~ m{^http://([^/:]+)(?::(\d+))?(/.*)$}
    or die "run-job: not an http:// URL\n";
my $body = do { local $/; <STDIN> };
my $socket = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port || 80, Timeout => 10) or die "$!\n";
print $socket "POST $path HTTP/1.0\r\nHost: $host\r\nContent-Type: text/plain; version=0.0.4\r\n"
    . "Content-Length: " . length($body) . "\r\n\r\n" . $body;
exit((<$socket> // "") =~ m{^HTTP/\S+ 2} ? 0 : 1);' "$url"
    else
        echo "run-job: none of python3, node and perl is installed" >&2
        return 1
    fi
}

if ! printf '%s' "$metrics" | push; then
    echo "run-job: could not push the outcome of ${job} to ${url}" >&2
fi
exit "$status"
