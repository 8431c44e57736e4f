"""A local Twilio: api.twilio.com, messaging.twilio.com and trusthub.twilio.com in one asyncio
server (docs/sandboxes.md). Run it with ``python manage.py twilio_sandbox --port 8001``."""

import hashlib


def dev_credentials(seed: str = "textwise-sandbox") -> tuple[str, str]:
    """A main account SID and auth token derived from ``seed``: stable across runs, so a
    restarted `make run` finds the same account in the sandbox's saved state. Sandbox only."""
    digest = hashlib.sha256(seed.encode()).hexdigest()
    return "AC" + digest[:32], digest[32:64]


def dev_isv_profile_sid(seed: str = "textwise-sandbox") -> str:
    """The ISV primary profile the sandbox keeps approved for ``dev_credentials(seed)``."""
    return "BU" + hashlib.sha256(f"{seed}-isv-profile".encode()).hexdigest()[:32]
