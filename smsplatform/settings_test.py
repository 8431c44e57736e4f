"""Test overlay: the same settings, with what a test run must not share with development."""

import os
import tempfile
import uuid

os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
# In-process test clients talk to "localhost" and "<slug>.localhost" with no port; the live
# subprocesses get the address of their own server instead.
os.environ.setdefault("SITE_URL", "http://localhost")
# Nothing reaches api.stripe.com from a test: the stripe_sandbox fixture (tests/stripe_sandbox.py)
# points the test process and the live subprocesses at the local sandbox; without it a call
# fails at once (the discard port).
os.environ.setdefault("STRIPE_API_BASE", "http://127.0.0.1:9")
os.environ.setdefault("STRIPE_MAX_NETWORK_RETRIES", "0")
# A registration makes ~30 Twilio calls; at the production 1/s each test would wait half a
# minute. The throttle's own test uses the production rate.
os.environ.setdefault("A2P_REGISTRATION_CALLS_PER_SECOND", "50")
# Uploads of this test session (and of its live subprocesses, which share TEST_RUN_ID) go to a
# folder of their own, removed when the session ends (tests/conftest.py).
os.environ.setdefault("TEST_RUN_ID", uuid.uuid4().hex[:8])
os.environ.setdefault(
    "MEDIA_ROOT",
    os.path.join(tempfile.gettempdir(), f"smsplatform-test-{os.environ['TEST_RUN_ID']}"),
)

from smsplatform.settings import *  # noqa: F403
from smsplatform.settings import CACHES

# Each test session gets its own Celery queue and cache prefix, so a development worker on the
# same Redis never picks up a test's task and test sessions never read each other's cache.
TEST_RUN_ID = os.environ["TEST_RUN_ID"]
CELERY_TASK_DEFAULT_QUEUE = f"test-{TEST_RUN_ID}"
CELERY_SENDING_QUEUE = f"test-{TEST_RUN_ID}-sending"
CELERY_TASK_ROUTES = {
    name: {"queue": CELERY_SENDING_QUEUE}
    for name in ("messaging.tasks.start_campaign_run", "messaging.tasks.dispatch_run")
}
CACHES["default"]["KEY_PREFIX"] = f"test-{TEST_RUN_ID}"

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
WHITENOISE_USE_FINDERS = True
LOGGING["root"]["level"] = "WARNING"  # noqa: F405

# Twilio: nothing in a test may reach twilio.com. Until the test session's sandbox starts
# (tests/twilio_sandbox.py), every Twilio address is a closed local port.
if not os.environ.get("TWILIO_API_BASE"):
    TWILIO_ACCOUNT_SID = "AC" + "0" * 32
    TWILIO_AUTH_TOKEN = "not-a-real-token"  # noqa: S105 - a placeholder, never valid
    TWILIO_API_BASE = "http://127.0.0.1:9/api"
    TWILIO_MESSAGING_BASE = "http://127.0.0.1:9/messaging"
    TWILIO_TRUSTHUB_BASE = "http://127.0.0.1:9/trusthub"
    TWILIO_EVENTS_BASE = "http://127.0.0.1:9/events"
