"""The worker: takes task ids off the Redis list `tasks` (the API LPUSHes, this BRPOPs) and runs
them, recording the outcome in PostgreSQL.

It listens on no port: the blueprint gives python-worker services no health or metrics
endpoint. SIGTERM (docker stop, a rollout) lets the task in hand finish, then exits.
"""

import logging
import os
import signal
import time

import psycopg
import redis
from psycopg.types.json import Jsonb

from worker import db, tasks

QUEUE = "tasks"
POLL_SECONDS = 5  # BRPOP's timeout: how long a SIGTERM may wait for the loop to notice it

log = logging.getLogger("worker")
stopping = False


def stop(signum, _frame):
    global stopping
    log.info("signal %s: stopping after the current task", signum)
    stopping = True


def process(conn: psycopg.Connection, task_id: int) -> None:
    # Claimed atomically: a task queued twice (a retried API call) still runs once.
    with conn.transaction():
        row = conn.execute(
            "UPDATE tasks SET status = 'running' WHERE id = %s AND status = 'queued' RETURNING kind, payload",
            (task_id,),
        ).fetchone()
    if row is None:
        log.warning("task %s: not queued (unknown, or already taken)", task_id)
        return
    try:
        result = tasks.run(row["kind"], row["payload"])
    except Exception as error:
        log.warning("task %s (%s) failed: %s", task_id, row["kind"], error)
        conn.execute("UPDATE tasks SET status = 'failed', error = %s, finished_at = now() WHERE id = %s",
                     (str(error), task_id))
    else:
        log.info("task %s (%s) done", task_id, row["kind"])
        conn.execute("UPDATE tasks SET status = 'done', result = %s, finished_at = now() WHERE id = %s",
                     (Jsonb(result), task_id))
    conn.commit()


def main() -> None:
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    queue = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379/0"),
                                 socket_connect_timeout=3, socket_timeout=POLL_SECONDS + 5)
    conn = None
    backoff = 1
    log.info("waiting for tasks on %s", QUEUE)
    while not stopping:
        task_id = None
        try:
            item = queue.brpop([QUEUE], timeout=POLL_SECONDS)
            if item is None:
                continue
            task_id = int(item[1])
            if conn is None or conn.closed:
                conn = db.connect()
            process(conn, task_id)
            backoff = 1
        except (redis.RedisError, psycopg.Error) as error:
            log.error("%s; retrying in %ss", error, backoff)
            if conn is not None:
                conn.close()
                conn = None
            if task_id is not None:
                try:  # back where BRPOP takes from next, so the task is not lost
                    queue.rpush(QUEUE, task_id)
                except redis.RedisError:
                    log.error("task %s could not be put back on the queue", task_id)
            time.sleep(backoff)
            backoff = min(backoff * 2, 30)
    if conn is not None:
        conn.close()
    log.info("stopped")


if __name__ == "__main__":
    main()
