"""Real processes for tests that need them: the web server (granian) and a Celery worker, each a
subprocess on the session's test database, Redis and Celery queue. Started lazily, once per
session, by the first test that asks."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent

__all__ = [
    "LiveProcess", "celery_beat", "celery_worker", "committed", "live_env", "live_port",
    "live_server_url", "sending_worker",
]  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_database_url() -> str:
    """The URL of the test database pytest-django created, for the subprocesses."""
    db = connection.settings_dict
    host = db["HOST"] or "localhost"
    host = quote(host, safe="") if host.startswith("/") else host
    credentials = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + quote(db["PASSWORD"], safe="")
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{credentials}@{host}{port}/{db['NAME']}"


class LiveProcess:
    def __init__(self, name, args, env, ready=None, timeout=30):
        self.name = name
        env = {**env, "DB_APPLICATION_NAME": f"test-{name}"}
        self.log_path = (
            Path(os.environ.get("TMPDIR", "/tmp")) / f"smsplatform-test-{name}-{os.getpid()}.log"
        )
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if ready is not None:
            self._wait(ready, timeout)

    def _wait(self, ready, timeout):
        deadline = time.monotonic() + timeout
        while not ready():
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.output()}")
            if time.monotonic() > deadline:
                output = self.output()
                self.stop()
                raise RuntimeError(f"{self.name} not ready after {timeout}s:\n{output}")
            time.sleep(0.1)

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-5000:]

    def stop(self):
        """Stop the process and everything it started (granian's and Celery's children hold
        database connections that must be gone before the test database is dropped)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.log.close()


@pytest.fixture(scope="session")
def live_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def live_env(world, live_port, stripe_sandbox, twilio_sandbox_address) -> dict:
    """Environment for every live subprocess: same database, Redis, queue and secrets as the
    test process, the public address of the live web server, and the provider sandboxes."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="smsplatform.settings_test",
        DATABASE_URL=test_database_url(),
        REDIS_URL=settings.REDIS_URL,
        TEST_RUN_ID=settings.TEST_RUN_ID,
        SECRET_KEY=settings.SECRET_KEY,
        SITE_URL=f"http://localhost:{live_port}",
        DB_CONN_MAX_AGE="0",
        PYTHONUNBUFFERED="1",
        # Campaign sending at test speed: small batches, a watchdog every two seconds, a
        # dispatcher lock that a dead worker leaves behind only briefly.
        DEFAULT_MESSAGES_PER_SECOND="300",
        DISPATCH_BATCH_SIZE="25",
        DISPATCH_WATCHDOG_SECONDS="2",
        DISPATCH_STALE_CLAIM_SECONDS="2",
        DISPATCH_LOCK_SECONDS="5",
    )
    env.update(stripe_sandbox.env)
    env.update(twilio_sandbox_address.settings)
    return env


def start_web_server(name, port, env, workers=2, threads=4) -> LiveProcess:
    """The platform served by granian, as in production, once it answers on ``port``."""

    def ready():
        try:
            url = f"http://127.0.0.1:{port}/static/css/app.css"
            return requests.get(url, headers={"Host": "localhost"}, timeout=1).ok
        except (requests.ConnectionError, requests.Timeout):  # a slow first answer: not yet
            return False

    return LiveProcess(
        name,
        [
            sys.executable, "-m", "granian", "--interface", "wsgi",
            "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers), "--blocking-threads", str(threads),
            "--log-level", "warning", "--workers-kill-timeout", "3",
            "smsplatform.wsgi:application",
        ],
        env,
        ready=ready,
    )  # fmt: skip


@pytest.fixture(scope="session")
def live_server_url(live_env, live_port):
    """The platform on http://localhost:<port>."""
    server = start_web_server("web", live_port, live_env)
    yield f"http://localhost:{live_port}"
    server.stop()


@pytest.fixture(scope="session")
def celery_worker(live_env):
    """A real Celery worker consuming this session's queue."""
    from smsplatform.celery import app

    worker = LiveProcess(
        "worker",
        [
            sys.executable, "-m", "celery", "-A", "smsplatform", "worker",
            "-Q", settings.CELERY_TASK_DEFAULT_QUEUE, "--pool", "threads", "--concurrency", "4",
            "-I", "tests.tasks_for_tests", "-n", f"test-{settings.TEST_RUN_ID}@%h",
            "--without-gossip", "--without-mingle", "-l", "INFO",
        ],
        live_env,
    )  # fmt: skip
    name = f"test-{settings.TEST_RUN_ID}@{socket.gethostname()}"

    def ready():
        return bool(app.control.ping(destination=[name], timeout=0.5))

    worker._wait(ready, 30)
    yield worker
    worker.stop()


def start_celery_worker(name, env, queues, *, pool="threads", concurrency=4) -> LiveProcess:
    from smsplatform.celery import app

    node = f"{name}-{settings.TEST_RUN_ID}@{socket.gethostname()}"
    worker = LiveProcess(
        name,
        [
            sys.executable, "-m", "celery", "-A", "smsplatform", "worker", "-Q", ",".join(queues),
            "--pool", pool, "--concurrency", str(concurrency), "-n", node,
            "--without-gossip", "--without-mingle", "-l", "INFO",
        ],
        env,
    )  # fmt: skip
    worker._wait(lambda: bool(app.control.ping(destination=[node], timeout=0.5)), 30)
    return worker


@pytest.fixture(scope="session")
def celery_beat(live_env, tmp_path_factory):
    """Celery beat on the database scheduler, as in production: fires campaign schedules and
    each sending run's watchdog."""
    folder = tmp_path_factory.mktemp("beat")
    beat = LiveProcess(
        "beat",
        [
            sys.executable, "-m", "celery", "-A", "smsplatform", "beat", "-l", "INFO",
            "--max-interval", "1", "--pidfile", str(folder / "beat.pid"),
        ],
        live_env,
    )  # fmt: skip
    yield beat
    beat.stop()


@pytest.fixture
def sending_worker(live_env):
    """Start workers for the sending queue (as many as the test wants, each killable); all
    stopped afterwards."""
    started = []

    def start(name="sender"):
        worker = start_celery_worker(
            f"{name}{len(started)}", live_env, [settings.CELERY_SENDING_QUEUE], concurrency=2
        )
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def committed(django_db_blocker):
    """For tests whose data must be visible to the live processes: runs with real commits
    (no wrapping transaction). The test cleans up what it creates."""
    with django_db_blocker.unblock():
        assert connection.settings_dict["NAME"].startswith("test_"), "not the test database"
        connection.set_schema_to_public()
        yield
        connection.set_schema_to_public()
