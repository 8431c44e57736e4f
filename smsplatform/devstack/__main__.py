"""The dev stack behind the README's commands.

    python -m smsplatform.devstack run      # the whole product on http://localhost:8000
    python -m smsplatform.devstack test     # the test suite (extra arguments go to pytest)
    python -m smsplatform.devstack bench    # the benchmarks, figures into docs/benchmarks.md

With DATABASE_URL / REDIS_URL set, those servers are used; otherwise an embedded PostgreSQL and
Redis start in .data/ (kept between runs) and stop when the command ends.
"""

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

from smsplatform.devstack import stripe_sandbox
from smsplatform.devstack.services import (
    EmbeddedPostgres,
    EmbeddedRedis,
    admin_url_for,
    database_name_of,
    ensure_database,
)

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / ".data"
PYTHON = sys.executable


class Stack:
    """Starts whatever data stores the environment does not already provide."""

    def __init__(self, *, redis_persistent: bool, redis_dir: Path):
        self.env = dict(os.environ)
        self._postgres = None
        self._redis = None
        self._redis_persistent = redis_persistent
        self._redis_dir = redis_dir

    def __enter__(self):
        try:
            if self.env.get("DATABASE_URL"):
                url = self.env["DATABASE_URL"]
                ensure_database(admin_url_for(url), database_name_of(url))
                print(f"devstack: using PostgreSQL at DATABASE_URL ({_redact(url)})")
            else:
                self._postgres = EmbeddedPostgres(DATA / "postgres")
                self.env["DATABASE_URL"] = self._postgres.start()
                print(f"devstack: embedded PostgreSQL in {DATA / 'postgres'}")
            if self.env.get("REDIS_URL"):
                print(f"devstack: using Redis at REDIS_URL ({_redact(self.env['REDIS_URL'])})")
            else:
                self._redis = EmbeddedRedis(self._redis_dir, persistent=self._redis_persistent)
                self.env["REDIS_URL"] = self._redis.start()
                print(f"devstack: embedded Redis on port {self._redis.port}")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        if self._redis is not None:
            self._redis.stop()
        if self._postgres is not None:
            self._postgres.stop()


def _redact(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password:
        return url.replace(parts.password, "***")
    return url


def run(args) -> int:
    from honcho.manager import Manager
    from honcho.printer import Printer

    with Stack(redis_persistent=True, redis_dir=DATA / "redis") as stack:
        env = stack.env
        env.setdefault("DEBUG", "1")
        env.setdefault("SITE_URL", f"http://localhost:{args.port}")
        env.setdefault("PYTHONUNBUFFERED", "1")
        extra_processes = {
            **stripe_sandbox.sandbox_process(env, web_port=args.port),
            **twilio_sandbox_process(env, args.twilio_port or args.port + 1),
        }
        subprocess.run([PYTHON, "manage.py", "bootstrap", "--demo"], cwd=ROOT, env=env, check=True)
        manager = Manager(Printer(sys.stdout))
        for name, command in {**processes(args.port), **extra_processes}.items():
            manager.add_process(name, command, env=env, cwd=str(ROOT))
        manager.loop()
        return manager.returncode or 0


# Code the web server reloads for; not .data/, where the sandboxes keep their state.
SOURCE_DIRS = ("smsplatform", "organizations", "messaging", "a2p", "billing", "templates")


def processes(port: int) -> dict[str, str]:
    py = PYTHON
    watch = " ".join(f"--reload-paths {ROOT / folder}" for folder in SOURCE_DIRS)
    return {
        "web": (
            f"{py} -m granian --interface wsgi --host 127.0.0.1 --port {port} --workers 2 "
            f"--blocking-threads 4 --reload {watch} --access-log smsplatform.wsgi:application"
        ),
        "worker": f"{py} -m celery -A smsplatform worker -l INFO --concurrency 2 -Q celery,sending",
        "beat": f"{py} -m celery -A smsplatform beat -l INFO",
    }


def twilio_sandbox_process(env: dict, port: int) -> dict[str, str]:
    """Without a real Twilio account (TWILIO_ACCOUNT_SID in the environment or .env), run the
    Twilio sandbox with the rest and point the platform's Twilio settings at it (``env`` is
    updated). Its state lives in .data/twilio-sandbox, so a restart finds the same numbers,
    messages and registrations."""
    if env.get("TWILIO_ACCOUNT_SID") or _dotenv_sets(ROOT / ".env", "TWILIO_ACCOUNT_SID"):
        print("devstack: using the Twilio account of TWILIO_ACCOUNT_SID")
        return {}
    from smsplatform.sandboxes.twilio import dev_credentials, dev_isv_profile_sid

    account_sid, auth_token = dev_credentials()
    isv_profile_sid = dev_isv_profile_sid()
    base = f"http://127.0.0.1:{port}"
    env.update(
        TWILIO_ACCOUNT_SID=account_sid,
        TWILIO_AUTH_TOKEN=auth_token,
        TWILIO_API_BASE=f"{base}/api",
        TWILIO_MESSAGING_BASE=f"{base}/messaging",
        TWILIO_TRUSTHUB_BASE=f"{base}/trusthub",
        TWILIO_EVENTS_BASE=f"{base}/events",
        TWILIO_ISV_PRIMARY_PROFILE_SID=isv_profile_sid,
    )
    env.setdefault("TWILIO_NOTIFICATION_EMAIL", "compliance@localhost")
    print(f"devstack: Twilio sandbox on http://localhost:{port}/sandbox/ (no TWILIO_ACCOUNT_SID)")
    command = (
        f"{PYTHON} manage.py twilio_sandbox --port {port} --state-dir {DATA / 'twilio-sandbox'} "
        f"--account-sid {account_sid} --auth-token {auth_token} "
        f"--isv-profile-sid {isv_profile_sid} --no-default-opt-out"
    )
    return {"twilio": command}


def _dotenv_sets(path: Path, name: str) -> bool:
    if not path.exists():
        return False
    pattern = re.compile(rf"^\s*(?:export\s+)?{name}\s*=\s*['\"]?[^'\"\s#]")
    return any(pattern.match(line) for line in path.read_text().splitlines())


def test(args) -> int:
    # Tests get a throwaway Redis (never the development one's data) and a test database that
    # pytest-django creates next to the development database.
    with Stack(redis_persistent=False, redis_dir=DATA / "redis-test") as stack:
        command = [PYTHON, "-m", "pytest", *args.extra]
        # The tests pick their settings overlay in pyproject.toml; importing this package set
        # the production default (smsplatform/celery.py), which must not override it.
        env = {k: v for k, v in stack.env.items() if k != "DJANGO_SETTINGS_MODULE"}
        return subprocess.call(command, cwd=ROOT, env=env)


def bench(args) -> int:
    with Stack(redis_persistent=False, redis_dir=DATA / "redis-bench") as stack:
        command = [PYTHON, "-m", "tests.benchmarks", *args.extra]
        return subprocess.call(command, cwd=ROOT, env=stack.env)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smsplatform.devstack")
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="run web, worker, beat and the provider sandboxes")
    p_run.add_argument("--port", type=int, default=8000)
    p_run.add_argument(
        "--twilio-port", type=int, default=None, help="the Twilio sandbox's port (default: port+1)"
    )
    p_run.set_defaults(func=run)
    p_test = sub.add_parser("test", help="run the test suite")
    p_test.set_defaults(func=test)
    p_bench = sub.add_parser("bench", help="run the benchmarks")
    p_bench.set_defaults(func=bench)
    # Whatever the stack does not understand goes on to pytest / the benchmarks.
    args, extra = parser.parse_known_args(argv)
    if extra and args.command == "run":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
