import datetime as dt
from decimal import Decimal

import pytest

from prices.models import Price


def test_healthz_answers_the_healthcheck(client):
    # The container healthcheck asks for 127.0.0.1:8000, which the render allows.
    response = client.get("/healthz", HTTP_HOST="127.0.0.1:8000")
    assert response.status_code == 200


@pytest.mark.django_db
def test_metrics_count_requests(client):
    client.get("/api/prices")
    body = client.get("/metrics", HTTP_HOST="127.0.0.1:8000").content.decode()
    assert "django_http_responses_total_by_status_total" in body
    assert "django_http_requests_latency_seconds_by_view_method_bucket" in body


def test_metrics_not_published_under_the_api_prefix(client):
    assert client.get("/api/metrics").status_code == 404


def test_links_carry_the_prefix_and_the_public_host(client):
    response = client.get("/api/", HTTP_X_FORWARDED_HOST="localhost", HTTP_X_FORWARDED_PROTO="https")
    assert response.json()["latest"] == "https://localhost/api/prices"
    assert response.json()["admin"] == "https://localhost/admin/"


@pytest.mark.django_db
def test_latest_prices(client):
    Price.objects.create(symbol="SAP", day=dt.date(2025, 1, 2), close=Decimal("200.5"))
    Price.objects.create(symbol="SAP", day=dt.date(2025, 1, 3), close=Decimal("201"))
    data = client.get("/api/prices").json()
    assert data == {"day": "2025-01-03", "items": [{"symbol": "SAP", "day": "2025-01-03", "close": "201.0000"}]}
    assert client.get("/api/prices/nope").status_code == 404


@pytest.mark.django_db
def test_admin_works_with_and_without_the_prefix(client):
    for path in ("/admin/", "/api/admin/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/api/admin/login/")
