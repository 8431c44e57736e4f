"""While a sending session runs, its process puts the event loop's latency first.

A session keeps 50 requests in flight; each one's slot is free again only once the loop has
read its answer, so whatever keeps the loop from running lowers the send rate. Two
process-wide settings decide how long that can be:

- The GIL's switch interval. The caller's thread claims and records batches while answers
  arrive; at the default 5 ms the loop waits up to that long for the GIL after each one.
- Python's cyclic garbage collector. A full collection walks every object the process holds
  (in a Celery worker, Django, the Twilio SDK and their caches: about 200 MB) and stops every
  thread meanwhile. Measured during a 100,000-message campaign: one every 12 s or so, of
  160-270 ms, for which every request in flight waited; a request's p99 was 200-350 ms
  against the sandbox's 120. ``gc.freeze()`` moves everything alive at the start into a
  generation the collector leaves alone, so that collections during the session walk only
  what the session allocated (20-50 ms; p99 130-160 ms).

Sessions may overlap (a worker running tasks in threads): the first one in changes both
settings, the last one out restores them. The heap is collected before it is frozen and given
back to the collector afterwards, so no garbage outlives a session because it was frozen.
"""

import gc
import sys
import threading
from contextlib import contextmanager

SWITCH_INTERVAL = 0.0005

_lock = threading.Lock()
_switch_users = 0
_saved_switch_interval = None
_frozen_sessions = 0


@contextmanager
def short_switch_interval():
    """The GIL handed over within SWITCH_INTERVAL while at least one caller is inside, for a
    thread that mostly waits (on an event loop's sockets, on PostgreSQL) beside a busy one.
    Reference-counted: the last one out restores the interval the first one found."""
    global _switch_users, _saved_switch_interval
    with _lock:
        if _switch_users == 0:
            _saved_switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(min(_saved_switch_interval, SWITCH_INTERVAL))
        _switch_users += 1
    try:
        yield
    finally:
        with _lock:
            _switch_users -= 1
            if _switch_users == 0:
                sys.setswitchinterval(_saved_switch_interval)


class LowLatency:
    """A context manager; see the module's docstring."""

    def __enter__(self):
        global _frozen_sessions
        self._switch = short_switch_interval()
        self._switch.__enter__()
        with _lock:
            if _frozen_sessions == 0:
                gc.collect()  # nothing dead is frozen with the living
                gc.freeze()
            _frozen_sessions += 1
        return self

    def __exit__(self, *exc):
        global _frozen_sessions
        with _lock:
            _frozen_sessions -= 1
            if _frozen_sessions == 0:
                gc.unfreeze()
        self._switch.__exit__(*exc)
