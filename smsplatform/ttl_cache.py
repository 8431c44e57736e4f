"""A per-process cache of a few seconds for lookups that every request repeats and that change
rarely (which organization a host or a webhook belongs to). Seconds of staleness in exchange
for queries saved on every one of thousands of requests a second."""

import threading
import time
from functools import wraps

_MISSING = object()


def ttl_cache(seconds: float, maxsize: int = 10_000):
    def decorator(function):
        entries: dict = {}
        lock = threading.Lock()

        @wraps(function)
        def cached(*args):
            now = time.monotonic()
            hit = entries.get(args, _MISSING)
            if hit is not _MISSING and hit[0] > now:
                return hit[1]
            value = function(*args)
            with lock:
                if len(entries) >= maxsize:
                    entries.clear()
                entries[args] = (now + seconds, value)
            return value

        cached.cache_clear = entries.clear
        return cached

    return decorator
