"""The task-queue API: accepts tasks over HTTP, records them in PostgreSQL, queues them in Redis.

The proxy routes /api here with the prefix stripped (and api.tasks.acme.example without one);
it says which prefix it stripped in X-Forwarded-Prefix, and links the app returns carry it.
"""

import hashlib
import hmac
import logging
import os

import psycopg
import redis
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field

from app import db
from app.metrics import RequestMetrics

logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(),
                    format="%(asctime)s %(levelname)s %(name)s %(message)s")
log = logging.getLogger("api")

QUEUE = "tasks"  # the Redis list the worker BRPOPs
KINDS = {"echo", "sum", "sleep"}

app = FastAPI(title="task-queue API")
app.add_middleware(RequestMetrics)


@app.middleware("http")
async def api_security_headers(request: Request, call_next):
    # A JSON API is never framed and loads nothing (OWASP REST Security Cheat Sheet, "Security
    # headers"): stricter than the proxy's site-wide defaults, which leave an app's own alone.
    response = await call_next(request)
    response.headers.setdefault("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
    response.headers.setdefault("X-Frame-Options", "DENY")
    return response


@app.middleware("http")
async def forwarded_prefix(request: Request, call_next):
    prefix = request.headers.get("x-forwarded-prefix", "").rstrip("/")
    if prefix.startswith("/"):
        request.scope["root_path"] = prefix
    return await call_next(request)


def queue() -> redis.Redis:
    return redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379/0"),
                                socket_connect_timeout=3, socket_timeout=5)


def token_for(task_id: int) -> str:
    """Who created a task can read it: the status URL carries an HMAC of its id, keyed with
    API_TOKEN_SALT, so ids cannot be walked."""
    salt = os.environ.get("API_TOKEN_SALT", "")
    return hmac.new(salt.encode(), str(task_id).encode(), hashlib.sha256).hexdigest()[:32]


class NewTask(BaseModel):
    kind: str = Field(examples=["sum"])
    payload: dict = Field(default_factory=dict, examples=[{"numbers": [1, 2, 3]}])


@app.get("/healthz", response_class=PlainTextResponse)
def healthz() -> str:
    # Liveness only: neither PostgreSQL nor Redis is asked. When they are down the requests
    # that need them fail with 503, and their own alerts say why; restarting this would not help.
    return "ok\n"


@app.get("/metrics")
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@app.post("/tasks", status_code=202)
def create_task(task: NewTask, request: Request, response: Response) -> dict:
    if task.kind not in KINDS:
        raise HTTPException(422, f"kind must be one of {sorted(KINDS)}")
    try:
        row = db.create_task(task.kind, task.payload)
    except psycopg.Error as error:
        log.error("could not store a task: %s", error)
        raise HTTPException(503, "the database is unavailable") from error
    try:
        queue().lpush(QUEUE, row["id"])
    except redis.RedisError as error:
        log.error("could not queue task %s: %s", row["id"], error)
        db.mark_failed(row["id"], "could not be queued")
        raise HTTPException(503, "the queue is unavailable") from error
    token = token_for(row["id"])
    url = f"{request.url_for('read_task', task_id=row['id']).path}?token={token}"
    response.headers["Location"] = url
    return {"id": row["id"], "status": row["status"], "url": url}


@app.get("/tasks/{task_id}")
def read_task(task_id: int, token: str = "") -> dict:
    if not hmac.compare_digest(token, token_for(task_id)):
        raise HTTPException(404, "no such task")
    try:
        row = db.get_task(task_id)
    except psycopg.Error as error:
        raise HTTPException(503, "the database is unavailable") from error
    if row is None:
        raise HTTPException(404, "no such task")
    return row
