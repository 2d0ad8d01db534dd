"""Request metrics under the names the blueprint's rules and dashboards query for FastAPI, those
of prometheus-fastapi-instrumentator: http_requests_total{method, handler, status} and the
fine-grained, unlabelled http_request_duration_highr_seconds the latency percentiles come from.

handler is the route's template (/tasks/{task_id}), never the raw path, so that the number of
series stays bounded; probes and scrapes are not counted as traffic.
"""

import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter("http_requests_total", "HTTP requests answered.", ["method", "handler", "status"])
DURATION = Histogram(
    "http_request_duration_highr_seconds",
    "Time to answer an HTTP request.",
    buckets=(0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 7.5, 10, 30, 60),
)
UNCOUNTED = {"/healthz", "/metrics"}


class RequestMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNCOUNTED:
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets if the app raises before answering
        started = time.perf_counter()

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            # The router puts the matched route in the scope; unmatched paths share one label.
            route = scope.get("route")
            handler = getattr(route, "path", None) or "unmatched"
            REQUESTS.labels(scope["method"], handler, str(status)).inc()
            DURATION.observe(time.perf_counter() - started)
