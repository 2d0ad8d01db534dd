"""URLs, relative to where the app is mounted (FORCE_SCRIPT_NAME, /api behind the proxy).

/healthz and /metrics are not here: config.middleware.Probes answers them on the bare path.
"""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("prices.urls")),
]
