#!/bin/sh
# Backs up one PostgreSQL database to an S3 bucket:  backup.sh   (settings from the environment)
#
# pg_dump --format=custom streams to $BACKUP_BUCKET at $BACKUP_PREFIX/<UTC time>.dump, through
# a `.partial` key that becomes the dump only once pg_dump and the upload have both succeeded:
# a failed run never leaves a dump that looks good. Then every dump older than
# $BACKUP_RETENTION_SECONDS is deleted, except the newest. The dump's size and the size of the
# dump before it go to $BLUEPRINT_JOB_METRICS, which run-job.sh pushes with the run's outcome
# (BackupTooSmall compares them).
#
# Reads BACKUP_DATABASE_URL, BACKUP_S3_ENDPOINT, BACKUP_S3_ACCESS_KEY_ID,
# BACKUP_S3_SECRET_ACCESS_KEY, BACKUP_BUCKET, BACKUP_PREFIX and BACKUP_RETENTION_SECONDS.
# Needs pg_dump, mc (the MinIO client, which speaks to any S3) and GNU or BusyBox date.
set -eu

: "${BACKUP_DATABASE_URL:?}" "${BACKUP_S3_ENDPOINT:?}" "${BACKUP_S3_ACCESS_KEY_ID:?}"
: "${BACKUP_S3_SECRET_ACCESS_KEY:?}" "${BACKUP_BUCKET:?}" "${BACKUP_PREFIX:?}"
: "${BACKUP_RETENTION_SECONDS:?}"

# The root file system is read-only: mc keeps its configuration in the scratch space.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export MC_CONFIG_DIR="$work/mc"
mc --quiet alias set backup "$BACKUP_S3_ENDPOINT" "$BACKUP_S3_ACCESS_KEY_ID" "$BACKUP_S3_SECRET_ACCESS_KEY" >/dev/null
base="backup/${BACKUP_BUCKET}/${BACKUP_PREFIX}"

# The dumps, oldest first: their names are their UTC times, which sort as the times do.
dumps() {
    mc --quiet ls "${base}/" | awk '{ print $NF }' | grep -E '^[0-9]{8}T[0-9]{6}Z[.]dump$' | sort || true
}

size_of() {
    mc --quiet stat --json "${base}/$1" | sed -n 's/.*"size": *\([0-9][0-9]*\).*/\1/p' | head -n 1
}

previous=$(dumps | tail -n 1)
name="$(date -u +%Y%m%dT%H%M%SZ).dump"

# `mc pipe` completes the upload whenever its input ends, even when pg_dump died half-way, so
# pg_dump's own exit status decides. dd counts the bytes on the way.
{ pg_dump --format=custom --dbname="$BACKUP_DATABASE_URL"; echo "$?" >"$work/dump-status"; } |
    dd bs=65536 2>"$work/dd" | mc --quiet pipe "${base}/${name}.partial" >/dev/null || upload=$?
if [ "$(cat "$work/dump-status")" != 0 ] || [ "${upload:-0}" != 0 ]; then
    echo "backup: pg_dump exited $(cat "$work/dump-status"), the upload ${upload:-0}; no dump was kept" >&2
    mc --quiet rm "${base}/${name}.partial" >/dev/null 2>&1 || true
    exit 1
fi
mc --quiet mv "${base}/${name}.partial" "${base}/${name}" >/dev/null
size=$(sed -n 's/^\([0-9][0-9]*\) bytes.*/\1/p' "$work/dd" | tail -n 1)
echo "backup: ${BACKUP_PREFIX}/${name} (${size} bytes) in ${BACKUP_BUCKET}"

# Retention: older than the cutoff goes, the newest dump stays whatever its age.
now=$(date -u +%s)
cutoff=$(date -u -d "@$((now - BACKUP_RETENTION_SECONDS))" +%Y%m%d%H%M%S)
newest=$(dumps | tail -n 1)
for dump in $(dumps); do
    stamp=$(printf '%s' "${dump%.dump}" | tr -d 'TZ')
    if [ "$dump" != "$newest" ] && [ "$stamp" -lt "$cutoff" ]; then
        mc --quiet rm "${base}/${dump}" >/dev/null
        echo "backup: deleted ${BACKUP_PREFIX}/${dump}, older than the retention"
    fi
done

if [ -n "${BLUEPRINT_JOB_METRICS:-}" ]; then
    before=$size
    if [ -n "$previous" ]; then
        before=$(size_of "$previous")
    fi
    cat >"$BLUEPRINT_JOB_METRICS" <<METRICS
# TYPE blueprint_backup_size_bytes gauge
blueprint_backup_size_bytes ${size}
# TYPE blueprint_backup_previous_size_bytes gauge
blueprint_backup_previous_size_bytes ${before:-$size}
METRICS
fi
