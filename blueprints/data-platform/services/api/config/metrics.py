"""The /metrics page, correct under gunicorn's several worker processes.

Each gunicorn worker counts its own requests. With PROMETHEUS_MULTIPROC_DIR set (the render sets it), prometheus_client keeps every worker's values in files there, and this page sums
them: whichever worker Prometheus reaches, it sees the whole service.
"""

import os

from django.http import HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector


def metrics_response() -> HttpResponse:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
