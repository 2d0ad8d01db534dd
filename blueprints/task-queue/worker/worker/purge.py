"""The purge-expired job (python -m worker.purge): deletes finished tasks older than 30 days.

Creates the table when it is missing, so it also succeeds on a database nothing has written to
yet; it runs under run-job.sh, which reports its exit code.
"""

import logging
import os
import sys

import psycopg

from worker import db

RETENTION_DAYS = 30

log = logging.getLogger("worker.purge")


def main() -> int:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        with db.connect() as conn:
            deleted = conn.execute(
                "DELETE FROM tasks WHERE status IN ('done', 'failed')"
                " AND finished_at < now() - make_interval(days => %s)",
                (RETENTION_DAYS,),
            ).rowcount
    except psycopg.Error as error:
        log.error("could not purge: %s", error)
        return 1
    log.info("deleted %d tasks finished more than %d days ago", deleted, RETENTION_DAYS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
