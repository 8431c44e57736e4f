import pytest
from celery import Celery
from django.test import Client, override_settings

from smsplatform import health


@pytest.mark.live
def test_healthy_when_database_redis_and_a_worker_answer(db, celery_worker):
    response = Client(HTTP_HOST="localhost").get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "redis": True,
        "celery": True,
    }


def test_unavailable_when_no_worker_listens(db, monkeypatch, settings):
    # A real broadcast on a broker database no worker consumes: nobody answers the ping.
    idle = Celery(broker=settings.REDIS_URL.rsplit("/", 1)[0] + "/15", set_as_current=False)
    monkeypatch.setattr(health, "celery_app", idle)
    response = Client(HTTP_HOST="localhost").get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"]["ok"] and body["checks"]["redis"]["ok"]
    assert body["checks"]["celery"] == {**body["checks"]["celery"], "ok": False}
    assert "no worker" in body["checks"]["celery"]["detail"]


@override_settings(REDIS_URL="redis://127.0.0.1:1/0")
def test_unavailable_when_redis_is_down(db):
    response = Client(HTTP_HOST="localhost").get("/healthz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["redis"]["ok"] is False
    assert checks["celery"]["ok"] is False


def test_health_answers_anonymously_on_workspace_domains_too(acme):
    # Load balancers probe every host; the health check must not redirect to sign-in.
    response = Client(HTTP_HOST="acme.localhost").get("/healthz")
    assert response["Content-Type"] == "application/json"
    assert response.json()["checks"]["database"]["ok"] is True
