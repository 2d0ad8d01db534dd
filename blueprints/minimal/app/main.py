"""hello: the smallest service the blueprint runs, with the two endpoints it expects of every
HTTP service: /healthz for the probes and /metrics for Prometheus.

The request metrics use the names the blueprint's rules query for FastAPI, those of
prometheus-fastapi-instrumentator: http_requests_total{method, handler, status} and the
fine-grained, unlabelled http_request_duration_highr_seconds the latency percentiles come from.
"""

import logging
import os
import time

from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper())

REQUESTS = Counter("http_requests_total", "HTTP requests answered.", ["method", "handler", "status"])
DURATION = Histogram(
    "http_request_duration_highr_seconds",
    "Time to answer an HTTP request.",
    buckets=(0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 7.5, 10, 30, 60),
)

app = FastAPI(title="hello")


@app.middleware("http")
async def count_requests(request: Request, call_next):
    if request.url.path in {"/healthz", "/metrics"}:  # probes and scrapes are not traffic
        return await call_next(request)
    started = time.perf_counter()
    status = 500
    try:
        response = await call_next(request)
        status = response.status_code
        return response
    finally:
        # The route's template, not the raw path, so unknown paths cannot grow the series.
        route = request.scope.get("route")
        handler = getattr(route, "path", None) or "unmatched"
        REQUESTS.labels(request.method, handler, str(status)).inc()
        DURATION.observe(time.perf_counter() - started)


@app.get("/")
def hello(name: str = "world") -> dict:
    return {"message": f"Hello, {name}!"}


@app.get("/healthz", response_class=PlainTextResponse)
def healthz() -> str:
    return "ok\n"


@app.get("/metrics")
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
