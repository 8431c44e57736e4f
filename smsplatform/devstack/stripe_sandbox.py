"""The Stripe sandbox in `make run`: when no real Stripe key is configured, the process group
gets a `stripe` process (the local sandbox) and every other process's STRIPE_* settings point at
it, with its webhooks sent to the platform's /webhooks/stripe/ (the billing work adds that view).
"""

import re
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SANDBOX_SECRET_KEY = "sk_test_textwise_sandbox"  # noqa: S105 - accepted by the sandbox only
SANDBOX_WEBHOOK_SECRET = "whsec_textwise_sandbox"  # noqa: S105
# The sandbox's port sits a fixed distance from the web port, so two stacks on one machine
# (make run on 8000 and on 8030) do not collide.
PORT_OFFSET = 4111


def real_key_configured(env: dict, dotenv: Path = ROOT / ".env") -> bool:
    """A STRIPE_SECRET_KEY in the environment or in .env (which settings.py reads too)."""
    if env.get("STRIPE_SECRET_KEY"):
        return True
    if dotenv.exists():
        pattern = re.compile(
            r"^[ \t]*STRIPE_SECRET_KEY[ \t]*=[ \t]*['\"]?([^'\"#\s]+)", re.MULTILINE
        )
        return bool(pattern.search(dotenv.read_text()))
    return False


def sandbox_process(env: dict, *, web_port: int) -> dict[str, str]:
    """The sandbox's process for the group (none with a real key), pointing ``env`` at it."""
    if real_key_configured(env):
        return {}
    port = int(env.get("STRIPE_SANDBOX_PORT") or web_port + PORT_OFFSET)
    site_url = env.get("SITE_URL", f"http://localhost:{web_port}").rstrip("/")
    env.update(
        STRIPE_SECRET_KEY=SANDBOX_SECRET_KEY,
        STRIPE_API_BASE=f"http://127.0.0.1:{port}",
        STRIPE_WEBHOOK_SECRET=SANDBOX_WEBHOOK_SECRET,
    )
    command = [
        sys.executable, "manage.py", "stripe_sandbox", "--port", str(port),
        "--public-url", f"http://localhost:{port}", "--secret-key", SANDBOX_SECRET_KEY,
        "--webhook-secret", SANDBOX_WEBHOOK_SECRET, "--webhook-url", f"{site_url}/webhooks/stripe/",
        "--state-dir", str(ROOT / ".data" / "stripe-sandbox"),
    ]  # fmt: skip
    return {"stripe": shlex.join(command)}
