"""The two endpoints the platform calls: /healthz (probes) and /metrics (Prometheus)."""

from django.http import HttpRequest, HttpResponse

from config.metrics import metrics_response


def healthz(request: HttpRequest) -> HttpResponse:
    # Liveness only, no database query: a database outage is the database's alert (the
    # db-exporter's), and failing here would restart healthy app containers without fixing it.
    return HttpResponse("ok\n", content_type="text/plain")


def metrics(request: HttpRequest) -> HttpResponse:
    return metrics_response()
