"""GET /healthz: is everything the product needs up? 200 only when the database, Redis and at
least one Celery worker all answer; 503 otherwise, with which part is down."""

import time

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from organizations.permissions import public_in_tenant
from smsplatform.celery import app as celery_app


def _timed(check):
    started = time.perf_counter()
    try:
        detail = check()
        ok = True
    except Exception as exc:
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return {"ok": ok, "detail": detail, "ms": round((time.perf_counter() - started) * 1000, 1)}


def _check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "reachable"


def _check_redis():
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
    try:
        client.ping()
    finally:
        client.close()
    return "reachable"


def _check_celery():
    replies = celery_app.control.ping(timeout=1.0, limit=1)
    if not replies:
        raise RuntimeError("no worker replied within 1 s")
    return f"{len(replies)} worker(s) replied"


@never_cache
@public_in_tenant
def healthz(request):
    checks = {"database": _timed(_check_database), "redis": _timed(_check_redis)}
    if checks["redis"]["ok"]:
        checks["celery"] = _timed(_check_celery)
    else:
        checks["celery"] = {"ok": False, "detail": "skipped: Redis (the broker) is down", "ms": 0}
    healthy = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )
