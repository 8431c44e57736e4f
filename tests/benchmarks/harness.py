"""What every benchmark shares: a fresh database of its own, the live processes, and the report
in docs/benchmarks.md (one section per benchmark, replaced in place on each run)."""

import os
import platform
import re
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from smsplatform.devstack.services import admin_url_for, database_name_of
from tests.live import LiveProcess, free_port, start_web_server

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "docs" / "benchmarks.md"
BENCH_DATABASE = "smsplatform_bench"


def percentile(values, pct):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(values):
    return {
        "n": len(values),
        "min": min(values) * 1000,
        "median": percentile(values, 50) * 1000,
        "p95": percentile(values, 95) * 1000,
        "max": max(values) * 1000,
    }


def ms_row(label, values):
    s = summary_ms(values)
    return (
        f"| {label} | {s['n']} | {s['min']:.0f} | {s['median']:.0f} | {s['p95']:.0f} "
        f"| {s['max']:.0f} |"
    )


MS_HEADER = "| what | n | min ms | median ms | p95 ms | max ms |\n|---|---|---|---|---|---|"


@dataclass
class Bench:
    """Environment of one `make bench` run."""

    env: dict
    processes: list = field(default_factory=list)

    @classmethod
    def prepare(cls):
        import psycopg

        base_url = os.environ["DATABASE_URL"]
        bench_url = base_url.rsplit("/", 1)[0] + "/" + BENCH_DATABASE
        with psycopg.connect(admin_url_for(base_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')
        port = free_port()
        env = dict(os.environ)
        env.update(
            DJANGO_SETTINGS_MODULE="smsplatform.settings",
            DATABASE_URL=bench_url,
            SECRET_KEY="benchmark-secret-key",
            DEBUG="0",
            WHITENOISE_USE_FINDERS="1",
            SITE_URL=f"http://localhost:{port}",
            CELERY_TASK_DEFAULT_QUEUE="bench",
            CELERY_SENDING_QUEUE="bench-sending",
            CACHE_KEY_PREFIX="bench",
            LOG_LEVEL="WARNING",
        )
        env["BENCH_WEB_PORT"] = str(port)
        os.environ.update(env)
        subprocess.run([sys.executable, "manage.py", "bootstrap"], cwd=ROOT, env=env, check=True)
        import django

        django.setup()
        assert database_name_of(bench_url) == BENCH_DATABASE
        return cls(env=env)

    @property
    def site_url(self):
        return self.env["SITE_URL"]

    @property
    def web_port(self):
        return int(self.env["BENCH_WEB_PORT"])

    def start_web(self, workers=2, threads=4):
        web = start_web_server("bench-web", self.web_port, self.env, workers, threads)
        self.processes.append(web)
        return web

    def start_worker(self, concurrency=2, queues=None, name="bench-worker", log_level="WARNING"):
        from smsplatform.celery import app

        queue = queues or self.env["CELERY_TASK_DEFAULT_QUEUE"]
        worker = LiveProcess(
            name,
            [
                sys.executable, "-m", "celery", "-A", "smsplatform", "worker", "-Q", queue,
                "--concurrency", str(concurrency), "-n", f"{name}@%h", "-l", log_level,
                "--without-gossip", "--without-mingle",
            ],
            self.env,
        )  # fmt: skip
        node = f"{name}@{socket.gethostname()}"
        worker._wait(lambda: bool(app.control.ping(destination=[node], timeout=0.5)), 60)
        self.processes.append(worker)
        return worker

    def stop(self):
        for process in reversed(self.processes):
            process.stop()
        self.processes.clear()


def machine_line():
    cpus = os.cpu_count()
    cpu = platform.processor() or platform.machine()
    return f"{cpu}, {cpus} CPUs, Python {platform.python_version()}"


def write_section(key, title, body):
    """Replace (or append) the section ``key`` of docs/benchmarks.md."""
    REPORT.parent.mkdir(exist_ok=True)
    text = REPORT.read_text() if REPORT.exists() else HEADER
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        f"<!-- bench:{key} -->\n## {title}\n\n_Measured {stamp} on {machine_line()}; "
        f"reproduce with `make bench BENCH_ARGS={key}`._\n\n{body.strip()}\n<!-- /bench:{key} -->\n"
    )
    pattern = re.compile(rf"<!-- bench:{key} -->.*?<!-- /bench:{key} -->\n", re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text + "\n" + section
    REPORT.write_text(text)


HEADER = """# Benchmarks

Figures from `make bench` (all benchmarks) or `make bench BENCH_ARGS=<name>` (one). Each run
uses a fresh database of its own (`smsplatform_bench`) next to the development one and the same
processes as production (granian, Celery workers, the provider sandboxes). Speed targets are
checked here, not in timed tests.
"""
