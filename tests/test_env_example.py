""".env.example is what an operator copies to .env: it must list every setting and, copied as it
is, give working settings (no value swallowed by a comment, no empty value meaning "nothing")."""

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / ".env.example"
# Read by the harness or the process manager, not settings an operator chooses.
NOT_SETTINGS = {"PYTHONUNBUFFERED"}


def example_variables():
    return {
        match.group(1)
        for match in re.finditer(r"^([A-Z][A-Z0-9_]*)=", EXAMPLE.read_text(), re.MULTILINE)
    }


def variables_the_code_reads():
    pattern = re.compile(
        r"""(?:env\.\w+|env\.get|os\.environ\.get|getenv)\(\s*["']([A-Z][A-Z0-9_]*)["']"""
    )
    names = set()
    for folder in ("smsplatform", "organizations", "messaging", "a2p", "billing"):
        for path in (ROOT / folder).rglob("*.py"):
            names.update(pattern.findall(path.read_text()))
    return names - NOT_SETTINGS


def test_every_setting_the_code_reads_is_in_the_example():
    missing = variables_the_code_reads() - example_variables()
    assert not missing, f"add to .env.example: {sorted(missing)}"


def test_no_value_carries_a_comment():
    # django-environ keeps everything after "=", so "X=1  # note" would set X to "1  # note".
    offenders = [
        line
        for line in EXAMPLE.read_text().splitlines()
        if re.match(r"^[A-Z][A-Z0-9_]*=.*\s#", line)
    ]
    assert offenders == []


def test_the_example_copied_as_it_is_gives_working_settings():
    script = (
        "import environ, json, os\n"
        f"environ.Env.read_env({str(EXAMPLE)!r}, overwrite=True)\n"
        "os.environ['SECRET_KEY'] = 'x' * 50\n"
        "from django.conf import settings\n"
        "print(json.dumps({k: str(getattr(settings, k)) for k in (\n"
        "  'DEBUG', 'REDIS_URL', 'CELERY_BROKER_URL', 'CELERY_RESULT_BACKEND', 'SITE_URL',\n"
        "  'TWILIO_WEBHOOK_BASE_URL', 'TENANT_SPARE_SCHEMAS', 'DISPATCH_BATCH_SIZE',\n"
        "  'DEFAULT_FROM_EMAIL')}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={"DJANGO_SETTINGS_MODULE": "smsplatform.settings", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    settings = json.loads(result.stdout.strip().splitlines()[-1])
    assert settings["DEBUG"] == "False"
    assert settings["CELERY_BROKER_URL"] == settings["REDIS_URL"] == "redis://127.0.0.1:6379/0"
    assert settings["CELERY_RESULT_BACKEND"] == settings["REDIS_URL"]
    assert settings["TWILIO_WEBHOOK_BASE_URL"] == settings["SITE_URL"] == "http://localhost:8000"
    assert settings["TENANT_SPARE_SCHEMAS"] == "3"
    assert settings["DISPATCH_BATCH_SIZE"] == "500"
    assert settings["DEFAULT_FROM_EMAIL"] == "Textwise <hello@example.com>"
