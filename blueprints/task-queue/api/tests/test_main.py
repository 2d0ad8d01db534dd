import pytest
from fastapi.testclient import TestClient

from app import main


@pytest.fixture
def client():
    return TestClient(main.app)


@pytest.fixture
def stores(monkeypatch):
    rows, queued = {}, []

    def create_task(kind, payload):
        rows[len(rows) + 1] = {"id": len(rows) + 1, "kind": kind, "status": "queued", "payload": payload}
        return rows[len(rows)]

    class Queue:
        def lpush(self, name, value):
            queued.append((name, value))

    monkeypatch.setattr(main.db, "create_task", create_task)
    monkeypatch.setattr(main.db, "get_task", rows.get)
    monkeypatch.setattr(main, "queue", Queue)
    return rows, queued


def test_healthz_needs_no_database(client, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://nobody@127.0.0.1:9/none")
    assert client.get("/healthz").status_code == 200


def test_create_and_read_a_task(client, stores):
    response = client.post("/tasks", json={"kind": "sum", "payload": {"numbers": [1, 2]}},
                           headers={"X-Forwarded-Prefix": "/api"})
    assert response.status_code == 202
    assert stores[1] == [("tasks", 1)]
    url = response.json()["url"]
    assert url.startswith("/api/tasks/1?token=")  # the prefix the proxy stripped
    assert client.get(url.removeprefix("/api")).json()["kind"] == "sum"
    assert client.get("/tasks/1?token=guess").status_code == 404


def test_unknown_kind(client, stores):
    assert client.post("/tasks", json={"kind": "mine-bitcoin"}).status_code == 422


def test_metrics_use_route_templates(client, stores):
    client.post("/tasks", json={"kind": "echo"})
    client.get("/tasks/1?token=x")
    body = client.get("/metrics").text
    assert 'http_requests_total{handler="/tasks",method="POST",status="202"}' in body
    assert 'http_requests_total{handler="/tasks/{task_id}",method="GET",status="404"}' in body
    assert "http_request_duration_seconds_bucket" in body
    assert 'handler="/healthz"' not in body
