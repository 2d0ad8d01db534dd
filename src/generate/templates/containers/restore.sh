#!/bin/sh
# Lists the dumps of one PostgreSQL database, or restores one:
#
#   restore.sh                  lists the dumps in the bucket, oldest first (changes nothing)
#   restore.sh --apply [DUMP]   restores DUMP (a name from the list; the newest when omitted)
#   restore.sh --test           proves the newest dump restores, without touching any database
#
# The dump is restored into $RESTORE_DATABASE_URL, or the backed-up database itself when that
# is unset. The target database must exist (`createdb`, or the provider's dashboard): the
# restore drops and re-creates every object the dump holds, as the target's user (ownership is
# not restored), in one transaction, so a failed restore leaves the target as it was.
#
# --test restores the newest dump into a throwaway PostgreSQL server of this image's version,
# started inside this container in a scratch directory under $TMPDIR (/tmp), listening on a
# unix socket only, and checks that it holds at least one table. The table count and the
# dump's age go to $BLUEPRINT_JOB_METRICS, which run-job.sh pushes with the run's outcome
# (BackupRestoreTestFailed watches it). The server is stopped and the directory removed on
# exit, whatever happened: the scratch space must hold the restored database while it runs.
#
# Reads the same variables as backup.sh: BACKUP_DATABASE_URL, BACKUP_S3_ENDPOINT,
# BACKUP_S3_ACCESS_KEY_ID, BACKUP_S3_SECRET_ACCESS_KEY, BACKUP_BUCKET, BACKUP_PREFIX, and
# BACKUP_ENCRYPTION_KEY to restore an encrypted dump (`.dump.gpg`).
set -eu

apply=0
test=0
chosen=""
case "${1:-}" in
    "") ;;
    --apply) apply=1; chosen=${2:-} ;;
    --test) apply=1; test=1 ;;
    *) echo "usage: restore.sh [--apply [DUMP] | --test]" >&2; exit 64 ;;
esac

: "${BACKUP_S3_ENDPOINT:?}" "${BACKUP_S3_ACCESS_KEY_ID:?}" "${BACKUP_S3_SECRET_ACCESS_KEY:?}"
: "${BACKUP_BUCKET:?}" "${BACKUP_PREFIX:?}"
if [ "$test" -eq 0 ]; then
    : "${BACKUP_DATABASE_URL:?}"
fi

work=$(mktemp -d)
# gpg starts an agent for its home, and --test a server in the scratch directory: both are
# stopped with it, so no process outlives the run.
cleanup() {
    if [ -d "$work/gnupg" ]; then
        gpgconf --homedir "$work/gnupg" --kill gpg-agent 2>/dev/null || true
    fi
    if [ -f "$work/data/postmaster.pid" ]; then
        pg_ctl --pgdata="$work/data" --mode=immediate --wait stop >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
export MC_CONFIG_DIR="$work/mc"
mc --quiet alias set backup "$BACKUP_S3_ENDPOINT" "$BACKUP_S3_ACCESS_KEY_ID" "$BACKUP_S3_SECRET_ACCESS_KEY" >/dev/null
base="backup/${BACKUP_BUCKET}/${BACKUP_PREFIX}"

dumps=$(mc --quiet ls "${base}/" | awk '{ print $NF }' | grep -E '^[0-9]{8}T[0-9]{6}Z[.]dump([.]gpg)?$' | sort || true)
if [ "$apply" -eq 0 ]; then
    echo "Dumps in ${BACKUP_BUCKET}/${BACKUP_PREFIX}/, oldest first:"
    printf '%s\n' "${dumps:-(none)}"
    echo "Restore one with: restore.sh --apply [DUMP]  (the newest when DUMP is omitted)"
    exit 0
fi
if [ -z "$dumps" ]; then
    echo "restore: there is no dump in ${BACKUP_BUCKET}/${BACKUP_PREFIX}/" >&2
    exit 1
fi
if [ -z "$chosen" ]; then
    chosen=$(printf '%s\n' "$dumps" | tail -n 1)
elif ! printf '%s\n' "$dumps" | grep -qxF "$chosen"; then
    echo "restore: no dump ${chosen} in ${BACKUP_BUCKET}/${BACKUP_PREFIX}/ (run restore.sh to list them)" >&2
    exit 1
fi

case "$chosen" in
    *.gpg)
        if [ -z "${BACKUP_ENCRYPTION_KEY:-}" ]; then
            echo "restore: ${chosen} is encrypted; set BACKUP_ENCRYPTION_KEY to the key it was made with" >&2
            exit 1
        fi ;;
esac

# The dump as pg_restore reads it: decrypted when it was encrypted. A wrong key fails here.
unseal() {
    case "$chosen" in
        *.gpg) ;;
        *) cat; return ;;
    esac
    mkdir -m 700 "$work/gnupg"
    gpg --batch --quiet --no-tty --homedir "$work/gnupg" --pinentry-mode loopback \
        --passphrase-fd 3 --decrypt --output - 3<<KEY
${BACKUP_ENCRYPTION_KEY}
KEY
}

if [ "$test" -eq 1 ]; then
    # The scratch server: trust on its unix socket only (no TCP port, so nothing outside this
    # container reaches it), no fsync (it is thrown away).
    socket="$work/socket"
    mkdir -m 700 "$socket"
    if ! initdb --pgdata="$work/data" --username=postgres --auth=trust --encoding=UTF8 --no-sync >"$work/initdb.log" 2>&1; then
        cat "$work/initdb.log" >&2
        echo "restore: initdb failed in ${work}; the restore test needs initdb and pg_ctl on PATH and room in ${TMPDIR:-/tmp}" >&2
        exit 1
    fi
    if ! pg_ctl --pgdata="$work/data" --log="$work/server.log" --wait --silent \
        --options="-c listen_addresses='' -k $socket -c fsync=off" start; then
        cat "$work/server.log" >&2
        echo "restore: the scratch PostgreSQL server did not start" >&2
        exit 1
    fi
    createdb --host="$socket" --username=postgres --template=template0 restore_test
    target="host=$socket user=postgres dbname=restore_test"
    echo "restore: ${BACKUP_PREFIX}/${chosen} into a scratch server (restore test)"
    # Nothing there to clean: a fresh database, and none of the dump's roles.
    options="--no-acl"
else
    target=${RESTORE_DATABASE_URL:-$BACKUP_DATABASE_URL}
    echo "restore: ${BACKUP_PREFIX}/${chosen} into the target database"
    options="--clean --if-exists"
fi
# $options is one or two words, split on purpose.
# shellcheck disable=SC2086
{ mc --quiet cat "${base}/${chosen}"; echo "$?" >"$work/download-status"; } |
    { unseal; echo "$?" >"$work/unseal-status"; } |
    pg_restore $options --no-owner --exit-on-error --single-transaction --dbname="$target" || restored=$?
if [ "$(cat "$work/download-status")" != 0 ] || [ "$(cat "$work/unseal-status")" != 0 ] || [ "${restored:-0}" != 0 ]; then
    echo "restore: the download exited $(cat "$work/download-status"), the decryption $(cat "$work/unseal-status"), pg_restore ${restored:-0}; nothing was changed" >&2
    exit 1
fi
if [ "$test" -eq 0 ]; then
    echo "restore: done"
    exit 0
fi

tables=$(psql --host="$socket" --username=postgres --dbname=restore_test -X -At -v ON_ERROR_STOP=1 \
    -c "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")
# The dump's name is its UTC time: 20261204T030000Z.
stamp=$(printf '%s' "${chosen%%.*}" | sed 's/^\(....\)\(..\)\(..\)T\(..\)\(..\)\(..\)Z$/\1-\2-\3 \4:\5:\6/')
age=$(($(date -u +%s) - $(date -u -d "$stamp" +%s)))
if [ -n "${BLUEPRINT_JOB_METRICS:-}" ]; then
    cat >"$BLUEPRINT_JOB_METRICS" <<METRICS
# TYPE blueprint_restore_test_tables gauge
blueprint_restore_test_tables ${tables}
# TYPE blueprint_restore_test_dump_age_seconds gauge
blueprint_restore_test_dump_age_seconds ${age}
METRICS
fi
if [ "$tables" -eq 0 ]; then
    echo "restore: ${chosen} restored, and holds no table: it is not a dump of the database" >&2
    exit 1
fi
echo "restore: ${chosen} (${age} s old) restores, with ${tables} tables"
