"""Two small middlewares for running behind the blueprint's proxy and probes."""

from django.conf import settings
from django.http import HttpResponse

from config.metrics import metrics_response


class Probes:
    """Answers /healthz and /metrics before anything else looks at the request.

    Probes reach the app by address, not by its public name: the container healthcheck asks
    for 127.0.0.1:8000, Kubernetes' probes and ServiceMonitor for the pod's IP. None of those is
    in ALLOWED_HOSTS, and CommonMiddleware would answer them 400 (DisallowedHost). Answering
    here also keeps probes and scrapes out of the request metrics.

    Only the bare paths count: /api/healthz from the proxy goes on to the URLconf, so the
    metrics are not published through the public /api route.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info == "/healthz":
            # Liveness only, no database query: a database outage is the database's alert
            # (the db-exporter's), and failing this check would get healthy app containers
            # restarted and the dashboard held back without fixing anything.
            return HttpResponse("ok\n", content_type="text/plain")
        if request.path_info == "/metrics":
            return metrics_response()
        return self.get_response(request)


class StripScriptName:
    """Removes FORCE_SCRIPT_NAME from the front of the path when the proxy left it there.

    nginx forwards /api/... with the prefix (it routes /admin and /static to this app too), while
    FORCE_SCRIPT_NAME=/api tells Django the app is mounted at /api. Django would then resolve
    /api/prices against the URLconf as is and reverse() it to /api/api/prices. With the prefix
    removed here, /api/prices resolves as /prices and reverses back to /api/prices; paths
    without it (/admin/ from nginx's /admin route) are left alone.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.prefix = (settings.FORCE_SCRIPT_NAME or "").rstrip("/")

    def __call__(self, request):
        path = request.path_info
        if self.prefix and (path == self.prefix or path.startswith(self.prefix + "/")):
            request.path_info = path[len(self.prefix):] or "/"
            request.path = self.prefix + request.path_info
        return self.get_response(request)
