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
# With BACKUP_ENCRYPTION_KEY set, the dump is encrypted before it leaves the container (gpg,
# AES-256, the passphrase through a file descriptor, never an argument) and named
# <UTC time>.dump.gpg; restore.sh decrypts it with the same key.
#
# Reads BACKUP_DATABASE_URL, BACKUP_S3_ENDPOINT, BACKUP_S3_ACCESS_KEY_ID,
# BACKUP_S3_SECRET_ACCESS_KEY, BACKUP_BUCKET, BACKUP_PREFIX, BACKUP_RETENTION_SECONDS and
# optionally BACKUP_ENCRYPTION_KEY. Needs pg_dump, mc (the MinIO client, which speaks to any
# S3), GNU or BusyBox date, and gpg when encrypting (the official PostgreSQL images carry it).
set -eu

: "${BACKUP_DATABASE_URL:?}" "${BACKUP_S3_ENDPOINT:?}" "${BACKUP_S3_ACCESS_KEY_ID:?}"
: "${BACKUP_S3_SECRET_ACCESS_KEY:?}" "${BACKUP_BUCKET:?}" "${BACKUP_PREFIX:?}"
: "${BACKUP_RETENTION_SECONDS:?}"

# The root file system is read-only: mc keeps its configuration in the scratch space.
work=$(mktemp -d)
# gpg starts an agent for its home; it is stopped with it, so no process outlives the run.
cleanup() {
    if [ -d "$work/gnupg" ]; then
        gpgconf --homedir "$work/gnupg" --kill gpg-agent 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
export MC_CONFIG_DIR="$work/mc"
mc --quiet alias set backup "$BACKUP_S3_ENDPOINT" "$BACKUP_S3_ACCESS_KEY_ID" "$BACKUP_S3_SECRET_ACCESS_KEY" >/dev/null
base="backup/${BACKUP_BUCKET}/${BACKUP_PREFIX}"

# The dumps, oldest first: their names are their UTC times, which sort as the times do.
dumps() {
    mc --quiet ls "${base}/" | awk '{ print $NF }' | grep -E '^[0-9]{8}T[0-9]{6}Z[.]dump([.]gpg)?$' | sort || true
}

size_of() {
    mc --quiet stat --json "${base}/$1" | sed -n 's/.*"size": *\([0-9][0-9]*\).*/\1/p' | head -n 1
}

previous=$(dumps | tail -n 1)
name="$(date -u +%Y%m%dT%H%M%SZ).dump"

# The dump as it is stored: encrypted when there is a key (custom-format dumps are compressed
# already, so gpg does not compress again).
seal() {
    if [ -z "${BACKUP_ENCRYPTION_KEY:-}" ]; then
        cat
        return
    fi
    mkdir -m 700 "$work/gnupg"
    gpg --batch --quiet --no-tty --homedir "$work/gnupg" --pinentry-mode loopback \
        --passphrase-fd 3 --symmetric --cipher-algo AES256 --compress-algo none --output - 3<<KEY
${BACKUP_ENCRYPTION_KEY}
KEY
}
if [ -n "${BACKUP_ENCRYPTION_KEY:-}" ]; then
    name="${name}.gpg"
fi

# `mc pipe` completes the upload whenever its input ends, even when pg_dump or gpg died
# half-way, so their own exit statuses decide. dd counts the bytes on the way.
{ pg_dump --format=custom --dbname="$BACKUP_DATABASE_URL"; echo "$?" >"$work/dump-status"; } |
    { seal; echo "$?" >"$work/seal-status"; } |
    dd bs=65536 2>"$work/dd" | mc --quiet pipe "${base}/${name}.partial" >/dev/null || upload=$?
if [ "$(cat "$work/dump-status")" != 0 ] || [ "$(cat "$work/seal-status")" != 0 ] || [ "${upload:-0}" != 0 ]; then
    echo "backup: pg_dump exited $(cat "$work/dump-status"), the encryption $(cat "$work/seal-status"), the upload ${upload:-0}; no dump was kept" >&2
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
    stamp=$(printf '%s' "${dump%%.*}" | tr -d 'TZ')
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
