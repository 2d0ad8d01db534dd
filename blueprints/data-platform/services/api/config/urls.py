"""URLs: the app names its own prefixes (the proxy passes the full path: /api, /admin, /static).

/healthz and /metrics are for probes and Prometheus, which reach the app by container or service
name; the proxy routes neither.
"""

from django.contrib import admin
from django.urls import include, path

from config import views

urlpatterns = [
    path("api/", include("prices.urls")),
    path("admin/", admin.site.urls),
    path("healthz", views.healthz),
    path("metrics", views.metrics),
]
