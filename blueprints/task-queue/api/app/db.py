"""The tasks table in PostgreSQL (DATABASE_URL). The worker creates the same table if it is missing."""

import os

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id          bigserial PRIMARY KEY,
    kind        text        NOT NULL,
    payload     jsonb       NOT NULL DEFAULT '{}',
    status      text        NOT NULL DEFAULT 'queued',
    result      jsonb,
    error       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz
)
"""

_schema_ready = False


def connect() -> psycopg.Connection:
    # A short connect timeout: a request fails in seconds with 503 when the database is away.
    conn = psycopg.connect(os.environ["DATABASE_URL"], connect_timeout=5, row_factory=dict_row)
    global _schema_ready
    if not _schema_ready:
        # Here rather than at start-up, so the app starts (and /healthz answers) without the database.
        conn.execute(SCHEMA)
        conn.commit()
        _schema_ready = True
    return conn


def create_task(kind: str, payload: dict) -> dict:
    with connect() as conn:
        return conn.execute(
            "INSERT INTO tasks (kind, payload) VALUES (%s, %s) RETURNING id, kind, status, created_at",
            (kind, Jsonb(payload)),
        ).fetchone()


def mark_failed(task_id: int, error: str) -> None:
    with connect() as conn:
        conn.execute(
            "UPDATE tasks SET status = 'failed', error = %s, finished_at = now() WHERE id = %s", (error, task_id)
        )


def get_task(task_id: int) -> dict | None:
    with connect() as conn:
        return conn.execute(
            "SELECT id, kind, status, result, error, created_at, finished_at FROM tasks WHERE id = %s", (task_id,)
        ).fetchone()
