#!/bin/sh
# Lists the dumps of one PostgreSQL database, or restores one:
#
#   restore.sh                  lists the dumps in the bucket, oldest first (changes nothing)
#   restore.sh --apply [DUMP]   restores DUMP (a name from the list; the newest when omitted)
#
# The dump is restored into $RESTORE_DATABASE_URL, or the backed-up database itself when that
# is unset. The target database must exist (`createdb`, or the provider's dashboard): the
# restore drops and re-creates every object the dump holds, as the target's user (ownership is
# not restored), in one transaction, so a failed restore leaves the target as it was.
#
# Reads the same variables as backup.sh: BACKUP_DATABASE_URL, BACKUP_S3_ENDPOINT,
# BACKUP_S3_ACCESS_KEY_ID, BACKUP_S3_SECRET_ACCESS_KEY, BACKUP_BUCKET, BACKUP_PREFIX, and
# BACKUP_ENCRYPTION_KEY to restore an encrypted dump (`.dump.gpg`).
set -eu

: "${BACKUP_DATABASE_URL:?}" "${BACKUP_S3_ENDPOINT:?}" "${BACKUP_S3_ACCESS_KEY_ID:?}"
: "${BACKUP_S3_SECRET_ACCESS_KEY:?}" "${BACKUP_BUCKET:?}" "${BACKUP_PREFIX:?}"

apply=0
chosen=""
case "${1:-}" in
    "") ;;
    --apply) apply=1; chosen=${2:-} ;;
    *) echo "usage: restore.sh [--apply [DUMP]]" >&2; exit 64 ;;
esac

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

target=${RESTORE_DATABASE_URL:-$BACKUP_DATABASE_URL}
echo "restore: ${BACKUP_PREFIX}/${chosen} into the target database"
{ mc --quiet cat "${base}/${chosen}"; echo "$?" >"$work/download-status"; } |
    { unseal; echo "$?" >"$work/unseal-status"; } |
    pg_restore --clean --if-exists --no-owner --exit-on-error --single-transaction --dbname="$target" || restored=$?
if [ "$(cat "$work/download-status")" != 0 ] || [ "$(cat "$work/unseal-status")" != 0 ] || [ "${restored:-0}" != 0 ]; then
    echo "restore: the download exited $(cat "$work/download-status"), the decryption $(cat "$work/unseal-status"), pg_restore ${restored:-0}; nothing was changed" >&2
    exit 1
fi
echo "restore: done"
